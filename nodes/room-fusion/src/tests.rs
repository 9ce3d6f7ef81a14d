//! The fusion on made-up rooms (handover through doors, both orders of track end and start,
//! door positions, the window, health, occupancy), and the node's handler in dora's testing
//! mode (states on ticks, malformed messages dropped while the node keeps going).

#![allow(clippy::unwrap_used)]

use crate::fusion::{BuildingEvent, Fusion, FusionConfig, Health};
use crate::handler::{Config, RoomFusionNode};
use serde_json::Value;
use wdp_building::BuildingPlan;
use wdp_node::testing::{
    assert_malformed_dropped, malformed_pose_events, pose_events, run_test, tensor_event,
};
use wdp_pose::{Person, PoseFrame};
use wdp_room::{PoseObservation, RoomConfig};
use wdp_tensor::TensorMeta;

const FRAME_NS: i64 = 50_000_000;
const S: i64 = 1_000_000_000;
/// Wall clock of the tests' start (any value: only differences matter).
const T0: i64 = 1_700_000_000 * S;

/// Hall - kitchen share a door at the hall's east wall / the kitchen's west wall; the
/// bedroom opens on the hall only.
const PLAN: &str = r#"
name: flat
rooms: [{name: hall}, {name: kitchen}, {name: bedroom}]
doors:
  - rooms: [hall, kitchen]
    at: {hall: [5.0, 2.0], kitchen: [0.0, 2.0]}
  - rooms: [hall, bedroom]
"#;

fn fusion() -> Fusion {
    Fusion::new(
        BuildingPlan::from_yaml_str(PLAN).unwrap(),
        FusionConfig::default(),
        RoomConfig::default(),
    )
    .unwrap()
}

fn person(xy: [f32; 2]) -> PoseObservation {
    PoseObservation {
        score: 0.9,
        floor_m: Some(xy),
        ..Default::default()
    }
}

/// The building's frames over `[from, to)` wall ns: every room sends a frame every 50 ms
/// (capture clocks of their own: each room's starts at a different value), with the people
/// `who(room, t)` gives; `silent` rooms send nothing. Returns the events and ticks every 0.5 s.
fn run(
    f: &mut Fusion,
    from: i64,
    to: i64,
    silent: &[&str],
    who: impl Fn(&str, i64) -> Vec<[f32; 2]>,
) -> Vec<BuildingEvent> {
    let mut events = Vec::new();
    let mut t = from;
    while t < to {
        for (k, room) in ["hall", "kitchen", "bedroom"].into_iter().enumerate() {
            if silent.contains(&room) {
                continue;
            }
            let people: Vec<PoseObservation> = who(room, t).into_iter().map(person).collect();
            let capture = (t - T0) + (k as i64) * 1_000 * S;
            events.extend(f.push_frame(room, capture, &people, t).unwrap());
        }
        if (t - T0) % (S / 2) == 0 {
            events.extend(f.advance(t));
        }
        t += FRAME_NS;
    }
    events
}

fn lerp(a: [f32; 2], b: [f32; 2], u: f64) -> [f32; 2] {
    let u = u.clamp(0.0, 1.0) as f32;
    [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u]
}

