//! The node's handler in dora's testing mode: pose frames with floor positions and CSI packets
//! of two rooms in, `room_state` on every tick and `events` once per change out; a misshapen,
//! a NaN and an unknown-id message, and the harness's malformed sweep on every pose input and
//! on `csi`, dropped and counted.

use crate::handler::{Config, RoomStateNode};
use serde_json::Value;
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, malformed_tensor_events, pose_events,
    run_test, tensor_event,
};
use wdp_pose::{AssemblerConfig, Person, PoseAssembler, PoseFrame};
use wdp_tensor::ndarray::{Array3, Array4};
use wdp_tensor::TensorMeta;

const FRAME_NS: i64 = 50_000_000;

fn frame(seq: u64, people: usize) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(seq as i64 * FRAME_NS)
        .with_room("lab");
    let people = (0..people)
        .map(|i| {
            let x = 10.0 + 50.0 * i as f32;
            let mut p = Person::from_box([x, 10.0, x + 30.0, 90.0, 0.9]);
            // The first walks at 0.4 m/s, the second stands.
            let walked = if i == 0 { 0.02 * seq as f32 } else { 0.0 };
            p.floor_m = Some([1.0 + 2.0 * i as f32, 2.0 + walked]);
            p
        })
        .collect();
    let mut f = PoseFrame::new(&base, people);
    f.image_wh = Some([128, 96]);
    f
}

fn tick(t_s: f64) -> Value {
    tensor_event(t_s, "tick", &TensorMeta::new::<&str>(&[1], []), &[0.0f32])
}

/// A 1x1 link of 8 subcarriers.
fn csi_meta(t_ns: i64) -> TensorMeta {
    TensorMeta::new(&[1, 1, 8, 2], wdp_csi::CSI_DIMS)
        .with_time_ns(t_ns)
        .with_room("hall")
        .with_link("esp32-0")
}

fn json_of(output: &wdp_node::testing::Output) -> Value {
    let text = output.data[0].as_str().expect("a UTF-8 element");
    serde_json::from_str(text).expect("one JSON object")
}

#[test]
fn states_on_ticks_events_once_bad_messages_dropped() {
    let mut events = Vec::new();
    let mut t = 0.0;
    // 6 s of the lab: empty for 2 s, then two people; a tick every 0.5 s of frames.
    for seq in 0..120u64 {
        let n = if seq < 40 { 0 } else { 2 };
        events.extend(pose_events(t, &frame(seq, n), "").expect("pose events"));
        if seq % 10 == 9 {
            events.push(tick(t + 0.0005));
        }
        if seq % 4 == 0 {
            // CSI of another room, its sensor still calibrating in these 6 s.
            let values: Vec<f32> = (0..16).map(|k| 1.0 + (k % 5) as f32).collect();
            events.push(tensor_event(
                t + 0.0002,
                "csi",
                &csi_meta(seq as i64 * FRAME_NS),
                &values,
            ));
        }
        if seq == 20 {
            // Broken copies of a frame of two people with dense maps on each pose input (the
            // node reads parts and uv when wired), and of a packet on `csi`.
            let mut f = frame(seq, 2);
            f.parts = Some(Array3::from_elem((2, 4, 4), 1));
            f.uv = Some(Array4::from_elem((2, 2, 4, 4), 0.5));
            events.extend(malformed_pose_events(t, &f, "").expect("malformed"));
            let values: Vec<f32> = (0..16).map(|k| 1.0 + (k % 5) as f32).collect();
            let meta = csi_meta(seq as i64 * FRAME_NS);
            events.extend(malformed_tensor_events(t, "csi", &meta, &values));
        }
        if seq == 50 {
            let mut nan = vec![1.0f32; 16];
            nan[3] = f32::NAN;
            events.push(tensor_event(t + 0.0003, "csi", &csi_meta(0), &nan));
            let wrong = TensorMeta::new(&[1, 1, 8, 2], ["antenna", "rx", "subcarrier", "iq"]);
            events.push(tensor_event(t + 0.0004, "csi", &wrong, &[1.0f32; 16]));
            events.push(tensor_event(t + 0.0006, "window", &wrong, &[1.0f32; 16]));
        }
        t += 0.001;
    }
    let assembler = PoseAssembler::new(AssemblerConfig {
        max_pending: 32,
        expect_parts: false,
        expect_uv: false,
    });
    let mut handler = RoomStateNode::new(Config::default(), assembler);
    let run = run_test("room-state", events, &mut handler).expect("run");
    let c = &run.report.counts;
    // Beyond the sweep: the NaN packet (values), the one of other dims names.
    assert_malformed_dropped(c, "csi", [0, 1, 0, 1]);
    for id in ["keypoints", "boxes", "parts", "uv"] {
        assert_malformed_dropped(c, id, [0; 4]);
    }
    assert_eq!(c.dropped(), 2 + 5 * 5, "{c:?}");
    assert_eq!(c.unknown["window"], 1);

    let states: Vec<Value> = run.on("room_state").iter().map(|o| json_of(o)).collect();
    assert!(run
        .on("room_state")
        .iter()
        .all(|o| o.data_type == "Utf8" && o.data.len() == 1));
    let lab: Vec<&Value> = states.iter().filter(|s| s["room"] == "lab").collect();
    let hall: Vec<&Value> = states.iter().filter(|s| s["room"] == "hall").collect();
    // Both rooms on each of the 12 ticks (the hall from its first packet on).
    assert_eq!(lab.len(), 12, "{states:?}");
    assert_eq!(hall.len(), 12);
    // The hall's sensor is calibrating: no source, no presence, no count.
    assert!(hall
        .iter()
        .all(|s| s["source"] == "none" && s["presence"] == false && s["people"].is_null()));
    // The lab: empty, then two people, each tracked at its floor position.
    assert_eq!(lab[0]["presence"], false);
    assert_eq!(lab[0]["people"], 0);
    let last = lab.last().expect("a state");
    assert_eq!(last["source"], "pose");
    assert_eq!(last["presence"], true);
    assert_eq!(last["people"], 2);
    let tracks = last["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 2);
    let mut tracks: Vec<(f64, bool)> = tracks
        .iter()
        .map(|t| (t["x_m"].as_f64().expect("x"), t["moving"] == true))
        .collect();
    tracks.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!((tracks[0].0 - 1.0).abs() < 0.05, "{tracks:?}");
    assert!((tracks[1].0 - 3.0).abs() < 0.05, "{tracks:?}");
    assert_eq!((tracks[0].1, tracks[1].1), (true, false));
    assert_eq!(last["motion"], true);
    assert!(last["presence_confidence"].as_f64().expect("confidence") > 0.9);
    // Every state carries the breathing rate: null here (no still signal window yet).
    assert!(states
        .iter()
        .all(|s| s.get("breathing_bpm").is_some_and(Value::is_null)));

    let sent: Vec<Value> = run.on("events").iter().map(|o| json_of(o)).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"], "entered");
    assert_eq!(sent[0]["room"], "lab");
    assert!(sent[0].get("track_id").is_none());
    // Entered 1-2 s after the people came (half the window, then the enter hold).
    let at = sent[0]["t_ns"].as_i64().expect("t_ns") - 40 * FRAME_NS;
    assert!((1_000_000_000..=2_000_000_000).contains(&at), "{at}");
}
