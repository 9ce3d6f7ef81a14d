//! Intel 5300 Linux 802.11n CSI Tool logs (`log_to_file` output, `.dat`).
//!
//! A log is a sequence of netlink connector messages, each written as a 2-byte **big-endian**
//! length (`field_len`, counting the code byte and the body), a code byte and `field_len - 1`
//! body bytes. Code `0xbb` is a beamforming-feedback record ("bfee"); every other code carries
//! no CSI and is counted in [`ReadStats::ignored`].
//!
//! A bfee body is laid out as the tool's `read_bfee.c` reads it (multi-byte fields little
//! endian): `timestamp_low` u32, `bfee_count` u16, 2 reserved bytes, `Nrx` u8, `Ntx` u8,
//! `rssi_a/b/c` u8, `noise` i8, `agc` u8, `antenna_sel` u8, `len` u16, `fake_rate_n_flags` u16,
//! then `len` bytes holding, for each of the 30 subcarrier groups, 3 padding bits followed by
//! `Nrx * Ntx` pairs of int8 (real, imaginary), packed back to back without byte alignment.
//!
//! Frames are `[Ntx, Nrx, 30]`, the shape of `read_bf_file.m`'s `csi`. The receive chains are
//! reordered by `perm` as `read_bf_file.m` does (`csi(:, perm(1:Nrx), :) = csi(:, 1:Nrx, :)`),
//! which is also what csiread does; it is applied only when `perm[..Nrx]` is a permutation of
//! `0..Nrx` (the MATLAB reader guards with a sum test, csiread does not guard at all; on real
//! permutations all three agree). csiread reports the same values as `csi[packet, subcarrier,
//! rx, tx]`.
//!
//! csiread's modified `log_to_file` also writes a `<log>stp` companion with one userspace
//! receive time per netlink message; see [`read_datstp`] and [`IntelReader::with_stp`].

use crate::readers::end_or_frame;
use crate::readers::window::ByteWindow;
use crate::{
    CaptureError, CaptureFormat, CsiFrame, FrameReader, MetaValue, ReadStats, RecordError,
};
use num_complex::{Complex32, Complex64};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Netlink connector code of a beamforming-feedback record.
const CODE_BFEE: u8 = 0xbb;
/// Bytes of the bfee header before the packed CSI.
const BFEE_HEADER_LEN: usize = 20;
/// Netlink record prefix: u16 length + code byte.
const PREFIX_LEN: usize = 3;
/// The 5300 always reports 30 subcarrier groups.
const N_GROUPS: usize = 30;
/// The 5300 has 3 RF chains and at most 3 spatial streams.
const MAX_CHAINS: usize = 3;
/// `RATE_MCS_HT40_MSK` of iwlwifi's `rate_n_flags`: the frame used a 40 MHz channel.
const RATE_HT40: u16 = 0x800;
/// Reader window: the largest bfee record is 2 + 1 + 20 + 552 bytes; the rest speeds up resync.
const WINDOW_BYTES: usize = 8 * 1024;

/// Subcarrier indices of the 30 groups at 20 MHz: IEEE 802.11n-2009 Table 7-25f, grouping
/// Ng = 2 ("about one group every 2 subcarriers at 20 MHz", Halperin et al., "Tool release:
/// gathering 802.11n traces with channel state information", CCR 2011, and the CSI Tool FAQ).
const SUBCARRIERS_20MHZ: [i32; N_GROUPS] = [
    -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2, -1, 1, 3, 5, 7, 9, 11, 13,
    15, 17, 19, 21, 23, 25, 27, 28,
];
/// Subcarrier indices of the 30 groups at 40 MHz: the same table, Ng = 4.
const SUBCARRIERS_40MHZ: [i32; N_GROUPS] = [
    -58, -54, -50, -46, -42, -38, -34, -30, -26, -22, -18, -14, -10, -6, -2, 2, 6, 10, 14, 18, 22,
    26, 30, 34, 38, 42, 46, 50, 54, 58,
];

/// `len` a bfee must have for `Nrx * Ntx` pairs, as `read_bfee.c` computes it.
fn calc_len(n_rx: usize, n_tx: usize) -> usize {
    (N_GROUPS * (n_rx * n_tx * 16 + 3)).div_ceil(8)
}

/// The fixed fields of a bfee body.
struct BfeeHeader {
    timestamp_low: u32,
    bfee_count: u16,
    n_rx: usize,
    n_tx: usize,
    rssi: [u8; 3],
    noise: i8,
    agc: u8,
    antenna_sel: u8,
    len: usize,
    rate: u16,
}

