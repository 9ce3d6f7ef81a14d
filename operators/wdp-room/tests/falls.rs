//! Falls from synthetic pose sequences at 20 frames/s through a room with the default
//! configuration: a fall fires once; sitting down slowly, squatting, bending down and
//! getting up again do not; a second fall after standing up fires again; two people are
//! followed apart, with and without track ids.
#![allow(clippy::unwrap_used)]

use wdp_room::{EventKind, PoseObservation, Room, RoomConfig, RoomEvent};

const FRAME_NS: i64 = 50_000_000;

/// A person whose body spans `height` pixels upright (scaled by `h`, 0..1 of it) and `width`
/// pixels across, centred at `x`, feet on `floor_y`; 17 keypoints spread over the extent, with
/// a deterministic jitter of a pixel or two.
fn pose(
    x: f32,
    floor_y: f32,
    height: f32,
    h: f32,
    width: f32,
    k: i64,
    id: Option<u64>,
) -> PoseObservation {
    let jitter = |i: i64| ((k * 7 + i * 13) % 5) as f32 * 0.5 - 1.0;
    let top = floor_y - height * h;
    let mut keypoints = [[0.0f32; 3]; 17];
    for (i, p) in keypoints.iter_mut().enumerate() {
        let u = i as f32 / 16.0;
        *p = [
            x - width / 2.0 + width * ((i * 5 % 17) as f32 / 16.0) + jitter(i as i64),
            top + (floor_y - top) * u + jitter(i as i64 + 3),
            2.0,
        ];
    }
    PoseObservation {
        score: 0.9,
        floor_m: None,
        track_id: id,
        box_xyxy: Some([x - width / 2.0, top, x + width / 2.0, floor_y]),
        keypoints: Some(keypoints),
    }
}

/// Drives the room with `frames` of one person `(h, width)` per frame; returns fall events.
fn run(room: &mut Room, k0: i64, frames: &[(f32, f32)], id: Option<u64>) -> Vec<RoomEvent> {
    let mut events = Vec::new();
    for (j, &(h, w)) in frames.iter().enumerate() {
        let k = k0 + j as i64;
        events.extend(room.push_pose(k * FRAME_NS, &[pose(320.0, 400.0, 300.0, h, w, k, id)]));
    }
    events
        .into_iter()
        .filter(|e| e.event == EventKind::Fall)
        .collect()
}

fn hold(h: f32, w: f32, seconds: f64) -> Vec<(f32, f32)> {
    vec![(h, w); (seconds * 20.0).round() as usize]
}

/// From `(h0, w0)` to `(h1, w1)` over `seconds`, shaped by `shape(u)`.
fn change(
    from: (f32, f32),
    to: (f32, f32),
    seconds: f64,
    shape: fn(f32) -> f32,
) -> Vec<(f32, f32)> {
    let n = (seconds * 20.0).round() as usize;
    (1..=n)
        .map(|j| {
            let u = shape(j as f32 / n as f32);
            (from.0 + (to.0 - from.0) * u, from.1 + (to.1 - from.1) * u)
        })
        .collect()
}

const STANDING: (f32, f32) = (1.0, 80.0);
/// Lying seen from the side: a fifth of the height, the whole body across.
const LYING: (f32, f32) = (0.2, 290.0);
/// Seated on a chair.
const SEATED: (f32, f32) = (0.7, 110.0);

fn accelerating(u: f32) -> f32 {
    u * u
}
fn smooth(u: f32) -> f32 {
    u * u * (3.0 - 2.0 * u)
}

