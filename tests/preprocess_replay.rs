//! End to end: `dataflows/preprocess-replay.yml` run by the real dora CLI on a real Intel 5300
//! capture; the recorded windows must follow the contract `[2, tx*rx, subcarrier, time]`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;
use wdp_tensor::view;

#[test]
fn preprocess_replay_records_contract_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let flow = common::prepare(
        "preprocess-replay.yml",
        dir.path(),
        &[("csi-recorder", "OUT_DIR", out.to_str().expect("utf8"))],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(60));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    assert!(
        run.log.contains("csi-preprocess: 540 packets"),
        "csi-preprocess did not report its counts:\n{}",
        run.log
    );
    let csi = wdp_record::read_dir(out.join("csi")).expect("csi recording");
    let windows = wdp_record::read_dir(out.join("window")).expect("window recording");
    assert_eq!(csi.len(), 540);
    let packet_times: BTreeSet<i64> = csi.iter().map(|r| r.meta.t_ns).collect();

    // ~59.6 s at 20 Hz is ~1190 samples: a first window at 40, then one every 20.
    assert!(
        (55..=60).contains(&windows.len()),
        "{} windows",
        windows.len()
    );
    let intel: Vec<i64> = csi[0].meta_json["subcarriers"]
        .as_array()
        .expect("subcarriers")
        .iter()
        .map(|v| v.as_i64().expect("int"))
        .collect();
    let mut last_t = i64::MIN;
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(w.meta.shape, [2, 6, 30, 40], "2 tx x 3 rx, 30 subcarriers");
        assert_eq!(w.meta.dims, ["feature", "antenna", "subcarrier", "time"]);
        assert_eq!(w.meta.seq, i as u64);
        assert_eq!(
            (w.meta.room.as_str(), w.meta.link.as_str()),
            ("lab", "ap-sta")
        );
        assert_eq!(w.meta_json["rate_hz"].as_f64(), Some(20.0));
        let subcarriers: Vec<i64> = w.meta_json["subcarriers"]
            .as_array()
            .expect("subcarriers")
            .iter()
            .map(|v| v.as_i64().expect("int"))
            .collect();
        assert_eq!(subcarriers, intel);
        // t_ns is the capture time of the newest packet in the window.
        assert!(packet_times.contains(&w.meta.t_ns), "t_ns {}", w.meta.t_ns);
        assert!(w.meta.t_ns > last_t);
        last_t = w.meta.t_ns;
        let first = w.meta_json["t_first_ns"].as_i64().expect("t_first_ns");
        assert!(
            w.meta.t_ns - first >= 39 * 50_000_000,
            "a window spans 39 sample periods"
        );
        let data = view::<f32>(w.values.as_ref(), &w.meta).expect("window tensor");
        assert!(data.iter().all(|v| v.is_finite()));
        // Z-scored per feature channel.
        for c in 0..2 {
            let ch = data.index_axis(wdp_tensor::ndarray::Axis(0), c);
            let mean = ch.mean().expect("mean");
            let var = ch.mapv(|v| (v - mean).powi(2)).mean().expect("var");
            assert!(
                mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-2,
                "{mean} {var}"
            );
        }
    }
}

/// A radio that reboots mid-capture (its clock starts over): the real ESP32-S3 recording twice
/// in a row, the second copy's timestamps starting again from 0. The resampler restarts its grid
/// at the jump (counted as a clock jump) and the second half gives as many windows as the first,
/// instead of every packet after the jump being dropped as out of order.
#[test]
fn a_radio_whose_clock_starts_over_keeps_its_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = common::captures().join("espectre/movement_s3_64sc_20260117_222626.csv");
    let text = std::fs::read_to_string(&capture).expect("capture");
    let once = dir.path().join("once.csv");
    let twice = dir.path().join("rebooted.csv");
    std::fs::write(&once, &text).expect("write");
    std::fs::write(&twice, format!("{text}{text}")).expect("write");
    let windows = |name: &str, file: &std::path::Path| {
        let out = dir.path().join(name);
        let sub = dir.path().join(format!("{name}-flow"));
        std::fs::create_dir_all(&sub).expect("dir");
        let flow = common::prepare(
            "preprocess-replay.yml",
            &sub,
            &[
                ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
                ("csi-source", "CAPTURE", file.to_str().expect("utf8")),
            ],
        );
        let run = common::run_dataflow(&flow, Duration::from_secs(60));
        assert!(run.success, "dataflow failed:\n{}", run.log);
        let line = run
            .log
            .lines()
            .find(|l| l.contains("csi-preprocess: ") && l.contains("clock jumps"))
            .unwrap_or_else(|| panic!("no counts from csi-preprocess:\n{}", run.log))
            .to_owned();
        let n = wdp_record::read_dir(out.join("window"))
            .expect("windows")
            .len();
        (n, line)
    };
    let (single, line) = windows("once", &once);
    assert!(line.contains("0 clock jumps"), "{line}");
    let (double, line) = windows("twice", &twice);
    assert!(line.contains(", 1 clock jumps"), "{line}");
    assert!(single >= 5, "{single} windows from one copy");
    assert!(
        double + 1 >= 2 * single && double <= 2 * single + 1,
        "{double} windows from two copies, {single} from one: {line}"
    );
    eprintln!("{single} windows from the recording, {double} from it twice with a reboot: {line}");
}
