//! Atheros CSI Tool logs (Xie et al., ath9k; `recvCSI` output).
//!
//! `recvCSI` writes each buffer read from `/dev/CSI_dev` preceded by its length (`field_len`,
//! u16). The buffer is a 25-byte header, `csi_len` bytes of CSI, then `payload_len` bytes of
//! the received frame. Header fields, in the byte order of the capturing host (little endian
//! on x86, big endian on MIPS routers), as `read_log_file.m` and csiread read them:
//!
//! | offset | field | type |
//! | --- | --- | --- |
//! | 0 | `timestamp` (NIC TSF, µs) | u64 |
//! | 8 | `csi_len` | u16 |
//! | 10 | `tx_channel` (MHz) | u16 |
//! | 12..=22 | `err_info`, `noise_floor`, `Rate`, `bandWidth`, `num_tones`, `nr`, `nc`, `rssi`, `rssi_1`, `rssi_2`, `rssi_3` | u8 each |
//! | 23 | `payload_len` | u16 |
//!
//! The CSI is a stream of 10-bit two's-complement values, imaginary part first, read as
//! `read_csi.c` and csiread read it: little-endian 16-bit words whatever the header's byte
//! order, least significant bits first. The driver copies the NIC's CSI bytes as they are, so
//! the payload is the same byte stream on either host: the OpenWrt build of `recvCSI` (on
//! big-endian MIPS) swaps only the header integers and unpacks the CSI with the same
//! little-endian word assembly, and every reference parser (the MATLAB `read_csi.c`, csiread,
//! CSIKit) unpacks it that way for both byte orders.
//!
//! # Layouts
//!
//! Three layouts are recognised from the content:
//!
//! | layout | first bytes | header integers |
//! | --- | --- | --- |
//! | plain, little endian (x86 hosts) | the first record's `field_len` | little endian |
//! | plain, big endian (MIPS routers) | the first record's `field_len` | big endian |
//! | big endian with a marker (some forks of the tool on MIPS routers) | `0xff`, then the first record's `field_len` | big endian |
//!
//! The marker is one `0xff` byte before the first record and nowhere else; it always means big
//! endian (CSIKit's Atheros reader reads it so; csiread and the MATLAB scripts take the byte
//! order from the caller and know no marker). A plain little-endian log may begin with `0xff`
//! too (the low byte of a `field_len` of `0x..ff`): detection checks the records in every
//! layout and keeps a plain layout when both are consistent (see [`AtherosReader::new`]).
//!
//! # Axes
//!
//! Frames are `[nc, nr, num_tones]` (tx = `nc`, rx = `nr`): `frame.csi[tx][rx][tone]` is
//! csiread's `csi[packet, tone, nr = rx, nc = tx]`. Within a tone the value stream is
//! assigned as csiread does (`nr` outer, `nc` inner, so `nc` varies fastest). The tool's own
//! `read_csi.c` walks the same stream with `nc` outer and `nr` inner: the values are the same,
//! but when both `nr` and `nc` exceed 1 `read_csi.c`'s `csi(nr, nc, tone)` for stream position
//! `s` within a tone is `(s % nr, s / nr)` while ours and csiread's is `(s / nc, s % nc)`.
//!
//! # Records without CSI
//!
//! A record with `csi_len == 0` (the NIC delivered no CSI) yields no frame and is counted in
//! [`ReadStats::ignored`]. csiread instead returns such a record as a packet with all-zero
//! CSI, so its `count` includes them.
//!
//! csiread keeps the last records of a log, which `read_log_file.m` drops; so do we.
//!
//! # Source layout
//!
//! This file detects a log's layout and streams its records; decoding one record (header
//! fields, consistency checks, the 10-bit CSI unpacking) is in the private submodule
//! `atheros/record.rs`, split off to keep each file short (issue 15). [`parse_record`] is
//! re-exported here.

