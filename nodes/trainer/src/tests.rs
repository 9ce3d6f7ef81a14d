//! The live trainer in dora's testing mode: windows and the simulator-style pose labels in (as
//! `dataflows/train-live.yml` wires them), a few optimiser steps on the smallest batch, one
//! `loss` message a step and the checkpoint out; a misshapen, a NaN, a wrong-shape and an
//! unknown-id message dropped and counted while the node keeps going. The phases' other ways
//! out (inputs ending before a batch, a stop before or during training) and the wiring checks.

use crate::config::Settings;
use crate::inputs::{Inputs, Labeller};
use crate::live::{LiveTrainer, Phase};
use crate::model::{metrics_path, run_options};
use serde_json::{json, Value};
use std::path::Path;
use wdp_node::testing::{
    assert_malformed_dropped, bad_tensor_events, malformed_pose_events, malformed_tensor_events,
    pose_events, run_test, tensor_event, TestRun,
};
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;
use wdp_train::live::WINDOW_DIMS;
use wdp_train::TrainConfig;

/// A small model input: 3 antenna pairs, 8 subcarriers, 16 samples.
const SHAPE: [usize; 4] = [2, 3, 8, 16];
const FRAME_NS: i64 = 50_000_000;
const INPUTS: [&str; 5] = [
    "window",
    "labels_keypoints",
    "labels_boxes",
    "labels_parts",
    "labels_uv",
];

fn settings(out: &Path, steps: usize) -> Settings {
    Settings {
        config: TrainConfig {
            batch_size: 2,
            steps,
            augment: None,
            ..TrainConfig::default()
        },
        out: out.to_path_buf(),
        datasets: vec![],
        target: vec![],
        init: None,
        resume: false,
        teacher: None,
        every: 1,
        buffer: 8,
        max_lag_ns: 100_000_000,
    }
}

fn t_ns(i: usize) -> i64 {
    1_000_000_000 + i as i64 * FRAME_NS
}

fn window_meta(i: usize) -> TensorMeta {
    TensorMeta::new(&SHAPE, WINDOW_DIMS)
        .with_seq(i as u64)
        .with_time_ns(t_ns(i))
        .with_room("lab")
}

fn window_values(i: usize) -> Vec<f32> {
    let n: usize = SHAPE.iter().product();
    (0..n).map(|k| ((k + i) % 7) as f32 * 0.1).collect()
}

/// The simulator's truth for frame `i`: one person, COCO visibility, maps over a 64x48 image.
fn truth(i: usize) -> PoseFrame {
    let meta = TensorMeta::default()
        .with_seq(i as u64)
        .with_time_ns(t_ns(i))
        .with_room("lab");
    let x = 10.0 + i as f32;
    let person = Person {
        keypoints: std::array::from_fn(|k| [x + (k % 4) as f32 * 3.0, 10.0 + k as f32, 2.0]),
        bbox: [x, 8.0, x + 20.0, 40.0, 1.0],
        track_id: None,
        floor_m: None,
    };
    let mut f = PoseFrame::new(&meta, vec![person]);
    f.keypoint_kind = KeypointKind::Visibility;
    f.image_wh = Some([64, 48]);
    f.region = Region::Image;
    let mut parts = Array3::<u8>::zeros((1, 48, 64));
    parts
        .slice_mut(wdp_tensor::ndarray::s![0, 8..40, 10..30])
        .fill(3);
    f.parts = Some(parts);
    f.uv = Some(Array4::from_elem((1, 2, 48, 64), 0.5));
    f
}

/// `frames` labelled frames as the dataflow sends them, 50 ms apart: each frame's window, then
/// its four pose messages; the bad messages 10-40 ms after the first window (once the model's
/// shape is known, before a batch is ready: the first frame is paired when the second window
/// comes).
fn live_events(frames: usize, with_bad: bool) -> Vec<Value> {
    let mut events = Vec::new();
    for i in 0..frames {
        let t = i as f64 * 0.05;
        events.push(tensor_event(
            t,
            "window",
            &window_meta(i),
            &window_values(i),
        ));
        if with_bad && i == 0 {
            let mut other = SHAPE;
            other[3] = 8;
            let other = TensorMeta::new(&other, WINDOW_DIMS).with_time_ns(t_ns(i));
            events.extend(bad_tensor_events(
                t,
                "window",
                &window_meta(i),
                &window_values(i),
                &other,
                "csi",
            ));
            events.extend(malformed_tensor_events(
                t,
                "window",
                &window_meta(i),
                &window_values(i),
            ));
            events.extend(malformed_pose_events(t, &truth(i), "labels_").expect("malformed"));
        }
        events.extend(pose_events(t + 0.001, &truth(i), "labels_").expect("pose messages"));
    }
    events
}

fn inputs() -> Inputs {
    Inputs::from_ids(INPUTS).expect("the wiring of train-live.yml")
}

