//! PicoScenes `.csi` files: a sequence of RXS frames.
//!
//! Frame: `u32` length (of what follows), `u32` magic `0x20150315`, `u16` frame version (1),
//! `u8` segment count, then the segments, then the received MPDU (802.11 header first). Each
//! segment is `u32` length (of what follows), `u8` name length, name, `u16` version, body. All
//! little endian.
//!
//! Segment names may carry a trailing NUL byte (newer PicoScenes releases write `RxSBasic\0`);
//! it is not part of the name.
//!
//! Decoded: `RxSBasic` v1-v3 (timestamp, RSSI, noise floor, frequencies, bandwidth, MCS, ...),
//! the `CSI` segment v1-v4 for every device PicoScenes records, the `MVMExtra` clock and the
//! 802.11 sequence number of the MPDU:
//!
//! - Intel 5300 (`0x5300`): 30 tones of packed int8 I/Q, as csiread and PicoScenes' parser
//!   unpack them; the grouped subcarrier indices of 20 or 40 MHz.
//! - Qualcomm QCA9300 (`0x9300`): packed 10-bit I/Q (imaginary first), tone-major then stream
//!   then rx; the HT tone plan of the bandwidth.
//! - Intel IWL-MVM AX200/AX210 (`0x2000`/`0x2100`): int16 I/Q pairs, `[rx][stream][tone]` with
//!   tones fastest. The buffer holds every tone of the format's tone plan (`NumTones`, checked
//!   against the plan of the frame's packet format and bandwidth: non-HT, HT, VHT, HE-SU up to
//!   160 MHz); the pilot tones hold no channel estimate and are dropped, as PicoScenes' own
//!   parser does, so a frame has the plan's data subcarriers. Firmware 67/68 captures at
//!   160 MHz carry a gap of unused tones between the two 80 MHz halves; it is skipped.
//! - USRP / SDR front ends (`0x1234`): `NumTones` int16 subcarrier indices, then a
//!   `SignalMatrix` (`BB` `v1`/`v2`, dimensions `[tones, streams, rx]`, complex doubles or
//!   floats, column- or row-major).
//!
//! Other segments (`ExtraInfo`, `PilotCSI`, `LegacyCSI`, `BasebandSignals`, `PreEQSymbols`, ...)
//! are skipped by their length. Frames without a CSI segment are counted as ignored.
//!
//! Axes: the frame is `[NumTx + NumESS, NumRx, NumTones]` (csiread's `CSI.CSI` is
//! `(tone, rx, tx)`); the sounded streams `NumTx + NumESS` come from the CSI buffer length, as in
//! csiread. No receive-antenna permutation by `antSel` is applied (csiread does not either).
//! `timestamp_ns` is the RxSBasic hardware timestamp: µs for NICs, ns for the USRP. AX200/AX210
//! frames carry 0 there; their `MVMExtra` microsecond clock (32 bits, wrapping) is used instead.

mod devices;
mod tones;

use crate::readers::end_or_frame;
use crate::readers::window::ByteWindow;
use crate::{
    CaptureError, CaptureFormat, CsiFrame, FrameReader, MetaValue, ReadStats, RecordError,
};
use devices::{decode_iwl5300, decode_iwlmvm, decode_qca9300, decode_usrp, parse_csi_info};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

/// Magic word after the frame length.
pub const RXS_MAGIC: u32 = 0x2015_0315;
/// Largest frame accepted (baseband-signal segments of SDR captures are the big ones).
pub const MAX_FRAME_BYTES: usize = 4 << 20;
const FRAME_HEADER_BYTES: usize = 7;
const DEVICE_IWL5300: u16 = 0x5300;
const DEVICE_QCA9300: u16 = 0x9300;
const DEVICE_AX200: u16 = 0x2000;
const DEVICE_AX210: u16 = 0x2100;
const DEVICE_USRP: u16 = 0x1234;
const PACKET_FORMAT_NON_HT: i8 = 0;
const PACKET_FORMAT_HT: i8 = 1;
const PACKET_FORMAT_VHT: i8 = 2;
const PACKET_FORMAT_HE_SU: i8 = 3;