use crate::readers::end_or_frame;
use crate::readers::window::ByteWindow;
use crate::{CaptureError, CaptureFormat, CsiFrame, Endian, FrameReader, ReadStats};
use std::io::{self, Read};
use std::path::PathBuf;

mod record;

use record::check_prefixed;
pub use record::parse_record;

/// Bytes of the record header before the CSI.
const HEADER_LEN: usize = 25;
/// The `field_len` prefix the log writer adds.
const PREFIX_LEN: usize = 2;
/// The byte some big-endian builds of the tool write before the first record.
pub const BIG_ENDIAN_MARKER: u8 = 0xff;
/// Length of the big-endian marker.
const MARKER_LEN: usize = 1;
/// Window: the marker, the largest record (u16 length) plus a header of look-ahead.
const WINDOW_BYTES: usize = MARKER_LEN + PREFIX_LEN + u16::MAX as usize + PREFIX_LEN + HEADER_LEN;

/// Whether `head` starts a self-consistent chain of records in this byte order, with at least
/// one CSI record among the records whose header lies within `head`.
fn sniff_endian(head: &[u8], endian: Endian) -> bool {
    let mut pos = 0usize;
    let mut csi_records = 0;
    while let Some(start) = head.get(pos..pos + PREFIX_LEN + HEADER_LEN) {
        match check_prefixed(start, endian) {
            Ok(h) => {
                csi_records += usize::from(h.csi_len > 0);
                pos += PREFIX_LEN + h.record_len();
            }
            Err(_) => return false,
        }
    }
    csi_records > 0
}

/// How a log lays its records out: their byte order, and whether the big-endian marker
/// precedes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    endian: Endian,
    marker: bool,
}

impl Layout {
    /// Every layout, in the order detection prefers them when several are consistent.
    const ALL: [Layout; 3] = [
        Layout {
            endian: Endian::Little,
            marker: false,
        },
        Layout {
            endian: Endian::Big,
            marker: false,
        },
        Layout {
            endian: Endian::Big,
            marker: true,
        },
    ];

    /// The records of a log in this layout, if `head` can be one (a marker layout needs the
    /// marker byte first).
    fn records<'a>(&self, head: &'a [u8]) -> Option<&'a [u8]> {
        if !self.marker {
            Some(head)
        } else if head.first() == Some(&BIG_ENDIAN_MARKER) {
            Some(&head[MARKER_LEN..])
        } else {
            None
        }
    }

    fn describe(&self) -> &'static str {
        match (self.endian, self.marker) {
            (Endian::Little, _) => "little endian",
            (Endian::Big, false) => "big endian",
            (Endian::Big, true) => "big endian after the 0xff marker",
        }
    }
}

/// Recognises an Atheros CSI Tool log from the first bytes of a file, in either byte order,
/// with or without the big-endian marker: every record header within `head` must be
/// self-consistent (`nr`/`nc` in 1..=3, `num_tones` 56 or 114, `csi_len` matching them,
/// `field_len` = 25 + `csi_len` + `payload_len`), following the chain of records, and at least
/// one must carry CSI.
pub fn sniff(head: &[u8]) -> bool {
    Layout::ALL.iter().any(|layout| {
        layout
            .records(head)
            .is_some_and(|records| sniff_endian(records, layout.endian))
    })
}

/// Streaming reader of an Atheros CSI Tool log: one [`CsiFrame`] per record with CSI.
///
/// A record whose header is inconsistent is skipped and counted (`"bad antenna count"`,
/// `"bad tone count"`, `"bad csi length"`, `"record length mismatch"`); the reader then scans
/// forward for the next self-consistent record header. A record cut by the end of the input
/// is counted as `"truncated record"`. Records without CSI are counted as ignored. Only I/O
/// errors end the stream with an error. Each skip is logged with the capture's name, the
/// record's index and offset, and the field at fault.
pub struct AtherosReader<R> {
    window: ByteWindow<R>,
    endian: Endian,
    /// The log began with the big-endian marker.
    marker: bool,
    /// The byte order was given as big endian: look for the marker at the first record.
    check_marker: bool,
    name: PathBuf,
    stats: ReadStats,
    record: u64,
    done: bool,
}

