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

use crate::readers::end_or_frame;
use crate::readers::window::ByteWindow;
use crate::{
    CaptureError, CaptureFormat, CsiFrame, Endian, FrameReader, MetaValue, ReadStats, RecordError,
};
use num_complex::Complex32;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

/// Bytes of the record header before the CSI.
const HEADER_LEN: usize = 25;
/// The `field_len` prefix the log writer adds.
const PREFIX_LEN: usize = 2;
/// The byte some big-endian builds of the tool write before the first record.
pub const BIG_ENDIAN_MARKER: u8 = 0xff;
/// Length of the big-endian marker.
const MARKER_LEN: usize = 1;
/// ath9k NICs have at most 3 chains.
const MAX_CHAINS: usize = 3;
/// Bits per CSI value (real or imaginary).
const BITS_PER_VALUE: u32 = 10;
/// Window: the marker, the largest record (u16 length) plus a header of look-ahead.
const WINDOW_BYTES: usize = MARKER_LEN + PREFIX_LEN + u16::MAX as usize + PREFIX_LEN + HEADER_LEN;

/// The header fields of one record.
struct Header {
    timestamp: u64,
    csi_len: usize,
    tx_channel: u16,
    err_info: u8,
    noise_floor: u8,
    rate: u8,
    bandwidth: u8,
    num_tones: usize,
    nr: usize,
    nc: usize,
    rssi: [u8; 4],
    payload_len: usize,
}

impl Header {
    /// Decodes the first 25 bytes of `bytes` (which must hold them).
    fn decode(bytes: &[u8], endian: Endian) -> Option<Self> {
        let h = bytes.get(..HEADER_LEN)?;
        let u16_at = |i: usize| read_u16([h[i], h[i + 1]], endian);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&h[..8]);
        Some(Self {
            timestamp: match endian {
                Endian::Little => u64::from_le_bytes(ts),
                Endian::Big => u64::from_be_bytes(ts),
            },
            csi_len: usize::from(u16_at(8)),
            tx_channel: u16_at(10),
            err_info: h[12],
            noise_floor: h[13],
            rate: h[14],
            bandwidth: h[15],
            num_tones: usize::from(h[16]),
            nr: usize::from(h[17]),
            nc: usize::from(h[18]),
            rssi: [h[19], h[20], h[21], h[22]],
            payload_len: usize::from(u16_at(23)),
        })
    }

    /// Checks the CSI dimensions against `csi_len` (records without CSI pass).
    fn check(&self) -> Result<(), RecordError> {
        if self.csi_len == 0 {
            return Ok(());
        }
        if !(1..=MAX_CHAINS).contains(&self.nr) || !(1..=MAX_CHAINS).contains(&self.nc) {
            return Err(RecordError::new(
                "bad antenna count",
                format!("nr={} nc={}, expected 1..=3", self.nr, self.nc),
            ));
        }
        if self.num_tones != 56 && self.num_tones != 114 {
            return Err(RecordError::new(
                "bad tone count",
                format!("num_tones={}, expected 56 or 114", self.num_tones),
            ));
        }
        // Two 10-bit values per complex entry: 20 bits = 2.5 bytes.
        let expected = self.num_tones * self.nr * self.nc * 5 / 2;
        if self.csi_len != expected {
            return Err(RecordError::new(
                "bad csi length",
                format!(
                    "csi_len={} but num_tones={} nr={} nc={} need {expected}",
                    self.csi_len, self.num_tones, self.nr, self.nc
                ),
            ));
        }
        Ok(())
    }

    /// Length of the whole record (header, CSI, payload).
    fn record_len(&self) -> usize {
        HEADER_LEN + self.csi_len + self.payload_len
    }
}

fn read_u16(bytes: [u8; 2], endian: Endian) -> u16 {
    match endian {
        Endian::Little => u16::from_le_bytes(bytes),
        Endian::Big => u16::from_be_bytes(bytes),
    }
}

/// Checks a log record start (`field_len` prefix, then the header) in one byte order.
fn check_prefixed(bytes: &[u8], endian: Endian) -> Result<Header, RecordError> {
    let (Some(prefix), Some(header)) = (bytes.get(..PREFIX_LEN), bytes.get(PREFIX_LEN..)) else {
        return Err(RecordError::new(
            "truncated record",
            "no room for field_len",
        ));
    };
    let field_len = usize::from(read_u16([prefix[0], prefix[1]], endian));
    let h = Header::decode(header, endian)
        .ok_or_else(|| RecordError::new("truncated record", "header cut short"))?;
    h.check()?;
    if field_len != h.record_len() {
        return Err(RecordError::new(
            "record length mismatch",
            format!(
                "field_len={field_len} but header {HEADER_LEN} + csi_len {} + payload_len {} = {}",
                h.csi_len,
                h.payload_len,
                h.record_len()
            ),
        ));
    }
    Ok(h)
}

