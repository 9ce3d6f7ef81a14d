//! Damaged input for the Nexmon, ESP32 and PicoScenes readers: truncation at many cut points,
//! flipped bytes, random bytes, huge length fields and foreign files. The readers must never
//! panic or hang, must report damage as an error or as skipped records, and must still return
//! every record that lies before the damage.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::io::Cursor;
use std::path::PathBuf;
use wdp_csi::readers::{esp32, nexmon, picoscenes};
use wdp_csi::{CaptureFormat, CsiFrame, NexmonChip, ReadOptions, ReadStats};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");
const NEXMON_4358: &str = "nexmon_csi/example.pcap";
const NEXMON_43455: &str = "CSIKit/nexmon/example_43455c0.pcap";
const ESP32_PLAIN: &str = "ESP32-CSI-Tool/example_csi.csv";
const ESP32_HEADER: &str = "CSIKit/esp32/example_data.csv";
const PICOSCENES: &str = "csiread/rx_by_iwl5300.csi";
/// More calls than any input here can need: a reader that goes past it is hanging.
const MAX_CALLS: usize = 100_000;

fn load(file: &str) -> Vec<u8> {
    std::fs::read(format!("{CAPTURES}/{file}")).unwrap()
}

/// Reads everything; `Err` when the stream could not even be opened.
fn read(format: CaptureFormat, bytes: &[u8]) -> Result<(Vec<CsiFrame>, ReadStats), String> {
    let mut reader = wdp_csi::open_stream(
        Cursor::new(bytes.to_vec()),
        format,
        &ReadOptions::default(),
        PathBuf::from("test-input"),
    )
    .map_err(|e| e.to_string())?;
    let mut frames = Vec::new();
    for _ in 0..MAX_CALLS {
        match reader.next_frame() {
            None => return Ok((frames, reader.stats().clone())),
            Some(Ok(frame)) => {
                assert!(frame.is_consistent());
                frames.push(frame);
            }
            Some(Err(e)) => panic!("only I/O errors end a stream, got {e}"),
        }
    }
    panic!("reader did not finish");
}

/// Byte offsets where each record ends (pcap records, RXS frames, text lines).
fn record_ends(format: CaptureFormat, bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    match format {
        CaptureFormat::Nexmon => {
            let mut at = 24;
            while at + 16 <= bytes.len() {
                let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
                at += 16 + caplen as usize;
                ends.push(at);
            }
        }
        CaptureFormat::PicoScenes => {
            let mut at = 0;
            while at + 4 <= bytes.len() {
                let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
                at += 4 + len as usize;
                ends.push(at);
            }
        }
        _ => {
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\n' && bytes[..i].ends_with(b"]") {
                    ends.push(i + 1);
                }
            }
        }
    }
    ends
}

/// The file cut to its first `n` records (keeps the tests fast in debug builds).
fn first_records(format: CaptureFormat, bytes: &[u8], n: usize) -> Vec<u8> {
    let ends = record_ends(format, bytes);
    bytes[..ends[n.min(ends.len()) - 1]].to_vec()
}

fn cases() -> Vec<(CaptureFormat, Vec<u8>)> {
    vec![
        (CaptureFormat::Nexmon, load(NEXMON_4358)),
        (
            CaptureFormat::Nexmon,
            first_records(CaptureFormat::Nexmon, &load(NEXMON_43455), 12),
        ),
        (CaptureFormat::Esp32, load(ESP32_PLAIN)),
        (
            CaptureFormat::Esp32,
            first_records(CaptureFormat::Esp32, &load(ESP32_HEADER), 12),
        ),
        (
            CaptureFormat::PicoScenes,
            first_records(CaptureFormat::PicoScenes, &load(PICOSCENES), 12),
        ),
    ]
}

/// Every frame of `damaged` up to the first damaged record equals the intact read.
fn assert_prefix_kept(
    label: &str,
    intact: &[CsiFrame],
    damaged: &[CsiFrame],
    intact_records: usize,
) {
    assert!(
        damaged.len() >= intact_records,
        "{label}: {} frames read, {intact_records} records lie before the damage",
        damaged.len()
    );
    assert_eq!(
        &damaged[..intact_records],
        &intact[..intact_records],
        "{label}"
    );
}

