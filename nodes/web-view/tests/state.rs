//! The page's state built from inputs: rooms, people, frames/s, latency from the traces, the
//! floor plan, truth and room states, its JSON, and the handler on dora's testing mode (bad
//! messages dropped and counted, the node going on).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, malformed_tensor_events, pose_events,
    run_test, tensor_event, text_event,
};
use wdp_pose::{AssemblerConfig, Person, PoseAssembler, PoseFrame};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::{MetaValue, TensorMeta};
use web_view::{Board, WebView};

const MS: i64 = 1_000_000;

fn person(x: f32, track: Option<i64>, floor: Option<[f32; 2]>) -> Person {
    let mut p = Person::from_box([x, 10.0, x + 20.0, 80.0, 0.9]);
    for (i, k) in p.keypoints.iter_mut().enumerate() {
        *k = [x + i as f32, 10.0 + 4.0 * i as f32, 0.8];
    }
    p.track_id = track;
    p.floor_m = floor;
    p
}

fn frame(room: &str, seq: u64, people: Vec<Person>) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(seq as i64 * 50 * MS)
        .with_room(room)
        .with("model", MetaValue::Text("lite-floor".into()));
    let mut f = PoseFrame::new(&base, people);
    f.image_wh = Some([128, 96]);
    f
}

#[test]
fn a_frame_becomes_its_rooms_latest_with_people_and_metadata() {
    let mut board = Board::new();
    board.frame(
        &frame(
            "lab",
            7,
            vec![
                person(5.0, Some(3), Some([1.5, 2.0])),
                person(40.0, None, None),
            ],
        ),
        1_000 * MS,
    );
    let view = board.view();
    assert_eq!(view.frames, 1);
    let lab = &view.rooms["lab"];
    assert_eq!(lab.room, "lab");
    assert_eq!((lab.frames, lab.seq, lab.t_ns), (1, 7, 350 * MS));
    assert_eq!(lab.image_wh, [128.0, 96.0]);
    assert_eq!(lab.model.as_deref(), Some("lite-floor"));
    assert!(!lab.untrained);
    assert_eq!(lab.people.len(), 2);
    assert_eq!(lab.people[0].track_id, Some(3));
    assert_eq!(lab.people[0].floor_m, Some([1.5, 2.0]));
    assert_eq!(lab.people[0].keypoints.len(), 17);
    assert_eq!(lab.people[0].keypoints[2], [7.0, 18.0, 0.8]);
    assert_eq!(lab.people[1].bbox, [40.0, 10.0, 60.0, 80.0, 0.9]);
    assert_eq!(lab.people[1].track_id, None);
    assert_eq!(lab.fps, 0.0, "one frame gives no rate");

    // The JSON the browser gets.
    let v: Value = serde_json::to_value(&view).unwrap();
    assert_eq!(v["frames"], 1);
    assert_eq!(v["rooms"]["lab"]["people"][0]["track_id"], 3);
    assert_eq!(v["rooms"]["lab"]["people"][1]["track_id"], Value::Null);
    assert_eq!(v["rooms"]["lab"]["people"][0]["floor_m"], json!([1.5, 2.0]));
    assert_eq!(v["rooms"]["lab"]["truth_people"], Value::Null);
    assert_eq!(v["rooms"]["lab"]["room_state"], Value::Null);
    assert_eq!(v["rooms"]["lab"]["latency"]["end_to_end"], Value::Null);
}

#[test]
fn the_latest_frame_replaces_the_one_before_per_room() {
    let mut board = Board::new();
    board.frame(&frame("lab", 1, vec![person(5.0, None, None)]), 0);
    board.frame(&frame("", 1, vec![]), 10 * MS);
    board.frame(&frame("lab", 2, vec![]), 50 * MS);
    let view = board.view();
    assert_eq!(view.frames, 3);
    assert_eq!(view.rooms.len(), 2);
    assert_eq!(view.rooms["lab"].seq, 2);
    assert_eq!(view.rooms["lab"].frames, 2);
    assert!(view.rooms["lab"].people.is_empty());
    // No room metadata: `default`, as room-state names it.
    assert_eq!(view.rooms["default"].frames, 1);
}

#[test]
fn frames_per_second_over_the_last_two_seconds() {
    let mut board = Board::new();
    for i in 0..40 {
        board.frame(&frame("lab", i, vec![]), i as i64 * 50 * MS);
    }
    let fps = board.view().rooms["lab"].fps;
    assert!((fps - 20.0).abs() < 1e-9, "{fps}");
    // Slower now: 5 frames/s once the window holds only the slow ones.
    for i in 0..20 {
        board.frame(&frame("lab", 40 + i, vec![]), (2_000 + i as i64 * 200) * MS);
    }
    let fps = board.view().rooms["lab"].fps;
    assert!((fps - 5.0).abs() < 1e-9, "{fps}");
}

