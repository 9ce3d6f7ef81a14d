//! Errors of the capture readers.

use std::path::PathBuf;

/// Why one record could not be decoded. The stream goes on after such an error: the record is
/// skipped and counted in [`crate::ReadStats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct RecordError {
    /// Short, stable reason used as the key of the skip counts (no offsets or numbers in it).
    pub reason: String,
    /// Detail for the log: field names and values.
    pub detail: String,
}

impl RecordError {
    /// A record error with a stable reason and a detail message.
    pub fn new(reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

/// An error that ends a capture stream (the file cannot be opened, is of no known format, or an
/// I/O error happened). Records already returned stay valid.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The capture file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The content matches none of the supported formats.
    #[error("{path}: not a supported CSI capture ({detail})")]
    UnknownFormat {
        /// The capture file.
        path: PathBuf,
        /// What was seen instead.
        detail: String,
    },
    /// The file is of a known format but its container is unusable (bad pcap header, wrong link
    /// type, a required option missing).
    #[error("{path}: {detail}")]
    Invalid {
        /// The capture file.
        path: PathBuf,
        /// What is wrong, naming the field.
        detail: String,
    },
}
