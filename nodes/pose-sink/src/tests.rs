//! The node's handler in dora's testing mode: pose frames in, poses.jsonl, PNGs and
//! latency.json written; a misshapen, a NaN and an unknown-id message, and the harness's
//! malformed sweep on every input, dropped and counted.

use super::PoseSink;
use crate::sink::{Config, Sink};
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, malformed_tensor_events, pose_events,
    run_test, tensor_event,
};
use wdp_pose::{AssemblerConfig, DenseStyle, Person, PoseArray, PoseAssembler, PoseFrame};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;

fn frame(seq: u64) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(1_000_000_000 + seq as i64 * 50_000_000)
        .with_room("lab");
    let x = 20.0 + seq as f32;
    let mut person = Person::from_box([x, 10.0, x + 40.0, 90.0, 0.9]);
    person.keypoints = std::array::from_fn(|k| [x + k as f32, 20.0 + k as f32, 0.8]);
    let mut f = PoseFrame::new(&base, vec![person]);
    f.image_wh = Some([128, 96]);
    f
}

/// The node's handler writing as `config` says, for frames without dense maps.
fn handler(config: Config) -> PoseSink {
    PoseSink {
        sink: Some(Sink::create(config).expect("sink")),
        assembler: PoseAssembler::new(AssemblerConfig {
            max_pending: 32,
            expect_parts: false,
            expect_uv: false,
        }),
    }
}

#[test]
fn frames_written_bad_messages_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        out_dir: dir.path().join("poses"),
        png_every: 2,
        gif_frames: 0,
        dense: DenseStyle::Parts,
    };
    let mut events = Vec::new();
    for seq in 0..3u64 {
        let t = seq as f64 * 0.01;
        events.extend(pose_events(t, &frame(seq), "").expect("events"));
        if seq == 0 {
            let meta = TensorMeta::new(&[1, 17, 3], ["person", "keypoint", "score"]).with_seq(7);
            events.push(tensor_event(t + 0.001, "keypoints", &meta, &[1.0f32; 20]));
            let meta = TensorMeta::new(&[1, 5], ["person", "box"]).with_seq(7);
            events.push(tensor_event(t + 0.002, "boxes", &meta, &[f32::NAN; 5]));
            events.push(tensor_event(t + 0.003, "features", &meta, &[1.0f32; 5]));
        }
    }
    let mut handler = handler(config);
    let run = run_test("pose-sink", events, &mut handler).expect("run");
    assert!(run.outputs.is_empty());
    let c = &run.report.counts;
    assert_eq!(c.handled, 6);
    assert_eq!(c.bad["keypoints/shape"], 1, "{c:?}");
    assert_eq!(c.bad["boxes/values"], 1, "{c:?}");
    assert_eq!(c.unknown["features"], 1);
    let out = dir.path().join("poses");
    let lines = std::fs::read_to_string(out.join("poses.jsonl")).expect("jsonl");
    assert_eq!(lines.lines().count(), 3);
    let pngs = std::fs::read_dir(out.join("png")).expect("png").count();
    assert_eq!(pngs, 2);
    let latency: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("latency.json")).expect("json"))
            .expect("latency JSON");
    assert_eq!(latency["frames"], 3);
    let keypoints = wdp_record::read_dir(out.join("arrow").join("keypoints")).expect("arrow");
    assert_eq!(keypoints.len(), 3);
}

/// The truth's floor positions are read (not an unknown input), a bad truth message is
/// dropped and counted, and the poses' own floor positions reach poses.jsonl.
#[test]
fn truth_floor_positions_are_read_and_poses_keep_theirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        out_dir: dir.path().join("poses"),
        png_every: 1,
        gif_frames: 2,
        dense: DenseStyle::Parts,
    };
    let mut truth = frame(0);
    truth.people[0].floor_m = Some([2.0, 1.5]);
    let mut events: Vec<_> = pose_events(0.0, &truth, "")
        .expect("events")
        .into_iter()
        .filter(|e| e["id"] == "boxes")
        .map(|mut e| {
            e["id"] = "truth".into();
            e
        })
        .collect();
    assert_eq!(events.len(), 1);
    // A truth whose floor list does not match its people: dropped, named.
    let bad = TensorMeta::new(&[1, 5], ["person", "box"])
        .with_seq(1)
        .with("floor_m", wdp_tensor::MetaValue::Floats(vec![1.0]));
    events.push(tensor_event(0.005, "truth", &bad, &[1.0f32; 5]));
    let mut predicted = frame(1);
    predicted.people[0].floor_m = Some([2.2, 1.4]);
    events.extend(pose_events(0.01, &predicted, "").expect("events"));
    let mut handler = handler(config);
    let run = run_test("pose-sink", events, &mut handler).expect("run");
    let c = &run.report.counts;
    assert!(c.unknown.is_empty(), "{c:?}");
    assert_eq!(c.bad.values().sum::<u64>(), 1, "{c:?}");
    let out = dir.path().join("poses");
    let line = std::fs::read_to_string(out.join("poses.jsonl")).expect("jsonl");
    let first: serde_json::Value =
        serde_json::from_str(line.lines().next().expect("a line")).expect("JSON");
    let x = first["people"][0]["floor_m"][0].as_f64().expect("floor_m");
    assert!((x - 2.2).abs() < 1e-6, "{first}");
    assert_eq!(std::fs::read_dir(out.join("png")).expect("png").count(), 1);
}

