//! `wdp inspect` on every capture of the shared folder agrees with reference.json, detects each
//! format from the content (also under a name that says nothing), and fails clearly on garbage.

mod common;

use serde_json::Value;
use std::process::Command;

fn inspect(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .arg("inspect")
        .args(args)
        .output()
        .expect("wdp runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, stderr)
}

fn expected_format(reference_format: &str) -> &'static str {
    let f = reference_format.to_ascii_lowercase();
    if f.contains("picoscenes") {
        "picoscenes"
    } else if f.contains("intel") {
        "intel5300"
    } else if f.contains("atheros") {
        "atheros"
    } else if f.contains("nexmon") {
        "nexmon"
    } else if f.contains("esp32") {
        "esp32"
    } else {
        panic!("unknown reference format {reference_format}")
    }
}

#[test]
fn every_capture_matches_the_reference_counts_and_format() {
    let reference = common::reference();
    for entry in reference["files"].as_array().expect("files") {
        let file = entry["file"].as_str().expect("file");
        let path = common::captures().join(file);
        let (ok, json, stderr) = inspect(&["--json", path.to_str().expect("utf8")]);
        assert!(ok, "{file}: {stderr}");
        assert_eq!(
            json["format"],
            expected_format(entry["format"].as_str().expect("format")),
            "{file}"
        );
        assert_eq!(json["packets"], entry["result"]["count"], "{file}: {json}");
        assert!(json["skipped"]["count"].is_u64(), "{file}");

        // Detected from the content, not the name.
        let dir = tempfile::tempdir().expect("tempdir");
        let anonymous = dir.path().join("capture.bin");
        std::fs::copy(&path, &anonymous).expect("copy");
        let (ok, renamed, stderr) = inspect(&["--json", anonymous.to_str().expect("utf8")]);
        assert!(ok, "{file} renamed: {stderr}");
        assert_eq!(renamed["format"], json["format"], "{file} renamed");
        assert_eq!(renamed["packets"], json["packets"], "{file} renamed");
    }
}

#[test]
fn packets_range_prints_raw_frames() {
    let file = "dhalperi/log.all_csi.6.7.6";
    let entry = common::reference_entry(file);
    let path = common::captures().join(file);
    let (ok, json, stderr) =
        inspect(&["--json", "--packets", "0..2", path.to_str().expect("utf8")]);
    assert!(ok, "{stderr}");
    let frames = json["frames"].as_array().expect("frames");
    assert_eq!(frames.len(), 2);
    let first = &frames[0];
    for key in [
        "timestamp",
        "subcarriers",
        "rssi_a",
        "noise",
        "agc",
        "perm",
        "rate",
    ] {
        assert!(!first[key].is_null(), "frame has `{key}`: {first}");
    }
    assert_eq!(first["perm"], entry["result"]["perm[0]"]);
    // Reference axes (packet, subcarrier, rx, tx); ours [tx][rx][subcarrier][re, im].
    let slice = &entry["result"]["csi[0,0:3,:Nrx0,:Ntx0]"];
    for (s, per_sub) in slice.as_array().expect("slice").iter().enumerate() {
        for (rx, per_rx) in per_sub.as_array().expect("rx").iter().enumerate() {
            for (tx, value) in per_rx.as_array().expect("tx").iter().enumerate() {
                let ours = &first["csi"][tx][rx][s];
                assert_eq!(ours[0].as_f64(), value[0].as_f64(), "re [{tx}][{rx}][{s}]");
                assert_eq!(ours[1].as_f64(), value[1].as_f64(), "im [{tx}][{rx}][{s}]");
            }
        }
    }
}

#[test]
fn text_summary_names_format_and_counts() {
    let path = common::captures().join("csiread/ath_csi_1.dat");
    let out = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .args(["inspect", path.to_str().expect("utf8")])
        .output()
        .expect("wdp runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("atheros"), "{text}");
    assert!(text.contains("401 good"), "{text}");
    assert!(text.contains("2x3x56"), "{text}"); // nc = 2 transmit, nr = 3 receive antennas
}

#[test]
fn garbage_and_missing_files_fail_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("noise.dat");
    std::fs::write(
        &garbage,
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .expect("write");
    let (ok, _, stderr) = inspect(&[garbage.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(
        stderr.contains("noise.dat") && stderr.contains("not a supported CSI capture"),
        "{stderr}"
    );

    let (ok, _, stderr) = inspect(&[dir.path().join("missing.pcap").to_str().expect("utf8")]);
    assert!(!ok);
    assert!(stderr.contains("missing.pcap"), "{stderr}");
}
