//! `dataflows/sim-preprocess.yml`: simulated CSI passes through the preprocessing stage with
//! the same default pipeline as real captures, giving finite, normalized model-input windows on
//! the simulator's clock, beside the ground truth.

mod common;

use std::time::Duration;
use wdp_tensor::view;

#[test]
fn simulated_csi_becomes_model_input_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let flow = common::prepare(
        "sim-preprocess.yml",
        dir.path(),
        &[
            ("csi-source", "PACING", "fast"),
            ("csi-source", "DURATION_S", "4"),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(120));
    assert!(run.success, "dataflow failed:\n{}", run.log);

    let windows = wdp_record::read_dir(out.join("window")).expect("windows");
    // 4 s at 100 Hz resampled, windows of 100 with a hop of 10: about 31.
    assert!(windows.len() >= 25, "{} windows", windows.len());
    let mut last_t = i64::MIN;
    for w in &windows {
        assert_eq!(
            w.meta.shape,
            [2, 9, 30, 100],
            "[feature, tx*rx, subcarrier, time]"
        );
        assert_eq!(w.meta.dims, ["feature", "antenna", "subcarrier", "time"]);
        assert_eq!(w.meta.room, "lab");
        assert!(
            w.meta.t_ns > last_t && w.meta.t_ns <= 4_100_000_000,
            "simulator clock"
        );
        last_t = w.meta.t_ns;
        let v = view::<f32>(w.values.as_ref(), &w.meta).expect("window");
        assert!(v.iter().all(|x| x.is_finite()));
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.1, "z-scored: mean {mean}");
    }
    let keypoints = wdp_record::read_dir(out.join("keypoints")).expect("keypoints");
    assert_eq!(keypoints.len(), 80, "20 fps for 4 s");
}
