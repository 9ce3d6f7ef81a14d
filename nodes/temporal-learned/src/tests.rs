//! The node's handler in dora's testing mode on a seeded random module: features in, refined
//! features out; a misshapen, a NaN, a wrongly sized and an unknown-id message dropped and
//! counted.

use super::LearnedNode;
use temporal::Tracking;
use wdp_node::testing::{run_test, tensor_event};
use wdp_pose::{AssemblerConfig, PoseAssembler, SmootherConfig};
use wdp_stage::StageConfig;
use wdp_tensor::TensorMeta;

#[test]
fn features_refined_bad_messages_dropped() {
    let config = StageConfig::random("temporal", "lite", 0).expect("config");
    let f = config.preset.encoder.feature_dim as usize;
    let meta = |seq: u64| {
        TensorMeta::new(&[f], ["feature"])
            .with_seq(seq)
            .with_room("lab")
    };
    let mut events = Vec::new();
    for seq in 0..5u64 {
        let t = seq as f64 * 0.01;
        let values: Vec<f32> = (0..f)
            .map(|i| ((i as f32 + seq as f32) * 0.1).sin())
            .collect();
        events.push(tensor_event(t, "features", &meta(seq), &values));
        if seq == 2 {
            events.push(tensor_event(
                t + 0.001,
                "features",
                &meta(9),
                &values[..100],
            ));
            let mut nan = values.clone();
            nan[7] = f32::NAN;
            events.push(tensor_event(t + 0.002, "features", &meta(9), &nan));
            let short = TensorMeta::new(&[16], ["feature"]);
            events.push(tensor_event(t + 0.003, "features", &short, &values[..16]));
            events.push(tensor_event(t + 0.004, "window", &meta(9), &values));
        }
    }
    let tracking = Tracking::new(
        PoseAssembler::new(AssemblerConfig::default()),
        SmootherConfig::default(),
    );
    let mut handler = LearnedNode::new(&config, 8, tracking);
    let run = run_test("temporal", events, &mut handler).expect("run");
    let out = run.on("features");
    assert_eq!(out.len(), 5);
    for o in out {
        assert_eq!(o.data.len(), f);
        assert!(o.numbers().iter().all(|v| v.is_finite()));
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 5);
    assert_eq!(c.bad["features/shape"], 2, "{c:?}");
    assert_eq!(c.bad["features/values"], 1, "{c:?}");
    assert_eq!(c.unknown["window"], 1);
}
