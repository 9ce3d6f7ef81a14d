//! The Intel 5300 and Atheros readers on damaged input: truncated files, flipped bytes, random
//! bytes, foreign formats, failing streams. They must never panic or hang, must keep every
//! record before the damage (and, after resynchronisation, the records after it), and must
//! count what they skip.

use proptest::prelude::*;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use wdp_csi::readers::{atheros, intel};
use wdp_csi::{CaptureError, CaptureFormat, CsiFrame, Endian, FrameReader, ReadOptions, ReadStats};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");

fn capture(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(CAPTURES).join(rel)).expect("capture file")
}

const INTEL_FILES: [&str; 3] = [
    "dhalperi/log.all_csi.6.7.6",
    "CSIKit/intel/example.dat",
    "csiread/sample_0x1_ap.dat",
];
const ATHEROS_FILE: &str = "csiread/ath_csi_1.dat";
const FOREIGN_FILES: [&str; 6] = [
    "nexmon_csi/example.pcap",
    "CSIKit/nexmon/example_43455c0.pcap",
    "ESP32-CSI-Tool/example_csi.csv",
    "CSIKit/esp32/example_data.csv",
    "csiread/rx_by_iwl5300.csi",
    "CSIKit/mats_intel/example.mat",
];

/// Everything a reader produced: frames, stats, and whether the stream ended with an error.
struct Outcome {
    frames: Vec<CsiFrame>,
    stats: ReadStats,
    errors: usize,
}

fn drain(mut reader: Box<dyn FrameReader>) -> Outcome {
    let mut frames = Vec::new();
    let mut errors = 0;
    // A bound far above any record count of these inputs: a hang fails instead of spinning.
    for _ in 0..1_000_000 {
        match reader.next_frame() {
            Some(Ok(frame)) => {
                assert!(frame.is_consistent());
                frames.push(frame);
            }
            Some(Err(_)) => errors += 1,
            None => {
                return Outcome {
                    frames,
                    stats: reader.stats().clone(),
                    errors,
                }
            }
        }
    }
    panic!("reader did not end");
}

fn read_intel(bytes: &[u8]) -> Outcome {
    let reader = intel::IntelReader::new(Cursor::new(bytes.to_vec()), "mem.dat".into());
    drain(Box::new(reader))
}

fn read_atheros(bytes: &[u8], endian: Option<Endian>) -> Result<Outcome, CaptureError> {
    let reader = atheros::AtherosReader::new(Cursor::new(bytes.to_vec()), endian, "mem".into())?;
    Ok(drain(Box::new(reader)))
}

/// Start offsets of the records of a length-prefixed log (plus the end offset).
fn record_starts(bytes: &[u8], big_endian: bool) -> Vec<usize> {
    let mut starts = vec![0];
    let mut pos = 0;
    while pos + 2 <= bytes.len() {
        let len = if big_endian {
            u16::from_be_bytes([bytes[pos], bytes[pos + 1]])
        } else {
            u16::from_le_bytes([bytes[pos], bytes[pos + 1]])
        };
        pos += 2 + usize::from(len);
        starts.push(pos);
    }
    assert_eq!(pos, bytes.len(), "clean file ends on a record boundary");
    starts
}

/// `damaged` is `clean` with at most the frame of record `hit` missing or altered.
fn assert_only_record_lost(clean: &[CsiFrame], damaged: &[CsiFrame], hit: usize) {
    assert_eq!(
        &damaged[..hit.min(damaged.len())],
        &clean[..hit],
        "records before the damage"
    );
    let after_clean = &clean[hit + 1..];
    assert!(
        damaged.len() >= after_clean.len(),
        "records after the damage resynchronised"
    );
    assert_eq!(&damaged[damaged.len() - after_clean.len()..], after_clean);
    assert!(damaged.len() <= clean.len());
}

