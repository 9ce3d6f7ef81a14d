//! ESP32-CSI-Tool: one `CSI_DATA,...,[v0 v1 ...]` CSV line per received packet, printed over a
//! serial port between the firmware's log lines.
//!
//! Fields (in the tool's order, or in the order of a `type,...` header line when the file has
//! one): `type role mac rssi rate sig_mode mcs bandwidth smoothing not_sounding
//! aggregation stbc fec_coding sgi noise_floor ampdu_cnt channel secondary_channel
//! local_timestamp ant sig_len rx_state real_time_set real_timestamp len`, then the CSI buffer
//! as a bracketed list of int8 values.
//!
//! Newer firmwares built on ESP-IDF 5 (Espressif's esp-csi `csi_recv`) print their own header,
//! `type,seq,mac,rssi,rate,noise_floor,fft_gain,agc_gain,channel,local_timestamp,sig_len,
//! rx_state,len,first_word,data`, and the buffer as a quoted, comma-separated list
//! (`"[12,-3,...]"`): read by the header's names (unknown columns are skipped, `data` names the
//! list). Their `first_word` says the buffer's first four bytes (two pairs) are invalid, as the
//! hardware sometimes makes them: those two pairs are then zero, not the garbage printed. A
//! buffer longer than 64 pairs (`len` 256 or 384: the HT-LTF, or an HT40 / STBC layout, after
//! the L-LTF) gives its first 64 pairs, the L-LTF every packet carries whatever its format, so
//! that every frame of a capture has the same subcarriers; `csi_pairs` in the metadata keeps
//! the count printed. Without a header, a line whose field count is not the tool's is skipped
//! ("bad field count"): its columns cannot be known.
//!
//! The buffer is a run of `(imaginary, real)` int8 pairs, one per subcarrier, as Espressif
//! documents it and as csiread pairs them. The frame holds every printed pair, `[1, 1, pairs]`.
//! The tool prints at most 128 values (64 pairs) even when `len` says the buffer had 384 bytes
//! (HT-LTF and STBC-HT-LTF after the L-LTF): those 64 pairs are the L-LTF part, which is what
//! the references hold too; `len` stays in the metadata. For 64 pairs the subcarrier indices
//! follow Espressif's L-LTF table: `0..31, -32..-1` with no secondary channel, `0..63` with the
//! secondary channel below, `-64..-1` with it above. Other pair counts get FFT-order indices.
//! Note that the ESP32 hardware makes the first four bytes (two pairs) invalid; they are kept as
//! printed, like the other readers do.
//!
//! `timestamp_ns` is `local_timestamp` (the ESP32's microsecond clock at reception) × 1000.
//! Lines without `CSI_DATA,` (header, firmware logs) are counted as ignored; a line where a log
//! message ran into a CSI line is read from its `CSI_DATA,` on.

use crate::readers::end_or_frame;
use crate::{
    CaptureError, CaptureFormat, CsiFrame, FrameReader, MetaValue, ReadStats, RecordError,
};
use num_complex::Complex32;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

/// Longest line accepted (a full 384-byte buffer printed as text is under 2 KiB).
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Most CSI values accepted on one line.
const MAX_VALUES: usize = 2 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Float,
}

/// The tool's fields, in the order it prints them.
const FIELDS: [(&str, Kind); 29] = [
    ("type", Kind::Text),
    ("role", Kind::Text),
    ("mac", Kind::Text),
    ("rssi", Kind::Int),
    ("rate", Kind::Int),
    ("sig_mode", Kind::Int),
    ("mcs", Kind::Int),
    ("bandwidth", Kind::Int),
    ("smoothing", Kind::Int),
    ("not_sounding", Kind::Int),
    ("aggregation", Kind::Int),
    ("stbc", Kind::Int),
    ("fec_coding", Kind::Int),
    ("sgi", Kind::Int),
    ("noise_floor", Kind::Int),
    ("ampdu_cnt", Kind::Int),
    ("channel", Kind::Int),
    ("secondary_channel", Kind::Int),
    ("local_timestamp", Kind::Int),
    ("ant", Kind::Int),
    ("sig_len", Kind::Int),
    ("rx_state", Kind::Int),
    ("real_time_set", Kind::Int),
    ("real_timestamp", Kind::Float),
    ("len", Kind::Int),
    // ESP-IDF 5 firmwares (esp-csi).
    ("seq", Kind::Int),
    ("fft_gain", Kind::Int),
    ("agc_gain", Kind::Int),
    ("first_word", Kind::Int),
];

