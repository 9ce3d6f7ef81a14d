//! CSI frames, streaming capture-format readers and signal processing for wifi-densepose.
//!
//! Readers turn capture files of real radios into one frame type, [`CsiFrame`]:
//!
//! | format | module | axes mapping |
//! | --- | --- | --- |
//! | Intel 5300 CSI Tool `.dat` | [`readers::intel`] | `[Ntx, Nrx (perm applied), 30]` as `read_bf_file.m` |
//! | Atheros CSI Tool | [`readers::atheros`] | `[nc, nr, tones]` (tx = nc, rx = nr) |
//! | nexmon_csi pcap | [`readers::nexmon`] | `[1, 1, nfft]` per UDP packet (core/spatial in meta) |
//! | ESP32-CSI-Tool CSV | [`readers::esp32`] | `[1, 1, n]` |
//! | PicoScenes `.csi` | [`readers::picoscenes`] | `[streams, NumRx, tones]`: streams `NumTx + NumESS`; AX200/AX210 data tones (pilots dropped) |
//!
//! ```no_run
//! let mut reader = wdp_csi::open("capture.dat", &Default::default())?;
//! while let Some(frame) = reader.next_frame() {
//!     let frame = frame?;
//!     println!("{} {}x{}x{}", frame.timestamp_ns, frame.n_tx, frame.n_rx, frame.n_subcarriers());
//! }
//! println!("skipped: {:?}", reader.stats().skipped);
//! # Ok::<(), wdp_csi::CaptureError>(())
//! ```

pub mod dsp;
mod error;
mod frame;
mod live;
mod reader;
pub mod readers;
mod stats;
mod tensor;

pub use error::{CaptureError, RecordError};
pub use frame::{CaptureFormat, CsiFrame, MetaValue};
pub use live::LiveDecoder;
pub use num_complex::Complex32;
pub use reader::{
    detect_format, open, open_stream, Endian, FrameReader, NexmonChip, ReadOptions, SNIFF_BYTES,
};
pub use stats::ReadStats;
pub use tensor::{
    csi_layout, frame_from_tensor, frame_to_tensor, packet_from_tensor, CsiLayout, CSI_DIMS,
};