#[test]
fn intel_truncated_at_every_byte() {
    for file in INTEL_FILES {
        let full = capture(file);
        let full_starts = record_starts(&full, true);
        // Six records, taken where the dhalperi sample switches Ntx (1 -> 2 -> 3), so that every
        // shape is cut at every byte; the other files have fewer records of one shape.
        let n_records = full_starts.len() - 1;
        let mut bytes = Vec::new();
        for i in [0, 1, 10, 11, 19, 20].map(|i| i.min(n_records - 1)) {
            bytes.extend_from_slice(&full[full_starts[i]..full_starts[i + 1]]);
        }
        let starts = record_starts(&bytes, true);
        let clean = read_intel(&bytes).frames;
        assert_eq!(clean.len(), 6);
        for cut in 0..=bytes.len() {
            let out = read_intel(&bytes[..cut]);
            let complete = starts.iter().filter(|&&s| s <= cut).count() - 1;
            assert_eq!(out.frames[..], clean[..complete], "{file} cut at {cut}");
            let partial = !starts.contains(&cut);
            assert_eq!(
                out.stats.skipped_total(),
                u64::from(partial),
                "{file} cut at {cut}"
            );
            if partial {
                assert_eq!(out.stats.skipped.get("truncated record"), Some(&1));
            }
            assert_eq!(out.errors, 0);
        }
    }
}