/// The tool's own columns: [`FIELDS`] up to `len`.
const TOOL_COLUMNS: usize = 25;

/// The L-LTF's pairs: what a buffer longer than that is cut to.
const LLTF_PAIRS: usize = 64;

/// True for a header line: `type,` then column names (no CSI list), one of them `mac`.
fn is_header(line: &[u8]) -> bool {
    line.starts_with(b"type,")
        && !line.contains(&b'[')
        && line
            .split(|&b| b == b',')
            .any(|name| trim_bytes(name) == b"mac")
}

/// True when the text starts with `CSI_DATA` lines or the tool's CSV header (possibly after
/// some firmware log lines).
pub fn sniff(head: &[u8]) -> bool {
    // A binary file is no CSV capture.
    if head.contains(&0) {
        return false;
    }
    let mut csi_lines = 0;
    for line in head.split(|&b| b == b'\n') {
        let line = trim_bytes(line);
        if is_header(line) {
            return true;
        }
        if line.starts_with(b"CSI_DATA,") {
            csi_lines += 1;
            if line.contains(&b'[') {
                return true;
            }
        }
    }
    csi_lines > 0
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Column `i` of a data line → index into [`FIELDS`] (`None`: a column we do not know).
type Columns = Vec<Option<usize>>;

fn default_columns() -> Columns {
    (0..TOOL_COLUMNS).map(Some).collect()
}

/// Reads the column names of a header line; the trailing `CSI_DATA` (or `csi`, `data`)
/// column names the list.
fn header_columns(line: &str) -> Columns {
    line.split(',')
        .map(str::trim)
        .filter(|name| !matches!(*name, "CSI_DATA" | "csi" | "data" | ""))
        .map(|name| FIELDS.iter().position(|(n, _)| *n == name))
        .collect()
}

/// Parses one `CSI_DATA` line (the tool's default column order) into a `[1, 1, pairs]` frame.
pub fn parse_line(line: &str) -> Result<CsiFrame, RecordError> {
    parse_with(line, &default_columns())
}

fn parse_with(line: &str, columns: &Columns) -> Result<CsiFrame, RecordError> {
    let line = line.trim();
    if !line.starts_with("CSI_DATA") {
        return Err(RecordError::new(
            "not a CSI_DATA line",
            format!(
                "line starts {:?}",
                line.chars().take(16).collect::<String>()
            ),
        ));
    }
    let open = line
        .find('[')
        .ok_or_else(|| RecordError::new("missing csi list", "no '[' on the line"))?;
    let close = line[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| RecordError::new("truncated csi list", "no ']' after the '['"))?;
    let fields_text = line[..open].trim_end().trim_end_matches('"');
    let fields_text = fields_text.strip_suffix(',').unwrap_or(fields_text);
    let fields: Vec<&str> = fields_text.split(',').map(str::trim).collect();
    if fields.len() != columns.len() {
        return Err(RecordError::new(
            "bad field count",
            format!(
                "{} fields before the csi list, expected {}",
                fields.len(),
                columns.len()
            ),
        ));
    }
    let mut meta = BTreeMap::new();
    for (text, column) in fields.iter().zip(columns) {
        let Some(index) = *column else { continue };
        let (name, kind) = FIELDS[index];
        let bad = || RecordError::new("bad field value", format!("{name} = {text:?}"));
        let value = match kind {
            Kind::Text => MetaValue::Text((*text).to_owned()),
            Kind::Int => MetaValue::Int(text.parse::<i64>().map_err(|_| bad())?),
            Kind::Float => {
                let v = text.parse::<f64>().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                MetaValue::Float(v)
            }
        };
        meta.insert(name, value);
    }
    let mut values = Vec::with_capacity(128);
    for token in line[open + 1..close].split(|c: char| c.is_whitespace() || c == ',') {
        if token.is_empty() {
            continue;
        }
        if values.len() == MAX_VALUES {
            return Err(RecordError::new(
                "too many csi values",
                format!("more than {MAX_VALUES} values"),
            ));
        }
        let v: i8 = token
            .parse()
            .map_err(|_| RecordError::new("bad csi value", format!("{token:?} is no int8")))?;
        values.push(v);
    }
    if values.is_empty() || values.len() % 2 != 0 {
        return Err(RecordError::new(
            "bad csi value count",
            format!("{} values (need a positive even count)", values.len()),
        ));
    }
    let int = |key: &str| match meta.get(key) {
        Some(MetaValue::Int(v)) => Some(*v),
        _ => None,
    };
    let mut csi: Vec<Complex32> = values
        .chunks_exact(2)
        .map(|p| Complex32::new(f32::from(p[1]), f32::from(p[0])))
        .collect();
    if int("first_word") == Some(1) {
        for z in csi.iter_mut().take(2) {
            *z = Complex32::new(0.0, 0.0);
        }
    }
    let printed = csi.len();
    csi.truncate(LLTF_PAIRS);
    let subcarriers = subcarrier_indices(csi.len(), int("secondary_channel").unwrap_or(0));
    let (timestamp_ns, rssi_dbm, noise_dbm) = (
        int("local_timestamp").map_or(0, |us| us.saturating_mul(1_000)),
        int("rssi").map(|v| v as f32),
        int("noise_floor").map(|v| v as f32),
    );
    if printed > LLTF_PAIRS {
        meta.insert("csi_pairs", MetaValue::Int(printed as i64));
    }
    Ok(CsiFrame {
        format: CaptureFormat::Esp32,
        n_tx: 1,
        n_rx: 1,
        subcarriers,
        csi,
        timestamp_ns,
        rssi_dbm,
        noise_dbm,
        meta,
    })
}

fn subcarrier_indices(pairs: usize, secondary_channel: i64) -> Vec<i32> {
    let n = pairs as i32;
    match (pairs, secondary_channel) {
        (64, 1) => (-64..0).collect(),
        (64, 2) => (0..64).collect(),
        _ => (0..n)
            .map(|k| if k < (n + 1) / 2 { k } else { k - n })
            .collect(),
    }
}

/// Streams the `CSI_DATA` lines of an ESP32-CSI-Tool capture (file, serial log, pipe).
pub struct Esp32Reader<R> {
    input: BufReader<R>,
    name: PathBuf,
    line: Vec<u8>,
    columns: Columns,
    stats: ReadStats,
    record: u64,
    offset: u64,
    done: bool,
}

impl<R: Read> Esp32Reader<R> {
    /// A reader over `input`; `name` is used in error messages.
    pub fn new(input: R, name: PathBuf) -> Self {
        Self {
            input: BufReader::with_capacity(1 << 16, input),
            name,
            line: Vec::with_capacity(4096),
            columns: default_columns(),
            stats: ReadStats::default(),
            record: 0,
            offset: 0,
            done: false,
        }
    }

    /// Reads one line into `self.line` (without the newline), keeping at most
    /// [`MAX_LINE_BYTES`]. Returns `(bytes consumed, too long)`, 0 consumed at the end.
    fn read_line(&mut self) -> std::io::Result<(usize, bool)> {
        self.line.clear();
        let mut consumed = 0;
        let mut too_long = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((consumed, too_long));
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            if chunk.len() > room {
                too_long = true;
            }
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len() + usize::from(found);
            self.input.consume(used);
            consumed += used;
            if found {
                return Ok((consumed, too_long));
            }
        }
    }

    /// The next CSI frame, `None` at the end of the input.
    fn advance(&mut self) -> std::io::Result<Option<CsiFrame>> {
        loop {
            let offset = self.offset;
            let (consumed, too_long) = self.read_line()?;
            if consumed == 0 {
                return Ok(None);
            }
            self.offset += consumed as u64;
            let line = trim_bytes(&self.line);
            if line.is_empty() {
                continue;
            }
            if is_header(line) {
                self.columns = header_columns(&String::from_utf8_lossy(line));
                self.stats.ignored += 1;
                continue;
            }
            // A log message may run into a CSI line on the serial port: start at the marker.
            let Some(start) = line.windows(9).position(|w| w == b"CSI_DATA,") else {
                self.stats.ignored += 1;
                continue;
            };
            let line = &line[start..];
            self.record += 1;
            if too_long {
                self.stats.skip("line too long", self.record, offset);
                continue;
            }
            let parsed = match std::str::from_utf8(line) {
                Ok(text) => parse_with(text, &self.columns),
                Err(_) => Err(RecordError::new("not utf-8", "the line is not valid UTF-8")),
            };
            match parsed {
                Ok(frame) => {
                    self.stats.good += 1;
                    return Ok(Some(frame));
                }
                Err(e) => {
                    tracing::debug!(record = self.record, offset, detail = e.detail, "esp32");
                    self.stats.skip(&e.reason, self.record, offset);
                }
            }
        }
    }
}

impl<R: Read + Send> FrameReader for Esp32Reader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Esp32
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
