//! The streaming reader interface shared by every capture format, and format detection.

use crate::{CaptureError, CaptureFormat, CsiFrame, ReadStats};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A stream of frames from one capture, read in constant memory.
///
/// Corrupt records are skipped and counted in [`FrameReader::stats`]; `next_frame` returns an
/// error only for what ends the stream (I/O errors), and `None` at the end.
pub trait FrameReader: Send {
    /// The format being read.
    fn format(&self) -> CaptureFormat;
    /// The next good frame.
    fn next_frame(&mut self) -> Option<Result<CsiFrame, CaptureError>>;
    /// Good, skipped and ignored record counts so far.
    fn stats(&self) -> &ReadStats;
}

impl Iterator for dyn FrameReader {
    type Item = Result<CsiFrame, CaptureError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame()
    }
}

/// Byte order of an Atheros CSI Tool log (it depends on the host that captured it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little endian (x86 hosts).
    Little,
    /// Big endian (MIPS routers).
    Big,
}

/// Broadcom chips supported by nexmon_csi; they differ in how CSI values are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NexmonChip {
    /// bcm4339 (Nexus 5): int16 I/Q.
    Bcm4339,
    /// bcm43455c0 (Raspberry Pi 3B+/4): int16 I/Q.
    Bcm43455c0,
    /// bcm4358 (Nexus 6P): packed floating point.
    Bcm4358,
    /// bcm4366c0 (Asus RT-AC86U): packed floating point.
    Bcm4366c0,
}

impl std::str::FromStr for NexmonChip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .trim_start_matches("bcm")
            .to_ascii_lowercase()
            .as_str()
        {
            "4339" => Ok(Self::Bcm4339),
            "43455c0" => Ok(Self::Bcm43455c0),
            "4358" => Ok(Self::Bcm4358),
            "4366c0" => Ok(Self::Bcm4366c0),
            other => Err(format!(
                "unknown nexmon chip '{other}' (expected 4339, 43455c0, 4358 or 4366c0)"
            )),
        }
    }
}

/// Options a user may set where a file does not say everything about itself.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a format instead of detecting it from the content.
    pub format: Option<CaptureFormat>,
    /// Atheros byte order; detected from the header when `None`.
    pub endian: Option<Endian>,
    /// Nexmon chip; inferred from the header's chip field when `None`.
    pub nexmon_chip: Option<NexmonChip>,
    /// Nexmon bandwidth in MHz (20, 40, 80); inferred from the payload length when `None`.
    pub nexmon_bandwidth_mhz: Option<u32>,
}

/// How many bytes of the head of a file format detection looks at.
pub const SNIFF_BYTES: usize = 4096;

/// Detects the format of a capture from the first bytes of its content (not its name).
pub fn detect_format(head: &[u8]) -> Option<CaptureFormat> {
    use crate::readers::*;
    // Order matters: the text and magic-number formats are unambiguous, the netlink and
    // Atheros logs are recognised by self-consistent record headers.
    if nexmon::sniff(head) {
        Some(CaptureFormat::Nexmon)
    } else if esp32::sniff(head) {
        Some(CaptureFormat::Esp32)
    } else if picoscenes::sniff(head) {
        Some(CaptureFormat::PicoScenes)
    } else if intel::sniff(head) {
        Some(CaptureFormat::Intel5300)
    } else if atheros::sniff(head) {
        Some(CaptureFormat::Atheros)
    } else {
        None
    }
}

/// Opens a capture file of any supported format, detecting the format from its content.
pub fn open(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<Box<dyn FrameReader>, CaptureError> {
    let path = path.as_ref().to_path_buf();
    let io = |source| CaptureError::Io {
        path: path.clone(),
        source,
    };
    let format = match options.format {
        Some(f) => f,
        None => {
            let mut head = Vec::with_capacity(SNIFF_BYTES);
            File::open(&path)
                .map_err(io)?
                .take(SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .map_err(io)?;
            detect_format(&head).ok_or_else(|| CaptureError::UnknownFormat {
                path: path.clone(),
                detail: describe_head(&head),
            })?
        }
    };
    let file = BufReader::with_capacity(1 << 16, File::open(&path).map_err(io)?);
    if format == CaptureFormat::Intel5300 {
        // csiread's logger writes host receive times beside the log as `<file>stp`.
        let mut stp = path.clone().into_os_string();
        stp.push("stp");
        if let Ok(companion) = File::open(&stp) {
            let reader = crate::readers::intel::IntelReader::new(file, path).with_stp(companion);
            return Ok(Box::new(reader));
        }
    }
    open_stream(file, format, options, path)
}

/// Reads a capture of a known format from any byte stream (a file, a pipe, a socket's bytes).
/// `name` is used in error messages.
pub fn open_stream<R: Read + Send + 'static>(
    input: R,
    format: CaptureFormat,
    options: &ReadOptions,
    name: PathBuf,
) -> Result<Box<dyn FrameReader>, CaptureError> {
    use crate::readers::*;
    Ok(match format {
        CaptureFormat::Intel5300 => Box::new(intel::IntelReader::new(input, name)),
        CaptureFormat::Atheros => {
            Box::new(atheros::AtherosReader::new(input, options.endian, name)?)
        }
        CaptureFormat::Nexmon => Box::new(nexmon::NexmonReader::new(input, options, name)?),
        CaptureFormat::Esp32 => Box::new(esp32::Esp32Reader::new(input, name)),
        CaptureFormat::PicoScenes => Box::new(picoscenes::PicoScenesReader::new(input, name)),
        CaptureFormat::Simulated => {
            return Err(CaptureError::Invalid {
                path: name,
                detail: "simulated frames come from the simulator, not from a file".into(),
            })
        }
    })
}

fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".into();
    }
    let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{} bytes, starting {}", head.len(), shown.join(" "))
}
