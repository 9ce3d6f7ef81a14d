//! PicoScenes `.csi` files: a sequence of RXS frames.
//!
//! Frame: `u32` length (of what follows), `u32` magic `0x20150315`, `u16` frame version (1),
//! `u8` segment count, then the segments, then the received MPDU (802.11 header first). Each
//! segment is `u32` length (of what follows), `u8` name length, name, `u16` version, body. All
//! little endian.
//!
//! Decoded: `RxSBasic` v1-v3 (timestamp, RSSI, noise floor, frequencies, bandwidth, MCS, ...),
//! the `CSI` segment v1-v4 for Intel 5300 NICs (30 tones of packed int8 I/Q, as
//! csiread and PicoScenes' parser unpack them), and the 802.11 sequence number of the MPDU.
//! Other segments (`ExtraInfo`, `MVMExtra`, `PilotCSI`, `LegacyCSI`, `BasebandSignals`,
//! `PreEQSymbols`, ...) are skipped by their length. CSI from other devices (QCA9300, AX200/210,
//! USRP) is skipped and counted as `"unsupported picoscenes csi device"`; frames without a CSI
//! segment are counted as ignored.
//!
//! Axes: the frame is `[NumTx + NumESS, NumRx, NumTones]` (csiread's `CSI.CSI` is
//! `(tone, rx, tx)`); the sounded streams `NumTx + NumESS` come from the CSI buffer length, as in
//! csiread. No receive-antenna permutation by `antSel` is applied (csiread does not either).
//! `timestamp_ns` is the RxSBasic hardware timestamp (µs) × 1000.

use crate::readers::end_or_frame;
use crate::readers::window::ByteWindow;
use crate::{
    CaptureError, CaptureFormat, CsiFrame, FrameReader, MetaValue, ReadStats, RecordError,
};
use num_complex::Complex32;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

/// Magic word after the frame length.
pub const RXS_MAGIC: u32 = 0x2015_0315;
/// Largest frame accepted (baseband-signal segments of SDR captures are the big ones).
pub const MAX_FRAME_BYTES: usize = 4 << 20;
const FRAME_HEADER_BYTES: usize = 7;
const DEVICE_IWL5300: u16 = 0x5300;

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
    let name_ok = head
        .get(16..16 + usize::from(name_len))
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

/// The CSI segment's header fields, common to all versions.
struct CsiInfo {
    device_type: u16,
    packet_format: i8,
    cbw: u16,
    num_tones: u16,
    num_tx: u8,
    num_rx: u8,
    subcarrier_offset: i16,
    buffer: std::ops::Range<usize>,
}