#[test]
fn latency_per_stage_and_end_to_end_from_the_trace() {
    let mut board = Board::new();
    for i in 0..5i64 {
        let t0 = 1_000 * MS + i * 50 * MS;
        let mut f = frame("lab", i as u64, vec![]);
        // preprocess 1 ms, encoder 2+i ms, densepose 10 ms; received 3 ms after the last.
        f.meta.push_trace("preprocess", t0, t0 + MS);
        f.meta.push_trace("encoder", t0 + 2 * MS, t0 + (4 + i) * MS);
        f.meta
            .push_trace("densepose", t0 + 5 * MS + i * MS, t0 + 15 * MS + i * MS);
        board.frame(&f, t0 + 18 * MS + i * MS);
    }
    let latency = &board.view().rooms["lab"].latency;
    let names: Vec<&str> = latency.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(names, ["preprocess", "encoder", "densepose"]);
    assert_eq!(latency.stages[0].timing.last_ms, 1.0);
    assert_eq!(latency.stages[1].timing.last_ms, 6.0);
    assert_eq!(latency.stages[1].timing.p50_ms, 4.0);
    assert_eq!(latency.stages[2].timing.p50_ms, 10.0);
    let e2e = latency.end_to_end.expect("end to end");
    assert_eq!(e2e.last_ms, 22.0);
    assert_eq!(e2e.p50_ms, 20.0);
    let v = serde_json::to_value(latency).unwrap();
    assert_eq!(
        v["stages"][1],
        json!({"stage": "encoder", "last_ms": 6.0, "p50_ms": 4.0})
    );
}

#[test]
fn the_floor_plan_grows_to_hold_every_position_seen() {
    let mut board = Board::new();
    board.frame(
        &frame("lab", 1, vec![person(5.0, None, Some([1.0, 2.0]))]),
        0,
    );
    assert_eq!(board.view().rooms["lab"].floor_extent_m, [4.0, 4.0]);
    board.frame(
        &frame("lab", 2, vec![person(5.0, None, Some([5.2, 3.0]))]),
        0,
    );
    assert_eq!(board.view().rooms["lab"].floor_extent_m, [6.0, 4.0]);
    // Truth and room-state tracks count too; an absurd position does not.
    board.truth("lab", 2, vec![[0.5, 6.5], [1e6, 1.0]]);
    board
        .room_state(
            r#"{"room": "lab", "tracks": [{"id": 1, "x_m": 7.5, "y_m": 0.2, "moving": true}]}"#,
            "",
        )
        .unwrap();
    let lab = &board.view().rooms["lab"];
    assert_eq!(lab.floor_extent_m, [8.0, 7.0]);
    assert_eq!(lab.truth_people, Some(2));
    assert_eq!(lab.truth_floor_m, vec![[0.5, 6.5], [1e6, 1.0]]);
}