#[test]
fn atheros_truncated_at_many_points() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let limit = starts[4];
    let clean = read_atheros(&bytes[..limit], Some(Endian::Little))
        .expect("reader")
        .frames;
    assert_eq!(clean.len(), 4);
    for cut in (0..=limit).step_by(7).chain(
        starts[..5]
            .iter()
            .flat_map(|&s| s.saturating_sub(2)..=s + 30),
    ) {
        let cut = cut.min(limit);
        let complete = starts.iter().filter(|&&s| s <= cut).count() - 1;
        let partial = !starts.contains(&cut);
        // Explicit byte order: every cut reads.
        let out = read_atheros(&bytes[..cut], Some(Endian::Little)).expect("reader");
        assert_eq!(out.frames[..], clean[..complete], "cut at {cut}");
        assert_eq!(
            out.stats.skipped_total(),
            u64::from(partial),
            "cut at {cut}"
        );
        // Detected byte order: needs one full header, else a clear error.
        match read_atheros(&bytes[..cut], None) {
            Ok(out) => assert_eq!(out.frames[..], clean[..complete], "cut at {cut}"),
            Err(CaptureError::Invalid { detail, .. }) => {
                assert!(cut < 27, "cut at {cut}: {detail}");
                assert!(detail.contains("too short"), "{detail}");
            }
            Err(e) => panic!("cut at {cut}: {e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// One damaged byte costs at most its own record.
    #[test]
    fn intel_flipped_byte_costs_one_record(
        file in 0..INTEL_FILES.len(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let bytes = capture(INTEL_FILES[file]);
        let starts = record_starts(&bytes, true);
        let limit = starts[starts.len().min(20) - 1];
        let mut bytes = bytes[..limit].to_vec();
        let clean = read_intel(&bytes).frames;
        let pos = at.index(bytes.len());
        bytes[pos] ^= mask;
        let hit = starts.iter().filter(|&&s| s <= pos).count() - 1;
        let out = read_intel(&bytes);
        assert_only_record_lost(&clean, &out.frames, hit);
        prop_assert_eq!(out.errors, 0);
        let accounted = out.stats.good + out.stats.skipped_total() + out.stats.ignored;
        prop_assert_eq!(accounted, clean.len() as u64, "{:?}", out.stats);
    }

    #[test]
    fn atheros_flipped_byte_costs_one_record(
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let bytes = capture(ATHEROS_FILE);
        let starts = record_starts(&bytes, false);
        let mut bytes = bytes[..starts[6]].to_vec();
        let clean = read_atheros(&bytes, Some(Endian::Little)).expect("reader").frames;
        let pos = at.index(bytes.len());
        bytes[pos] ^= mask;
        let hit = starts.iter().filter(|&&s| s <= pos).count() - 1;
        let out = read_atheros(&bytes, Some(Endian::Little)).expect("reader");
        assert_only_record_lost(&clean, &out.frames, hit);
        let accounted = out.stats.good + out.stats.skipped_total() + out.stats.ignored;
        prop_assert_eq!(accounted, clean.len() as u64, "{:?}", out.stats);
    }

    /// In a marked big-endian log too, one damaged byte after the marker costs at most its
    /// own record.
    #[test]
    fn atheros_big_endian_marker_flipped_byte_costs_one_record(
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let bytes = capture(ATHEROS_FILE);
        let starts = record_starts(&bytes, false);
        let mut marked = to_big_endian_with_marker(&bytes[..starts[6]]);
        let marked_starts = marked_record_starts(&marked);
        let clean = read_atheros(&marked, Some(Endian::Big)).expect("reader").frames;
        prop_assert_eq!(clean.len(), 6);
        let pos = 1 + at.index(marked.len() - 1);
        marked[pos] ^= mask;
        let hit = marked_starts.iter().filter(|&&s| s <= pos).count() - 1;
        let out = read_atheros(&marked, Some(Endian::Big)).expect("reader");
        assert_only_record_lost(&clean, &out.frames, hit);
        let accounted = out.stats.good + out.stats.skipped_total() + out.stats.ignored;
        prop_assert_eq!(accounted, clean.len() as u64, "{:?}", out.stats);
    }

    /// Arbitrary bytes: no panic, no hang, only consistent frames.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let _ = intel::sniff(&bytes);
        let _ = atheros::sniff(&bytes);
        let _ = intel::parse_bfee(&bytes);
        let _ = atheros::parse_record(&bytes, Endian::Little);
        let _ = atheros::parse_record(&bytes, Endian::Big);
        let out = read_intel(&bytes);
        prop_assert_eq!(out.errors, 0);
        for endian in [None, Some(Endian::Little), Some(Endian::Big)] {
            if let Ok(out) = read_atheros(&bytes, endian) {
                prop_assert_eq!(out.errors, 0);
            }
        }
    }

    /// Random bytes spliced into a real log: the records around them still read.
    #[test]
    fn garbage_between_records_is_skipped(
        garbage in prop::collection::vec(any::<u8>(), 1..600),
        at in 1usize..8,
    ) {
        let bytes = capture("CSIKit/intel/example.dat");
        let starts = record_starts(&bytes, true);
        let clean = read_intel(&bytes[..starts[10]]).frames;
        let mut spliced = bytes[..starts[at]].to_vec();
        spliced.extend_from_slice(&garbage);
        spliced.extend_from_slice(&bytes[starts[at]..starts[10]]);
        let out = read_intel(&spliced);
        // Garbage can look like a non-bfee record that swallows real ones, but never
        // corrupts a frame, and everything before it reads.
        prop_assert_eq!(&out.frames[..at], &clean[..at]);
        for f in &out.frames[at..] {
            prop_assert!(clean.contains(f));
        }
    }
}

#[test]
fn sniffers_reject_foreign_files() {
    for file in FOREIGN_FILES {
        let bytes = capture(file);
        let head = &bytes[..bytes.len().min(wdp_csi::SNIFF_BYTES)];
        assert!(!intel::sniff(head), "intel sniff accepted {file}");
        assert!(!atheros::sniff(head), "atheros sniff accepted {file}");
    }
    let ath = capture(ATHEROS_FILE);
    assert!(!intel::sniff(&ath[..4096]));
    assert!(atheros::sniff(&ath[..4096]));
    for file in INTEL_FILES {
        let bytes = capture(file);
        let head = &bytes[..bytes.len().min(4096)];
        assert!(intel::sniff(head), "{file}");
        assert!(!atheros::sniff(head), "{file}");
        // Any prefix holding a full bfee header is still recognised.
        assert!(intel::sniff(&bytes[..23]));
        assert!(!intel::sniff(&bytes[..22]));
    }
    assert!(!intel::sniff(b""));
    assert!(!atheros::sniff(b""));
}

#[test]
fn foreign_files_read_as_nothing() {
    // The first 64 KiB of each file: enough to cross many would-be records, and fast.
    let head = |file: &str| {
        let mut bytes = capture(file);
        bytes.truncate(1 << 16);
        bytes
    };
    for file in FOREIGN_FILES.iter().chain([&ATHEROS_FILE]) {
        let bytes = head(file);
        let out = read_intel(&bytes);
        assert!(
            out.frames.is_empty(),
            "intel reader read frames from {file}"
        );
        assert_eq!(out.errors, 0);
        assert!(
            out.stats.skipped_total() + out.stats.ignored > 0,
            "{file}: {:?}",
            out.stats
        );
    }
    for file in FOREIGN_FILES.iter().chain(INTEL_FILES.iter()) {
        let bytes = head(file);
        match read_atheros(&bytes, None) {
            Err(CaptureError::Invalid { detail, .. }) => assert!(detail.contains("byte order")),
            other => panic!(
                "{file}: expected a byte-order error, got {:?}",
                other.map(|o| o.stats)
            ),
        }
        let out = read_atheros(&bytes, Some(Endian::Little)).expect("reader");
        assert!(
            out.frames.is_empty(),
            "atheros reader read frames from {file}"
        );
        assert!(out.stats.skipped_total() > 0);
    }
    // Through the format-detecting entry point: a clear error naming the file.
    let path = PathBuf::from(CAPTURES).join("CSIKit/mats_intel/example.mat");
    match wdp_csi::open(&path, &ReadOptions::default()) {
        Err(CaptureError::UnknownFormat { path: p, .. }) => assert_eq!(p, path),
        Err(e) => panic!("unexpected error {e}"),
        Ok(r) => panic!("opened a .mat file as {}", r.format()),
    }
}

#[test]
fn atheros_wrong_byte_order_is_skipped_not_misread() {
    let bytes = capture(ATHEROS_FILE);
    let out = read_atheros(&bytes, Some(Endian::Big)).expect("reader");
    assert!(out.frames.is_empty());
    assert!(out.stats.skipped_total() >= 1);
}

/// Rewrites a little-endian Atheros log in big-endian byte order (header fields only; the
/// CSI words stay little endian, as on a MIPS router).
fn to_big_endian(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let starts = record_starts(bytes, false);
    for &s in &starts[..starts.len() - 1] {
        for (off, len) in [(0, 2), (2, 8), (10, 2), (12, 2), (25, 2)] {
            out[s + off..s + off + len].reverse();
        }
    }
    out
}

#[test]
fn atheros_big_endian_detected() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let little = &bytes[..starts[8]];
    let big = to_big_endian(little);
    let reader =
        atheros::AtherosReader::new(Cursor::new(big.clone()), None, "be".into()).expect("reader");
    assert_eq!(reader.endian(), Endian::Big);
    let from_big = drain(Box::new(reader)).frames;
    let from_little = read_atheros(little, None).expect("reader").frames;
    assert_eq!(from_big, from_little);
    assert!(atheros::sniff(&big[..4096]));
    assert_eq!(
        wdp_csi::detect_format(&big[..4096]),
        Some(CaptureFormat::Atheros)
    );
}

/// A big-endian log as forks of the tool that mark their logs write it: `0xff`, then the
/// records of `to_big_endian`.
fn to_big_endian_with_marker(little: &[u8]) -> Vec<u8> {
    let mut out = vec![atheros::BIG_ENDIAN_MARKER];
    out.extend_from_slice(&to_big_endian(little));
    out
}

/// Record starts of a marked big-endian log (plus the end offset), as file offsets.
fn marked_record_starts(marked: &[u8]) -> Vec<usize> {
    assert_eq!(marked[0], atheros::BIG_ENDIAN_MARKER);
    record_starts(&marked[1..], true)
        .into_iter()
        .map(|s| s + 1)
        .collect()
}

#[test]
fn atheros_big_endian_marker_truncated_at_many_points() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let clean = read_atheros(&bytes[..starts[4]], Some(Endian::Little))
        .expect("reader")
        .frames;
    assert_eq!(clean.len(), 4);
    let marked = to_big_endian_with_marker(&bytes[..starts[4]]);
    let marked_starts = marked_record_starts(&marked);
    let limit = marked.len();
    for cut in (0..=limit).step_by(7).chain(
        marked_starts
            .iter()
            .flat_map(|&s| s.saturating_sub(2)..=s + 30),
    ) {
        let cut = cut.min(limit);
        // Cut at 0 (nothing) or 1 (the marker alone) leaves no partial record.
        let complete = marked_starts.iter().filter(|&&s| s <= cut).count().max(1) - 1;
        let partial = cut > 1 && !marked_starts.contains(&cut);
        let expect_skips = |stats: &ReadStats| {
            if partial {
                assert_eq!(
                    stats.skipped,
                    [("truncated record".to_owned(), 1)].into(),
                    "cut at {cut}"
                );
            } else {
                assert_eq!(
                    stats.skipped_total(),
                    0,
                    "cut at {cut}: {:?}",
                    stats.skipped
                );
            }
        };
        // Big endian given: every cut reads, the marker is skipped.
        let out = read_atheros(&marked[..cut], Some(Endian::Big)).expect("reader");
        assert_eq!(out.frames[..], clean[..complete], "cut at {cut}");
        assert_eq!(out.stats.good, complete as u64);
        expect_skips(&out.stats);
        assert_eq!(out.errors, 0);
        // Detected: needs the marker and one full header, else a clear error.
        match read_atheros(&marked[..cut], None) {
            Ok(out) => {
                assert!(cut >= 28, "cut at {cut}");
                assert_eq!(out.frames[..], clean[..complete], "cut at {cut}");
                expect_skips(&out.stats);
            }
            Err(CaptureError::Invalid { detail, .. }) => {
                assert!(cut < 28, "cut at {cut}: {detail}");
                assert!(detail.contains("too short"), "cut at {cut}: {detail}");
            }
            Err(e) => panic!("cut at {cut}: {e}"),
        }
    }
}

