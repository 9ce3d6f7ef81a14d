//! PicoScenes captures from other NICs than the Intel 5300 — a USRP N210 and an Intel AX200
//! (802.11ax) — against `fixtures/picoscenes_reference.json`, written by
//! `scripts/picoscenes_reference.py` from csiread 1.4.1 and CSIKit 2.5 (the script says which
//! parser agreed with which). Then damaged copies: a corrupt or truncated frame is skipped,
//! counted and described with the file and the packet, and the frames around it still read.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::io::Cursor;
use std::path::PathBuf;
use wdp_csi::readers::picoscenes::PicoScenesReader;
use wdp_csi::{CaptureFormat, CsiFrame, FrameReader, ReadOptions, ReadStats};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/picoscenes_reference.json"
);
const USRP: &str = "csiread/rx_by_usrpN210.csi";
const AX200: &str = "CSIKit/intel/ax200_demo.csi";

fn reference(file: &str) -> Value {
    let all: Value = serde_json::from_str(&std::fs::read_to_string(REFERENCE).unwrap()).unwrap();
    all["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in the reference"))
        .clone()
}

fn read_file(file: &str) -> (Vec<CsiFrame>, ReadStats) {
    let path = format!("{CAPTURES}/{file}");
    let bytes = std::fs::read(&path).unwrap();
    let head = &bytes[..bytes.len().min(wdp_csi::SNIFF_BYTES)];
    assert_eq!(
        wdp_csi::detect_format(head),
        Some(CaptureFormat::PicoScenes),
        "{file}: detected format"
    );
    let mut reader = wdp_csi::open(&path, &ReadOptions::default()).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        assert!(frame.is_consistent(), "{file}: frame {}", frames.len());
        frames.push(frame);
    }
    (frames, reader.stats().clone())
}

fn as_usize(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

/// Counts, per-packet shapes and subcarrier indices, and the sampled packets' CSI within
/// `tolerance` (relative to the packet's largest magnitude).
fn check_against_reference(file: &str, tolerance: f32) -> Vec<CsiFrame> {
    let reference = reference(file);
    let (frames, stats) = read_file(file);
    assert_eq!(stats.skipped_total(), 0, "{file}: {stats:?}");
    assert_eq!(stats.ignored, 0, "{file}: {stats:?}");
    assert_eq!(
        frames.len(),
        as_usize(&reference["packets"]),
        "{file}: packets"
    );
    let index_sets = reference["index_sets"].as_array().unwrap();
    let shapes = reference["packet_shapes"].as_array().unwrap();
    for (k, (frame, shape)) in frames.iter().zip(shapes).enumerate() {
        let shape: Vec<usize> = shape.as_array().unwrap().iter().map(as_usize).collect();
        assert_eq!(
            [frame.n_tx, frame.n_rx, frame.n_subcarriers()],
            [shape[0], shape[1], shape[2]],
            "{file}: packet {k} shape (tx, rx, subcarriers)"
        );
        let indices: Vec<i32> = index_sets[shape[3]]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(frame.subcarriers, indices, "{file}: packet {k} indices");
    }
    for (name, sample) in reference["csi"].as_object().unwrap() {
        let k = as_usize(&sample["packet"]);
        let frame = &frames[k];
        let scale = frame.csi.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
        let tones = frame.n_subcarriers();
        for (tx, per_rx) in sample["values"].as_array().unwrap().iter().enumerate() {
            for (rx, per_tone) in per_rx.as_array().unwrap().iter().enumerate() {
                let per_tone = per_tone.as_array().unwrap();
                assert_eq!(per_tone.len(), tones, "{file}: {name} packet {k}");
                for (tone, v) in per_tone.iter().enumerate() {
                    let want = (v[0].as_f64().unwrap() as f32, v[1].as_f64().unwrap() as f32);
                    let got = frame.csi[(tx * frame.n_rx + rx) * tones + tone];
                    let err = (got.re - want.0).abs().max((got.im - want.1).abs());
                    assert!(
                        err <= tolerance * scale,
                        "{file}: {name} packet {k} tx {tx} rx {rx} tone {tone}: {got} vs {want:?}"
                    );
                }
            }
        }
    }
    frames
}

#[test]
fn usrp_n210_frames_match_csiread_and_csikit() {
    let frames = check_against_reference(USRP, 1e-6);
    for frame in &frames {
        assert_eq!(frame.meta_int("CSI.Info.DeviceType"), Some(0x1234));
        // The USRP reports no RSSI; its RxSBasic timestamp is in nanoseconds.
        assert_eq!(frame.rssi_dbm, None);
    }
    let first = frames[0].timestamp_ns;
    assert_eq!(first, 1_617_379_763_885_693_382);
    let span = frames.last().unwrap().timestamp_ns - first;
    assert!((1_000_000_000..60_000_000_000).contains(&span), "{span} ns");
}

#[test]
fn ax200_frames_match_the_reference_data_subcarriers() {
    let frames = check_against_reference(AX200, 0.0);
    let mut formats = std::collections::BTreeSet::new();
    for frame in &frames {
        assert_eq!(frame.meta_int("CSI.Info.DeviceType"), Some(0x2000));
        assert_eq!(frame.meta_int("CSI.Info.CBW"), Some(20));
        formats.insert(frame.meta_int("CSI.Info.PacketFormat").unwrap());
        // No pilot tone survives.
        for pilot in [-21, -7, 7, 21] {
            assert!(!frame.subcarriers.contains(&pilot));
        }
        assert!(frame.rssi_dbm.unwrap() < 0.0);
    }
    assert_eq!(
        formats,
        [0, 1].into_iter().collect(),
        "non-HT and HT frames"
    );
    // RxSBasic carries no timestamp for the AX200: the MVMExtra microsecond clock is used.
    let span = frames.last().unwrap().timestamp_ns - frames[0].timestamp_ns;
    assert!((1_000_000_000..60_000_000_000).contains(&span), "{span} ns");
}

/// The byte ranges of the file's frames (each with its length prefix).
fn frames_of(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + 4 + len);
        at += 4 + len;
    }
    out
}