fn handovers(events: &[BuildingEvent]) -> Vec<(u64, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildingEvent::Handover {
                building_id,
                from,
                to,
                ..
            } => Some((*building_id, from.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

fn ids_in(f: &Fusion, room: &str, t: i64) -> Vec<u64> {
    let state = f.state(t);
    let r = state.rooms.iter().find(|r| r.room == room).unwrap();
    r.tracks.iter().map(|p| p.building_id).collect()
}

/// A person walks across the hall to its kitchen door (5 s), is unseen for `gap_s` while
/// passing it, then walks into the kitchen; somebody else sits in the bedroom all along.
fn walk_to_kitchen(
    f: &mut Fusion,
    gap_s: f64,
    kitchen_start: [f32; 2],
) -> (Vec<BuildingEvent>, i64) {
    let gap = (gap_s * 1e9) as i64;
    let leave = T0 + 5 * S;
    let enter = leave + gap;
    let end = enter + 5 * S;
    let events = run(f, T0, end, &[], |room, t| match room {
        "hall" if t < leave => vec![lerp(
            [1.0, 2.0],
            [4.8, 2.0],
            (t - T0) as f64 / (5 * S) as f64,
        )],
        "kitchen" if t >= enter => {
            vec![lerp(
                kitchen_start,
                [3.0, 2.0],
                (t - enter) as f64 / (5 * S) as f64,
            )]
        }
        "bedroom" => vec![[2.0, 1.0]],
        _ => vec![],
    });
    (events, end)
}

#[test]
fn a_person_keeps_their_id_through_a_door_before_their_old_track_ends() {
    let mut f = fusion();
    // Unseen for 0.2 s: the kitchen confirms the new track before the hall's track ends
    // (the tracker holds a lost track for 1.5 s), so the hall's departure claims the arrival.
    let mut first_id = None;
    let leave = T0 + 5 * S;
    run(&mut f, T0, leave, &[], |room, t| match room {
        "hall" => vec![lerp(
            [1.0, 2.0],
            [4.8, 2.0],
            (t - T0) as f64 / (5 * S) as f64,
        )],
        "bedroom" => vec![[2.0, 1.0]],
        _ => vec![],
    });
    if let [id] = ids_in(&f, "hall", leave)[..] {
        first_id = Some(id);
    }
    let first_id = first_id.expect("one tracked person in the hall");
    let mut f2 = fusion();
    let (events, end) = walk_to_kitchen(&mut f2, 0.2, [0.3, 2.0]);
    assert_eq!(
        handovers(&events),
        [(first_id, "hall".into(), "kitchen".into())]
    );
    assert_eq!(ids_in(&f2, "kitchen", end), [first_id]);
    assert!(ids_in(&f2, "hall", end).is_empty());
    // The bedroom's person has an id of their own, unchanged.
    let bedroom = ids_in(&f2, "bedroom", end);
    assert_eq!(bedroom.len(), 1);
    assert_ne!(bedroom[0], first_id);
    let state = f2.state(end);
    assert_eq!(state.handovers, 1);
    // The count per room is the room state's (wdp_room): the hall still holds its person until
    // its presence exit hold has passed, so occupancy is each room's count, summed.
    assert_eq!(state.rooms[1].people, Some(1));
    assert_eq!(state.rooms[2].people, Some(1));
    let sum: u32 = state.rooms.iter().filter_map(|r| r.people).sum();
    assert_eq!(state.occupancy, sum, "{state:?}");
    assert!(state.occupancy_complete);
}

#[test]
fn a_person_keeps_their_id_when_the_old_track_ended_first() {
    let mut f = fusion();
    // Unseen for 2.5 s (longer than the 1.5 s hold): the hall's track ends, then the kitchen's
    // starts and takes the departure's id.
    let (events, end) = walk_to_kitchen(&mut f, 2.5, [0.3, 2.0]);
    let h = handovers(&events);
    assert_eq!(h.len(), 1, "{events:?}");
    assert_eq!((h[0].1.as_str(), h[0].2.as_str()), ("hall", "kitchen"));
    assert_eq!(ids_in(&f, "kitchen", end), [h[0].0]);
}

#[test]
fn no_handover_far_from_the_door_or_after_the_window() {
    // Appearing at the kitchen's far wall, 3 m from the door.
    let mut f = fusion();
    let (events, end) = walk_to_kitchen(&mut f, 0.2, [3.0, 2.0]);
    assert!(handovers(&events).is_empty(), "{events:?}");
    assert_eq!(ids_in(&f, "kitchen", end).len(), 1);
    // Appearing at the door, but 6 s later (window 4 s).
    let mut f = fusion();
    let (events, _) = walk_to_kitchen(&mut f, 6.0, [0.3, 2.0]);
    assert!(handovers(&events).is_empty(), "{events:?}");
}

#[test]
fn no_handover_between_rooms_without_a_door() {
    let mut f = fusion();
    let leave = T0 + 4 * S;
    let enter = leave + S / 5;
    let events = run(&mut f, T0, enter + 4 * S, &[], |room, t| match room {
        "kitchen" if t < leave => vec![[1.0, 1.0]],
        "bedroom" if t >= enter => vec![[1.0, 1.0]],
        _ => vec![],
    });
    assert!(handovers(&events).is_empty(), "{events:?}");
}

#[test]
fn a_silent_room_goes_stale_its_people_are_not_handed_over_and_it_rejoins() {
    let mut f = fusion();
    let everybody = |room: &str, _t: i64| match room {
        "hall" => vec![[4.9, 2.0]],
        "kitchen" => vec![[1.0, 1.0], [2.5, 3.0]],
        _ => vec![],
    };
    // Nothing heard yet: waiting.
    assert!(f
        .state(T0)
        .rooms
        .iter()
        .all(|r| r.health == Health::Waiting));
    run(&mut f, T0, T0 + 6 * S, &[], everybody);
    let state = f.state(T0 + 6 * S);
    assert!(
        state.rooms.iter().all(|r| r.health == Health::Live),
        "{state:?}"
    );
    assert_eq!(state.occupancy, 3);
    assert!(state.occupancy_complete);
    // The hall's machine dies at 6 s; its person stood by the kitchen door.
    let dead = T0 + 6 * S;
    let events = run(&mut f, dead, T0 + 12 * S, &["hall"], everybody);
    let stale: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            BuildingEvent::Stale {
                t_ms,
                room,
                last_seen_ms,
            } => Some((*t_ms, room.clone(), *last_seen_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(stale.len(), 1, "{events:?}");
    let (t_ms, room, last_ms) = &stale[0];
    assert_eq!(room, "hall");
    assert_eq!(*last_ms, (dead - FRAME_NS) / 1_000_000);
    // Decided at the first tick past the 2 s timeout.
    let delay_ms = t_ms - last_ms;
    assert!(
        (2_000..=2_550).contains(&delay_ms),
        "stale after {delay_ms} ms"
    );
    assert!(handovers(&events).is_empty(), "{events:?}");
    let state = f.state(T0 + 12 * S);
    let hall = &state.rooms[0];
    assert_eq!(hall.health, Health::Stale);
    assert_eq!(hall.stale_since_ms, Some(*last_ms));
    assert_eq!(hall.people, None);
    assert!(hall.tracks.is_empty());
    assert_eq!(state.occupancy, 2, "the kitchen's two");
    assert!(!state.occupancy_complete);
    // The kitchen went on without a gap.
    let kitchen = &state.rooms[1];
    assert_eq!(kitchen.health, Health::Live);
    assert_eq!(kitchen.frames, 240);
    // The hall comes back (its state starts over).
    let back = T0 + 12 * S;
    let events = run(&mut f, back, back + 4 * S, &[], everybody);
    assert!(
        events.iter().any(
            |e| matches!(e, BuildingEvent::Rejoined { room, silent_s, .. }
            if room == "hall" && (5.9..6.2).contains(silent_s))
        ),
        "{events:?}"
    );
    let state = f.state(back + 4 * S);
    let hall = &state.rooms[0];
    assert_eq!(hall.health, Health::Rejoined);
    assert_eq!(hall.rejoins, 1);
    assert_eq!(hall.people, Some(1));
    assert_eq!(state.occupancy, 3);
    // Rejoined for 10 s, then live.
    run(&mut f, back + 4 * S, back + 11 * S, &[], everybody);
    assert_eq!(f.state(back + 11 * S).rooms[0].health, Health::Live);
}

#[test]
fn gaps_in_seq_are_counted_as_missed_frames_and_a_restart_is_told_apart() {
    let mut f = fusion();
    let mut t = T0;
    for seq in [0u64, 1, 2, 5, 6, 10, 0, 1, 3] {
        f.push_frame_seq("hall", Some(seq), t - T0, &[], t).unwrap();
        t += FRAME_NS;
    }
    let hall = &f.state(t).rooms[0];
    assert_eq!(hall.frames, 9);
    // 3, 4, then 7, 8, 9, then (after the restart at 0) 2.
    assert_eq!(hall.missed_frames, 6);
    assert_eq!(hall.seq_restarts, 1);
    assert_eq!(hall.last_seq, Some(3));
}

#[test]
fn an_unknown_room_is_refused() {
    let mut f = fusion();
    assert!(f.push_frame("garage", 0, &[], T0).is_err());
}

fn frame(room: &str, seq: u64, people: usize) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_time_ns(seq as i64 * FRAME_NS)
        .with_room(room);
    let people = (0..people)
        .map(|i| {
            let x = 10.0 + 50.0 * i as f32;
            let mut p = Person::from_box([x, 10.0, x + 30.0, 90.0, 0.9]);
            p.floor_m = Some([1.0 + 2.0 * i as f32, 2.0]);
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

#[test]
fn the_node_sends_states_on_ticks_and_drops_bad_messages() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("building.jsonl");
    let config = Config {
        plan: BuildingPlan::from_yaml_str(PLAN).unwrap(),
        fusion: FusionConfig::default(),
        room: RoomConfig::default(),
        out_file: Some(out.clone()),
    };
    let mut node = RoomFusionNode::new(config).unwrap();
    let mut events = Vec::new();
    let mut t = 0.0;
    for seq in 0..60u64 {
        events.extend(pose_events(t, &frame("hall", seq, 1), "hall_").unwrap());
        events.extend(pose_events(t + 0.0001, &frame("kitchen", seq, 2), "kitchen_").unwrap());
        if seq == 30 {
            // A NaN box, a room not in the building, a keypoints message of the wrong shape.
            let mut bad = frame("hall", 1000, 1);
            bad.people[0].bbox[0] = f32::NAN;
            events.extend(pose_events(t + 0.0002, &bad, "hall_").unwrap());
            events.extend(pose_events(t + 0.0003, &frame("garage", seq, 1), "garage_").unwrap());
            let wrong = TensorMeta::new(&[1, 17, 2], ["person", "keypoint", "xys"]).with_seq(2000);
            events.push(tensor_event(
                t + 0.0004,
                "kitchen_keypoints",
                &wrong,
                &[1.0f32; 34],
            ));
            // Broken copies of this moment's messages on every pose input of two rooms (the
            // hall's with dense maps), at this moment: dora's testing mode sorts by offset.
            let mut dense = frame("hall", seq, 1);
            dense.parts = Some(wdp_tensor::ndarray::Array3::from_elem((1, 4, 4), 1));
            dense.uv = Some(wdp_tensor::ndarray::Array4::from_elem((1, 2, 4, 4), 0.5));
            let mut malformed = malformed_pose_events(t, &dense, "hall_").unwrap();
            malformed
                .extend(malformed_pose_events(t, &frame("kitchen", seq, 2), "kitchen_").unwrap());
            events.extend(malformed.into_iter().map(|mut e| {
                e["time_offset_secs"] = (t + 0.0004).into();
                e
            }));
        }
        if seq % 20 == 19 {
            events.push(tick(t + 0.0005));
        }
        t += 0.001;
    }
    let run = run_test("room-fusion", events, &mut node).unwrap();
    let states = run.on("building_state");
    assert_eq!(states.len(), 3);
    let last: Value = serde_json::from_str(states[2].data[0].as_str().unwrap()).unwrap();
    assert_eq!(last["building"], "flat");
    let rooms = last["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 3);
    assert_eq!(rooms[0]["room"], "hall");
    assert_eq!(rooms[0]["health"], "live");
    assert_eq!(rooms[0]["frames"], 60);
    assert_eq!(rooms[0]["frame_people"], 1);
    assert_eq!(rooms[1]["frame_people"], 2);
    assert_eq!(rooms[2]["health"], "waiting");
    // Two bad messages dropped (the NaN box, the misshapen keypoints) and the malformed sweep
    // on six inputs; the garage's inputs are not the node's and are skipped as unknown ids.
    let c = &run.report.counts;
    assert_eq!(c.dropped(), 2 + 6 * 5, "{c:?}");
    for (id, already) in [
        ("hall_keypoints", [0; 4]),
        ("hall_boxes", [0, 1, 0, 0]),
        ("hall_parts", [0; 4]),
        ("hall_uv", [0; 4]),
        ("kitchen_keypoints", [1, 0, 0, 0]),
        ("kitchen_boxes", [0; 4]),
    ] {
        assert_malformed_dropped(c, id, already);
    }
    assert_eq!(
        run.report.counts.unknown_total(),
        2,
        "{:?}",
        run.report.counts
    );
    // The file has the three states, then the latency line.
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l.get("rooms").is_some()).count(), 3);
    let latency = &lines.last().unwrap()["latency"];
    assert!(
        latency.get("hall").is_some() && latency.get("bedroom").is_some(),
        "{latency}"
    );
}
