//! Recordings of tensor messages as Arrow IPC files that any Arrow tool can read.
//!
//! One folder per recording, one sub-folder per input id, files `part-NNNNN.arrow` in the Arrow
//! IPC file format. A row is one message:
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `t_ns` | Int64 | capture time of the newest packet in the message |
//! | `seq` | UInt64 | sequence number |
//! | `room`, `link` | Utf8 | origin |
//! | `shape` | List<Int64> | tensor shape |
//! | `dims` | Utf8 | comma-separated axis names |
//! | `meta` | Utf8 | every other metadata parameter as a JSON object |
//! | `data` | List<T> | the values, row-major (`T` is the input's element type) |
//!
//! ```python
//! import pyarrow as pa, numpy as np, json
//! table = pa.ipc.open_file("rec/csi/part-00000.arrow").read_all()
//! row = table.slice(0, 1).to_pylist()[0]
//! csi = np.asarray(row["data"], dtype=np.float32).reshape(row["shape"])
//! ```
//!
//! A file is written as `part-NNNNN.arrow.partial` and renamed when complete, so a killed
//! recorder leaves every completed file readable; batches are flushed as they fill so that the
//! partial file of a run that stops cleanly loses nothing.

mod read;
mod write;

pub use read::{read_dir, read_file, read_partial, Record};
pub use write::{Recorder, RecorderOptions};

/// What can go wrong while recording or reading a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// File system error, naming the file.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Arrow encoding or decoding error, naming the file.
    #[error("{path}: {source}")]
    Arrow {
        /// The file.
        path: std::path::PathBuf,
        /// The Arrow error.
        source: arrow_schema::ArrowError,
    },
    /// A message whose type differs from the first message of the same input.
    #[error("input `{input}`: element type {found} differs from {expected} recorded before")]
    TypeChanged {
        /// The input id.
        input: String,
        /// Type of the earlier messages.
        expected: String,
        /// Type of this message.
        found: String,
    },
    /// A file that is not a recording of this layout.
    #[error("{path}: {problem}")]
    Layout {
        /// The file.
        path: std::path::PathBuf,
        /// What is missing.
        problem: String,
    },
}
