//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong feeding an accumulator or writing a report.
#[derive(Debug, Error)]
pub enum EvalError {
    /// Two inputs that must describe the same pixels (or the same items) differ in shape.
    #[error("shape mismatch: {what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// Which input is wrong.
        what: &'static str,
        /// The shape it must have.
        expected: Vec<usize>,
        /// The shape it has.
        got: Vec<usize>,
    },
    /// A class label is not below the number of classes.
    #[error("{what}: label {label} out of range (the matrix has {n_classes} classes)")]
    Label {
        /// Which input holds the label.
        what: &'static str,
        /// The offending label.
        label: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A classification head that the evaluator was not configured with.
    #[error("unknown classification head `{0}` (configure it in EvalConfig::heads)")]
    UnknownHead(String),
    /// An invalid configuration value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file could not be written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The PNG encoder failed.
    #[error("png: {0}")]
    Png(#[from] png::EncodingError),
    /// JSON serialization failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl EvalError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