#[test]
fn atheros_big_endian_marker_corrupt_record_skipped_and_counted() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let clean = read_atheros(&bytes[..starts[6]], None)
        .expect("reader")
        .frames;
    let marked = to_big_endian_with_marker(&bytes[..starts[6]]);
    let marked_starts = marked_record_starts(&marked);
    // Record 2 claims 7 receive chains (`nr`, header byte 17, after the 2-byte field_len).
    let mut bad_nr = marked.clone();
    bad_nr[marked_starts[2] + 2 + 17] = 7;
    // Record 4's csi_len (big endian, header bytes 8..10) no longer matches its dimensions.
    let mut bad_len = marked.clone();
    bad_len[marked_starts[4] + 2 + 9] ^= 0x01;
    for (damaged, hit, reason) in [
        (&bad_nr, 2, "bad antenna count"),
        (&bad_len, 4, "bad csi length"),
    ] {
        for endian in [None, Some(Endian::Big)] {
            let reader =
                atheros::AtherosReader::new(Cursor::new(damaged.clone()), endian, "be".into())
                    .expect("reader");
            assert_eq!(reader.endian(), Endian::Big);
            let out = drain(Box::new(reader));
            let mut expected = clean.clone();
            expected.remove(hit);
            assert_eq!(out.frames, expected, "{reason}");
            assert_eq!(out.stats.skipped, [(reason.to_owned(), 1)].into());
            assert_eq!(out.stats.good, clean.len() as u64 - 1);
            assert_eq!(out.errors, 0);
        }
    }
    // Read as little endian, the marked log yields nothing misread.
    let out = read_atheros(&marked, Some(Endian::Little)).expect("reader");
    assert!(out.frames.is_empty());
    assert!(out.stats.skipped_total() >= 1);
}