#[test]
fn room_states_are_kept_per_room_and_bad_ones_refused() {
    let mut board = Board::new();
    let state = json!({"room": "kitchen", "t_ns": 5, "presence": true,
        "presence_confidence": 0.8, "motion": false, "people": 1, "tracks": [],
        "source": "pose", "breathing_bpm": null});
    assert_eq!(
        board.room_state(&state.to_string(), "other").unwrap(),
        "kitchen"
    );
    // The metadata's room when the object names none.
    assert_eq!(
        board.room_state(r#"{"presence": false}"#, "hall").unwrap(),
        "hall"
    );
    assert!(board.room_state("not json", "x").is_err());
    assert!(board.room_state("[1, 2]", "x").is_err());
    let view = board.view();
    assert_eq!(view.frames, 0, "room states are not pose frames");
    assert_eq!(view.rooms["kitchen"].room_state.as_ref(), Some(&state));
    assert_eq!(
        view.rooms["hall"].room_state.as_ref().unwrap()["presence"],
        false
    );
    assert!(!view.rooms.contains_key("x"));
}

#[test]
fn the_handler_takes_frames_truth_and_states_and_drops_bad_messages() {
    let mut events = Vec::new();
    for i in 0..3u64 {
        let f = frame("lab", i, vec![person(5.0, Some(1), Some([1.0, 1.0]))]);
        events.extend(pose_events(i as f64 * 0.05, &f, "").unwrap());
    }
    let truth = frame("lab", 0, vec![person(5.0, None, Some([2.0, 3.0])); 2]);
    let truth_boxes = pose_events(0.2, &truth, "").unwrap().remove(1);
    let mut truth_boxes = truth_boxes;
    truth_boxes["id"] = json!("truth");
    events.push(truth_boxes);
    events.push(text_event(
        0.21,
        "room_state",
        r#"{"room": "lab", "presence": true, "tracks": []}"#,
    ));
    // Bad: keypoints of the wrong shape, a room state that is not JSON, a number where a
    // room state should be, an unknown input.
    let bad_meta = TensorMeta::new(&[1, 17, 3], ["person", "keypoint", "xys"])
        .with_seq(9)
        .with_room("lab");
    events.push(tensor_event(0.22, "keypoints", &bad_meta, &[1.0f32; 10]));
    events.push(text_event(0.23, "room_state", "{oops"));
    let num_meta = TensorMeta::new(&[1], ["x"]);
    events.push(tensor_event(0.24, "room_state", &num_meta, &[1.0f32]));
    events.push(tensor_event(0.25, "camera", &num_meta, &[1.0f32]));
    // The malformed sweep at 0.2-0.24 s on each pose input (a frame with dense maps), on
    // `truth` and on `frame`; then a good camera picture.
    let mut dense = frame("lab", 2, vec![person(5.0, Some(1), Some([1.0, 1.0]))]);
    dense.parts = Some(Array3::from_elem((1, 4, 4), 1));
    dense.uv = Some(Array4::from_elem((1, 2, 4, 4), 0.5));
    events.extend(malformed_pose_events(0.15, &dense, "").unwrap());
    let boxes = dense.to_messages().unwrap().swap_remove(1);
    let boxes_values: Vec<f32> = match &boxes.data {
        wdp_pose::PoseArray::F32(b) => b.iter().copied().collect(),
        wdp_pose::PoseArray::U8(_) => panic!("f32 boxes"),
    };
    events.extend(malformed_tensor_events(
        0.15,
        "truth",
        &boxes.meta,
        &boxes_values,
    ));
    let picture = TensorMeta::new(&[4, 6, 3], ["height", "width", "channel"]).with_room("lab");
    let pixels: Vec<u8> = (0..4 * 6 * 3).map(|i| (i * 7 % 256) as u8).collect();
    events.extend(malformed_tensor_events(0.15, "frame", &picture, &pixels));
    events.push(tensor_event(0.26, "frame", &picture, &pixels));
    // A good frame after the bad ones: the node went on.
    let f = frame("lab", 3, vec![]);
    events.extend(pose_events(0.3, &f, "").unwrap());

    let assembler = PoseAssembler::new(AssemblerConfig {
        max_pending: 32,
        expect_parts: false,
        expect_uv: false,
    });
    let mut handler = WebView::new(assembler, None);
    let run = run_test("web-view", events, &mut handler).unwrap();
    let c = &run.report.counts;
    // Beyond the sweep: the keypoints of the wrong shape.
    assert_malformed_dropped(c, "keypoints", [1, 0, 0, 0]);
    for id in ["boxes", "parts", "uv", "truth", "frame"] {
        assert_malformed_dropped(c, id, [0; 4]);
    }
    assert_eq!(c.bad.get("room_state/json"), Some(&1), "{c:?}");
    assert_eq!(c.bad.get("room_state/data type"), Some(&1), "{c:?}");
    assert_eq!(c.unknown.get("camera"), Some(&1), "{c:?}");
    let view = handler.board().view();
    assert_eq!(view.frames, 4);
    let lab = &view.rooms["lab"];
    assert_eq!(lab.seq, 3);
    assert!(lab.people.is_empty());
    assert_eq!(lab.truth_people, Some(2));
    assert_eq!(lab.truth_floor_m, vec![[2.0, 3.0], [2.0, 3.0]]);
    assert_eq!(lab.room_state.as_ref().unwrap()["presence"], true);
    assert_eq!(lab.camera.unwrap().size, [6, 4]);
}

/// Camera frames `[H, W, 3]` become the room's camera on the page, at most one per interval
/// (the others skipped, not queued); a frame of the wrong dims is dropped and counted.
/// (`tests/server.rs` serves a published frame; `tests/browser.rs` draws them in Chromium.)
#[test]
fn camera_frames_are_taken_once_per_interval_and_bad_ones_dropped() {
    let (h, w) = (4usize, 6usize);
    let meta = TensorMeta::new(&[h, w, 3], ["height", "width", "channel"]).with_room("lab");
    let pixels: Vec<u8> = (0..h * w * 3).map(|i| (i * 7 % 256) as u8).collect();
    let flat = TensorMeta::new(&[h * w * 3], ["x"]).with_room("lab");
    let events = vec![
        tensor_event(0.00, "frame", &meta, &pixels),
        // Within the interval of the first: skipped.
        tensor_event(0.01, "frame", &meta, &pixels),
        tensor_event(0.02, "frame", &flat, &pixels),
    ];
    let assembler = PoseAssembler::new(AssemblerConfig {
        max_pending: 32,
        expect_parts: false,
        expect_uv: false,
    });
    let mut handler =
        WebView::new(assembler, None).with_frame_interval(std::time::Duration::from_secs(3600));
    let run = run_test("web-view", events, &mut handler).unwrap();
    let c = &run.report.counts;
    assert_eq!(c.bad.values().sum::<u64>(), 1, "{c:?}");
    assert!(c.bad.keys().all(|k| k.starts_with("frame/")), "{c:?}");
    let camera = handler.board().view().rooms["lab"].camera.unwrap();
    assert_eq!((camera.frames, camera.size), (1, [w, h]));
}