/// Decodes and checks the header of a bfee body. `body_len` is the length of the whole body
/// (`field_len - 1`); `head` may be shorter than the body but must hold the 20 header bytes.
fn parse_header(head: &[u8], body_len: usize) -> Result<BfeeHeader, RecordError> {
    if body_len < BFEE_HEADER_LEN || head.len() < BFEE_HEADER_LEN {
        return Err(RecordError::new(
            "record too short",
            format!("bfee body of {body_len} bytes, the header alone needs {BFEE_HEADER_LEN}"),
        ));
    }
    let u16_le = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let header = BfeeHeader {
        timestamp_low: u32::from_le_bytes([head[0], head[1], head[2], head[3]]),
        bfee_count: u16_le(4),
        n_rx: usize::from(head[8]),
        n_tx: usize::from(head[9]),
        rssi: [head[10], head[11], head[12]],
        noise: i8::from_le_bytes([head[13]]),
        agc: head[14],
        antenna_sel: head[15],
        len: usize::from(u16_le(16)),
        rate: u16_le(18),
    };
    if !(1..=MAX_CHAINS).contains(&header.n_rx) || !(1..=MAX_CHAINS).contains(&header.n_tx) {
        return Err(RecordError::new(
            "bad antenna count",
            format!("Nrx={} Ntx={}, expected 1..=3", header.n_rx, header.n_tx),
        ));
    }
    let expected = calc_len(header.n_rx, header.n_tx);
    if header.len != expected {
        return Err(RecordError::new(
            "bad csi length",
            format!(
                "len={} but Nrx={} Ntx={} need {expected}",
                header.len, header.n_rx, header.n_tx
            ),
        ));
    }
    if body_len != BFEE_HEADER_LEN + header.len {
        return Err(RecordError::new(
            "record length mismatch",
            format!(
                "bfee body of {body_len} bytes, header and len={} make {}",
                header.len,
                BFEE_HEADER_LEN + header.len
            ),
        ));
    }
    Ok(header)
}

/// The receive-chain permutation, 0-based as csiread reports it (`read_bfee.c` adds 1).
fn perm_of(antenna_sel: u8) -> [usize; 3] {
    [0, 2, 4].map(|shift| usize::from((antenna_sel >> shift) & 0x3))
}

/// Whether `perm[..n_rx]` is a permutation of `0..n_rx`, i.e. safe to apply.
fn is_permutation(perm: &[usize; 3], n_rx: usize) -> bool {
    let mut seen = [false; MAX_CHAINS];
    for &p in perm.iter().take(n_rx) {
        if p >= n_rx || seen[p] {
            return false;
        }
        seen[p] = true;
    }
    true
}