/// Signed subcarrier indices of the reported tones: HT20 data and pilot subcarriers
/// -28..=-1, 1..=28 (56 tones), HT40 -58..=-2, 2..=58 (114 tones), IEEE 802.11n-2009 20.3.7.
fn tone_indices(num_tones: usize) -> Vec<i32> {
    let edge: i32 = if num_tones == 114 { 58 } else { 28 };
    let dc_gap = if num_tones == 114 { 2 } else { 1 };
    (-edge..=-dc_gap).chain(dc_gap..=edge).collect()
}

/// Decodes one Atheros CSI Tool record: the buffer `recvCSI` reads from the driver (header,
/// CSI, payload), without the log's `field_len` prefix.
///
/// The record must be exactly `25 + csi_len + payload_len` bytes, with `nr`/`nc` in 1..=3,
/// `num_tones` 56 or 114 and `csi_len` matching them; a record without CSI (`csi_len == 0`) is
/// rejected with reason `"no csi"` (the streaming reader counts those as ignored).
pub fn parse_record(record: &[u8], endian: Endian) -> Result<CsiFrame, RecordError> {
    let h = Header::decode(record, endian).ok_or_else(|| {
        RecordError::new(
            "record too short",
            format!("{} bytes, the header needs {HEADER_LEN}", record.len()),
        )
    })?;
    h.check()?;
    if record.len() != h.record_len() {
        return Err(RecordError::new(
            "record length mismatch",
            format!(
                "record of {} bytes, header {HEADER_LEN} + csi_len {} + payload_len {} = {}",
                record.len(),
                h.csi_len,
                h.payload_len,
                h.record_len()
            ),
        ));
    }
    if h.csi_len == 0 {
        return Err(RecordError::new("no csi", "csi_len is 0"));
    }
    let packed = &record[HEADER_LEN..HEADER_LEN + h.csi_len];
    let csi = unpack_csi(packed, &h);

    let mut meta = BTreeMap::new();
    let timestamp = i64::try_from(h.timestamp)
        .map_or_else(|_| MetaValue::Text(h.timestamp.to_string()), MetaValue::Int);
    meta.insert("timestamp", timestamp);
    let ints: [(&'static str, i64); 14] = [
        ("csi_len", h.csi_len as i64),
        ("tx_channel", i64::from(h.tx_channel)),
        ("err_info", i64::from(h.err_info)),
        ("noise_floor", i64::from(h.noise_floor)),
        ("Rate", i64::from(h.rate)),
        ("bandWidth", i64::from(h.bandwidth)),
        ("num_tones", h.num_tones as i64),
        ("nr", h.nr as i64),
        ("nc", h.nc as i64),
        ("rssi", i64::from(h.rssi[0])),
        ("rssi_1", i64::from(h.rssi[1])),
        ("rssi_2", i64::from(h.rssi[2])),
        ("rssi_3", i64::from(h.rssi[3])),
        ("payload_len", h.payload_len as i64),
    ];
    for (key, value) in ints {
        meta.insert(key, MetaValue::Int(value));
    }

    Ok(CsiFrame {
        format: CaptureFormat::Atheros,
        n_tx: h.nc,
        n_rx: h.nr,
        subcarriers: tone_indices(h.num_tones),
        csi,
        // The NIC's TSF in microseconds.
        timestamp_ns: i64::try_from(u128::from(h.timestamp) * 1000).unwrap_or(i64::MAX),
        // ath9k reports RSSI in dB above the noise floor, and the tool leaves noise_floor
        // unset, so neither is a dBm value; the raw fields are in meta.
        rssi_dbm: None,
        noise_dbm: None,
        meta,
    })
}

/// Unpacks the 10-bit CSI stream into `[nc, nr, num_tones]`.
fn unpack_csi(packed: &[u8], h: &Header) -> Vec<Complex32> {
    let mut csi = vec![Complex32::new(0.0, 0.0); h.nc * h.nr * h.num_tones];
    let mut words = packed
        .chunks(2)
        .map(|w| u32::from(w[0]) | u32::from(w.get(1).copied().unwrap_or(0)) << 8);
    let mut bits: u32 = 0;
    let mut bits_left: u32 = 0;
    let mut next_value = || -> f32 {
        if bits_left < BITS_PER_VALUE {
            bits |= words.next().unwrap_or(0) << bits_left;
            bits_left += 16;
        }
        let raw = bits & ((1 << BITS_PER_VALUE) - 1);
        bits >>= BITS_PER_VALUE;
        bits_left -= BITS_PER_VALUE;
        // Sign-extend the 10-bit two's complement value.
        ((raw << 22) as i32 >> 22) as f32
    };
    for tone in 0..h.num_tones {
        for rx in 0..h.nr {
            for tx in 0..h.nc {
                let imag = next_value();
                let real = next_value();
                csi[(tx * h.nr + rx) * h.num_tones + tone] = Complex32::new(real, imag);
            }
        }
    }
    csi
}

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
