//! One module per capture format. Each has `sniff` (format detection from the head of a file),
//! a record parser over a byte slice (also used for live UDP input) and a streaming reader.

pub mod atheros;
pub mod esp32;
pub mod intel;
pub mod nexmon;
pub mod pcap;
pub mod picoscenes;
mod window;

use crate::{CaptureError, CsiFrame};
use std::io;
use std::path::Path;

/// Turns one step of a reader (the next frame, `None` at the end of the input, or an I/O
/// error) into what [`crate::FrameReader::next_frame`] returns. The end and the error both
/// set `done`, so the stream ends for good and an error is reported once; callers return
/// `None` while `done` is set without stepping again.
pub(crate) fn end_or_frame(
    step: io::Result<Option<CsiFrame>>,
    done: &mut bool,
    name: &Path,
) -> Option<Result<CsiFrame, CaptureError>> {
    match step {
        Ok(Some(frame)) => Some(Ok(frame)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(source) => {
            *done = true;
            Some(Err(CaptureError::Io {
                path: name.to_path_buf(),
                source,
            }))
        }
    }
}