impl<R: Read> AtherosReader<R> {
    /// A reader over `input`; `name` names the capture in errors.
    ///
    /// With `endian` `None` the layout is detected from the first record header: the byte order
    /// in which it is self-consistent, at the start of the input or after a leading `0xff`
    /// big-endian marker. If several layouts are, the first of little endian, big endian, big
    /// endian after the marker in which the next record is consistent too wins, else the first
    /// consistent one. Fails with [`CaptureError::Invalid`] if none is, or the input is shorter
    /// than a header, and with [`CaptureError::Io`] if reading fails.
    ///
    /// With `endian` `Some(Endian::Big)` a leading `0xff` that does not start a consistent
    /// big-endian record is taken as the marker and skipped; `Some(Endian::Little)` reads the
    /// input as little endian from its first byte.
    pub fn new(input: R, endian: Option<Endian>, name: PathBuf) -> Result<Self, CaptureError> {
        let mut window = ByteWindow::new(input, WINDOW_BYTES, WINDOW_BYTES);
        let (layout, check_marker) = match endian {
            Some(endian) => (
                Layout {
                    endian,
                    marker: false,
                },
                endian == Endian::Big,
            ),
            None => {
                let layout = detect_layout(&mut window).map_err(|e| match e {
                    DetectError::Io(source) => CaptureError::Io {
                        path: name.clone(),
                        source,
                    },
                    DetectError::Invalid(detail) => CaptureError::Invalid {
                        path: name.clone(),
                        detail,
                    },
                })?;
                if layout.marker {
                    window.consume(MARKER_LEN);
                }
                (layout, false)
            }
        };
        Ok(Self {
            window,
            endian: layout.endian,
            marker: layout.marker,
            check_marker,
            name,
            stats: ReadStats::default(),
            record: 0,
            done: false,
        })
    }

    /// The byte order in use (given or detected).
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Whether the log began with the `0xff` big-endian marker (known from the start when the
    /// layout was detected; when big endian was given, once the first record has been read).
    pub fn marker(&self) -> bool {
        self.marker
    }

    /// Counts the unreadable rest of the input as one truncated record and drops it.
    fn skip_tail(&mut self, record: u64, offset: u64, needed: usize, left: usize) {
        tracing::warn!(
            file = %self.name.display(),
            record,
            offset,
            needed,
            left,
            "Atheros log ends inside a record: {left} of its {needed} bytes are there"
        );
        self.stats.skip("truncated record", record, offset);
        self.window.consume_all();
    }

    /// Scans forward from the byte after the current position to the next self-consistent
    /// record header (or the end of the input).
    fn resync(&mut self) -> io::Result<()> {
        let from = self.window.offset();
        let endian = self.endian;
        self.window.resync(PREFIX_LEN + HEADER_LEN, |w| {
            check_prefixed(w, endian).is_ok()
        })?;
        tracing::warn!(
            file = %self.name.display(),
            from,
            to = self.window.offset(),
            "resynchronised after a corrupt record"
        );
        Ok(())
    }

    /// The next frame, `None` at the end of the input.
    fn advance(&mut self) -> io::Result<Option<CsiFrame>> {
        loop {
            let offset = self.window.offset();
            let head = self.window.fill(PREFIX_LEN + HEADER_LEN)?;
            if head.is_empty() {
                return Ok(None);
            }
            if self.check_marker {
                self.check_marker = false;
                if head[0] == BIG_ENDIAN_MARKER && check_prefixed(head, Endian::Big).is_err() {
                    self.window.consume(MARKER_LEN);
                    self.marker = true;
                    continue;
                }
            }
            let record = self.record;
            if head.len() < PREFIX_LEN + HEADER_LEN {
                let left = head.len();
                self.skip_tail(record, offset, PREFIX_LEN + HEADER_LEN, left);
                return Ok(None);
            }
            self.record += 1;
            let header = match check_prefixed(head, self.endian) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(
                        file = %self.name.display(),
                        record,
                        offset,
                        reason = %e.reason,
                        detail = %e.detail,
                        "corrupt Atheros record header"
                    );
                    self.stats.skip(&e.reason, record, offset);
                    self.resync()?;
                    continue;
                }
            };
            let total = PREFIX_LEN + header.record_len();
            let data = self.window.fill(total)?;
            if data.len() < total {
                let left = data.len();
                self.skip_tail(record, offset, total, left);
                return Ok(None);
            }
            if header.csi_len == 0 {
                self.window.consume(total);
                self.stats.ignored += 1;
                continue;
            }
            let parsed = parse_record(&data[PREFIX_LEN..total], self.endian);
            self.window.consume(total);
            match parsed {
                Ok(frame) => {
                    self.stats.good += 1;
                    return Ok(Some(frame));
                }
                // The header was checked above, so this is not expected; count it anyway.
                Err(e) => self.stats.skip(&e.reason, record, offset),
            }
        }
    }
}