/// True when `head` starts with a self-consistent RXS frame header and first segment header.
pub fn sniff(head: &[u8]) -> bool {
    let (Some(len), Some(magic), Some(version), Some(&nseg)) = (
        le_u32(head, 0),
        le_u32(head, 4),
        le_u16(head, 8),
        head.get(10),
    ) else {
        return false;
    };
    let len = len as usize;
    if magic != RXS_MAGIC
        || version != 1
        || nseg == 0
        || !(FRAME_HEADER_BYTES..=MAX_FRAME_BYTES).contains(&len)
    {
        return false;
    }
    // First segment: its length fits in the frame and its name is printable.
    let (Some(seg_len), Some(&name_len)) = (le_u32(head, 11), head.get(15)) else {
        return false;
    };
    // Newer releases count a terminating NUL in the name length.
    let name_ok = head
        .get(16..16 + usize::from(name_len))
        .map(|n| n.strip_suffix(&[0]).unwrap_or(n))
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_alphanumeric));
    name_ok && (seg_len as usize) < len && usize::from(name_len) + 3 <= seg_len as usize
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn byte(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

fn short(segment: &str) -> RecordError {
    RecordError::new(
        "truncated picoscenes segment",
        format!("{segment} body is shorter than its version's fields"),
    )
}

/// What a frame held.
enum Parsed {
    Frame(CsiFrame),
    NoCsi,
}

/// Decodes the fields of an RxSBasic segment body into `meta`; returns (rssi, noise floor,
/// timestamp) for the frame.
fn parse_rxs_basic(
    version: u16,
    b: &[u8],
    meta: &mut BTreeMap<&'static str, MetaValue>,
) -> Result<(i64, i64, u64), RecordError> {
    let e = || short("RxSBasic");
    // Offsets of (packetFormat, cbw, gi, mcs, numSTS, numESS, numRx, noiseFloor, rssi, ctl0).
    let (pf, cbw, gi, mcs, nss, ness, nrx, nf, rssi_at) = match version {
        1 => (12, 13, 15, 17, 18, 19, 20, 21, 22),
        2 => (12, 13, 15, 17, 18, 19, 20, 23, 24),
        3 => (16, 14, 19, 21, 22, 23, 24, 27, 28),
        v => {
            return Err(RecordError::new(
                "unsupported RxSBasic version",
                format!("RxSBasic version {v} (known: 1-3)"),
            ))
        }
    };
    if b.len() < rssi_at + 4 {
        return Err(e());
    }
    let timestamp = le_u64(b, 2).ok_or_else(e)?;
    let noise = i64::from(b[nf] as i8);
    let raw = |at: usize| i64::from(b[at] as i8);
    // Before version 3 the RSSI fields are relative to the noise floor.
    let to_dbm = |v: i64| if version < 3 { v + noise } else { v };
    let rssi = to_dbm(raw(rssi_at));
    let center = i64::from(le_u16(b, 10).ok_or_else(e)? as i16);
    meta.insert(
        "RxSBasic.DeviceType",
        MetaValue::Int(i64::from(le_u16(b, 0).ok_or_else(e)?)),
    );
    meta.insert("RxSBasic.Timestamp", MetaValue::Int(timestamp as i64));
    meta.insert("RxSBasic.CenterFreq", MetaValue::Int(center));
    let control = if version == 3 {
        i64::from(le_u16(b, 12).ok_or_else(e)? as i16)
    } else {
        center
    };
    meta.insert("RxSBasic.ControlFreq", MetaValue::Int(control));
    meta.insert("RxSBasic.PacketFormat", MetaValue::Int(i64::from(b[pf])));
    meta.insert(
        "RxSBasic.CBW",
        MetaValue::Int(i64::from(le_u16(b, cbw).ok_or_else(e)?)),
    );
    if version == 3 {
        meta.insert(
            "RxSBasic.PacketCBW",
            MetaValue::Int(i64::from(le_u16(b, 17).ok_or_else(e)?)),
        );
    }
    meta.insert(
        "RxSBasic.GI",
        MetaValue::Int(i64::from(le_u16(b, gi).ok_or_else(e)?)),
    );
    meta.insert("RxSBasic.MCS", MetaValue::Int(i64::from(b[mcs])));
    meta.insert("RxSBasic.NumSTS", MetaValue::Int(i64::from(b[nss])));
    meta.insert("RxSBasic.NumESS", MetaValue::Int(i64::from(b[ness])));
    meta.insert("RxSBasic.NumRx", MetaValue::Int(i64::from(b[nrx])));
    meta.insert("RxSBasic.NoiseFloor", MetaValue::Int(noise));
    meta.insert("RxSBasic.RSSI", MetaValue::Int(rssi));
    meta.insert(
        "RxSBasic.RSSI_ctl",
        MetaValue::Ints((1..4).map(|i| to_dbm(raw(rssi_at + i))).collect()),
    );
    Ok((rssi, noise, timestamp))
}

/// Parses one RXS frame (the bytes after its length prefix).
fn parse_frame(frame: &[u8]) -> Result<Parsed, RecordError> {
    let magic = le_u32(frame, 0).unwrap_or(0);
    if magic != RXS_MAGIC {
        return Err(RecordError::new(
            "bad rxs magic",
            format!("magic {magic:#010x}"),
        ));
    }
    let version = le_u16(frame, 4).unwrap_or(0);
    if version != 1 {
        return Err(RecordError::new(
            "unsupported rxs frame version",
            format!("frame version {version} (known: 1)"),
        ));
    }
    let num_segments = byte(frame, 6).unwrap_or(0);
    let mut meta = BTreeMap::new();
    let mut at = FRAME_HEADER_BYTES;
    let mut basic = None;
    let mut basic_device = None;
    let mut mu_clock = None;
    let mut csi_seg: Option<(u16, &[u8])> = None;
    for _ in 0..num_segments {
        let seg_len = le_u32(frame, at).ok_or_else(|| short("segment header"))? as usize;
        let end = at
            .checked_add(4 + seg_len)
            .filter(|&e| e <= frame.len())
            .ok_or_else(|| {
                RecordError::new(
                    "truncated picoscenes segment",
                    format!("segment length {seg_len} at frame byte {at} runs past the frame"),
                )
            })?;
        let seg = &frame[at + 4..end];
        let name_len = usize::from(byte(seg, 0).ok_or_else(|| short("segment header"))?);
        let name = seg
            .get(1..1 + name_len)
            .ok_or_else(|| short("segment header"))?;
        let seg_version = le_u16(seg, 1 + name_len).ok_or_else(|| short("segment header"))?;
        let body = &seg[3 + name_len..];
        // Newer releases count a terminating NUL in the name.
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        match name {
            b"RxSBasic" => {
                basic = Some(parse_rxs_basic(seg_version, body, &mut meta)?);
                basic_device = le_u16(body, 0);
            }
            b"CSI" => csi_seg = Some((seg_version, body)),
            // MVMExtra v1: the firmware's microsecond clock at byte 90 of the body.
            b"MVMExtra" => {
                mu_clock = le_u32(body, 90);
                if let Some(us) = mu_clock {
                    meta.insert("MVMExtra.MuClock", MetaValue::Int(i64::from(us)));
                }
            }
            _ => {}
        }
        at = end;
    }
    // The MPDU follows the segments; its 802.11 header carries the sequence number.
    if let Some(seq_ctl) = le_u16(frame, at + 22) {
        meta.insert(
            "StandardHeader.Sequence",
            MetaValue::Int(i64::from(seq_ctl >> 4)),
        );
        meta.insert(
            "StandardHeader.Fragment",
            MetaValue::Int(i64::from(seq_ctl & 0xf)),
        );
        let fc = le_u16(frame, at).unwrap_or(0);
        meta.insert("StandardHeader.ControlField", MetaValue::Int(i64::from(fc)));
    }
    let Some((csi_version, body)) = csi_seg else {
        return Ok(Parsed::NoCsi);
    };
    let info = parse_csi_info(csi_version, body, &mut meta)?;
    let payload = &body[info.buffer.clone()];
    let decoded = match info.device_type {
        DEVICE_IWL5300 => decode_iwl5300(&info, payload)?,
        DEVICE_QCA9300 => decode_qca9300(&info, payload)?,
        DEVICE_AX200 | DEVICE_AX210 => decode_iwlmvm(&info, payload)?,
        DEVICE_USRP => decode_usrp(&info, payload)?,
        other => {
            return Err(RecordError::new(
                "unsupported picoscenes csi device",
                format!(
                    "CSI DeviceType {other:#06x} (known: 0x5300, 0x9300, 0x2000, 0x2100, 0x1234)"
                ),
            ))
        }
    };
    if let Some(ess) = decoded.num_ess {
        meta.insert("CSI.Info.NumESS", MetaValue::Int(i64::from(ess)));
    }
    let (rssi, noise, timestamp) = basic.unwrap_or((0, 0, 0));
    let device = basic_device.unwrap_or(info.device_type);
    let timestamp_ns = match (device, mu_clock) {
        // The USRP's RxSBasic timestamp is in nanoseconds.
        (DEVICE_USRP, _) => timestamp as i64,
        // AX200/AX210 leave it at 0; their MVMExtra clock counts microseconds.
        (DEVICE_AX200 | DEVICE_AX210, Some(us)) if timestamp == 0 => i64::from(us) * 1_000,
        _ => (timestamp as i64).saturating_mul(1_000),
    };
    Ok(Parsed::Frame(CsiFrame {
        format: CaptureFormat::PicoScenes,
        n_tx: decoded.n_sts,
        n_rx: decoded.n_rx,
        subcarriers: decoded.subcarriers,
        csi: decoded.csi,
        timestamp_ns,
        // The USRP reports no calibrated RSSI or noise floor (both 0 in RxSBasic).
        rssi_dbm: basic.filter(|_| device != DEVICE_USRP).map(|_| rssi as f32),
        noise_dbm: basic
            .filter(|_| device != DEVICE_USRP)
            .map(|_| noise as f32),
        meta,
    }))
}

/// Whether `b` starts with a plausible RXS frame header (length in range, magic).
fn plausible_frame(b: &[u8]) -> bool {
    let len = le_u32(b, 0).map_or(0, |l| l as usize);
    le_u32(b, 4) == Some(RXS_MAGIC) && (FRAME_HEADER_BYTES..=MAX_FRAME_BYTES).contains(&len)
}

/// Streams the RXS frames of a PicoScenes `.csi` file.
pub struct PicoScenesReader<R> {
    window: ByteWindow<R>,
    name: PathBuf,
    stats: ReadStats,
    record: u64,
    /// The input ended or an I/O error ended the stream.
    done: bool,
    /// What was skipped and where, the first [`MAX_SKIP_MESSAGES`] records.
    skip_messages: Vec<String>,
}

/// How many skipped records [`PicoScenesReader::skipped_records`] describes.
pub const MAX_SKIP_MESSAGES: usize = 64;

impl<R: Read> PicoScenesReader<R> {
    /// A reader over `input`; `name` is used in error messages.
    pub fn new(input: R, name: PathBuf) -> Self {
        Self {
            window: ByteWindow::new(input, 1 << 16, MAX_FRAME_BYTES + 4),
            name,
            stats: ReadStats::default(),
            record: 0,
            done: false,
            skip_messages: Vec::new(),
        }
    }

    /// One line per skipped record (the first [`MAX_SKIP_MESSAGES`]): the file, the packet
    /// number (1-based, counting every record), its byte offset, the reason and the detail.
    pub fn skipped_records(&self) -> &[String] {
        &self.skip_messages
    }

    /// Counts a skipped record and describes it.
    fn skip(&mut self, reason: &str, detail: &str, offset: u64) {
        // Counted here rather than with `ReadStats::skip`, so that the one log line names the file.
        *self.stats.skipped.entry(reason.to_owned()).or_default() += 1;
        let message = format!(
            "{}: packet {} (byte {offset}) skipped: {reason}: {detail}",
            self.name.display(),
            self.record
        );
        tracing::warn!("{message}");
        if self.skip_messages.len() < MAX_SKIP_MESSAGES {
            self.skip_messages.push(message);
        }
    }

    /// Drops bytes until a plausible frame header starts the buffer (or the stream ends).
    fn resynchronise(&mut self) -> io::Result<()> {
        if !self.window.advance_to(8, plausible_frame)? {
            self.window.consume_all();
        }
        Ok(())
    }

    /// The next frame with CSI, `None` at the end of the input.
    fn advance(&mut self) -> io::Result<Option<CsiFrame>> {
        loop {
            let have = self.window.fill(8)?.len();
            if have == 0 {
                return Ok(None);
            }
            self.record += 1;
            let offset = self.window.offset();
            if have < 8 {
                self.window.consume(have);
                self.skip(
                    "truncated rxs frame",
                    &format!("{have} bytes left, less than a frame header"),
                    offset,
                );
                return Ok(None);
            }
            if !plausible_frame(self.window.data()) {
                self.skip(
                    "bad rxs frame header",
                    "no frame length and magic here; looking for the next frame",
                    offset,
                );
                self.window.consume(1);
                self.resynchronise()?;
                continue;
            }
            let len = le_u32(self.window.data(), 0).map_or(0, |l| l as usize);
            let total = 4 + len;
            let data = self.window.fill(total)?;
            if data.len() < total {
                let have = data.len();
                self.window.consume(have);
                self.skip(
                    "truncated rxs frame",
                    &format!("the frame needs {total} bytes, the input ends after {have}"),
                    offset,
                );
                return Ok(None);
            }
            let parsed = parse_frame(&data[4..total]);
            self.window.consume(total);
            match parsed {
                Ok(Parsed::Frame(frame)) => {
                    self.stats.good += 1;
                    return Ok(Some(frame));
                }
                Ok(Parsed::NoCsi) => self.stats.ignored += 1,
                Err(e) => self.skip(&e.reason, &e.detail, offset),
            }
        }
    }
}

impl<R: Read + Send> FrameReader for PicoScenesReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::PicoScenes
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
