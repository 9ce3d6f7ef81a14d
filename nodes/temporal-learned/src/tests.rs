//! The node's handler in dora's testing mode on a seeded random module: features in, refined
//! features out; a misshapen, a NaN, a wrongly sized and an unknown-id message, and the
//! harness's malformed sweep on `features` and on the pose inputs, dropped and counted.

use super::LearnedNode;
use temporal::{Tracking, POSE_INPUTS};
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, malformed_tensor_events, run_test,
    tensor_event,
};
use wdp_pose::{AssemblerConfig, Person, PoseAssembler, PoseFrame, SmootherConfig};
use wdp_stage::StageConfig;
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;

/// A frame of one person with dense maps.
fn pose_frame(seq: u64) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_room("lab");
    let mut f = PoseFrame::new(&base, vec![Person::from_box([20.0, 10.0, 60.0, 90.0, 0.9])]);
    f.parts = Some(Array3::from_elem((1, 4, 4), 1));
    f.uv = Some(Array4::from_elem((1, 2, 4, 4), 0.5));
    f
}

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
        // 100 ms apart: the malformed sweep (50-90 ms after its message) comes before the next.
        let t = seq as f64 * 0.1;
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
            events.extend(malformed_tensor_events(t, "features", &meta(seq), &values));
            events.extend(malformed_pose_events(t, &pose_frame(seq), "").expect("malformed"));
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
    // Beyond the sweep: the misshapen and the wrongly sized vector (shape), the NaN (values).
    assert_malformed_dropped(c, "features", [2, 1, 0, 0]);
    for id in POSE_INPUTS {
        assert_malformed_dropped(c, id, [0; 4]);
    }
    assert_eq!(c.unknown["window"], 1);
}
