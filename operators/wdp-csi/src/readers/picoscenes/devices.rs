//! The `CSI` segment: its header fields ([`CsiInfo`]) and the decoders of each device's CSI
//! buffer (Intel 5300, QCA9300, IWL-MVM AX200/AX210, USRP with its `SignalMatrix`) into the
//! reader's `[streams, rx, tones]` layout.

use super::tones::{iwl5300_subcarriers, pilot_tones, tone_plan};
use super::{
    byte, le_u16, le_u32, le_u64, short, MAX_FRAME_BYTES, PACKET_FORMAT_HE_SU, PACKET_FORMAT_HT,
    PACKET_FORMAT_VHT,
};
use crate::{MetaValue, RecordError};
use num_complex::Complex32;
use std::collections::BTreeMap;

/// The CSI segment's header fields, common to all versions.
pub(super) struct CsiInfo {
    pub(super) device_type: u16,
    packet_format: i8,
    cbw: u16,
    num_tones: u16,
    num_tx: u8,
    num_rx: u8,
    subcarrier_offset: i16,
    pub(super) buffer: std::ops::Range<usize>,
}

pub(super) fn parse_csi_info(
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

/// The CSI of one frame in the reader's layout: `csi[(sts * n_rx + rx) * tones + tone]`.
pub(super) struct Decoded {
    pub(super) n_sts: usize,
    pub(super) n_rx: usize,
    pub(super) subcarriers: Vec<i32>,
    pub(super) csi: Vec<Complex32>,
    /// Extra sounded streams when the device's buffer tells them (replaces the header's).
    pub(super) num_ess: Option<u8>,
}

fn bad_dims(device: &str, detail: String) -> RecordError {
    RecordError::new(format!("bad {device} csi dimensions"), detail)
}

pub(super) fn decode_iwl5300(info: &CsiInfo, payload: &[u8]) -> Result<Decoded, RecordError> {
    let tones = usize::from(info.num_tones);
    let n_rx = usize::from(info.num_rx);
    // Sounded streams per chain, from the buffer size as PicoScenes/csiread compute it.
    let n_sts = (payload.len().saturating_sub(12) / 60) / n_rx.max(1);
    if tones != 30 || !(1..=3).contains(&n_rx) || !(1..=4).contains(&n_sts) {
        return Err(bad_dims(
            "iwl5300",
            format!(
                "NumTones {tones}, NumRx {n_rx}, streams {n_sts} from {} bytes",
                payload.len()
            ),
        ));
    }
    if usize::from(info.num_tx) > n_sts {
        return Err(bad_dims(
            "iwl5300",
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
    Ok(Decoded {
        n_sts,
        n_rx,
        subcarriers,
        csi,
        num_ess: Some((n_sts - usize::from(info.num_tx)) as u8),
    })
}

/// QCA9300: 10-bit two's complement values in a little-endian bit stream, each complex value
/// imaginary part first; values ordered tone, then stream, then rx fastest.
pub(super) fn decode_qca9300(info: &CsiInfo, payload: &[u8]) -> Result<Decoded, RecordError> {
    let tones = usize::from(info.num_tones);
    let n_rx = usize::from(info.num_rx);
    let per_chain_bytes = if info.cbw == 20 { 140 } else { 285 };
    let n_sts = payload.len() / per_chain_bytes / n_rx.max(1);
    let plan = tone_plan(PACKET_FORMAT_HT, info.cbw).filter(|p| p.len() == tones);
    let Some(plan) = plan else {
        return Err(bad_dims(
            "qca9300",
            format!(
                "NumTones {tones} at CBW {} MHz (HT plan: 56 or 114)",
                info.cbw
            ),
        ));
    };
    if !(1..=3).contains(&n_rx) || !(1..=4).contains(&n_sts) || usize::from(info.num_tx) > n_sts {
        return Err(bad_dims(
            "qca9300",
            format!(
                "NumRx {n_rx}, NumTx {}, streams {n_sts} from {} bytes",
                info.num_tx,
                payload.len()
            ),
        ));
    }
    let count = tones * n_sts * n_rx;
    if payload.len() * 8 < count * 20 {
        return Err(RecordError::new(
            "bad csi buffer length",
            format!(
                "{} bytes of QCA9300 CSI, {count} values need {} bits",
                payload.len(),
                count * 20
            ),
        ));
    }
    let value = |k: usize| -> f32 {
        let bit = 10 * k;
        let at = bit / 8;
        let word = u32::from(payload[at]) | u32::from(*payload.get(at + 1).unwrap_or(&0)) << 8;
        let raw = ((word >> (bit % 8)) & 0x3ff) as i32;
        (if raw & 0x200 != 0 { raw - 0x400 } else { raw }) as f32
    };
    let mut csi = vec![Complex32::new(0.0, 0.0); count];
    for e in 0..count {
        let rx = e % n_rx;
        let sts = (e / n_rx) % n_sts;
        let tone = e / (n_rx * n_sts);
        csi[(sts * n_rx + rx) * tones + tone] = Complex32::new(value(2 * e + 1), value(2 * e));
    }
    let offset = i32::from(info.subcarrier_offset);
    Ok(Decoded {
        n_sts,
        n_rx,
        subcarriers: plan.into_iter().map(|k| k + offset).collect(),
        csi,
        num_ess: Some((n_sts - usize::from(info.num_tx)) as u8),
    })
}

/// Intel IWL-MVM (AX200/AX210): int16 real, int16 imaginary per tone; tones fastest, then
/// stream, then rx. Pilot tones are dropped.
pub(super) fn decode_iwlmvm(info: &CsiInfo, payload: &[u8]) -> Result<Decoded, RecordError> {
    let tones = usize::from(info.num_tones);
    let n_rx = usize::from(info.num_rx);
    let n_sts = usize::from(info.num_tx);
    if n_rx == 0 || n_sts == 0 || n_rx > 4 || n_sts > 4 {
        return Err(bad_dims("iwlmvm", format!("NumTx {n_sts}, NumRx {n_rx}")));
    }
    let needed = tones * n_rx * n_sts * 4;
    if payload.len() != needed {
        return Err(RecordError::new(
            "bad csi buffer length",
            format!(
                "{} bytes of IWL-MVM CSI, NumTones {tones} x NumTx {n_sts} x NumRx {n_rx} x 4 = {needed}",
                payload.len()
            ),
        ));
    }
    let format = info.packet_format;
    let plan = tone_plan(format, info.cbw).ok_or_else(|| {
        RecordError::new(
            "unsupported iwlmvm packet format",
            format!("packet format {format} at CBW {} MHz", info.cbw),
        )
    })?;
    // Firmware 67/68 at 160 MHz: unused tones between the two 80 MHz halves.
    let (gap_at, gap) = match (tones.checked_sub(plan.len()), format, info.cbw) {
        (Some(0), _, _) => (0, 0),
        (Some(28), PACKET_FORMAT_HE_SU, 160) => (996, 28),
        (Some(14), PACKET_FORMAT_VHT, 160) => (242, 14),
        _ => {
            return Err(bad_dims(
                "iwlmvm",
                format!(
                    "NumTones {tones}; the tone plan of packet format {format} at {} MHz has {}",
                    info.cbw,
                    plan.len()
                ),
            ))
        }
    };
    let pilots = pilot_tones(format, info.cbw);
    // Buffer position of each data subcarrier, with its index.
    let kept: Vec<(usize, i32)> = (0..tones)
        .filter(|&pos| !(gap_at..gap_at + gap).contains(&pos))
        .zip(plan.iter().copied())
        .filter(|&(_, k)| !pilots.contains(&k.abs()))
        .collect();
    let out_tones = kept.len();
    let mut csi = Vec::with_capacity(out_tones * n_rx * n_sts);
    for sts in 0..n_sts {
        for rx in 0..n_rx {
            let block = (rx * n_sts + sts) * tones;
            csi.extend(kept.iter().map(|&(pos, _)| {
                let at = 4 * (block + pos);
                let re = i16::from_le_bytes([payload[at], payload[at + 1]]);
                let im = i16::from_le_bytes([payload[at + 2], payload[at + 3]]);
                Complex32::new(f32::from(re), f32::from(im))
            }));
        }
    }
    let offset = i32::from(info.subcarrier_offset);
    Ok(Decoded {
        n_sts,
        n_rx,
        subcarriers: kept.into_iter().map(|(_, k)| k + offset).collect(),
        csi,
        num_ess: None,
    })
}

/// USRP: `NumTones` int16 subcarrier indices, then a SignalMatrix `[tones, streams, rx]`.
pub(super) fn decode_usrp(info: &CsiInfo, payload: &[u8]) -> Result<Decoded, RecordError> {
    let tones = usize::from(info.num_tones);
    let e = || {
        RecordError::new(
            "bad csi buffer length",
            format!("{} bytes of USRP CSI for {tones} tones", payload.len()),
        )
    };
    let subcarriers: Vec<i32> = (0..tones)
        .map(|i| le_u16(payload, 2 * i).map(|k| i32::from(k as i16)))
        .collect::<Option<_>>()
        .ok_or_else(e)?;
    let (dims, values) = parse_signal_matrix(&payload[2 * tones..])?;
    let [t, n_sts, n_rx] = dims;
    if t != tones || n_rx != usize::from(info.num_rx) || n_sts < usize::from(info.num_tx) {
        return Err(bad_dims(
            "usrp",
            format!(
                "SignalMatrix [{t}, {n_sts}, {n_rx}] for NumTones {tones}, NumTx {}, NumRx {}",
                info.num_tx, info.num_rx
            ),
        ));
    }
    // values[(rx * n_sts + sts) * tones + tone] (column-major [tones, streams, rx]) is the
    // reader's layout with the rx and stream axes swapped.
    let mut csi = vec![Complex32::new(0.0, 0.0); values.len()];
    for rx in 0..n_rx {
        for sts in 0..n_sts {
            let from = (rx * n_sts + sts) * tones;
            let to = (sts * n_rx + rx) * tones;
            csi[to..to + tones].copy_from_slice(&values[from..from + tones]);
        }
    }
    Ok(Decoded {
        n_sts,
        n_rx,
        subcarriers,
        csi,
        num_ess: None,
    })
}

/// A PicoScenes `SignalMatrix`: `B` `B` `v` version, `u8` number of dimensions, each a `u32`
/// (v1) or `u64` (v2), then `C` (complex) or `R` (real), the element type (`D` double, `F`
/// float), its size in bits, `C` (column-major) or `R` (row-major) storage, the elements.
/// Returns the dimensions padded to 3 and the values in column-major order.
fn parse_signal_matrix(b: &[u8]) -> Result<([usize; 3], Vec<Complex32>), RecordError> {
    let bad = |detail: String| RecordError::new("bad usrp signal matrix", detail);
    let version = match b.get(..4) {
        Some(b"BBv1") => 1,
        Some(b"BBv2") => 2,
        other => return Err(bad(format!("header {other:02x?} (expected BBv1 or BBv2)"))),
    };
    let ndim = usize::from(byte(b, 4).ok_or_else(|| bad("no dimension count".into()))?);
    if !(1..=3).contains(&ndim) {
        return Err(bad(format!("{ndim} dimensions (1-3 decoded)")));
    }
    let mut dims = [1usize; 3];
    let mut at = 5;
    for d in dims.iter_mut().take(ndim) {
        let v = if version == 1 {
            le_u32(b, at).map(u64::from)
        } else {
            le_u64(b, at)
        };
        *d = v
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| v <= MAX_FRAME_BYTES)
            .ok_or_else(|| bad(format!("dimension at byte {at} missing or too large")))?;
        at += if version == 1 { 4 } else { 8 };
    }
    let head = b
        .get(at..at + 4)
        .ok_or_else(|| bad("no element description".into()))?;
    let (complex, kind, bits, majority) = (head[0], head[1], head[2], head[3]);
    at += 4;
    let width = match (kind, bits) {
        (b'D', 64) => 8,
        (b'F', 32) => 4,
        _ => {
            return Err(bad(format!(
                "element type {:?} of {bits} bits (double or float decoded)",
                char::from(kind)
            )))
        }
    };
    let parts = match complex {
        b'C' => 2,
        b'R' => 1,
        c => return Err(bad(format!("complexity {:?}", char::from(c)))),
    };
    // Each dimension is bounded; their product may still overflow.
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or_else(|| bad(format!("dimensions {dims:?} exceed a frame")))?;
    let data = b
        .get(at..)
        .filter(|d| d.len() >= n * parts * width)
        .ok_or_else(|| bad(format!("{n} elements run past the buffer")))?;
    let scalar = |i: usize| -> f32 {
        let s = &data[i * width..(i + 1) * width];
        if width == 8 {
            f64::from_le_bytes(s.try_into().unwrap_or([0; 8])) as f32
        } else {
            f32::from_le_bytes(s.try_into().unwrap_or([0; 4]))
        }
    };
    let stored: Vec<Complex32> = (0..n)
        .map(|i| {
            if parts == 2 {
                Complex32::new(scalar(2 * i), scalar(2 * i + 1))
            } else {
                Complex32::new(scalar(i), 0.0)
            }
        })
        .collect();
    let values = match majority {
        b'C' => stored,
        b'R' => {
            // Row-major [d0, d1, d2]: the last dimension is fastest.
            let [d0, d1, d2] = dims;
            let mut v = vec![Complex32::new(0.0, 0.0); n];
            for i in 0..d0 {
                for j in 0..d1 {
                    for k in 0..d2 {
                        v[i + d0 * (j + d1 * k)] = stored[(i * d1 + j) * d2 + k];
                    }
                }
            }
            v
        }
        m => return Err(bad(format!("storage order {:?}", char::from(m)))),
    };
    Ok((dims, values))
}

#[cfg(test)]
mod tests {
    // In tests a panic is the failure report.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::readers::picoscenes::{DEVICE_AX200, DEVICE_AX210, DEVICE_QCA9300};

    fn header(device_type: u16, packet_format: i8, cbw: u16, num_tones: u16) -> CsiInfo {
        CsiInfo {
            device_type,
            packet_format,
            cbw,
            num_tones,
            num_tx: 1,
            num_rx: 1,
            subcarrier_offset: 0,
            buffer: 0..0,
        }
    }

    /// An IWL-MVM buffer whose tone at buffer position `p` (chain `c`) holds `p + 1000 c`.
    fn mvm_buffer(tones: usize, chains: usize) -> Vec<u8> {
        (0..chains)
            .flat_map(|c| (0..tones).map(move |p| (p + 1000 * c) as i16))
            .flat_map(|v| [v.to_le_bytes(), (-v).to_le_bytes()].concat())
            .collect()
    }

    #[test]
    fn iwlmvm_he160_skips_the_firmware_gap_and_the_pilots() {
        // Firmware 67/68: 2020 tones, 28 unused ones after the first 996.
        let info = header(DEVICE_AX210, PACKET_FORMAT_HE_SU, 160, 2020);
        let d = decode_iwlmvm(&info, &mvm_buffer(2020, 1)).unwrap();
        assert_eq!(d.subcarriers.len(), 1992 - 32);
        assert_eq!(d.csi.len(), d.subcarriers.len());
        assert!(!d.subcarriers.contains(&-980) && !d.subcarriers.contains(&44));
        let at = |k: i32| d.csi[d.subcarriers.iter().position(|&s| s == k).unwrap()];
        assert_eq!(at(-1012), Complex32::new(0.0, 0.0));
        assert_eq!(at(-12), Complex32::new(995.0, -995.0));
        assert_eq!(at(12), Complex32::new(1024.0, -1024.0));
        assert_eq!(at(1012), Complex32::new(2019.0, -2019.0));
        // Without the gap the plan's 1992 tones are read as they come.
        let info = header(DEVICE_AX210, PACKET_FORMAT_HE_SU, 160, 1992);
        let d = decode_iwlmvm(&info, &mvm_buffer(1992, 1)).unwrap();
        let at = |k: i32| d.csi[d.subcarriers.iter().position(|&s| s == k).unwrap()];
        assert_eq!(at(12), Complex32::new(996.0, -996.0));
        // A tone count that fits no plan is an error, not a guess.
        let info = header(DEVICE_AX200, PACKET_FORMAT_HE_SU, 80, 990);
        assert!(decode_iwlmvm(&info, &mvm_buffer(990, 1)).is_err());
    }

    #[test]
    fn iwlmvm_chains_are_rx_major_and_streams_inner() {
        // 2 streams x 2 rx at HE 20 MHz: buffer blocks (rx 0, sts 0), (rx 0, sts 1), (rx 1, sts 0), ...
        let mut info = header(DEVICE_AX200, PACKET_FORMAT_HE_SU, 20, 242);
        info.num_tx = 2;
        info.num_rx = 2;
        let d = decode_iwlmvm(&info, &mvm_buffer(242, 4)).unwrap();
        let tones = d.subcarriers.len();
        assert_eq!((d.n_sts, d.n_rx, tones), (2, 2, 234));
        for (sts, rx, block) in [(0, 0, 0.0), (1, 0, 1000.0), (0, 1, 2000.0), (1, 1, 3000.0)] {
            // The first data tone is buffer position 0 (index -122).
            assert_eq!(d.csi[(sts * 2 + rx) * tones].re, block, "sts {sts} rx {rx}");
        }
    }

    #[test]
    fn signal_matrix_row_major_is_reordered_column_major() {
        // BBv1, 2 dims [3, 2], complex float32, row-major: element (i, j) = 10 i + j.
        let mut b = b"BBv1\x02".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        b.extend(b"CF\x20R");
        for i in 0..3 {
            for j in 0..2 {
                b.extend(((10 * i + j) as f32).to_le_bytes());
                b.extend(0f32.to_le_bytes());
            }
        }
        let (dims, values) = parse_signal_matrix(&b).unwrap();
        assert_eq!(dims, [3, 2, 1]);
        let re: Vec<f32> = values.iter().map(|c| c.re).collect();
        assert_eq!(re, [0.0, 10.0, 20.0, 1.0, 11.0, 21.0]);
        assert!(parse_signal_matrix(&b[..b.len() - 1]).is_err());
        assert!(parse_signal_matrix(b"BBv3\x01").is_err());
    }

    #[test]
    fn qca9300_values_are_10_bit_imaginary_first() {
        // 10-bit values 1, -1, 511, -512 packed little-endian: (imag 1, real -1), (imag 511, real -512).
        let words: [u16; 4] = [1, 0x3ff, 511, 0x200];
        let mut bits = 0u64;
        for (i, w) in words.iter().enumerate() {
            bits |= u64::from(*w) << (10 * i);
        }
        let mut payload = bits.to_le_bytes()[..5].to_vec();
        // Pad to the per-chain size of one stream at 20 MHz.
        payload.resize(140, 0);
        let info = header(DEVICE_QCA9300, PACKET_FORMAT_HT, 20, 56);
        let d = decode_qca9300(&info, &payload).unwrap();
        assert_eq!((d.n_sts, d.n_rx, d.subcarriers.len()), (1, 1, 56));
        assert_eq!(d.csi[0], Complex32::new(-1.0, 1.0));
        assert_eq!(d.csi[1], Complex32::new(-512.0, 511.0));
        assert_eq!(d.subcarriers[0], -28);
    }
}