#[test]
fn atheros_layouts_detected() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let little = &bytes[..starts[8]];
    let big = to_big_endian(little);
    let marked = to_big_endian_with_marker(little);
    let from_little = read_atheros(little, None).expect("reader").frames;
    for (log, endian, marker) in [
        (little.to_vec(), Endian::Little, false),
        (big, Endian::Big, false),
        (marked, Endian::Big, true),
    ] {
        let head = &log[..log.len().min(wdp_csi::SNIFF_BYTES)];
        assert!(atheros::sniff(head));
        assert!(!intel::sniff(head));
        assert_eq!(wdp_csi::detect_format(head), Some(CaptureFormat::Atheros));
        let reader = atheros::AtherosReader::new(Cursor::new(log.clone()), None, "log".into())
            .expect("reader");
        assert_eq!((reader.endian(), reader.marker()), (endian, marker));
        let out = drain(Box::new(reader));
        assert_eq!(out.frames, from_little);
        assert_eq!(out.stats.skipped_total(), 0);
        // Through the format-detecting entry point too.
        let reader = wdp_csi::open_stream(
            Cursor::new(log),
            CaptureFormat::Atheros,
            &ReadOptions::default(),
            "log".into(),
        )
        .expect("reader");
        assert_eq!(drain(reader).frames, from_little);
    }
    // A 0xff marker before a little-endian log is not a layout.
    let mut marked_little = vec![atheros::BIG_ENDIAN_MARKER];
    marked_little.extend_from_slice(little);
    assert!(!atheros::sniff(&marked_little[..4096]));
}

