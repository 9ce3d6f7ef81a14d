//! The simulator's one error type.

use thiserror::Error;

/// Everything that can go wrong building a scene, running the simulator or writing a dataset.
#[derive(Debug, Error)]
pub enum SimError {
    /// The scene YAML does not parse or does not match the scene schema.
    #[error("scene YAML{}: {message}", location(*line, *column))]
    Yaml {
        /// 1-based line of the error, when serde_yaml knows it.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// serde_yaml's message (it names the field path, e.g. `people[0].motion`).
        message: String,
    },
    /// A scene value is out of its allowed range.
    #[error("scene{}: {field}: {message}", location(*line, None))]
    Invalid {
        /// Dotted field path, e.g. `people[1].motion.speed_mps`.
        field: String,
        /// What is wrong with it.
        message: String,
        /// 1-based line of the field in the YAML text, when the scene came from text.
        line: Option<usize>,
    },
    /// `Scene::preset` was given a name it does not know.
    #[error("unknown room preset `{0}` (known: {1})")]
    UnknownPreset(String, String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Arrow dataset writer failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The PNG encoder failed.
    #[error("png: {0}")]
    Png(#[from] png::EncodingError),
    /// Writing `dataset.json` failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl SimError {
    /// An I/O error with context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A validation error for `field`.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            line: None,
        }
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l} column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}
