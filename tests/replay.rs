//! End to end: `dataflows/replay.yml` run by the real dora CLI on real captures; the recorded
//! Arrow files must hold exactly what the reference parser reads from each capture.

mod common;

use std::time::Duration;
use wdp_tensor::view;

/// Replays `file` through replay.yml and returns the recorded `csi` messages.
fn replay(file: &str) -> Vec<wdp_record::Record> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let capture = common::captures().join(file);
    let flow = common::prepare(
        "replay.yml",
        dir.path(),
        &[
            ("csi-source", "CAPTURE", capture.to_str().expect("utf8")),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(60));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    assert!(
        run.log.contains("csi-recorder: recorded csi:"),
        "recorder did not report:\n{}",
        run.log
    );
    wdp_record::read_dir(out.join("csi")).expect("recording readable")
}

fn pair(v: &serde_json::Value) -> (f32, f32) {
    (
        v[0].as_f64().expect("re") as f32,
        v[1].as_f64().expect("im") as f32,
    )
}

fn check_common(records: &[wdp_record::Record], count: u64) {
    assert_eq!(records.len() as u64, count);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.meta.seq, i as u64, "seq");
        assert_eq!(r.meta.dims, ["tx", "rx", "subcarrier", "complex"]);
        assert_eq!(r.meta.room, "lab");
        assert_eq!(r.meta.link, "ap-sta");
        let n_sub = r.meta.shape[2];
        assert_eq!(
            r.meta_json["subcarriers"].as_array().map(Vec::len),
            Some(n_sub),
            "subcarrier indices travel with every message"
        );
    }
}

#[test]
fn intel_capture_replays_exactly() {
    let file = "csiread/sample_0x1_ap.dat";
    let reference = common::reference_entry(file);
    let result = &reference["result"];
    let records = replay(file);
    check_common(&records, result["count"].as_u64().expect("count"));
    let first = &records[0];
    let csi = view::<f32>(first.values.as_ref(), &first.meta).expect("csi tensor");
    // csiread's axes are (packet, subcarrier, rx, tx); ours [tx, rx, subcarrier, re/im].
    let slice = &result["csi[0,0:3,:Nrx0,:Ntx0]"];
    for (s, per_sub) in slice.as_array().expect("slice").iter().enumerate() {
        for (rx, per_rx) in per_sub.as_array().expect("rx").iter().enumerate() {
            for (tx, value) in per_rx.as_array().expect("tx").iter().enumerate() {
                let (re, im) = pair(value);
                assert_eq!((csi[[tx, rx, s, 0]], csi[[tx, rx, s, 1]]), (re, im));
            }
        }
    }
    // Capture times come from the radio and never run backwards within this file.
    let stamps: Vec<i64> = result["timestamp_low[:5]"]
        .as_array()
        .expect("timestamps")
        .iter()
        .map(|v| v.as_i64().expect("int") * 1000)
        .collect();
    let recorded: Vec<i64> = records.iter().take(5).map(|r| r.meta.t_ns).collect();
    assert_eq!(recorded, stamps);
    assert_eq!(first.meta_json["perm"], result["perm[0]"]);
    let agc: Vec<i64> = records
        .iter()
        .take(5)
        .map(|r| r.meta_json["agc"].as_i64().expect("agc"))
        .collect();
    assert_eq!(serde_json::json!(agc), result["agc[:5]"]);
}

#[test]
fn nexmon_capture_replays_exactly() {
    let file = "CSIKit/nexmon/example_43455c0.pcap";
    let result = common::reference_entry(file)["result"].clone();
    let records = replay(file);
    check_common(&records, result["count"].as_u64().expect("count"));
    let first = &records[0];
    assert_eq!(first.meta.shape, [1, 1, 256, 2]);
    let csi = view::<f32>(first.values.as_ref(), &first.meta).expect("csi tensor");
    for (k, value) in result["csi[0,0:4]"]
        .as_array()
        .expect("slice")
        .iter()
        .enumerate()
    {
        assert_eq!((csi[[0, 0, k, 0]], csi[[0, 0, k, 1]]), pair(value));
    }
    let sum: f64 = records
        .iter()
        .map(|r| {
            let v = view::<f32>(r.values.as_ref(), &r.meta).expect("csi");
            let flat: Vec<f32> = v.iter().copied().collect();
            flat.chunks_exact(2)
                .map(|c| f64::from(c[0]).hypot(f64::from(c[1])))
                .sum::<f64>()
        })
        .sum();
    let expected = result["sum_abs_csi"].as_f64().expect("sum");
    assert!(
        (sum - expected).abs() <= 1e-6 * expected,
        "{sum} vs {expected}"
    );
}

#[test]
fn esp32_capture_replays_exactly() {
    let file = "ESP32-CSI-Tool/example_csi.csv";
    let result = common::reference_entry(file)["result"].clone();
    let records = replay(file);
    check_common(&records, result["count"].as_u64().expect("count"));
    let last = records.last().expect("records");
    let csi = view::<f32>(last.values.as_ref(), &last.meta).expect("csi tensor");
    let n = last.meta.shape[2];
    for (k, value) in result["csi[-1,-4:]"]
        .as_array()
        .expect("slice")
        .iter()
        .enumerate()
    {
        let s = n - 4 + k;
        assert_eq!((csi[[0, 0, s, 0]], csi[[0, 0, s, 1]]), pair(value));
    }
    let rssi: Vec<i64> = records
        .iter()
        .take(5)
        .map(|r| r.meta_json["rssi"].as_i64().expect("rssi"))
        .collect();
    assert_eq!(serde_json::json!(rssi), result["rssi[:5]"]);
}