#[test]
fn truncated_at_many_cut_points() {
    for (format, bytes) in cases() {
        let (intact, _) = read(format, &bytes).unwrap();
        let ends = record_ends(format, &bytes);
        assert_eq!(intact.len(), ends.len());
        let step = (bytes.len() / 150).max(1);
        let cuts = (0..bytes.len())
            .step_by(step)
            .chain(ends.iter().map(|e| e - 1));
        for cut in cuts {
            let before = ends.iter().filter(|&&e| e <= cut).count();
            match read(format, &bytes[..cut]) {
                Ok((frames, stats)) => {
                    assert_prefix_kept(&format!("{format} cut {cut}"), &intact, &frames, before);
                    // At most the cut record is lost, and it is accounted for.
                    assert!(frames.len() <= before + 1);
                    let first_start = if format == CaptureFormat::Nexmon {
                        24
                    } else {
                        0
                    };
                    if frames.len() == before && cut > first_start && !ends.contains(&cut) {
                        let partial_counted = stats.skipped_total() + stats.ignored;
                        assert!(
                            partial_counted >= 1 || format == CaptureFormat::Esp32,
                            "{stats:?}"
                        );
                    }
                }
                // Only a cut inside the pcap global header may refuse to open.
                Err(e) => assert!(
                    format == CaptureFormat::Nexmon && cut < 24,
                    "cut {cut}: {e}"
                ),
            }
        }
    }
}

#[test]
fn flipped_bytes_keep_earlier_records() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (format, bytes) in cases() {
        let (intact, _) = read(format, &bytes).unwrap();
        let ends = record_ends(format, &bytes);
        for _ in 0..120 {
            let pos = (next() % bytes.len() as u64) as usize;
            let mut damaged = bytes.clone();
            damaged[pos] ^= 1 << (next() % 8);
            // The header line of a CSV names the columns of every later record.
            let before = ends.iter().filter(|&&e| e <= pos).count();
            match read(format, &damaged) {
                Ok((frames, _)) => {
                    assert_prefix_kept(&format!("{format} flip at {pos}"), &intact, &frames, before)
                }
                Err(e) => assert!(
                    format == CaptureFormat::Nexmon && pos < 24,
                    "flip {pos}: {e}"
                ),
            }
        }
    }
}

