//! The node's handler in dora's testing mode on a seeded random `lite` encoder: windows in,
//! feature vectors out; a misshapen, a NaN, an other-dims and an unknown-id message dropped
//! and counted.

use super::stage;
use wdp_node::testing::{
    assert_malformed_dropped, bad_tensor_events, malformed_tensor_events, run_test, tensor_event,
};
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
            let other = TensorMeta::new(&[2, 1, 30, 50], DIMS);
            let good = values(n, 0.5);
            events.extend(bad_tensor_events(
                t,
                "window",
                &meta(9),
                &good,
                &other,
                "features",
            ));
            events.extend(malformed_tensor_events(t, "window", &meta(9), &good));
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
    assert_malformed_dropped(c, "window", [2, 1, 0, 0]);
    assert_eq!(c.unknown["features"], 1);
}