/// A plain little-endian log may begin with 0xff (the low byte of its first `field_len`): it
/// stays plain little endian, not a marker.
#[test]
fn atheros_little_endian_starting_with_0xff_stays_plain() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let clean = read_atheros(&bytes[..starts[5]], None)
        .expect("reader")
        .frames;
    // Grow record 0's received frame until field_len is 0x..ff.
    let field_len = u16::from_le_bytes([bytes[0], bytes[1]]);
    let grown = field_len | 0xff;
    let extra = usize::from(grown - field_len);
    let payload_len = u16::from_le_bytes([bytes[25], bytes[26]]) + grown - field_len;
    let mut log = grown.to_le_bytes().to_vec();
    log.extend_from_slice(&bytes[2..25]);
    log.extend_from_slice(&payload_len.to_le_bytes());
    log.extend_from_slice(&bytes[27..starts[1]]);
    log.extend(std::iter::repeat_n(0u8, extra));
    log.extend_from_slice(&bytes[starts[1]..starts[5]]);
    assert_eq!(log[0], atheros::BIG_ENDIAN_MARKER);
    assert!(atheros::sniff(&log[..4096]));
    assert_eq!(
        wdp_csi::detect_format(&log[..4096]),
        Some(CaptureFormat::Atheros)
    );
    let reader =
        atheros::AtherosReader::new(Cursor::new(log.clone()), None, "le".into()).expect("reader");
    assert_eq!((reader.endian(), reader.marker()), (Endian::Little, false));
    let out = drain(Box::new(reader));
    assert_eq!(out.stats.skipped_total(), 0);
    assert_eq!(out.frames.len(), clean.len());
    assert_eq!(out.frames[1..], clean[1..]);
    assert_eq!(out.frames[0].csi, clean[0].csi);
    assert_eq!(out.frames[0].timestamp_ns, clean[0].timestamp_ns);
    // Big endian given: the 0xff is not taken for a marker when nothing consistent follows it
    // either way, so nothing is misread.
    let out = read_atheros(&log, Some(Endian::Big)).expect("reader");
    assert!(out.frames.is_empty());
}