#[test]
fn corrupt_length_fields_resynchronise() {
    // pcap: record 2 claims 4 GiB; records 1, 3 and 4 are still read.
    let bytes = load(NEXMON_4358);
    let (intact, _) = read(CaptureFormat::Nexmon, &bytes).unwrap();
    let ends = record_ends(CaptureFormat::Nexmon, &bytes);
    let mut damaged = bytes.clone();
    damaged[ends[0] + 8..ends[0] + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let (frames, stats) = read(CaptureFormat::Nexmon, &damaged).unwrap();
    assert_eq!(frames.len(), 3, "{stats:?}");
    assert_eq!(frames[0], intact[0]);
    assert_eq!(frames[1..], intact[2..]);
    assert_eq!(
        stats.skipped.get("bad pcap record length"),
        Some(&1),
        "{stats:?}"
    );

    // PicoScenes: frame 2 claims 4 GiB; the reader finds the next frame by its magic.
    let bytes = first_records(CaptureFormat::PicoScenes, &load(PICOSCENES), 5);
    let (intact, _) = read(CaptureFormat::PicoScenes, &bytes).unwrap();
    let ends = record_ends(CaptureFormat::PicoScenes, &bytes);
    let mut damaged = bytes.clone();
    damaged[ends[0]..ends[0] + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (frames, stats) = read(CaptureFormat::PicoScenes, &damaged).unwrap();
    assert_eq!(frames.len(), 4, "{stats:?}");
    assert_eq!(frames[0], intact[0]);
    assert_eq!(frames[1..], intact[2..]);
    assert!(stats.skipped_total() >= 1);
}

#[test]
fn random_and_foreign_input() {
    let formats = [
        CaptureFormat::Nexmon,
        CaptureFormat::Esp32,
        CaptureFormat::PicoScenes,
    ];
    let foreign = [
        "dhalperi/log.all_csi.6.7.6",
        "csiread/ath_csi_1.dat",
        "CSIKit/intel/example.dat",
        "csiread/sample_0x1_ap.dat",
        NEXMON_4358,
        ESP32_PLAIN,
        ESP32_HEADER,
        PICOSCENES,
    ];
    for file in foreign {
        let mut bytes = load(file);
        bytes.truncate(64 * 1024);
        let head = &bytes[..bytes.len().min(wdp_csi::SNIFF_BYTES)];
        let own = match file {
            NEXMON_4358 => Some(CaptureFormat::Nexmon),
            ESP32_PLAIN | ESP32_HEADER => Some(CaptureFormat::Esp32),
            PICOSCENES => Some(CaptureFormat::PicoScenes),
            _ => None,
        };
        assert_eq!(
            nexmon::sniff(head),
            own == Some(CaptureFormat::Nexmon),
            "{file}"
        );
        assert_eq!(
            esp32::sniff(head),
            own == Some(CaptureFormat::Esp32),
            "{file}"
        );
        assert_eq!(
            picoscenes::sniff(head),
            own == Some(CaptureFormat::PicoScenes),
            "{file}"
        );
        for format in formats {
            if Some(format) == own {
                continue;
            }
            if let Ok((frames, _)) = read(format, &bytes) {
                assert!(frames.is_empty(), "{format} read frames from {file}");
            }
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in [0usize, 1, 7, 24, 40, 100, 1000, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (seed >> 33) as u8
            })
            .collect();
        for format in formats {
            let _ = read(format, &bytes);
        }
    }
}

#[test]
fn nexmon_payload_errors_are_clear() {
    let bytes = load(NEXMON_4358);
    let payload = &bytes[24 + 16 + 42..24 + 16 + 1084];
    let chip = NexmonChip::Bcm4358;
    let reason = |p: &[u8], bw| nexmon::parse_payload(p, chip, bw).unwrap_err().reason;
    assert_eq!(reason(&payload[..10], None), "truncated nexmon header");
    assert_eq!(reason(&payload[..100], None), "bad nexmon csi length");
    assert_eq!(reason(&payload[..100], Some(80)), "bad nexmon csi length");
    assert_eq!(reason(payload, Some(30)), "unsupported nexmon bandwidth");
    let mut bad = payload.to_vec();
    bad[0] = 0x22;
    assert_eq!(reason(&bad, None), "bad nexmon magic");
    // A 20 MHz cut of an 80 MHz payload decodes with a given bandwidth.
    let frame = nexmon::parse_payload(&payload[..18 + 256], chip, Some(20)).unwrap();
    assert_eq!(frame.subcarriers.len(), 64);
    assert_eq!(
        nexmon::parse_payload(payload, chip, Some(80))
            .unwrap()
            .csi
            .len(),
        256
    );

    // Unknown chip field and CSI words that fit both packings: skipped with a clear reason.
    let mut pcap = bytes[..24 + 16 + 1084].to_vec();
    let csi = 24 + 16 + 42 + 18;
    pcap[csi - 2..csi].copy_from_slice(&0xdeadu16.to_le_bytes());
    for w in pcap[csi..].chunks_exact_mut(4) {
        w.copy_from_slice(&0x0001_0001u32.to_le_bytes());
    }
    let (frames, stats) = read(CaptureFormat::Nexmon, &pcap).unwrap();
    assert!(frames.is_empty());
    let reasons: Vec<&String> = stats.skipped.keys().collect();
    assert!(reasons[0].contains("set the nexmon chip"), "{reasons:?}");
    // With the chip set, the same packet reads.
    let options = ReadOptions {
        nexmon_chip: Some(NexmonChip::Bcm4339),
        ..Default::default()
    };
    let mut reader = wdp_csi::open_stream(
        Cursor::new(pcap),
        CaptureFormat::Nexmon,
        &options,
        "x".into(),
    )
    .unwrap();
    let frame = reader.next_frame().unwrap().unwrap();
    assert_eq!(frame.csi[0], wdp_csi::Complex32::new(1.0, 1.0));

    // Non-CSI packets are ignored, not skipped.
    let mut other_port = bytes[..24 + 16 + 1084].to_vec();
    other_port[24 + 16 + 36..24 + 16 + 38].copy_from_slice(&53u16.to_be_bytes());
    other_port[24 + 16 + 34..24 + 16 + 36].copy_from_slice(&53u16.to_be_bytes());
    let (frames, stats) = read(CaptureFormat::Nexmon, &other_port).unwrap();
    assert!(frames.is_empty());
    assert_eq!((stats.ignored, stats.skipped_total()), (1, 0));
}

#[test]
fn esp32_serial_noise_and_bad_lines() {
    let text = String::from_utf8(load(ESP32_PLAIN)).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let noisy = format!(
        "I (1234) wifi: station connected\r\n{}\r\nE (99) garbage \x07\x01\n{}\nCSI_DATA,AP,broken,[1 2 3]\n{}\nCSI_DATA,AP,3C:71:BF:6D:2A:78,-73,11,1,0,1,1,1,0,0,0,0,-93,0,1,1,80272146,0,101,0,0,80.363225,384,[1 2 300 4]\n{}\nW (7) log ran into: {}",
        lines[0], lines[1], lines[2], lines[3], lines[4]
    );
    let (frames, stats) = read(CaptureFormat::Esp32, noisy.as_bytes()).unwrap();
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[4], esp32::parse_line(lines[4]).unwrap());
    assert_eq!(stats.ignored, 2);
    assert_eq!(stats.skipped.get("bad field count"), Some(&1), "{stats:?}");
    assert_eq!(stats.skipped.get("bad csi value"), Some(&1), "{stats:?}");
    assert_eq!(frames[0], esp32::parse_line(lines[0]).unwrap());
    assert_eq!(frames[3], esp32::parse_line(lines[3]).unwrap());
    // A line with no end (serial port unplugged mid-line).
    let (frames, stats) = read(CaptureFormat::Esp32, &lines[0].as_bytes()[..200]).unwrap();
    assert!(frames.is_empty());
    assert_eq!(stats.skipped.get("truncated csi list"), Some(&1));
    // An endless line is cut off, skipped and the next line still read.
    let long = format!("CSI_DATA,{}\n{}\n", "9".repeat(100_000), lines[0]);
    let (frames, stats) = read(CaptureFormat::Esp32, long.as_bytes()).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(stats.skipped.get("line too long"), Some(&1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn nexmon_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1200),
                                   chip in 0usize..4, bw in proptest::option::of(prop_oneof![Just(20u32), Just(40), Just(80), Just(160)])) {
        let chip = [NexmonChip::Bcm4339, NexmonChip::Bcm43455c0, NexmonChip::Bcm4358, NexmonChip::Bcm4366c0][chip];
        let mut payload = bytes;
        if payload.len() >= 2 {
            payload[0] = 0x11;
            payload[1] = 0x11;
        }
        if let Ok(frame) = nexmon::parse_payload(&payload, chip, bw) {
            prop_assert!(frame.is_consistent());
        }
        let _ = nexmon::infer_chip(&payload);
    }

    #[test]
    fn esp32_line_never_panics(line in "CSI_DATA,[ -~]{0,300}(\\[[-0-9 ]{0,200}\\]?)?") {
        if let Ok(frame) = esp32::parse_line(&line) {
            prop_assert!(frame.is_consistent());
        }
    }

    #[test]
    fn readers_never_panic_on_mutated_files(which in 0usize..5, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let (format, mut bytes) = cases().swap_remove(which);
        bytes.truncate(8 * 1024);
        for (pos, value) in flips {
            let at = pos % bytes.len();
            bytes[at] = value;
        }
        let _ = read(format, &bytes);
    }
}

/// Gives `ok` bytes, then fails every read.
struct FailingRead {
    data: Cursor<Vec<u8>>,
    ok: u64,
}

impl std::io::Read for FailingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.ok.saturating_sub(self.data.position());
        if left == 0 {
            return Err(std::io::Error::other("device unplugged"));
        }
        let n = buf.len().min(left as usize);
        self.data.read(&mut buf[..n])
    }
}