fn parse_csi_info(
    version: u16,
    b: &[u8],
    meta: &mut BTreeMap<&'static str, MetaValue>,
) -> Result<CsiInfo, RecordError> {
    let e = || short("CSI");
    // Version 4 inserts a firmware version byte after the device type.
    let s = usize::from(version == 4);
    // Offsets of (numESS, antSel, subcarrierOffset, csiBufferLength, numCSI).
    let (ness, ant, offset, buf_len, num_csi) = match version {
        1 => (29, 30, None, 31, None),
        2 => (29, 30, Some(31), 33, None),
        3 => (29, 32, Some(33), 35, Some(30)),
        4 => (30, 33, Some(34), 36, Some(31)),
        v => {
            return Err(RecordError::new(
                "unsupported CSI segment version",
                format!("CSI segment version {v} (known: 1-4)"),
            ))
        }
    };
    let device_type = le_u16(b, 0).ok_or_else(e)?;
    let packet_format = byte(b, 2 + s).ok_or_else(e)? as i8;
    let cbw = le_u16(b, 3 + s).ok_or_else(e)?;
    let carrier = le_u64(b, 5 + s).ok_or_else(e)?;
    let sampling = le_u64(b, 13 + s).ok_or_else(e)?;
    let sc_bw = le_u32(b, 21 + s).ok_or_else(e)?;
    let num_tones = le_u16(b, 25 + s).ok_or_else(e)?;
    let num_tx = byte(b, 27 + s).ok_or_else(e)?;
    let num_rx = byte(b, 28 + s).ok_or_else(e)?;
    let num_ess = byte(b, ness).ok_or_else(e)?;
    let ant_sel = byte(b, ant).ok_or_else(e)?;
    let subcarrier_offset = match offset {
        Some(at) => le_u16(b, at).ok_or_else(e)? as i16,
        None => 0,
    };
    let len = le_u32(b, buf_len).ok_or_else(e)? as usize;
    let start = buf_len + 4;
    if b.len() - start.min(b.len()) < len {
        return Err(RecordError::new(
            "bad csi buffer length",
            format!(
                "csiBufferLength {len} exceeds the segment ({} bytes)",
                b.len()
            ),
        ));
    }
    meta.insert(
        "CSI.Info.DeviceType",
        MetaValue::Int(i64::from(device_type)),
    );
    if version == 4 {
        meta.insert("CSI.Info.FirmwareVersion", MetaValue::Int(i64::from(b[2])));
    }
    meta.insert(
        "CSI.Info.PacketFormat",
        MetaValue::Int(i64::from(packet_format)),
    );
    meta.insert("CSI.Info.CBW", MetaValue::Int(i64::from(cbw)));
    meta.insert("CSI.Info.CarrierFreq", MetaValue::Int(carrier as i64));
    meta.insert("CSI.Info.SamplingRate", MetaValue::Int(sampling as i64));
    meta.insert(
        "CSI.Info.SubcarrierBandwidth",
        MetaValue::Int(i64::from(sc_bw)),
    );
    meta.insert("CSI.Info.NumTones", MetaValue::Int(i64::from(num_tones)));
    meta.insert("CSI.Info.NumTx", MetaValue::Int(i64::from(num_tx)));
    meta.insert("CSI.Info.NumRx", MetaValue::Int(i64::from(num_rx)));
    meta.insert("CSI.Info.NumESS", MetaValue::Int(i64::from(num_ess)));
    if let Some(at) = num_csi {
        meta.insert(
            "CSI.Info.NumCSI",
            MetaValue::Int(i64::from(le_u16(b, at).ok_or_else(e)?)),
        );
    }
    meta.insert("CSI.Info.AntSel", MetaValue::Int(i64::from(ant_sel)));
    meta.insert(
        "CSI.Info.SubcarrierOffset",
        MetaValue::Int(i64::from(subcarrier_offset)),
    );
    Ok(CsiInfo {
        device_type,
        packet_format,
        cbw,
        num_tones,
        num_tx,
        num_rx,
        subcarrier_offset,
        buffer: start..start + len,
    })
}

/// Intel 5300 subcarrier indices: 30 groups, -28..28 at 20 MHz, -58..58 at 40 MHz.
fn iwl5300_subcarriers(cbw: u16, offset: i16) -> Option<Vec<i32>> {
    let (edge, inner, step) = match cbw {
        20 => (28, 1, 2),
        40 => (58, 2, 4),
        _ => return None,
    };
    let mut v: Vec<i32> = (0..14).map(|i| -edge + i * step).collect();
    v.push(-inner);
    v.extend((0..14).map(|i| inner + i * step));
    v.push(edge);
    let offset = i32::from(offset);
    Some(v.into_iter().map(|k| k + offset).collect())
}