#[test]
fn a_fall_fires_once_within_two_seconds_and_again_after_standing_up() {
    let mut room = Room::new("hall", RoomConfig::default()).unwrap();
    let mut frames = hold(STANDING.0, STANDING.1, 5.0);
    let fall_start = frames.len() as i64;
    frames.extend(change(STANDING, LYING, 0.8, accelerating));
    frames.extend(hold(LYING.0, LYING.1, 10.0));
    frames.extend(change(LYING, STANDING, 2.0, smooth));
    frames.extend(hold(STANDING.0, STANDING.1, 5.0));
    let second_start = frames.len() as i64;
    frames.extend(change(STANDING, LYING, 0.8, accelerating));
    frames.extend(hold(LYING.0, LYING.1, 5.0));
    let falls = run(&mut room, 0, &frames, Some(4));
    assert_eq!(falls.len(), 2, "{falls:?}");
    for (fall, start) in falls.iter().zip([fall_start, second_start]) {
        let delay = fall.t_ns - start * FRAME_NS;
        assert!(
            (0..=2_000_000_000).contains(&delay),
            "found {delay} ns after the start"
        );
        assert_eq!(fall.track_id, Some(4));
    }
    let json = serde_json::to_value(&falls[0]).unwrap();
    assert_eq!(json["event"], "fall");
}

#[test]
fn sitting_down_slowly_squatting_and_bending_down_do_not_fire() {
    let mut room = Room::new("hall", RoomConfig::default()).unwrap();
    let mut frames = hold(STANDING.0, STANDING.1, 5.0);
    // Sit down over 1.6 s, stay 20 s, stand up.
    frames.extend(change(STANDING, SEATED, 1.6, smooth));
    frames.extend(hold(SEATED.0, SEATED.1, 20.0));
    frames.extend(change(SEATED, STANDING, 1.6, smooth));
    // Squat down over 2 s to 0.6 and stay there 5 s.
    frames.extend(change(STANDING, (0.6, 100.0), 2.0, smooth));
    frames.extend(hold(0.6, 100.0, 5.0));
    frames.extend(change((0.6, 100.0), STANDING, 2.0, smooth));
    // Bend down fast to pick something up (0.45 in 0.6 s), back up after half a second.
    frames.extend(change(STANDING, (0.45, 150.0), 0.6, smooth));
    frames.extend(hold(0.45, 150.0, 0.5));
    frames.extend(change((0.45, 150.0), STANDING, 0.8, smooth));
    frames.extend(hold(STANDING.0, STANDING.1, 5.0));
    assert_eq!(run(&mut room, 0, &frames, Some(1)), vec![]);
    // Falling to the floor and crawling away at once: not still, no fall.
    let mut frames = hold(STANDING.0, STANDING.1, 3.0);
    frames.extend(change(STANDING, LYING, 0.8, accelerating));
    let k0 = 10_000;
    let mut events = run(&mut room, k0, &frames, Some(2));
    let crawl_from = k0 + frames.len() as i64;
    for j in 0..100i64 {
        let k = crawl_from + j;
        let x = 320.0 + 4.0 * j as f32; // 80 px/s: over a quarter of the height per second
        events.extend(room.push_pose(
            k * FRAME_NS,
            &[pose(x, 400.0, 300.0, LYING.0, LYING.1, k, Some(2))],
        ));
    }
    assert!(
        events.iter().all(|e| e.event != EventKind::Fall),
        "{events:?}"
    );
}

#[test]
fn two_people_without_track_ids_one_falls() {
    let mut room = Room::new("hall", RoomConfig::default()).unwrap();
    let mut falls = Vec::new();
    let seq: Vec<(f32, f32)> = {
        let mut f = hold(STANDING.0, STANDING.1, 4.0);
        f.extend(change(STANDING, LYING, 0.8, accelerating));
        f.extend(hold(LYING.0, LYING.1, 4.0));
        f
    };
    for (k, &(h, w)) in seq.iter().enumerate() {
        let k = k as i64;
        let people = [
            pose(150.0, 400.0, 300.0, h, w, k, None),
            pose(520.0, 380.0, 260.0, 1.0, 70.0, k, None),
        ];
        falls.extend(
            room.push_pose(k * FRAME_NS, &people)
                .into_iter()
                .filter(|e| e.event == EventKind::Fall),
        );
    }
    assert_eq!(falls.len(), 1, "{falls:?}");
    assert_eq!(falls[0].track_id, None);
}
