//! One Atheros CSI Tool record: its 25-byte header, the header's consistency checks, and the
//! unpacking of the 10-bit CSI stream into a [`CsiFrame`].
//!
//! Split from `atheros.rs` (issue 15: no source file over ~600 lines), which detects a log's
//! layout and streams its records; `crate::readers::atheros` re-exports [`parse_record`]. The
//! format itself is described there.

use super::{HEADER_LEN, PREFIX_LEN};
use crate::{CaptureFormat, CsiFrame, Endian, MetaValue, RecordError};
use num_complex::Complex32;
use std::collections::BTreeMap;

/// ath9k NICs have at most 3 chains.
const MAX_CHAINS: usize = 3;
/// Bits per CSI value (real or imaginary).
const BITS_PER_VALUE: u32 = 10;

/// The header fields of one record.
pub(super) struct Header {
    timestamp: u64,
    pub(super) csi_len: usize,
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
    pub(super) fn record_len(&self) -> usize {
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
pub(super) fn check_prefixed(bytes: &[u8], endian: Endian) -> Result<Header, RecordError> {
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