/// Unpacks Intel 5300 CSI: per tone, 3 unused bits, then for each rx, each stream, an int8 real
/// and an int8 imaginary part, packed without byte alignment. Output `[sts, rx, tone]`.
fn unpack_iwl5300(
    payload: &[u8],
    tones: usize,
    n_rx: usize,
    n_sts: usize,
) -> Result<Vec<Complex32>, RecordError> {
    let bits = tones * (3 + 16 * n_rx * n_sts);
    // The last value reads one byte past its own 16 bits.
    let needed = (bits - 16) / 8 + 3;
    if payload.len() < needed {
        return Err(RecordError::new(
            "bad csi buffer length",
            format!("{} bytes of Intel 5300 CSI, {needed} needed", payload.len()),
        ));
    }
    let mut csi = vec![Complex32::new(0.0, 0.0); tones * n_rx * n_sts];
    let mut bit = 0usize;
    for tone in 0..tones {
        bit += 3;
        let shift = bit % 8;
        for rx in 0..n_rx {
            for sts in 0..n_sts {
                let at = bit / 8;
                let word = u32::from(payload[at])
                    | u32::from(payload[at + 1]) << 8
                    | u32::from(payload[at + 2]) << 16;
                let re = ((word >> shift) & 0xff) as u8 as i8;
                let im = ((word >> (shift + 8)) & 0xff) as u8 as i8;
                csi[(sts * n_rx + rx) * tones + tone] =
                    Complex32::new(f32::from(re), f32::from(im));
                bit += 16;
            }
        }
    }
    Ok(csi)
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
        match name {
            b"RxSBasic" => basic = Some(parse_rxs_basic(seg_version, body, &mut meta)?),
            b"CSI" => csi_seg = Some((seg_version, body)),
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
    if info.device_type != DEVICE_IWL5300 {
        return Err(RecordError::new(
            "unsupported picoscenes csi device",
            format!(
                "CSI DeviceType {:#06x}; only Intel 5300 (0x5300) is decoded",
                info.device_type
            ),
        ));
    }
    let tones = usize::from(info.num_tones);
    let n_rx = usize::from(info.num_rx);
    let payload = &body[info.buffer.clone()];
    // Sounded streams per chain, from the buffer size as PicoScenes/csiread compute it.
    let n_sts = (payload.len().saturating_sub(12) / 60) / n_rx.max(1);
    if tones != 30 || !(1..=3).contains(&n_rx) || !(1..=4).contains(&n_sts) {
        return Err(RecordError::new(
            "bad iwl5300 csi dimensions",
            format!(
                "NumTones {tones}, NumRx {n_rx}, streams {n_sts} from {} bytes",
                payload.len()
            ),
        ));
    }
    if usize::from(info.num_tx) > n_sts {
        return Err(RecordError::new(
            "bad iwl5300 csi dimensions",
            format!("NumTx {} but the buffer holds {n_sts} streams", info.num_tx),
        ));
    }
    let subcarriers = iwl5300_subcarriers(info.cbw, info.subcarrier_offset).ok_or_else(|| {
        RecordError::new(
            "unsupported iwl5300 bandwidth",
            format!("CBW {} MHz (Intel 5300: 20 or 40)", info.cbw),
        )
    })?;
    let csi = unpack_iwl5300(payload, tones, n_rx, n_sts)?;
    meta.insert(
        "CSI.Info.NumESS",
        MetaValue::Int((n_sts - usize::from(info.num_tx)) as i64),
    );
    meta.insert(
        "CSI.Info.PacketFormat",
        MetaValue::Int(i64::from(info.packet_format)),
    );
    let (rssi, noise, timestamp_us) = basic.unwrap_or((0, 0, 0));
    Ok(Parsed::Frame(CsiFrame {
        format: CaptureFormat::PicoScenes,
        n_tx: n_sts,
        n_rx,
        subcarriers,
        csi,
        timestamp_ns: (timestamp_us as i64).saturating_mul(1_000),
        rssi_dbm: basic.map(|_| rssi as f32),
        noise_dbm: basic.map(|_| noise as f32),
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
}

impl<R: Read> PicoScenesReader<R> {
    /// A reader over `input`; `name` is used in error messages.
    pub fn new(input: R, name: PathBuf) -> Self {
        Self {
            window: ByteWindow::new(input, 1 << 16, MAX_FRAME_BYTES + 4),
            name,
            stats: ReadStats::default(),
            record: 0,
            done: false,
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
                self.stats.skip("truncated rxs frame", self.record, offset);
                return Ok(None);
            }
            if !plausible_frame(self.window.data()) {
                self.stats.skip("bad rxs frame header", self.record, offset);
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
                self.stats.skip("truncated rxs frame", self.record, offset);
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
                Err(e) => {
                    tracing::debug!(
                        record = self.record,
                        offset,
                        detail = e.detail,
                        "picoscenes"
                    );
                    self.stats.skip(&e.reason, self.record, offset);
                }
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