/// Decodes one beamforming-feedback record: the netlink body after the `0xbb` code byte, as
/// `read_bfee.c` reads it.
///
/// The body must be exactly 20 header bytes plus `len` CSI bytes, with `Nrx` and `Ntx` in
/// 1..=3 and `len` what `read_bfee.c` computes for them; otherwise the record is rejected with
/// a stable reason (`"record too short"`, `"bad antenna count"`, `"bad csi length"`,
/// `"record length mismatch"`).
pub fn parse_bfee(payload: &[u8]) -> Result<CsiFrame, RecordError> {
    let h = parse_header(payload, payload.len())?;
    let packed = &payload[BFEE_HEADER_LEN..];
    let perm = perm_of(h.antenna_sel);
    // Chain `rx` of the stream lands in row `rx_order[rx]`.
    let rx_order = if h.n_rx > 1 && is_permutation(&perm, h.n_rx) {
        perm
    } else {
        [0, 1, 2]
    };

    let mut csi = vec![Complex32::new(0.0, 0.0); h.n_tx * h.n_rx * N_GROUPS];
    // Every value is an int8 starting at an arbitrary bit offset: take 8 bits across two bytes.
    let byte = |i: usize| u16::from(packed.get(i).copied().unwrap_or(0));
    let int8_at = |bit: usize| -> f32 {
        let (i, shift) = (bit / 8, bit % 8);
        let bits = (byte(i) >> shift) | (byte(i + 1) << (8 - shift));
        f32::from(i8::from_le_bytes([(bits & 0xff) as u8]))
    };
    let mut bit = 0;
    for sub in 0..N_GROUPS {
        bit += 3;
        // Stream order is Ntx fastest, then Nrx (MATLAB's column-major [Ntx, Nrx, 30]).
        for &rx_out in rx_order.iter().take(h.n_rx) {
            for tx in 0..h.n_tx {
                csi[(tx * h.n_rx + rx_out) * N_GROUPS + sub] =
                    Complex32::new(int8_at(bit), int8_at(bit + 8));
                bit += 16;
            }
        }
    }

    let subcarriers = if h.rate & RATE_HT40 != 0 {
        SUBCARRIERS_40MHZ.to_vec()
    } else {
        SUBCARRIERS_20MHZ.to_vec()
    };
    let mut meta = BTreeMap::new();
    meta.insert("timestamp_low", MetaValue::Int(i64::from(h.timestamp_low)));
    meta.insert("bfee_count", MetaValue::Int(i64::from(h.bfee_count)));
    meta.insert("rssi_a", MetaValue::Int(i64::from(h.rssi[0])));
    meta.insert("rssi_b", MetaValue::Int(i64::from(h.rssi[1])));
    meta.insert("rssi_c", MetaValue::Int(i64::from(h.rssi[2])));
    meta.insert("noise", MetaValue::Int(i64::from(h.noise)));
    meta.insert("agc", MetaValue::Int(i64::from(h.agc)));
    meta.insert("antenna_sel", MetaValue::Int(i64::from(h.antenna_sel)));
    meta.insert(
        "perm",
        MetaValue::Ints(perm.iter().map(|&p| p as i64).collect()),
    );
    meta.insert("rate", MetaValue::Int(i64::from(h.rate)));

    let rss = rss_dbm(h.rssi.map(i64::from), i64::from(h.agc));
    Ok(CsiFrame {
        format: CaptureFormat::Intel5300,
        n_tx: h.n_tx,
        n_rx: h.n_rx,
        subcarriers,
        csi,
        // timestamp_low is the NIC's 32-bit microsecond clock (it wraps every ~72 minutes).
        timestamp_ns: i64::from(h.timestamp_low) * 1000,
        rssi_dbm: rss.is_finite().then_some(rss as f32),
        noise_dbm: (h.noise != -127).then_some(f32::from(h.noise)),
        meta,
    })
}