#[test]
fn io_errors_end_the_stream_once() {
    for (format, bytes) in cases() {
        let ends = record_ends(format, &bytes);
        let (intact, _) = read(format, &bytes).unwrap();
        // Fail right after the third record.
        let input = FailingRead {
            data: Cursor::new(bytes.clone()),
            ok: ends[2] as u64,
        };
        let mut reader =
            wdp_csi::open_stream(input, format, &ReadOptions::default(), "x".into()).unwrap();
        let mut frames = Vec::new();
        let mut errors = 0;
        for _ in 0..100 {
            match reader.next_frame() {
                Some(Ok(frame)) => frames.push(frame),
                Some(Err(e)) => {
                    errors += 1;
                    assert!(e.to_string().contains("device unplugged"), "{e}");
                }
                None => break,
            }
        }
        assert_eq!(errors, 1, "{format}");
        assert_eq!(frames[..], intact[..3], "{format}");
        assert!(reader.next_frame().is_none());
    }
}

/// Rewrites a little-endian microsecond Ethernet pcap: byte order, time resolution, link type.
fn rewrite_pcap(bytes: &[u8], big_endian: bool, nanosecond: bool, linux_sll: bool) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let mut out = Vec::new();
    put(&mut out, if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    let version = if big_endian {
        [0, 2, 0, 4]
    } else {
        [2, 0, 4, 0]
    };
    out.extend_from_slice(&version);
    put(&mut out, 0);
    put(&mut out, 0);
    put(&mut out, u32_at(16));
    put(&mut out, if linux_sll { 113 } else { 1 });
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32_at(at + 8) as usize;
        let data = &bytes[at + 16..at + 16 + caplen];
        let extra = if linux_sll { 2 } else { 0 };
        put(&mut out, u32_at(at));
        put(&mut out, u32_at(at + 4) * if nanosecond { 1000 } else { 1 });
        put(&mut out, (caplen + extra) as u32);
        put(&mut out, u32_at(at + 12) + extra as u32);
        if linux_sll {
            // Packet type, ARPHRD, address length, 8 address bytes, protocol.
            out.extend_from_slice(&[0, 0, 0, 1, 0, 6, 0x4e, 0x45, 0x58, 0x4d, 0x4f, 0x4e, 0, 0]);
            out.extend_from_slice(&data[12..]);
        } else {
            out.extend_from_slice(data);
        }
        at += 16 + caplen;
    }
    out
}

