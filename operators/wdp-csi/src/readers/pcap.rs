//! A small streaming reader of classic libpcap files (both byte orders, microsecond and
//! nanosecond variants) and of the Ethernet/IP/UDP layers that nexmon_csi packets travel in.
//!
//! Records are read one at a time into one reused buffer; a record length is never trusted
//! beyond [`MAX_RECORD_BYTES`]. A record header that makes no sense (length over the limit,
//! sub-second field out of range) is reported as [`PcapItem::Corrupt`] and the reader scans
//! forward for the next plausible record header, so one damaged record costs one record.

use crate::readers::window::ByteWindow;
use std::io::{self, Read};

/// Largest record the reader accepts (the libpcap default snap length).
pub const MAX_RECORD_BYTES: usize = 262_144;

const GLOBAL_HEADER_BYTES: usize = 24;
const RECORD_HEADER_BYTES: usize = 16;
/// A resynchronised header must be within this many seconds of the last good record.
const RESYNC_WINDOW_S: u32 = 86_400;

/// Link-layer types this module can take apart down to UDP.
pub mod link_type {
    /// Ethernet II (`LINKTYPE_ETHERNET`).
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4/IPv6 (`LINKTYPE_RAW`).
    pub const RAW: u32 = 101;
    /// Raw IP under its OpenBSD `DLT_RAW` number.
    pub const RAW_BSD: u32 = 12;
    /// Raw IP under its `DLT_RAW` number on other BSDs.
    pub const RAW_BSD_ALT: u32 = 14;
    /// Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`, `tcpdump -i any`).
    pub const LINUX_SLL: u32 = 113;
    /// Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`).
    pub const LINUX_SLL2: u32 = 276;
}

/// The file-wide pcap header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapHeader {
    /// The file was written little endian.
    pub little_endian: bool,
    /// Record times carry nanoseconds instead of microseconds.
    pub nanosecond: bool,
    /// Format major version (2).
    pub version_major: u16,
    /// Format minor version (4).
    pub version_minor: u16,
    /// Snap length the capture was made with.
    pub snaplen: u32,
    /// Link-layer type of every record.
    pub link_type: u32,
}

