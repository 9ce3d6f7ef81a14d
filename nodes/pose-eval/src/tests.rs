//! The node's handler in dora's testing mode: truth and predicted frames in, each prediction
//! scored against the truth nearest in time, the report written; a misshapen, a NaN and an
//! unknown-id message, and the harness's malformed sweep on all eight inputs, dropped and
//! counted.

use crate::eval::PoseEval;
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, pose_events, run_test, tensor_event,
};
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;

const W: usize = 64;
const H: usize = 48;

fn person(x: f32, v: f32) -> Person {
    let mut p = Person::from_box([x, 8.0, x + 16.0, 40.0, 0.9]);
    p.keypoints = std::array::from_fn(|k| [x + (k % 4) as f32 * 4.0, 10.0 + k as f32, v]);
    p
}

fn base(seq: u64, t_ns: i64) -> TensorMeta {
    TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(t_ns)
        .with_room("lab")
}

fn truth(seq: u64, t_ns: i64) -> PoseFrame {
    let mut f = PoseFrame::new(&base(seq, t_ns), vec![person(20.0, 2.0)]);
    f.keypoint_kind = KeypointKind::Visibility;
    f.image_wh = Some([W, H]);
    f.region = Region::Image;
    let mut parts = Array3::<u8>::zeros((1, H, W));
    parts
        .slice_mut(wdp_tensor::ndarray::s![0, 8..40, 20..36])
        .fill(2);
    f.parts = Some(parts);
    f.uv = Some(Array4::from_elem((1, 2, H, W), 0.5));
    f
}

fn predicted(seq: u64, t_ns: i64) -> PoseFrame {
    let mut f = PoseFrame::new(&base(seq, t_ns), vec![person(21.0, 0.9)]);
    f.keypoint_kind = KeypointKind::Score;
    f.image_wh = Some([W, H]);
    f.region = Region::Box;
    f.parts = Some(Array3::from_elem((1, 8, 8), 2));
    f.uv = Some(Array4::from_elem((1, 2, 8, 8), 0.5));
    f
}

#[test]
fn predictions_scored_bad_messages_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut events = Vec::new();
    for seq in 0..3u64 {
        let t = seq as f64 * 0.05;
        let t_ns = 1_000_000_000 + seq as i64 * 50_000_000;
        events.extend(pose_events(t, &truth(seq, t_ns), "truth_").expect("truth"));
        // 5 ms after the truth: within the 30 ms tolerance.
        events.extend(pose_events(t + 0.01, &predicted(seq, t_ns + 5_000_000), "").expect("pred"));
        if seq == 1 {
            let meta = TensorMeta::new(&[1, 17, 3], ["person", "keypoint", "score"]).with_seq(8);
            events.push(tensor_event(t + 0.02, "keypoints", &meta, &[1.0f32; 50]));
            let meta = TensorMeta::new(&[1, 5], ["person", "box"]).with_seq(8);
            events.push(tensor_event(t + 0.03, "truth_boxes", &meta, &[f32::NAN; 5]));
            events.push(tensor_event(t + 0.04, "window", &meta, &[1.0f32; 5]));
            // Broken copies of this moment's messages on each input, truth and prediction.
            events.extend(malformed_pose_events(t, &truth(seq, t_ns), "truth_").expect("truth"));
            let p = predicted(seq, t_ns + 5_000_000);
            events.extend(malformed_pose_events(t + 0.01, &p, "").expect("pred"));
        }
    }
    // A prediction with no truth near it.
    events.extend(pose_events(0.3, &predicted(9, 9_000_000_000), "").expect("pred"));
    let out = dir.path().join("eval");
    let mut handler = PoseEval::new(out.clone(), "Test".into(), 30_000_000).expect("eval");
    let run = run_test("pose-eval", events, &mut handler).expect("run");
    assert!(run.outputs.is_empty());
    assert_eq!((handler.scored, handler.unmatched), (3, 1));
    let c = &run.report.counts;
    assert_eq!(c.handled, 28);
    // Beyond the sweep: the misshapen keypoints (shape), the NaN truth boxes (values).
    for (id, already) in [
        ("keypoints", [1, 0, 0, 0]),
        ("boxes", [0; 4]),
        ("parts", [0; 4]),
        ("uv", [0; 4]),
        ("truth_keypoints", [0; 4]),
        ("truth_boxes", [0, 1, 0, 0]),
        ("truth_parts", [0; 4]),
        ("truth_uv", [0; 4]),
    ] {
        assert_malformed_dropped(c, id, already);
    }
    assert_eq!(c.dropped(), 2 + 8 * 5, "{c:?}");
    assert_eq!(c.unknown["window"], 1);
    assert!(out.join("report.md").is_file());
}