#[test]
fn pcap_byte_orders_resolutions_and_link_types_read_alike() {
    let bytes = load(NEXMON_4358);
    let (intact, _) = read(CaptureFormat::Nexmon, &bytes).unwrap();
    for big_endian in [false, true] {
        for nanosecond in [false, true] {
            for linux_sll in [false, true] {
                let variant = rewrite_pcap(&bytes, big_endian, nanosecond, linux_sll);
                let head = &variant[..variant.len().min(wdp_csi::SNIFF_BYTES)];
                assert_eq!(wdp_csi::detect_format(head), Some(CaptureFormat::Nexmon));
                let (frames, stats) = read(CaptureFormat::Nexmon, &variant).unwrap();
                assert_eq!(stats.skipped_total(), 0, "{stats:?}");
                assert_eq!(frames.len(), intact.len());
                for (got, want) in frames.iter().zip(&intact) {
                    assert_eq!(got.csi, want.csi);
                    assert_eq!(got.timestamp_ns, want.timestamp_ns);
                    assert_eq!(got.meta.get("seq"), want.meta.get("seq"));
                    let frac = if nanosecond { "nsec" } else { "usec" };
                    let scale = if nanosecond { 1000 } else { 1 };
                    assert_eq!(got.meta_int(frac), want.meta_int("usec").map(|u| u * scale));
                }
            }
        }
    }
}

/// Re-encodes every CSI segment (version 2 in the sample file) as version 1, 3 or 4.
fn recode_csi_segments(bytes: &[u8], version: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let frame = &bytes[at + 4..at + 4 + len];
        let mut new_frame = frame[..7].to_vec();
        let mut cur = 7;
        for _ in 0..frame[6] {
            let seg_len = u32::from_le_bytes(frame[cur..cur + 4].try_into().unwrap()) as usize;
            let seg = &frame[cur + 4..cur + 4 + seg_len];
            let name_len = usize::from(seg[0]);
            let (head, body) = seg.split_at(1 + name_len + 2);
            let mut new_seg = head.to_vec();
            if &head[1..1 + name_len] == b"CSI" {
                new_seg[1 + name_len..].copy_from_slice(&version.to_le_bytes());
                let new_body: Vec<u8> = match version {
                    // Version 1 has no subcarrier offset.
                    1 => [&body[..31], &body[33..]].concat(),
                    // Version 3 adds numCSI before antSel; version 4 also a firmware byte.
                    3 => [&body[..30], &[1, 0], &body[30..]].concat(),
                    4 => [&body[..2], &[0], &body[2..30], &[1, 0], &body[30..]].concat(),
                    _ => unreachable!(),
                };
                new_seg.extend_from_slice(&new_body);
            } else {
                new_seg.extend_from_slice(body);
            }
            new_frame.extend_from_slice(&(new_seg.len() as u32).to_le_bytes());
            new_frame.extend_from_slice(&new_seg);
            cur += 4 + seg_len;
        }
        new_frame.extend_from_slice(&frame[cur..]);
        out.extend_from_slice(&(new_frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&new_frame);
        at += 4 + len;
    }
    out
}