/// A camera picture `[h, w, 3]` on `frame`, and its metadata.
fn picture(t_s: f64, h: usize, w: usize) -> (serde_json::Value, TensorMeta, Vec<u8>) {
    let meta = TensorMeta::new(&[h, w, 3], ["height", "width", "channel"]);
    let values: Vec<u8> = (0..h * w * 3).map(|i| (i % 200) as u8).collect();
    (tensor_event(t_s, "frame", &meta, &values), meta, values)
}

/// Width and height of a PNG file (its IHDR chunk).
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("png");
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

#[test]
fn malformed_messages_on_every_input_are_dropped_and_the_next_good_ones_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        out_dir: dir.path().join("poses"),
        png_every: 1,
        gif_frames: 0,
        dense: DenseStyle::Parts,
    };
    let mut events = Vec::new();
    for seq in 0..4u64 {
        let t = seq as f64 * 0.1;
        if seq == 0 {
            events.push(picture(t, 48, 64).0);
        }
        let mut f = frame(seq);
        f.parts = Some(Array3::from_elem((1, 6, 8), 3));
        f.uv = Some(Array4::from_elem((1, 2, 6, 8), 0.5));
        events.extend(pose_events(t, &f, "").expect("events"));
        if seq == 1 {
            // Broken copies of this frame's messages on each pose input, of the picture on
            // `frame` (nulls for its storm) and of the boxes on `truth`; then a smaller picture
            // the later overlays are drawn on.
            events.extend(malformed_pose_events(t, &f, "").expect("malformed"));
            let (_, meta, values) = picture(t, 48, 64);
            events.extend(malformed_tensor_events(t, "frame", &meta, &values));
            let boxes = f.to_messages().expect("messages").swap_remove(1);
            let PoseArray::F32(b) = &boxes.data else {
                panic!("f32 boxes");
            };
            let b: Vec<f32> = b.iter().copied().collect();
            events.extend(malformed_tensor_events(t, "truth", &boxes.meta, &b));
            events.push(tensor_event(t + 0.095, "truth", &boxes.meta, &b));
            events.push(picture(t + 0.095, 24, 32).0);
        }
    }
    let mut handler = PoseSink {
        sink: Some(Sink::create(config).expect("sink")),
        assembler: PoseAssembler::new(AssemblerConfig {
            max_pending: 32,
            expect_parts: true,
            expect_uv: true,
        }),
    };
    let run = run_test("pose-sink", events, &mut handler).expect("run");
    let c = &run.report.counts;
    // 4 frames of 4 messages, 2 pictures, 1 truth.
    assert_eq!(c.handled, 19, "{c:?}");
    assert_eq!(c.dropped(), 30, "{c:?}");
    for id in ["keypoints", "boxes", "parts", "uv", "frame", "truth"] {
        assert_malformed_dropped(c, id, [0; 4]);
    }
    let out = dir.path().join("poses");
    let lines = std::fs::read_to_string(out.join("poses.jsonl")).expect("jsonl");
    assert_eq!(lines.lines().count(), 4);
    let sizes: Vec<(u32, u32)> = (0..4)
        .map(|seq| png_size(&out.join("png").join(format!("frame-{seq:06}.png"))))
        .collect();
    assert_eq!(sizes, [(64, 48), (64, 48), (32, 24), (32, 24)]);
    for output in ["keypoints", "boxes", "parts", "uv"] {
        let recorded = wdp_record::read_dir(out.join("arrow").join(output)).expect("arrow");
        assert_eq!(recorded.len(), 4, "{output}");
    }
}
