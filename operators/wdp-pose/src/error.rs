//! The crate's one error type.

use wdp_tensor::TensorError;

/// What can go wrong reading, assembling, drawing or writing pose frames.
#[derive(Debug, thiserror::Error)]
pub enum PoseError {
    /// A pose message does not match the pose contract.
    #[error("pose input `{input}`: {field}: {problem}")]
    Invalid {
        /// The input (`keypoints`, `boxes`, `parts`, `uv`).
        input: String,
        /// The offending field (`shape`, `dims`, `seq`, a metadata key, ...).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An input id that is not one of the four pose outputs.
    #[error("unknown pose input `{0}` (expected keypoints, boxes, parts or uv)")]
    UnknownInput(String),
    /// The tensor layer rejected a message.
    #[error("pose input `{input}`: {source}")]
    Tensor {
        /// The input.
        input: String,
        /// The tensor error.
        #[source]
        source: TensorError,
    },
    /// The PNG encoder failed.
    #[error("png: {0}")]
    Png(#[from] png::EncodingError),
    /// The GIF encoder failed.
    #[error("gif: {0}")]
    Gif(#[from] gif::EncodingError),
    /// A picture cannot be written as asked (e.g. a frame of another size in an animation).
    #[error("picture: {0}")]
    Picture(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON line does not parse as a pose frame.
    #[error("JSON line {line}: {source}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

impl PoseError {
    pub(crate) fn invalid(
        input: impl Into<String>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            input: input.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