#[test]
fn picoscenes_csi_segment_versions_1_3_4() {
    let bytes = first_records(CaptureFormat::PicoScenes, &load(PICOSCENES), 8);
    let (intact, _) = read(CaptureFormat::PicoScenes, &bytes).unwrap();
    for version in [1u16, 3, 4] {
        let recoded = recode_csi_segments(&bytes, version);
        assert!(picoscenes::sniff(&recoded));
        let (frames, stats) = read(CaptureFormat::PicoScenes, &recoded).unwrap();
        assert_eq!(stats.skipped_total(), 0, "version {version}: {stats:?}");
        assert_eq!(frames.len(), intact.len());
        for (got, want) in frames.iter().zip(&intact) {
            assert_eq!((got.n_tx, got.n_rx), (want.n_tx, want.n_rx));
            assert_eq!(got.csi, want.csi, "version {version}");
            assert_eq!(got.subcarriers, want.subcarriers);
            assert_eq!(
                got.meta_int("CSI.Info.CarrierFreq"),
                want.meta_int("CSI.Info.CarrierFreq")
            );
            assert_eq!(
                got.meta_int("CSI.Info.AntSel"),
                want.meta_int("CSI.Info.AntSel")
            );
            assert_eq!(
                got.meta_int("StandardHeader.Sequence"),
                want.meta_int("StandardHeader.Sequence")
            );
        }
    }
}

/// Lines of an ESP-IDF 5 firmware (Espressif's esp-csi `csi_recv`): its own header, a quoted
/// comma-separated buffer, `first_word` marking the first two pairs invalid, buffers of 128
/// and 384 bytes, a line cut by the serial port and one of an unknown layout before the header.
#[test]
fn esp32_esp_idf_5_lines_are_read_by_their_header() {
    let buffer = |k: usize, pairs: usize| -> Vec<i32> {
        (0..2 * pairs)
            .map(|i| ((i * 7 + k) % 61) as i32 - 30)
            .collect()
    };
    let line = |k: usize, pairs: usize, first_word: u8| {
        let values: Vec<String> = buffer(k, pairs).iter().map(i32::to_string).collect();
        format!(
            "CSI_DATA,{k},1a:00:00:00:00:01,-4{k},11,-97,3,12,11,{},47,0,{},{first_word},\"[{}]\"",
            1_000_000 + 10_000 * k,
            2 * pairs,
            values.join(",")
        )
    };
    let text = [
        "I (345) csi_recv: ================ CSI RECV ================".to_owned(),
        // Before the header, the line's columns are not the tool's: skipped.
        line(9, 64, 0),
        "type,seq,mac,rssi,rate,noise_floor,fft_gain,agc_gain,channel,local_timestamp,sig_len,rx_state,len,first_word,data".to_owned(),
        line(0, 64, 0),
        line(1, 64, 1),
        line(2, 192, 0),
        line(3, 64, 0)[..150].to_owned(),
        line(4, 64, 0),
    ]
    .join("\n");
    assert!(esp32::sniff(text.as_bytes()));
    let (frames, stats) = read(CaptureFormat::Esp32, text.as_bytes()).unwrap();
    assert_eq!(frames.len(), 4, "{stats:?}");
    assert_eq!(stats.skipped.get("bad field count"), Some(&1), "{stats:?}");
    assert_eq!(
        stats.skipped.get("truncated csi list"),
        Some(&1),
        "{stats:?}"
    );
    for (frame, k) in frames.iter().zip([0usize, 1, 2, 4]) {
        assert_eq!(frame.csi.len(), 64, "frame {k}: the L-LTF's 64 pairs");
        assert_eq!(frame.timestamp_ns, (1_000_000 + 10_000 * k as i64) * 1000);
        assert_eq!(frame.rssi_dbm, Some(-(40.0 + k as f32)));
        assert_eq!(
            frame.meta.get("seq"),
            Some(&wdp_csi::MetaValue::Int(k as i64))
        );
        let b = buffer(k, 64);
        for (p, z) in frame.csi.iter().enumerate() {
            // (imaginary, real) pairs; the first two zero where first_word says invalid.
            let want = if k == 1 && p < 2 {
                (0.0, 0.0)
            } else {
                (b[2 * p + 1] as f32, b[2 * p] as f32)
            };
            assert_eq!((z.re, z.im), want, "frame {k}, pair {p}");
        }
    }
    assert_eq!(
        frames[2].meta.get("csi_pairs"),
        Some(&wdp_csi::MetaValue::Int(192))
    );
    assert_eq!(frames[0].meta.get("csi_pairs"), None);
}