#[test]
fn atheros_record_without_csi_is_ignored() {
    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let clean = read_atheros(&bytes[..starts[3]], None)
        .expect("reader")
        .frames;
    // Record 1 without its CSI: csi_len 0, field_len shrunk accordingly.
    let rec = &bytes[starts[1]..starts[2]];
    let csi_len = usize::from(u16::from_le_bytes([rec[10], rec[11]]));
    let mut stripped = rec[..27].to_vec();
    stripped.extend_from_slice(&rec[27 + csi_len..]);
    let field_len = (stripped.len() - 2) as u16;
    stripped[..2].copy_from_slice(&field_len.to_le_bytes());
    stripped[10..12].copy_from_slice(&0u16.to_le_bytes());
    assert!(
        atheros::parse_record(&stripped[2..], Endian::Little).is_err_and(|e| e.reason == "no csi")
    );
    let mut log = bytes[..starts[1]].to_vec();
    log.extend_from_slice(&stripped);
    log.extend_from_slice(&bytes[starts[2]..starts[3]]);
    let out = read_atheros(&log, None).expect("reader");
    assert_eq!(out.frames, vec![clean[0].clone(), clean[2].clone()]);
    assert_eq!(out.stats.ignored, 1);
    assert_eq!(out.stats.skipped_total(), 0);
}

#[test]
fn intel_other_codes_ignored_and_empty_records_skipped() {
    let bytes = capture("CSIKit/intel/example.dat");
    let starts = record_starts(&bytes, true);
    let clean = read_intel(&bytes[..starts[3]]).frames;
    let mut log = Vec::new();
    // A non-CSI connector message (code 0xc1), the longest possible one.
    log.extend_from_slice(&u16::MAX.to_be_bytes());
    log.push(0xc1);
    log.extend(std::iter::repeat_n(0xbb, usize::from(u16::MAX) - 1));
    log.extend_from_slice(&bytes[..starts[1]]);
    // An empty record (length 0): corrupt, skipped, then resynchronised.
    log.extend_from_slice(&[0, 0]);
    log.extend_from_slice(&bytes[starts[1]..starts[3]]);
    let out = read_intel(&log);
    assert_eq!(out.frames, clean);
    assert_eq!(out.stats.ignored, 1);
    assert_eq!(out.stats.skipped.get("empty record"), Some(&1));
}

#[test]
fn intel_bfee_with_huge_length_is_not_trusted() {
    // A bfee whose length field claims 65535 bytes: rejected from its header alone, and the
    // record after it still reads.
    let bytes = capture("CSIKit/intel/example.dat");
    let starts = record_starts(&bytes, true);
    let mut log = bytes[..starts[2]].to_vec();
    log[0] = 0xff;
    log[1] = 0xff;
    let out = read_intel(&log);
    let clean = read_intel(&bytes[..starts[2]]).frames;
    assert_eq!(out.frames, clean[1..]);
    assert_eq!(out.stats.skipped.get("record length mismatch"), Some(&1));
}

#[test]
fn intel_40mhz_and_invalid_perm() {
    let bytes = capture("CSIKit/intel/example.dat");
    let field_len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    let mut body = bytes[3..2 + field_len].to_vec();
    let clean = intel::parse_bfee(&body).expect("bfee");
    // rate_n_flags bit 11: HT40, the Ng = 4 grouping.
    body[19] |= 0x08;
    let wide = intel::parse_bfee(&body).expect("bfee");
    assert_eq!(wide.subcarriers.first(), Some(&-58));
    assert_eq!(wide.subcarriers.last(), Some(&58));
    assert_eq!(wide.csi, clean.csi);
    // antenna_sel giving perm [0, 0, 0]: not a permutation, so chains stay in NIC order.
    body[15] = 0;
    let unpermuted = intel::parse_bfee(&body).expect("bfee");
    let perm = match clean.meta.get("perm") {
        Some(wdp_csi::MetaValue::Ints(p)) => p.clone(),
        other => panic!("{other:?}"),
    };
    for tx in 0..clean.n_tx {
        for (rx, &row) in perm.iter().enumerate().take(clean.n_rx) {
            for s in 0..30 {
                let permuted = clean.get(tx, row as usize, s);
                assert_eq!(unpermuted.get(tx, rx, s), permuted);
            }
        }
    }
    // Header damage is reported with a stable reason.
    let mut bad = bytes[3..2 + field_len].to_vec();
    bad[8] = 4;
    assert_eq!(
        intel::parse_bfee(&bad).expect_err("rejected").reason,
        "bad antenna count"
    );
    bad[8] = 1;
    assert_eq!(
        intel::parse_bfee(&bad).expect_err("rejected").reason,
        "bad csi length"
    );
    assert_eq!(
        intel::parse_bfee(&bad[..10]).expect_err("rejected").reason,
        "record too short"
    );
    let short = &bytes[3..1 + field_len];
    assert_eq!(
        intel::parse_bfee(short).expect_err("rejected").reason,
        "record length mismatch"
    );
}

