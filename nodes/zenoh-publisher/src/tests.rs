//! The handler in dora's testing mode, publishing through a real zenoh session on loopback to
//! a subscriber session of this test: every key and payload, a DELETE when a track ends, and
//! malformed messages dropped and counted by field while the good ones around them go out.
//! The Python subscriber (eclipse-zenoh) against the real dataflow is nodes/mqtt-sink's
//! tests/home.rs.

#![allow(clippy::unwrap_used)]

use super::{Config, Counts, ZenohPublisher};
use crate::keys::Keys;
use crate::session::{loopback, Settings};
use arrow_ipc::reader::StreamReader;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, pose_events, run_test, text_event,
};
use wdp_pose::{AssemblerConfig, Person, PoseAssembler, PoseFrame};
use wdp_tensor::TensorMeta;
use zenoh::sample::SampleKind;
use zenoh::Wait;

fn state(t_ns: i64, tracks: &[u64]) -> String {
    let tracks: Vec<Value> = tracks
        .iter()
        .map(|&id| json!({"id": id, "x_m": 1.0 + id as f64, "y_m": 2.0, "moving": false}))
        .collect();
    json!({"room": "Living Room", "t_ns": t_ns, "presence": true, "presence_confidence": 0.9,
           "motion": false, "people": tracks.len(), "tracks": tracks, "source": "both",
           "breathing_bpm": null})
    .to_string()
}

fn frame(seq: u64) -> PoseFrame {
    let mut p = Person::from_box([10.0, 20.0, 30.0, 60.0, 0.9]);
    p.track_id = Some(1);
    p.floor_m = Some([2.0, 2.0]);
    let meta = TensorMeta::default()
        .with_time_ns(seq as i64 * 50_000_000)
        .with_seq(seq)
        .with_room("Living Room".to_owned());
    let mut f = PoseFrame::new(&meta, vec![p]);
    f.image_wh = Some([128, 96]);
    f
}

/// One received sample: key, kind, encoding, payload.
type Got = (String, SampleKind, String, Vec<u8>);

#[test]
fn states_people_events_and_poses_reach_a_subscriber() {
    let keys = Keys::new("wdp-test", "handler").unwrap();
    let (mut publisher, subscriber_session) = loopback(&keys);
    let subscriber = subscriber_session
        .declare_subscriber(keys.all())
        .wait()
        .unwrap();
    // Wait until the subscription has reached the publisher: a probe put arrives.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        publisher.put(
            "wdp-test/handler/probe",
            b"1".to_vec(),
            zenoh::bytes::Encoding::TEXT_PLAIN,
        );
        if subscriber
            .recv_timeout(Duration::from_millis(100))
            .ok()
            .flatten()
            .is_some()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the subscriber never connected");
    }
    while let Ok(Some(_)) = subscriber.try_recv() {}

    let mut events = vec![
        text_event(0.0, "room_state", &state(1, &[3, 4])),
        text_event(0.01, "room_state", &state(2, &[4])),
        text_event(
            0.02,
            "events",
            &json!({"room": "Living Room", "t_ns": 2, "event": "fall", "track_id": 4}).to_string(),
        ),
        // Malformed JSON messages: not JSON, a field of the wrong type, not one string.
        text_event(0.03, "room_state", "{not json"),
        text_event(
            0.031,
            "room_state",
            r#"{"room":"x","t_ns":1,"presence":"yes"}"#,
        ),
        text_event(0.032, "events", r#"{"room":"x","t_ns":1,"event":"dance"}"#),
    ];
    for seq in 0..3 {
        events.extend(pose_events(0.05 + seq as f64 * 0.05, &frame(seq), "").unwrap());
    }
    events.extend(malformed_pose_events(0.3, &frame(9), "").unwrap());
    events.extend(pose_events(0.5, &frame(3), "").unwrap());

    let mut handler = ZenohPublisher {
        publisher: Some(publisher),
        config: Config {
            keys: keys.clone(),
            frame_prefix: String::new(),
            json: true,
            arrow: true,
            ros2_prefix: None,
            settings: Settings::default(),
        },
        assembler: PoseAssembler::new(AssemblerConfig {
            max_pending: 32,
            expect_parts: false,
            expect_uv: false,
        }),
        tracks: BTreeMap::new(),
        counts: Counts::default(),
    };
    let run = run_test("zenoh-publisher", events, &mut handler).unwrap();
    let c = &run.report.counts;
    assert_eq!(c.bad.get("room_state/json"), Some(&2), "{c:?}");
    assert_eq!(c.bad.get("events/json"), Some(&1), "{c:?}");
    assert_malformed_dropped(c, "keypoints", [0; 4]);
    assert_malformed_dropped(c, "boxes", [0; 4]);
    assert_eq!(handler.counts.states, 2);
    assert_eq!(handler.counts.people, 3);
    assert_eq!(handler.counts.tracks_ended, 1);
    assert_eq!(handler.counts.events, 1);
    assert_eq!(handler.counts.poses, 4);

    // 2 states + 3 people + 1 delete + 1 event + 4 poses in 2 encodings.
    let mut got: Vec<Got> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < 15 && Instant::now() < deadline {
        if let Ok(Some(s)) = subscriber.recv_timeout(Duration::from_millis(200)) {
            got.push((
                s.key_expr().to_string(),
                s.kind(),
                s.encoding().to_string(),
                s.payload().to_bytes().into_owned(),
            ));
        }
    }
    let on = |key: &str| -> Vec<&Got> { got.iter().filter(|g| g.0 == key).collect() };
    let base = "wdp-test/handler/Living_Room";
    let states = on(&format!("{base}/state"));
    assert_eq!(states.len(), 2, "{got:?}");
    let s: Value = serde_json::from_slice(&states[1].3).unwrap();
    assert_eq!(s["frame_id"], "living_room");
    assert_eq!(s["tracks"][0]["id"], 4);
    assert_eq!(states[1].2, "application/json");
    let three = on(&format!("{base}/people/3"));
    assert_eq!(three.len(), 2, "a put, then the delete: {got:?}");
    assert_eq!(three[1].1, SampleKind::Delete);
    let four = on(&format!("{base}/people/4"));
    assert_eq!(four.len(), 2);
    let p: Value = serde_json::from_slice(&four[1].3).unwrap();
    assert_eq!(
        p,
        json!({"room": "Living Room", "t_ns": 2, "track_id": 4, "x_m": 5.0,
                         "y_m": 2.0, "moving": false, "frame_id": "living_room"})
    );
    let fall: Value = serde_json::from_slice(&on(&format!("{base}/event"))[0].3).unwrap();
    assert_eq!(fall["event"], "fall");
    let poses = on(&format!("{base}/pose"));
    let seqs: Vec<u64> = poses
        .iter()
        .map(|g| {
            serde_json::from_slice::<Value>(&g.3).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3], "the malformed frame 9 never went out");
    let arrows = on(&format!("{base}/pose/arrow"));
    assert_eq!(arrows.len(), 4);
    assert_eq!(arrows[0].2, "application/vnd.apache.arrow.stream");
    let mut reader =
        StreamReader::try_new(std::io::Cursor::new(arrows[3].3.clone()), None).unwrap();
    assert_eq!(reader.schema().metadata()["seq"], "3");
    assert_eq!(reader.next().unwrap().unwrap().num_rows(), 1);
    // The stop summary counted it all; the session is closed.
    assert!(handler.publisher.is_none());
    subscriber_session.close().wait().unwrap();
}