enum DetectError {
    Io(io::Error),
    Invalid(String),
}

/// Picks the layout in which the first record header is self-consistent.
fn detect_layout<R: Read>(window: &mut ByteWindow<R>) -> Result<Layout, DetectError> {
    let header_bytes = PREFIX_LEN + HEADER_LEN;
    let head = window
        .fill(MARKER_LEN + header_bytes)
        .map_err(DetectError::Io)?;
    if head.len() < header_bytes {
        return Err(DetectError::Invalid(format!(
            "{} bytes: too short for an Atheros record header ({header_bytes} bytes) to detect the byte order from",
            head.len()
        )));
    }
    let marked = head[0] == BIG_ENDIAN_MARKER;
    let mut consistent: Vec<(Layout, usize)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for layout in Layout::ALL {
        let Some(records) = layout.records(head) else {
            continue;
        };
        match check_prefixed(records, layout.endian) {
            Ok(h) => consistent.push((layout, PREFIX_LEN + h.record_len())),
            Err(e) => failures.push(format!("{}: {}: {}", layout.describe(), e.reason, e.detail)),
        }
    }
    if consistent.is_empty() {
        if marked && head.len() < MARKER_LEN + header_bytes {
            return Err(DetectError::Invalid(format!(
                "{} bytes: too short for the 0xff big-endian marker and an Atheros record header \
                 ({} bytes) to detect the byte order from",
                head.len(),
                MARKER_LEN + header_bytes
            )));
        }
        return Err(DetectError::Invalid(format!(
            "first record header is not a consistent Atheros CSI Tool header in either byte order \
             ({})",
            failures.join("; ")
        )));
    }
    if consistent.len() == 1 {
        return Ok(consistent[0].0);
    }
    // Ambiguous header: let the following record decide.
    for &(layout, record_len) in &consistent {
        let next = usize::from(layout.marker) * MARKER_LEN + record_len;
        let data = window.fill(next + header_bytes).map_err(DetectError::Io)?;
        if data
            .get(next..)
            .is_some_and(|rest| check_prefixed(rest, layout.endian).is_ok())
        {
            return Ok(layout);
        }
    }
    Ok(consistent[0].0)
}

impl<R: Read + Send> FrameReader for AtherosReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Atheros
    }

    fn next_frame(&mut self) -> Option<Result<CsiFrame, CaptureError>> {
        if self.done {
            return None;
        }
        let step = self.advance();
        end_or_frame(step, &mut self.done, &self.name)
    }

    fn stats(&self) -> &ReadStats {
        &self.stats
    }
}
