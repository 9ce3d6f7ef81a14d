//! The node's handler in dora's testing mode: pose frames in, tracked frames out; a
//! misshapen, a NaN and an unknown-id message, and the harness's malformed sweep on every pose
//! input, dropped and counted.

use serde_json::Value;
use temporal::{Tracking, TrackingNode, POSE_INPUTS};
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, pose_events, run_test, tensor_event,
};
use wdp_pose::{AssemblerConfig, Person, PoseAssembler, PoseFrame, SmootherConfig};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;

fn frame(seq: u64, x: f32) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(1_000_000_000 + seq as i64 * 50_000_000)
        .with_room("lab");
    let mut person = Person::from_box([x, 10.0, x + 40.0, 90.0, 0.9]);
    person.keypoints = std::array::from_fn(|k| [x + k as f32, 20.0 + k as f32, 0.8]);
    let mut f = PoseFrame::new(&base, vec![person]);
    f.image_wh = Some([128, 96]);
    f
}

#[test]
fn frames_tracked_bad_messages_dropped() {
    let mut events: Vec<Value> = Vec::new();
    for seq in 0..4u64 {
        let t = seq as f64 * 0.01;
        events.extend(pose_events(t, &frame(seq, 20.0 + seq as f32), "").expect("events"));
        if seq == 1 {
            // Misshapen keypoints (metadata says [1, 17, 3], 10 values), NaN boxes, and an
            // input this node does not read.
            let meta = TensorMeta::new(&[1, 17, 3], ["person", "keypoint", "value"]).with_seq(9);
            events.push(tensor_event(t + 0.001, "keypoints", &meta, &[1.0f32; 10]));
            let meta = TensorMeta::new(&[1, 5], ["person", "box"]).with_seq(9);
            events.push(tensor_event(t + 0.002, "boxes", &meta, &[f32::NAN; 5]));
            events.push(tensor_event(t + 0.003, "window", &meta, &[1.0f32; 5]));
        }
    }
    // Wired to keypoints and boxes only: frames do not wait for parts and uv.
    let assembler = PoseAssembler::new(AssemblerConfig {
        expect_parts: false,
        expect_uv: false,
        ..AssemblerConfig::default()
    });
    let mut handler = TrackingNode(Tracking::new(assembler, SmootherConfig::default()));
    let run = run_test("temporal", events, &mut handler).expect("run");
    let ids: Vec<&str> = run.outputs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["keypoints", "boxes"].repeat(4), "{ids:?}");
    for k in run.on("keypoints") {
        assert_eq!(k.data.len(), 17 * 3);
        assert!(k.numbers().iter().all(|v| v.is_finite()));
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 8);
    assert_eq!(c.bad["keypoints/shape"], 1, "{c:?}");
    assert_eq!(c.bad["boxes/values"], 1, "{c:?}");
    assert_eq!(c.unknown["window"], 1);
    assert_eq!(run.report.latency.count, 4);
}

/// A frame with dense maps over its box: parts `[1, 6, 8]`, uv `[1, 2, 6, 8]`.
fn dense_frame(seq: u64, x: f32) -> PoseFrame {
    let mut f = frame(seq, x);
    f.parts = Some(Array3::from_shape_fn((1, 6, 8), |(_, y, x)| {
        ((y + x) % 25) as u8
    }));
    f.uv = Some(Array4::from_shape_fn((1, 2, 6, 8), |(_, c, y, x)| {
        (c + y + x) as f32 / 16.0
    }));
    f
}

#[test]
fn malformed_messages_on_every_pose_input_are_dropped_and_counted() {
    let mut events: Vec<Value> = Vec::new();
    for seq in 0..4u64 {
        let t = seq as f64 * 0.1;
        let f = dense_frame(seq, 20.0 + seq as f32);
        events.extend(pose_events(t, &f, "").expect("events"));
        if seq == 1 {
            // Each input's broken copies of this frame's messages: empty, infinite (parts:
            // nulls), f64, shapeless, renamed dims.
            events.extend(malformed_pose_events(t, &f, "").expect("malformed"));
        }
    }
    let assembler = PoseAssembler::new(AssemblerConfig::default());
    let mut handler = TrackingNode(Tracking::new(assembler, SmootherConfig::default()));
    let run = run_test("temporal", events, &mut handler).expect("run");
    let ids: Vec<&str> = run.outputs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, POSE_INPUTS.repeat(4), "{ids:?}");
    for o in &run.outputs {
        assert!(o.numbers().iter().all(|v| v.is_finite()), "{}", o.id);
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 16, "{c:?}");
    assert_eq!(c.dropped(), 20, "{c:?}");
    for id in POSE_INPUTS {
        assert_malformed_dropped(c, id, [0; 4]);
    }
    assert_eq!(run.report.latency.count, 4);
}