impl PcapHeader {
    /// Parses the 24-byte global header. `Err` says why the bytes are not a classic pcap file.
    pub fn parse(head: &[u8]) -> Result<Self, String> {
        let magic: [u8; 4] = match head.get(..4).and_then(|m| m.try_into().ok()) {
            Some(m) => m,
            None => return Err("shorter than a pcap magic number".into()),
        };
        let (little_endian, nanosecond) =
            match magic {
                [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
                [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
                [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
                [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
                [0x0a, 0x0d, 0x0d, 0x0a] => return Err(
                    "pcapng is not supported; convert it with `editcap -F pcap in.pcapng out.pcap`"
                        .into(),
                ),
                other => return Err(format!("bad pcap magic {other:02x?}")),
            };
        if head.len() < GLOBAL_HEADER_BYTES {
            return Err(format!(
                "truncated pcap header ({} of {GLOBAL_HEADER_BYTES} bytes)",
                head.len()
            ));
        }
        let u16_at = |i: usize| {
            let b = [head[i], head[i + 1]];
            if little_endian {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            }
        };
        let header = Self {
            little_endian,
            nanosecond,
            version_major: u16_at(4),
            version_minor: u16_at(6),
            snaplen: read_u32(&head[16..20], little_endian),
            link_type: read_u32(&head[20..24], little_endian) & 0x0fff_ffff,
        };
        if header.version_major != 2 {
            return Err(format!(
                "unsupported pcap version {}.{}",
                header.version_major, header.version_minor
            ));
        }
        Ok(header)
    }

    /// Limit on a record's captured length: the snap length when it is sane, else the default.
    fn max_caplen(&self) -> u32 {
        match self.snaplen {
            0 => MAX_RECORD_BYTES as u32,
            s => s.clamp(65_535, MAX_RECORD_BYTES as u32),
        }
    }

    fn frac_limit(&self) -> u32 {
        if self.nanosecond {
            1_000_000_000
        } else {
            1_000_000
        }
    }
}

fn read_u32(b: &[u8], little_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if little_endian {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

/// One record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Capture time, seconds since the Unix epoch.
    pub sec: u32,
    /// Sub-second part: microseconds, or nanoseconds in a nanosecond file.
    pub frac: u32,
    /// Bytes captured (stored in the file).
    pub caplen: u32,
    /// Bytes the packet had on the wire.
    pub wirelen: u32,
}

impl RecordHeader {
    fn parse(b: &[u8], little_endian: bool) -> Self {
        Self {
            sec: read_u32(&b[0..4], little_endian),
            frac: read_u32(&b[4..8], little_endian),
            caplen: read_u32(&b[8..12], little_endian),
            wirelen: read_u32(&b[12..16], little_endian),
        }
    }

    fn problem(&self, header: &PcapHeader) -> Option<&'static str> {
        if self.caplen > header.max_caplen() {
            Some("bad pcap record length")
        } else if self.frac >= header.frac_limit() {
            Some("bad pcap record time")
        } else {
            None
        }
    }
}

/// What the reader found next.
#[derive(Debug)]
pub enum PcapItem<'a> {
    /// A complete record.
    Record {
        /// Its header.
        header: RecordHeader,
        /// The captured bytes (`caplen` of them).
        data: &'a [u8],
        /// Byte offset of the record header in the stream.
        offset: u64,
    },
    /// A damaged record or header; the reader has moved past it.
    Corrupt {
        /// Stable reason.
        reason: &'static str,
        /// Details for the log.
        detail: String,
        /// Byte offset where the damage was seen.
        offset: u64,
    },
}

/// Streams the records of a classic pcap file.
#[derive(Debug)]
pub struct PcapReader<R> {
    window: ByteWindow<R>,
    header: PcapHeader,
    last_sec: Option<u32>,
    /// The previous item was a corrupt header: scan instead of trusting the next one.
    resync: bool,
}

/// Why a pcap stream cannot be opened.
#[derive(Debug)]
pub enum PcapOpenError {
    /// Reading failed.
    Io(io::Error),
    /// The bytes are not a usable pcap file.
    Invalid(String),
}

impl<R: Read> PcapReader<R> {
    /// Reads the global header. Fails on I/O errors and on a missing or bad header.
    pub fn new(input: R) -> Result<Self, PcapOpenError> {
        let mut window = ByteWindow::new(input, 1 << 16, max_buffer());
        let head = window
            .fill(GLOBAL_HEADER_BYTES)
            .map_err(PcapOpenError::Io)?;
        if head.is_empty() {
            return Err(PcapOpenError::Invalid("the file is empty".into()));
        }
        let head = &head[..head.len().min(GLOBAL_HEADER_BYTES)];
        let header = PcapHeader::parse(head).map_err(PcapOpenError::Invalid)?;
        window.consume(GLOBAL_HEADER_BYTES);
        Ok(Self {
            window,
            header,
            last_sec: None,
            resync: false,
        })
    }

    /// The global header.
    pub fn header(&self) -> &PcapHeader {
        &self.header
    }

    /// Scans forward one byte at a time for a plausible record header. Returns false at the end
    /// of the stream.
    fn resynchronise(&mut self) -> io::Result<bool> {
        let (header, last_sec) = (&self.header, self.last_sec);
        self.window
            .advance_to(RECORD_HEADER_BYTES, |b| plausible(b, header, last_sec))
    }

    /// The next record, a report of a damaged one, or `None` at the end of the stream.
    pub fn next_item(&mut self) -> Option<io::Result<PcapItem<'_>>> {
        match self.next_inner() {
            Ok(Some(Step::Record(header, len, offset))) => {
                let data = self.window.consumed_tail(len);
                Some(Ok(PcapItem::Record {
                    header,
                    data,
                    offset,
                }))
            }
            Ok(Some(Step::Corrupt(reason, detail, offset))) => Some(Ok(PcapItem::Corrupt {
                reason,
                detail,
                offset,
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn next_inner(&mut self) -> io::Result<Option<Step>> {
        if self.resync {
            self.resync = false;
            if !self.resynchronise()? {
                self.window.consume_all();
                return Ok(None);
            }
        }
        let offset = self.window.offset();
        let b = self.window.fill(RECORD_HEADER_BYTES)?;
        let have = b.len();
        if have == 0 {
            return Ok(None);
        }
        if have < RECORD_HEADER_BYTES {
            self.window.consume(have);
            return Ok(Some(Step::Corrupt(
                "truncated pcap record",
                format!("{have} bytes left, a record header needs {RECORD_HEADER_BYTES}"),
                offset,
            )));
        }
        let header = RecordHeader::parse(b, self.header.little_endian);
        if let Some(reason) = header.problem(&self.header) {
            // Step past the bad header's first byte and look for the next good one.
            self.window.consume(1);
            self.resync = true;
            return Ok(Some(Step::Corrupt(
                reason,
                format!(
                    "caplen {} (limit {}), sub-second field {}",
                    header.caplen,
                    self.header.max_caplen(),
                    header.frac
                ),
                offset,
            )));
        }
        let total = RECORD_HEADER_BYTES + header.caplen as usize;
        let have = self.window.fill(total)?.len();
        if have < total {
            self.window.consume(have);
            return Ok(Some(Step::Corrupt(
                "truncated pcap record",
                format!("caplen {} but only {} bytes left", header.caplen, have - 16),
                offset,
            )));
        }
        self.window.consume(total);
        self.last_sec = Some(header.sec);
        Ok(Some(Step::Record(header, header.caplen as usize, offset)))
    }
}

enum Step {
    Record(RecordHeader, usize, u64),
    Corrupt(&'static str, String, u64),
}

fn max_buffer() -> usize {
    MAX_RECORD_BYTES + RECORD_HEADER_BYTES
}

/// Whether `b` (at least a record header) starts with what looks like a real record header.
fn plausible(b: &[u8], header: &PcapHeader, last_sec: Option<u32>) -> bool {
    let h = RecordHeader::parse(b, header.little_endian);
    let near = match last_sec {
        Some(last) => h.sec.abs_diff(last) <= RESYNC_WINDOW_S,
        None => true,
    };
    h.problem(header).is_none() && near && h.caplen <= h.wirelen && h.caplen > 0
}

/// A UDP datagram found in a captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload, cut to the UDP length field (Ethernet trailers and FCS are not part of it).
    pub payload: &'a [u8],
    /// The captured packet holds fewer bytes than the UDP length field says.
    pub truncated: bool,
}

/// Takes a captured packet apart down to UDP. `None` for anything that is not an unfragmented
/// (or first-fragment) UDP datagram over IPv4/IPv6 on a supported link type.
pub fn udp_of(link_type: u32, packet: &[u8]) -> Option<Udp<'_>> {
    let ip = match link_type {
        link_type::ETHERNET => {
            let mut ethertype = u16::from_be_bytes([*packet.get(12)?, *packet.get(13)?]);
            let mut at = 14;
            // 802.1Q / 802.1ad tags.
            while ethertype == 0x8100 || ethertype == 0x88a8 {
                ethertype = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]);
                at += 4;
            }
            match ethertype {
                0x0800 | 0x86dd => packet.get(at..)?,
                _ => return None,
            }
        }
        link_type::RAW | link_type::RAW_BSD | link_type::RAW_BSD_ALT => packet,
        link_type::LINUX_SLL => packet.get(16..)?,
        link_type::LINUX_SLL2 => packet.get(20..)?,
        _ => return None,
    };
    let udp = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let frag_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
            if ihl < 20 || *ip.get(9)? != 17 || frag_offset != 0 {
                return None;
            }
            ip.get(ihl..)?
        }
        6 => {
            if *ip.get(6)? != 17 {
                return None;
            }
            ip.get(40..)?
        }
        _ => return None,
    };
    let src_port = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dst_port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let udp_len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let body = udp.get(8..)?;
    // A zero or undersized length field (jumbograms, offloaded checksums) means "to the end".
    let (payload, truncated) = if udp_len < 8 {
        (body, false)
    } else if udp_len - 8 <= body.len() {
        (&body[..udp_len - 8], false)
    } else {
        (body, true)
    };
    Some(Udp {
        src_port,
        dst_port,
        payload,
        truncated,
    })
}

/// Iterates over the complete records held in `head` (the start of a pcap file), for format
/// detection. Stops at the first record that is not complete.
pub fn records_in_head(head: &[u8]) -> Option<(PcapHeader, Vec<&[u8]>)> {
    let header = PcapHeader::parse(head).ok()?;
    let mut records = Vec::new();
    let mut at = GLOBAL_HEADER_BYTES;
    while let Some(b) = head.get(at..at + RECORD_HEADER_BYTES) {
        let h = RecordHeader::parse(b, header.little_endian);
        if h.problem(&header).is_some() {
            break;
        }
        let end = at + RECORD_HEADER_BYTES + h.caplen as usize;
        match head.get(at + RECORD_HEADER_BYTES..end) {
            Some(data) => records.push(data),
            None => {
                // A partial last record still helps detection if its headers are in.
                records.push(&head[at + RECORD_HEADER_BYTES..]);
                break;
            }
        }
        at = end;
    }
    Some((header, records))
}