#[test]
fn scaled_csi_edge_cases_do_not_panic() {
    let bytes = capture("dhalperi/log.all_csi.6.7.6");
    let field_len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    let mut body = bytes[3..2 + field_len].to_vec();
    body[10..13].copy_from_slice(&[0, 0, 0]);
    let frame = intel::parse_bfee(&body).expect("bfee");
    assert_eq!(intel::total_rss_dbm(&frame), f64::NEG_INFINITY);
    assert_eq!(frame.rssi_dbm, None);
    assert_eq!(intel::scaled_csi(&frame).len(), frame.csi.len());
}

/// A stream that fails after some bytes.
struct FailingAfter {
    data: Cursor<Vec<u8>>,
    interrupted: bool,
}

impl Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One spurious interruption first: it must be retried, not reported.
        if !self.interrupted {
            self.interrupted = true;
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(100);
        match self.data.read(&mut buf[..n])? {
            0 => Err(io::Error::other("device gone")),
            n => Ok(n),
        }
    }
}

#[test]
fn io_errors_end_the_stream_once() {
    let bytes = capture("CSIKit/intel/example.dat");
    let starts = record_starts(&bytes, true);
    let clean = read_intel(&bytes[..starts[3]]).frames;
    let input = FailingAfter {
        data: Cursor::new(bytes[..starts[3] + 50].to_vec()),
        interrupted: false,
    };
    let out = drain(Box::new(intel::IntelReader::new(input, "dev".into())));
    assert_eq!(out.frames, clean);
    assert_eq!(out.errors, 1);

    let bytes = capture(ATHEROS_FILE);
    let starts = record_starts(&bytes, false);
    let input = FailingAfter {
        data: Cursor::new(bytes[..starts[2] + 50].to_vec()),
        interrupted: false,
    };
    let reader = atheros::AtherosReader::new(input, None, "dev".into()).expect("reader");
    let out = drain(Box::new(reader));
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.errors, 1);
}

#[test]
fn stp_companion_follows_every_netlink_message() {
    let bytes = capture("csiread/sample_0x1_ap.dat");
    let stp = capture("csiread/sample_0x1_ap.datstp");
    let starts = record_starts(&bytes, true);
    // Record 1's code changed: still a netlink message, so it still consumes a time entry.
    let mut log = bytes[..starts[3]].to_vec();
    log[starts[1] + 2] = 0xc1;
    let reader = intel::IntelReader::new(Cursor::new(log), "mem".into())
        .with_stp(Cursor::new(stp[..3 * 8].to_vec()));
    let out = drain(Box::new(reader));
    assert_eq!(out.frames.len(), 2);
    let times: Vec<f64> = out
        .frames
        .iter()
        .map(|f| match f.meta.get("stp") {
            Some(wdp_csi::MetaValue::Float(t)) => *t,
            other => panic!("{other:?}"),
        })
        .collect();
    let entry = |i: usize| {
        let sec = u32::from_le_bytes(stp[i * 8..i * 8 + 4].try_into().expect("4 bytes"));
        let usec = u32::from_le_bytes(stp[i * 8 + 4..i * 8 + 8].try_into().expect("4 bytes"));
        f64::from(sec) + f64::from(usec) / 1e6
    };
    assert_eq!(times, vec![entry(0), entry(2)]);
}