/// `dbinv.m`: decibels to a power ratio.
fn dbinv(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// `get_total_rss.m` from the three per-chain RSSI values and the AGC gain.
fn rss_dbm(rssi: [i64; 3], agc: i64) -> f64 {
    // A zero RSSI means the chain was not measured; it must not add 1 mW-equivalent.
    let power: f64 = rssi
        .iter()
        .filter(|&&r| r != 0)
        .map(|&r| dbinv(r as f64))
        .sum();
    10.0 * power.log10() - 44.0 - agc as f64
}

fn meta_or_zero(frame: &CsiFrame, key: &str) -> i64 {
    frame.meta_int(key).unwrap_or(0)
}

/// Total received signal strength in dBm, as the CSI Tool's `get_total_rss.m` computes it:
/// the power sum of the non-zero `rssi_a/b/c` minus 44 dB minus `agc`.
///
/// Negative infinity when all three RSSI values are zero (as MATLAB gives). Missing metadata
/// (a frame not read from an Intel log) counts as zero.
pub fn total_rss_dbm(frame: &CsiFrame) -> f64 {
    rss_dbm(
        ["rssi_a", "rssi_b", "rssi_c"].map(|k| meta_or_zero(frame, k)),
        meta_or_zero(frame, "agc"),
    )
}

/// The channel matrix in units of sqrt(SNR), as the CSI Tool's `get_scaled_csi.m` computes it,
/// in the layout of `frame.csi` (`[Ntx, Nrx, 30]`).
///
/// The CSI is scaled so that its mean power per subcarrier equals the total RSS
/// ([`total_rss_dbm`]), then divided by the noise: the thermal noise (`noise` dBm, or -92 dBm
/// when the NIC reports -127, i.e. unknown) plus a quantization error of one unit per entry.
/// With 2 and 3 transmit streams the result is multiplied by sqrt(2) and sqrt(10^0.45) (Intel
/// approximates 3x by 4.5 dB). Like the MATLAB code this yields NaN for an all-zero CSI.
pub fn scaled_csi(frame: &CsiFrame) -> Vec<Complex64> {
    let csi_pwr: f64 = frame
        .csi
        .iter()
        .map(|c| f64::from(c.re).powi(2) + f64::from(c.im).powi(2))
        .sum();
    let rssi_pwr = dbinv(total_rss_dbm(frame));
    // Mean power of one subcarrier: the 5300 always reports 30.
    let scale = rssi_pwr / (csi_pwr / N_GROUPS as f64);
    let noise = meta_or_zero(frame, "noise");
    let noise_db = if noise == -127 { -92.0 } else { noise as f64 };
    let thermal_noise_pwr = dbinv(noise_db);
    let quant_error_pwr = scale * (frame.n_rx * frame.n_tx) as f64;
    let total_noise_pwr = thermal_noise_pwr + quant_error_pwr;
    let mut factor = (scale / total_noise_pwr).sqrt();
    match frame.n_tx {
        2 => factor *= 2f64.sqrt(),
        3 => factor *= dbinv(4.5).sqrt(),
        _ => {}
    }
    frame
        .csi
        .iter()
        .map(|c| Complex64::new(f64::from(c.re) * factor, f64::from(c.im) * factor))
        .collect()
}

/// Reads a `.datstp` companion file written by csiread's modified `log_to_file`: one userspace
/// receive time per netlink message, u32 seconds + u32 microseconds, little endian. Returns
/// seconds since the Unix epoch; a trailing partial entry is ignored (as csiread does).
pub fn read_datstp(path: impl AsRef<Path>) -> Result<Vec<f64>, CaptureError> {
    let path = path.as_ref();
    let io_err = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut input = BufReader::new(File::open(path).map_err(io_err)?);
    let mut times = Vec::new();
    while let Some(t) = read_stp_entry(&mut input).map_err(io_err)? {
        times.push(t);
    }
    Ok(times)
}

/// One `.datstp` entry, `None` at the end (or at a partial entry).
fn read_stp_entry(input: &mut impl Read) -> io::Result<Option<f64>> {
    let mut entry = [0u8; 8];
    match input.read_exact(&mut entry) {
        Ok(()) => {
            let sec = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let usec = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
            Ok(Some(f64::from(sec) + f64::from(usec) / 1e6))
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `bytes` starts with a self-consistent bfee record prefix (length, code, header).
fn is_bfee_start(bytes: &[u8]) -> bool {
    if bytes.len() < PREFIX_LEN + BFEE_HEADER_LEN || bytes[2] != CODE_BFEE {
        return false;
    }
    let field_len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    field_len >= 1 && parse_header(&bytes[PREFIX_LEN..], field_len - 1).is_ok()
}

/// Recognises an Intel 5300 CSI Tool log from the first bytes of a file.
///
/// Walks the netlink record chain (big-endian length, code) through `head`: every bfee record
/// whose header lies within `head` must be self-consistent (`Nrx`/`Ntx` in 1..=3, `len` as
/// `read_bfee.c` computes it, record length = header + `len`), no record may be empty, and at
/// least one bfee record must be seen.
pub fn sniff(head: &[u8]) -> bool {
    let mut pos = 0usize;
    let mut bfee_seen = 0;
    while let Some(prefix) = head.get(pos..pos + PREFIX_LEN) {
        let field_len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if field_len == 0 {
            return false;
        }
        if prefix[2] == CODE_BFEE {
            match head.get(pos..pos + PREFIX_LEN + BFEE_HEADER_LEN) {
                Some(start) if is_bfee_start(start) => bfee_seen += 1,
                Some(_) => return false,
                None => break,
            }
        }
        pos += 2 + field_len;
    }
    bfee_seen > 0
}

/// Streaming reader of an Intel 5300 CSI Tool log: yields one [`CsiFrame`] per bfee record.
///
/// Records of other netlink codes are counted as ignored. A corrupt bfee record (see
/// [`parse_bfee`], plus `"empty record"` for a zero length) is skipped and counted; the reader
/// then scans forward for the next self-consistent bfee record, so a damaged length field
/// loses only the records it covers. A record cut by the end of the input is counted as
/// `"truncated record"`. Only I/O errors end the stream with an error.
pub struct IntelReader<R> {
    window: ByteWindow<R>,
    name: PathBuf,
    stats: ReadStats,
    /// Index of the next netlink record (for log messages).
    record: u64,
    stp: Option<Box<dyn Read + Send>>,
    done: bool,
}

impl<R: Read> IntelReader<R> {
    /// A reader over `input`; `name` names the capture in errors.
    pub fn new(input: R, name: PathBuf) -> Self {
        Self {
            window: ByteWindow::new(input, WINDOW_BYTES, WINDOW_BYTES),
            name,
            stats: ReadStats::default(),
            record: 0,
            stp: None,
            done: false,
        }
    }

    /// Attaches a `.datstp` companion stream (see [`read_datstp`]): each frame then carries the
    /// userspace receive time of its netlink message, in seconds, as meta `stp`.
    ///
    /// The companion has one entry per netlink message of any code, so it stays aligned only
    /// while the log is intact: after a resynchronisation, or when the companion runs out, it
    /// is dropped (with a warning) and later frames have no `stp`.
    pub fn with_stp(mut self, stp: impl Read + Send + 'static) -> Self {
        self.stp = Some(Box::new(BufReader::new(stp)));
        self
    }

    /// The companion time of the current netlink message, advancing the companion.
    fn next_stp(&mut self) -> Option<f64> {
        let entry = read_stp_entry(self.stp.as_mut()?);
        match entry {
            Ok(Some(t)) => Some(t),
            Ok(None) => {
                tracing::warn!(record = self.record, "stp companion ended before the log");
                self.stp = None;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "stp companion unreadable, dropping it");
                self.stp = None;
                None
            }
        }
    }

    /// Counts the unreadable rest of the input as one truncated record and drops it.
    fn skip_tail(&mut self, record: u64, offset: u64) {
        self.stats.skip("truncated record", record, offset);
        self.window.consume_all();
    }

    /// Scans forward from the byte after the current position to the next self-consistent
    /// bfee record start (or the end of the input).
    fn resync(&mut self) -> io::Result<()> {
        let from = self.window.offset();
        if self.stp.take().is_some() {
            tracing::warn!(
                offset = from,
                "log resynchronised: stp companion no longer aligned, dropped"
            );
        }
        self.window
            .resync(PREFIX_LEN + BFEE_HEADER_LEN, is_bfee_start)?;
        // Logged here, not in the window, so the event keeps this module's log target.
        tracing::warn!(
            from,
            to = self.window.offset(),
            "resynchronised after a corrupt record"
        );
        Ok(())
    }

    /// The next bfee frame, `None` at the end of the input.
    fn advance(&mut self) -> io::Result<Option<CsiFrame>> {
        loop {
            let offset = self.window.offset();
            let head = self.window.fill(PREFIX_LEN + BFEE_HEADER_LEN)?;
            if head.is_empty() {
                return Ok(None);
            }
            let record = self.record;
            if head.len() < PREFIX_LEN {
                self.skip_tail(record, offset);
                return Ok(None);
            }
            self.record += 1;
            let field_len = usize::from(u16::from_be_bytes([head[0], head[1]]));
            let code = head[2];
            if field_len == 0 {
                self.stats.skip("empty record", record, offset);
                self.resync()?;
                continue;
            }
            let total = 2 + field_len;
            if code != CODE_BFEE {
                let skipped = self.window.skip(total as u64)?;
                if skipped < total as u64 {
                    self.stats.skip("truncated record", record, offset);
                    return Ok(None);
                }
                self.stats.ignored += 1;
                self.next_stp();
                continue;
            }
            // Check the header before trusting field_len: a damaged length must not make us
            // swallow the records that follow.
            let body_head = &head[PREFIX_LEN..head.len().min(total)];
            if body_head.len() < BFEE_HEADER_LEN.min(field_len - 1) {
                self.skip_tail(record, offset);
                return Ok(None);
            }
            if let Err(e) = parse_header(body_head, field_len - 1) {
                tracing::warn!(record, offset, detail = %e.detail, "corrupt bfee header");
                self.stats.skip(&e.reason, record, offset);
                self.resync()?;
                continue;
            }
            let data = self.window.fill(total)?;
            if data.len() < total {
                self.skip_tail(record, offset);
                return Ok(None);
            }
            match parse_bfee(&data[PREFIX_LEN..total]) {
                Ok(mut frame) => {
                    self.window.consume(total);
                    if let Some(t) = self.next_stp() {
                        frame.meta.insert("stp", MetaValue::Float(t));
                    }
                    self.stats.good += 1;
                    return Ok(Some(frame));
                }
                Err(e) => {
                    tracing::warn!(record, offset, detail = %e.detail, "corrupt bfee record");
                    self.stats.skip(&e.reason, record, offset);
                    self.resync()?;
                }
            }
        }
    }
}

impl<R: Read + Send> FrameReader for IntelReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Intel5300
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