/// Offset of the CSI segment's body in a frame (after its name and version), and the version.
fn csi_body(frame: &[u8]) -> (usize, u16) {
    let mut at = 11;
    loop {
        let seg_len = u32::from_le_bytes(frame[at..at + 4].try_into().unwrap()) as usize;
        let name_len = usize::from(frame[at + 4]);
        let name = &frame[at + 5..at + 5 + name_len];
        let version_at = at + 5 + name_len;
        if name.strip_suffix(&[0]).unwrap_or(name) == b"CSI" {
            let version = u16::from_le_bytes([frame[version_at], frame[version_at + 1]]);
            return (version_at + 2, version);
        }
        at += 4 + seg_len;
    }
}

fn read_bytes(name: &str, bytes: Vec<u8>) -> (Vec<CsiFrame>, ReadStats, Vec<String>) {
    let mut reader = PicoScenesReader::new(Cursor::new(bytes), PathBuf::from(name));
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame() {
        frames.push(frame.unwrap());
    }
    (
        frames,
        reader.stats().clone(),
        reader.skipped_records().to_vec(),
    )
}

#[test]
fn a_corrupt_or_truncated_frame_is_skipped_counted_and_named() {
    for file in [USRP, AX200] {
        let bytes = std::fs::read(format!("{CAPTURES}/{file}")).unwrap();
        let ranges = frames_of(&bytes);
        let (intact, _, _) = read_bytes(file, bytes[..ranges[5].end].to_vec());
        assert_eq!(intact.len(), 6);

        // Packet 4: a copy of frame 2 cut in the middle of its CSI segment, with its length
        // prefix rewritten so the file's framing stays intact.
        let copy = &bytes[ranges[1].clone()];
        let (body, _) = csi_body(copy);
        let cut = &copy[..body + 40];
        let mut damaged = bytes[..ranges[2].end].to_vec();
        damaged.extend(((cut.len() - 4) as u32).to_le_bytes());
        damaged.extend(&cut[4..]);
        // Packet 5: a copy of frame 2 whose CSI header claims one more tone than its buffer
        // holds.
        let mut wrong = copy.to_vec();
        let (body, version) = csi_body(&wrong);
        let tones_at = body + 25 + usize::from(version == 4);
        let tones = u16::from_le_bytes([wrong[tones_at], wrong[tones_at + 1]]) + 1;
        wrong[tones_at..tones_at + 2].copy_from_slice(&tones.to_le_bytes());
        damaged.extend(&wrong);
        damaged.extend(&bytes[ranges[2].end..ranges[5].end]);
        // Packet 9: the input ends in the middle of a frame.
        damaged.extend(&bytes[ranges[6].start..ranges[6].start + 100]);

        let (frames, stats, messages) = read_bytes(file, damaged);
        assert_eq!(frames, intact, "{file}: every intact frame read, in order");
        assert_eq!(stats.good, 6, "{file}");
        assert_eq!(stats.skipped_total(), 3, "{file}: {stats:?}");
        assert_eq!(stats.skipped["truncated picoscenes segment"], 1, "{file}");
        assert_eq!(stats.skipped["truncated rxs frame"], 1, "{file}");
        // The USRP's indices then run into its SignalMatrix header; the AX200's buffer is one
        // tone short.
        let wrong_reason = if file == USRP {
            "bad usrp signal matrix"
        } else {
            "bad csi buffer length"
        };
        assert_eq!(
            stats.skipped.get(wrong_reason),
            Some(&1),
            "{file}: {stats:?}"
        );
        assert_eq!(messages.len(), 3);
        for (message, packet) in messages.iter().zip([4, 5, 9]) {
            assert!(
                message.starts_with(&format!("{file}: packet {packet} (byte ")),
                "{message}"
            );
        }
        assert!(messages[0].contains("truncated picoscenes segment"));
        assert!(messages[2].contains("the input ends after 100"));
    }
}

#[test]
fn damaged_bytes_anywhere_in_a_frame_never_panic() {
    for file in [USRP, AX200] {
        let bytes = std::fs::read(format!("{CAPTURES}/{file}")).unwrap();
        let ranges = frames_of(&bytes);
        let head = bytes[..ranges[2].end].to_vec();
        // Every byte of the first frame, and a spread over the next two, set to 0xff and to 0.
        let positions = (0..ranges[0].end).chain((ranges[0].end..head.len()).step_by(7));
        for at in positions {
            for value in [0xff, 0x00] {
                let mut damaged = head.clone();
                damaged[at] = value;
                let (frames, stats, _) = read_bytes(file, damaged);
                let accounted = frames.len() as u64 + stats.skipped_total() + stats.ignored;
                assert!(accounted >= 1, "{file}: byte {at} = {value:#x}: {stats:?}");
                assert!(frames.iter().all(CsiFrame::is_consistent));
            }
        }
    }
}
