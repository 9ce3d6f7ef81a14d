//! nexmon_csi: one UDP datagram (port 5500) per CSI measurement, captured into a pcap file.
//!
//! Payload layout (little endian), after the Ethernet/IP/UDP headers:
//!
//! | bytes | old firmware (before PR #46) | new firmware |
//! | --- | --- | --- |
//! | 0..4 | magic `0x11111111` | magic `0x1111` (0..2), int8 RSSI (2), u8 frame control (3) |
//! | 4..10 | source MAC | source MAC |
//! | 10..12 | sequence number | sequence number |
//! | 12..14 | core (bits 0-2), spatial stream (bits 3-5) | same |
//! | 14..16 | chanspec | chanspec |
//! | 16..18 | chip (`0xdead` placeholder in the oldest firmware) | chip |
//! | 18.. | `nfft` words of CSI | same |
//!
//! CSI words are int16 I/Q pairs on bcm4339/bcm43455c0 and a packed floating point format on
//! bcm4358 (9-bit sign-magnitude mantissas, shared 5-bit exponent) and bcm4366c0 (12/6 bits),
//! decoded with per-packet autoscaling as the nexmon_csi MATLAB `unpack_float` does.
//!
//! Frame metadata, named as csiread names them: `magic`, `src_addr`, `seq`, `core`, `spatial`,
//! `chan_spec`, `chip_version`, `rssi` and `fc` (new header only), `csi_format` (`int16`,
//! `float-9-5`, `float-12-6`); from the pcap record: `sec`, `usec` (`nsec` in nanosecond pcaps)
//! and `caplen`. `timestamp_ns` is the pcap record time.
//!
//! Columns stay in the FFT order the firmware writes (as csiread keeps them): column `k` is
//! subcarrier `k` for `k < nfft/2` and `k - nfft` above, which is what
//! [`CsiFrame::subcarriers`] holds. Apply an fftshift to get -nfft/2..nfft/2-1 order.
//!
//! Chip: [`ReadOptions::nexmon_chip`] when set; otherwise the header's chip field when it names a
//! chip (`0x0001` 4339, `0x0065` 43455c0, `0x0003` 4358, `0x006a` 4366c0, and two values seen
//! in the wild); otherwise (the `0xdead` placeholder, unknown values) the packing is inferred
//! from the bits of the CSI words (see [`infer_chip`]) and kept for the rest of the file. A
//! packet whose packing cannot be told is skipped with a reason asking to set the chip.

use crate::readers::end_or_frame;
use crate::readers::pcap::{self, PcapItem, PcapOpenError, PcapReader};
use crate::{
    CaptureError, CaptureFormat, CsiFrame, FrameReader, MetaValue, NexmonChip, ReadOptions,
    ReadStats, RecordError,
};
use num_complex::Complex32;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

/// The UDP port nexmon_csi sends to.
pub const NEXMON_UDP_PORT: u16 = 5500;
const HEADER_BYTES: usize = 18;
const REASON_AMBIGUOUS: &str = "nexmon chip ambiguous (set the nexmon chip option)";

/// True when `head` is a pcap file whose first UDP packet is nexmon_csi's (port 5500 or a
/// payload starting with the nexmon magic).
pub fn sniff(head: &[u8]) -> bool {
    let Some((header, records)) = pcap::records_in_head(head) else {
        return false;
    };
    for data in records {
        if let Some(udp) = pcap::udp_of(header.link_type, data) {
            return udp.dst_port == NEXMON_UDP_PORT
                || udp.src_port == NEXMON_UDP_PORT
                || udp.payload.starts_with(&[0x11, 0x11]);
        }
    }
    false
}

/// How the CSI words of a packet are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipGuess {
    /// The chip is known (header field or bit pattern).
    Chip(NexmonChip),
    /// Every CSI word is zero: every packing decodes to zeros.
    AllZero,
    /// The bits fit several packings (or too few words are non-zero to tell).
    Ambiguous,
}

/// The chip named by a header chip field, if it names one.
pub fn chip_from_field(chip_version: u16) -> Option<NexmonChip> {
    match chip_version {
        0x0001 => Some(NexmonChip::Bcm4339),
        // 0xa6dc and 0xe834 were seen in real captures (CSIKit's chip table).
        0x0065 | 0xa6dc => Some(NexmonChip::Bcm43455c0),
        0x0003 => Some(NexmonChip::Bcm4358),
        0x006a | 0xe834 => Some(NexmonChip::Bcm4366c0),
        _ => None,
    }
}

