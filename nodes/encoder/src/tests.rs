//! The node's handler in dora's testing mode on a seeded random `lite` encoder: windows in,
//! feature vectors out; a misshapen, a NaN, an other-dims and an unknown-id message dropped
//! and counted.

use super::stage;
use wdp_node::testing::{run_test, tensor_event};
use wdp_stage::StageConfig;
use wdp_tensor::TensorMeta;

const DIMS: [&str; 4] = ["feature", "antenna", "subcarrier", "time"];

fn values(n: usize, phase: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37 + phase).sin()).collect()
}

#[test]
fn windows_in_features_out_bad_messages_dropped() {
    let config = StageConfig::random("encoder", "lite", 0).expect("config");
    let shape = [2, 1, 56, 50];
    let n: usize = shape.iter().product();
    let meta = |seq: u64| TensorMeta::new(&shape, DIMS).with_seq(seq);
    let mut events = Vec::new();
    for seq in 0..3u64 {
        let t = seq as f64 * 0.05;
        events.push(tensor_event(
            t,
            "window",
            &meta(seq),
            &values(n, seq as f32),
        ));
        if seq == 1 {
            events.push(tensor_event(t + 0.01, "window", &meta(9), &values(10, 0.0)));
            let mut nan = values(n, 0.5);
            nan[3] = f32::NAN;
            events.push(tensor_event(t + 0.02, "window", &meta(9), &nan));
            let other = TensorMeta::new(&[2, 1, 30, 50], DIMS);
            events.push(tensor_event(t + 0.03, "window", &other, &values(3000, 0.0)));
            events.push(tensor_event(
                t + 0.04,
                "features",
                &meta(9),
                &values(n, 0.0),
            ));
        }
    }
    let run = run_test("encoder", events, &mut stage(&config)).expect("run");
    let out = run.on("features");
    assert_eq!(out.len(), 3, "{:?}", run.report);
    for o in out {
        assert_eq!(o.data.len(), config.preset.encoder.feature_dim as usize);
        assert!(o.numbers().iter().all(|v| v.is_finite()));
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 3);
    assert_eq!(c.bad["window/shape"], 2, "{c:?}");
    assert_eq!(c.bad["window/values"], 1, "{c:?}");
    assert_eq!(c.unknown["features"], 1);
}