/// What a live run did: its steps, whether it ended in its last phase, the frames it paired,
/// and what the harness gave.
struct Live {
    steps: usize,
    done: bool,
    paired: u64,
    run: eyre::Result<TestRun>,
}

/// Runs the live trainer on `events` with `settings`.
fn run_live(settings: &Settings, events: Vec<Value>) -> Live {
    let metrics = metrics_path(settings);
    let options = run_options(settings, &metrics);
    let mut trainer = LiveTrainer::new(settings, &options, inputs()).expect("trainer");
    let run = run_test("trainer", events, &mut trainer);
    Live {
        steps: trainer.steps,
        done: matches!(trainer.phase(), Phase::Done),
        paired: trainer.feed().pairing().paired,
        run,
    }
}

fn saved_step(out: &Path) -> u64 {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(out.with_extension("state.json")).expect("state file"),
    )
    .expect("state JSON");
    state["step"].as_u64().expect("step")
}

#[test]
fn live_frames_train_and_bad_messages_are_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("model/live.safetensors");
    let settings = settings(&out, 3);
    let mut events = live_events(6, true);
    events.push(json!({"time_offset_secs": 0.3, "type": "AllInputsClosed"}));
    let Live {
        steps,
        done,
        paired,
        run,
    } = run_live(&settings, events);
    let run = run.expect("run");
    assert!(done && steps == 3, "{steps} steps");
    assert!(paired >= 2, "{paired} frames paired");
    let losses = run.on("loss");
    assert_eq!(losses.len(), 3, "one loss a step");
    for l in &losses {
        assert_eq!(l.data_type, "Float32");
        let terms = l.numbers();
        assert_eq!(terms.len(), 11);
        assert!(
            terms.iter().all(|v| v.is_finite()) && terms[0] > 0.0,
            "{terms:?}"
        );
    }
    assert!(out.is_file(), "checkpoint written");
    assert_eq!(saved_step(&out), 3);
    assert!(metrics_path(&settings).is_file());
    let c = &run.report.counts;
    // The misshapen and NaN windows, then the malformed sweep on the window and the labels.
    assert_malformed_dropped(c, "window", [1, 1, 0, 0]);
    for label in ["keypoints", "boxes", "parts", "uv"] {
        assert_malformed_dropped(c, &format!("labels_{label}"), [0, 0, 0, 0]);
    }
    assert_eq!(
        c.bad["window/window"], 1,
        "another shape than the model's: {c:?}"
    );
    assert_eq!(c.unknown["csi"], 1);
    assert_eq!(c.failed, 0);
    assert!(c.handled >= 2 * 5, "{c:?}");
}

#[test]
fn a_stop_during_training_saves_the_steps_taken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("live.safetensors");
    let settings = settings(&out, 100_000);
    let mut events = live_events(3, false);
    events.push(json!({"time_offset_secs": 0.5, "type": "Stop"}));
    let Live {
        steps, done, run, ..
    } = run_live(&settings, events);
    let run = run.expect("run");
    assert!(done && (1..100_000).contains(&steps), "{steps} steps");
    assert_eq!(run.on("loss").len(), steps);
    assert_eq!(saved_step(&out), steps as u64);
}

#[test]
fn inputs_ending_before_a_batch_fail_and_a_stop_before_one_saves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("live.safetensors");
    let settings = settings(&out, 3);
    let Live { steps, run, .. } = run_live(&settings, live_events(1, false));
    let e = run.expect_err("one frame is no batch of 2");
    assert!(
        format!("{e:#}").contains("the inputs ended before a batch of 2 was ready"),
        "{e:#}"
    );
    assert_eq!(steps, 0);

    let mut events = live_events(1, false);
    events.push(json!({"time_offset_secs": 0.02, "type": "Stop"}));
    let Live {
        steps, done, run, ..
    } = run_live(&settings, events);
    let run = run.expect("a stop is no error");
    assert!(done && steps == 0);
    assert!(run.on("loss").is_empty());
    assert!(!out.exists(), "nothing saved");
}

#[test]
fn the_wiring_is_checked() {
    let i = inputs();
    assert!(i.any() && i.window && !i.target_window);
    assert_eq!(i.labeller, Labeller::Pose { uv: true });
    let teacher = Inputs::from_ids(["window", "labels", "teacher_features"]).expect("teacher");
    assert_eq!(teacher.labeller, Labeller::Teacher);
    assert!(!Inputs::from_ids([]).expect("shards").any());
    for (ids, says) in [
        (&["window", "labels", "labels_keypoints"][..], "both wired"),
        (
            &["window", "labels_keypoints", "labels_boxes"],
            "`labels_parts` is not wired",
        ),
        (&["labels"], "go together"),
        (&["window", "labels", "csi"], "`csi` is not an input"),
        (
            &["teacher_features", "target_window"],
            "wire `window` and labels",
        ),
    ] {
        let e = Inputs::from_ids(ids.iter().copied()).expect_err("refused");
        assert!(e.to_string().contains(says), "{ids:?}: {e}");
    }
}