/// Infers the chip of one UDP payload: from its chip field when that names a chip, otherwise
/// from the CSI words. int16 chips write int14 values sign-extended to 16 bits (the top three
/// bits of each half agree); bcm4358 packs 23 bits (the top 9 are zero); bcm4366c0 packs 30
/// bits (the top 2 are zero). A packing is taken when at most 5% of the non-zero words break
/// its pattern and the other family does not fit as well; int16 chips share one decoding, so
/// bcm43455c0 stands for both.
pub fn infer_chip(payload: &[u8]) -> ChipGuess {
    if payload.len() < HEADER_BYTES {
        return ChipGuess::Ambiguous;
    }
    if let Some(chip) = chip_from_field(u16::from_le_bytes([payload[16], payload[17]])) {
        return ChipGuess::Chip(chip);
    }
    let (mut nonzero, mut v16, mut v4358, mut v4366) = (0usize, 0usize, 0usize, 0usize);
    for w in payload[HEADER_BYTES..].chunks_exact(4) {
        let h = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        if h == 0 {
            continue;
        }
        nonzero += 1;
        let int14 = |x: u32| matches!((x >> 13) & 7, 0 | 7);
        if !(int14(h & 0xffff) && int14(h >> 16)) {
            v16 += 1;
        }
        if h >> 23 != 0 {
            v4358 += 1;
        }
        if h >> 30 != 0 {
            v4366 += 1;
        }
    }
    if nonzero == 0 {
        return ChipGuess::AllZero;
    }
    if nonzero < 8 {
        return ChipGuess::Ambiguous;
    }
    let tolerance = nonzero / 20;
    let float = if v4358 <= tolerance {
        Some(NexmonChip::Bcm4358)
    } else if v4366 <= tolerance {
        Some(NexmonChip::Bcm4366c0)
    } else {
        None
    };
    match (v16 <= tolerance, float) {
        (true, None) => ChipGuess::Chip(NexmonChip::Bcm43455c0),
        (false, Some(chip)) => ChipGuess::Chip(chip),
        _ => ChipGuess::Ambiguous,
    }
}

/// FFT size for a bandwidth in MHz.
fn nfft_of_bandwidth(bandwidth_mhz: u32) -> Option<usize> {
    match bandwidth_mhz {
        20 => Some(64),
        40 => Some(128),
        80 => Some(256),
        _ => None,
    }
}

/// Parses one nexmon_csi UDP payload (magic first) into a `[1, 1, nfft]` frame. With
/// `bandwidth_mhz` `None` the FFT size comes from the payload length, which must then be exactly
/// 18 + 4·nfft bytes; with a bandwidth, longer payloads are accepted and the extra bytes ignored.
/// `timestamp_ns` is 0: the caller knows the capture time.
pub fn parse_payload(
    payload: &[u8],
    chip: NexmonChip,
    bandwidth_mhz: Option<u32>,
) -> Result<CsiFrame, RecordError> {
    if payload.len() < HEADER_BYTES {
        return Err(RecordError::new(
            "truncated nexmon header",
            format!("{} bytes, the header needs {HEADER_BYTES}", payload.len()),
        ));
    }
    if payload[0] != 0x11 || payload[1] != 0x11 {
        return Err(RecordError::new(
            "bad nexmon magic",
            format!("payload starts {:02x} {:02x}", payload[0], payload[1]),
        ));
    }
    let old_header = payload[2] == 0x11 && payload[3] == 0x11;
    let le16 = |i: usize| u16::from_le_bytes([payload[i], payload[i + 1]]);
    let csi_bytes = &payload[HEADER_BYTES..];
    let nfft = match bandwidth_mhz {
        Some(bw) => {
            let nfft = nfft_of_bandwidth(bw).ok_or_else(|| {
                RecordError::new(
                    "unsupported nexmon bandwidth",
                    format!("{bw} MHz (expected 20, 40 or 80)"),
                )
            })?;
            if csi_bytes.len() < 4 * nfft {
                return Err(RecordError::new(
                    "bad nexmon csi length",
                    format!("{} csi bytes, {bw} MHz needs {}", csi_bytes.len(), 4 * nfft),
                ));
            }
            nfft
        }
        None => match csi_bytes.len() {
            256 => 64,
            512 => 128,
            1024 => 256,
            n => {
                return Err(RecordError::new(
                    "bad nexmon csi length",
                    format!(
                        "{n} csi bytes is no 20/40/80 MHz size (256/512/1024); set the bandwidth \
                         to read such packets"
                    ),
                ))
            }
        },
    };
    let words = &csi_bytes[..4 * nfft];
    let mut csi = Vec::with_capacity(nfft);
    let format_name = match chip {
        NexmonChip::Bcm4339 | NexmonChip::Bcm43455c0 => {
            csi.extend(words.chunks_exact(4).map(|w| {
                Complex32::new(
                    f32::from(i16::from_le_bytes([w[0], w[1]])),
                    f32::from(i16::from_le_bytes([w[2], w[3]])),
                )
            }));
            "int16"
        }
        NexmonChip::Bcm4358 => {
            unpack_float(words, 9, 5, &mut csi);
            "float-9-5"
        }
        NexmonChip::Bcm4366c0 => {
            unpack_float(words, 12, 6, &mut csi);
            "float-12-6"
        }
    };
    let core_spatial = le16(12);
    let mut meta = BTreeMap::new();
    let mut rssi_dbm = None;
    if old_header {
        meta.insert("magic", MetaValue::Int(0x1111_1111));
    } else {
        let rssi = i8::from_le_bytes([payload[2]]);
        meta.insert("magic", MetaValue::Int(i64::from(le16(0))));
        meta.insert("rssi", MetaValue::Int(i64::from(rssi)));
        meta.insert("fc", MetaValue::Int(i64::from(payload[3])));
        rssi_dbm = Some(f32::from(rssi));
    }
    let mac: Vec<String> = payload[4..10].iter().map(|b| format!("{b:02x}")).collect();
    meta.insert("src_addr", MetaValue::Text(mac.join(":")));
    meta.insert("seq", MetaValue::Int(i64::from(le16(10))));
    meta.insert("core", MetaValue::Int(i64::from(core_spatial & 0x7)));
    meta.insert(
        "spatial",
        MetaValue::Int(i64::from((core_spatial >> 3) & 0x7)),
    );
    meta.insert("chan_spec", MetaValue::Int(i64::from(le16(14))));
    meta.insert("chip_version", MetaValue::Int(i64::from(le16(16))));
    meta.insert("csi_format", MetaValue::Text(format_name.into()));
    let half = (nfft / 2) as i32;
    Ok(CsiFrame {
        format: CaptureFormat::Nexmon,
        n_tx: 1,
        n_rx: 1,
        subcarriers: (0..nfft as i32)
            .map(|k| if k < half { k } else { k - 2 * half })
            .collect(),
        csi,
        timestamp_ns: 0,
        rssi_dbm,
        noise_dbm: None,
        meta,
    })
}

/// Decodes Broadcom's packed floating point CSI: per word, an `exp_bits`-bit two's complement
/// exponent in the low bits, then imaginary and real parts of `man_bits` bits each (sign bit
/// above `man_bits - 1` magnitude bits). Values are scaled so the largest one of the packet has
/// 11 significant bits (autoscale of nexmon_csi's `unpack_float`).
fn unpack_float(words: &[u8], man_bits: u32, exp_bits: u32, out: &mut Vec<Complex32>) {
    const TARGET_BITS: i32 = 10;
    let exp_half = 1i32 << (exp_bits - 1);
    let mag_mask = (1u32 << (man_bits - 1)) - 1;
    let exp_mask = (1u32 << exp_bits) - 1;
    let sign_re = 1u32 << (exp_bits + 2 * man_bits - 1);
    let sign_im = 1u32 << (exp_bits + man_bits - 1);
    let parts = |h: u32| {
        let re = (h >> (exp_bits + man_bits)) & mag_mask;
        let im = (h >> exp_bits) & mag_mask;
        let mut e = (h & exp_mask) as i32;
        if e >= exp_half {
            e -= 2 * exp_half;
        }
        (re, im, e)
    };
    let word = |w: &[u8]| u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    // Exponent of the most significant bit over the packet.
    let mut max_bit = -exp_half;
    for w in words.chunks_exact(4) {
        let (re, im, e) = parts(word(w));
        let x = re | im;
        if x != 0 {
            max_bit = max_bit.max(e + (31 - x.leading_zeros() as i32));
        }
    }
    let shift = TARGET_BITS - max_bit;
    let scale = |mag: u32, e: i32, negative: bool| -> f32 {
        let v = if e < -(man_bits as i32) {
            0
        } else if e < 0 {
            mag >> (-e) as u32
        } else {
            // Non-zero magnitudes stay below 2^11 after autoscale; zero may shift by anything.
            mag.checked_shl(e as u32).unwrap_or(0)
        };
        let v = v as f32;
        if negative {
            -v
        } else {
            v
        }
    };
    out.extend(words.chunks_exact(4).map(|w| {
        let h = word(w);
        let (re, im, e) = parts(h);
        let e = e + shift;
        Complex32::new(
            scale(re, e, h & sign_re != 0),
            scale(im, e, h & sign_im != 0),
        )
    }));
}

/// Streams the CSI packets of a nexmon_csi pcap capture.
pub struct NexmonReader<R> {
    pcap: PcapReader<R>,
    name: PathBuf,
    chip_option: Option<NexmonChip>,
    bandwidth_mhz: Option<u32>,
    /// The chip inferred from the first packet that told it; kept for the rest of the file.
    chip_found: Option<NexmonChip>,
    stats: ReadStats,
    record: u64,
    /// The input ended or an I/O error ended the stream.
    done: bool,
}

impl<R: Read> NexmonReader<R> {
    /// Reads the pcap header. Fails on I/O errors, a missing or bad header, an unsupported link
    /// type or an unsupported bandwidth option.
    pub fn new(input: R, options: &ReadOptions, name: PathBuf) -> Result<Self, CaptureError> {
        if let Some(bw) = options.nexmon_bandwidth_mhz {
            if nfft_of_bandwidth(bw).is_none() {
                return Err(CaptureError::Invalid {
                    path: name,
                    detail: format!("nexmon bandwidth {bw} MHz is not supported (20, 40 or 80)"),
                });
            }
        }
        let pcap = match PcapReader::new(input) {
            Ok(p) => p,
            Err(PcapOpenError::Io(source)) => return Err(CaptureError::Io { path: name, source }),
            Err(PcapOpenError::Invalid(detail)) => {
                return Err(CaptureError::Invalid { path: name, detail })
            }
        };
        let link = pcap.header().link_type;
        use pcap::link_type::*;
        if ![ETHERNET, RAW, RAW_BSD, RAW_BSD_ALT, LINUX_SLL, LINUX_SLL2].contains(&link) {
            return Err(CaptureError::Invalid {
                path: name,
                detail: format!(
                    "pcap link type {link} is not supported (expected Ethernet, raw IP or Linux \
                     cooked capture)"
                ),
            });
        }
        Ok(Self {
            pcap,
            name,
            chip_option: options.nexmon_chip,
            bandwidth_mhz: options.nexmon_bandwidth_mhz,
            chip_found: None,
            stats: ReadStats::default(),
            record: 0,
            done: false,
        })
    }

    /// The next CSI frame, `None` at the end of the input.
    fn advance(&mut self) -> io::Result<Option<CsiFrame>> {
        let link = self.pcap.header().link_type;
        let nanosecond = self.pcap.header().nanosecond;
        loop {
            let item = match self.pcap.next_item() {
                Some(item) => item?,
                None => return Ok(None),
            };
            self.record += 1;
            let (header, data, offset) = match item {
                PcapItem::Record {
                    header,
                    data,
                    offset,
                } => (header, data, offset),
                PcapItem::Corrupt {
                    reason,
                    detail,
                    offset,
                } => {
                    tracing::debug!(record = self.record, offset, detail, "pcap damage");
                    self.stats.skip(reason, self.record, offset);
                    continue;
                }
            };
            let udp = match pcap::udp_of(link, data) {
                Some(u) if u.dst_port == NEXMON_UDP_PORT || u.src_port == NEXMON_UDP_PORT => u,
                _ => {
                    self.stats.ignored += 1;
                    continue;
                }
            };
            if udp.truncated {
                self.stats
                    .skip("truncated udp payload", self.record, offset);
                continue;
            }
            let chip = match self.chip_option.or(self.chip_found) {
                Some(chip) => chip,
                None => match infer_chip(udp.payload) {
                    ChipGuess::Chip(chip) => {
                        self.chip_found = Some(chip);
                        chip
                    }
                    // Any decoding of zeros is zeros.
                    ChipGuess::AllZero => NexmonChip::Bcm43455c0,
                    ChipGuess::Ambiguous => {
                        tracing::warn!(
                            record = self.record,
                            offset,
                            "cannot tell the nexmon chip from this packet; set it (4339, \
                             43455c0, 4358 or 4366c0)"
                        );
                        self.stats.skip(REASON_AMBIGUOUS, self.record, offset);
                        continue;
                    }
                },
            };
            match parse_payload(udp.payload, chip, self.bandwidth_mhz) {
                Ok(mut frame) => {
                    let frac_ns = if nanosecond {
                        i64::from(header.frac)
                    } else {
                        i64::from(header.frac) * 1_000
                    };
                    frame.timestamp_ns = i64::from(header.sec) * 1_000_000_000 + frac_ns;
                    frame
                        .meta
                        .insert("sec", MetaValue::Int(i64::from(header.sec)));
                    let frac_key = if nanosecond { "nsec" } else { "usec" };
                    frame
                        .meta
                        .insert(frac_key, MetaValue::Int(i64::from(header.frac)));
                    frame
                        .meta
                        .insert("caplen", MetaValue::Int(i64::from(header.caplen)));
                    self.stats.good += 1;
                    return Ok(Some(frame));
                }
                Err(e) => {
                    tracing::debug!(record = self.record, offset, detail = e.detail, "nexmon");
                    self.stats.skip(&e.reason, self.record, offset);
                }
            }
        }
    }
}

impl<R: Read + Send> FrameReader for NexmonReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Nexmon
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
