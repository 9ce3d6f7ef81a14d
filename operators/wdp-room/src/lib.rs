//! Per-room state for integrators: is somebody there, how many, where they stand, who moves,
//! and when the room was entered and left, from the pose pipeline and from signal-level
//! sensing (`wdp-sense`), either alone or both.
//!
//! ```
//! use wdp_room::{PoseObservation, Room, RoomConfig};
//! let mut room = Room::new("living-room", RoomConfig::default())?;
//! let person = PoseObservation { score: 0.9, floor_m: Some([1.0, 2.0]), ..Default::default() };
//! for k in 0..60 {
//!     for event in room.push_pose(k * 50_000_000, &[person]) {
//!         println!("{event:?}");
//!     }
//! }
//! assert!(room.state().presence);
//! assert_eq!(room.state().people, Some(1));
//! # Ok::<(), wdp_room::ConfigError>(())
//! ```
//!
//! # What it decides, and from what
//!
//! - **From pose frames** (people per frame, with their floor positions `floor_m` when the
//!   pose carries them): the people count is the most frequent count of the last
//!   [`RoomConfig::count_window_s`], and a new count replaces the reported one only after
//!   holding for [`RoomConfig::count_hold_s`], so a count that jitters frame to frame does not
//!   flicker. Pose presence starts when at least half of the window's frames have somebody for
//!   [`RoomConfig::presence_enter_s`] and ends after [`RoomConfig::presence_exit_s`] without.
//!   Floor positions feed a nearest-neighbour tracker in metres ([`TrackerConfig`]: gating
//!   around the predicted position, confirmation, hold, moving/still from the speed with
//!   hysteresis).
//! - **From signal-level sensing** ([`SignalObservation`], one per second and radio link, as
//!   `wdp_sense::Sensor` answers): motion and presence, with their own calibration, hysteresis
//!   and holds. This works without any pose model, on a single-antenna ESP32.
//! - **Together** ([`Fusion`], default: either source): presence, a confidence in it, motion
//!   (the signal's, or any moving track), the count (poses only: the signal cannot count), and
//!   the tracks. A source silent for [`RoomConfig::source_timeout_s`] is dropped;
//!   [`RoomState::source`] says which decided.
//! - **Events** ([`RoomEvent`]): `entered` and `left` when the reported presence changes, so
//!   each fires once per change; with [`RoomConfig::track_events`] also per track (confirmed,
//!   ended) with its id.
//!
//! - **Breathing**: the signal-level sensors' breathing rate of a still person
//!   ([`RoomState::breathing_bpm`], `wdp_sense::breathing`).
//! - **Falls** ([`fall`]): a fast drop of a person's height in the picture followed by
//!   stillness low down, from the poses' boxes or keypoints; a `fall` event, once per fall
//!   ([`FallConfig`], optionally confirmed by the signal's motion).
//!
//! Times are capture times of the inputs (ns), so a replay decides what a live run decides.

mod config;
pub mod fall;
mod hold;
mod room;
mod track;

pub use config::{ConfigError, FallConfig, Fusion, RoomConfig, TrackerConfig};
pub use fall::{BodyObservation, Fall, FallDetector};
pub use hold::{CountWindow, Hold};
pub use room::{EventKind, PoseObservation, Room, RoomEvent, RoomState, SignalObservation, Source};
pub use track::{TrackChange, TrackState, Tracker};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FRAME_NS: i64 = 50_000_000; // 20 fps
    const S: i64 = 1_000_000_000;

    fn people(n: usize) -> Vec<PoseObservation> {
        (0..n)
            .map(|i| PoseObservation {
                score: 0.9,
                floor_m: Some([1.0 + 1.5 * i as f32, 2.0]),
                ..Default::default()
            })
            .collect()
    }

    fn kinds(events: &[RoomEvent]) -> Vec<(EventKind, Option<u64>)> {
        events.iter().map(|e| (e.event, e.track_id)).collect()
    }

    #[test]
    fn a_jittering_count_does_not_flicker() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        let mut events = Vec::new();
        let mut reported = Vec::new();
        // 2 people, but every third frame the model says 3 and every fifth says 1.
        for k in 0..400i64 {
            let n = if k % 3 == 0 {
                3
            } else if k % 5 == 0 {
                1
            } else {
                2
            };
            events.extend(room.push_pose(k * FRAME_NS, &people(n)));
            reported.push(room.state().people.unwrap());
        }
        assert_eq!(kinds(&events), [(EventKind::Entered, None)]);
        // It reaches 2 and never leaves it.
        let first_two = reported.iter().position(|&n| n == 2).unwrap();
        assert!(first_two <= 80, "2 people after {first_two} frames");
        assert!(
            reported[first_two..].iter().all(|&n| n == 2),
            "{reported:?}"
        );
        // Every value on the way is a real change, not a flicker: no value comes back.
        let mut changes: Vec<u32> = reported.clone();
        changes.dedup();
        assert!(changes.len() <= 3, "{changes:?}");
        assert_eq!(room.state().source, Source::Pose);
        assert!(room.state().presence_confidence > 0.9);
    }

    #[test]
    fn a_real_change_of_count_is_followed_after_the_hold() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        for k in 0..100i64 {
            room.push_pose(k * FRAME_NS, &people(1));
        }
        assert_eq!(room.state().people, Some(1));
        let mut changed_at = None;
        for k in 100..200i64 {
            room.push_pose(k * FRAME_NS, &people(2));
            if changed_at.is_none() && room.state().people == Some(2) {
                changed_at = Some(k);
            }
        }
        // Mode flips after ~half the 1 s window (10 frames), then the 2 s hold (40 frames).
        let k = changed_at.unwrap();
        assert!((145..=155).contains(&k), "changed at frame {k}");
    }

    #[test]
    fn entered_and_left_fire_once_each() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        let mut events = Vec::new();
        let mut t = 0;
        // Empty, a person for 20 s with a missed frame now and then, empty again for 20 s.
        for phase in [(0usize, 200i64), (1, 400), (0, 400)] {
            for k in 0..phase.1 {
                let n = if phase.0 == 1 && k % 7 == 0 {
                    0
                } else {
                    phase.0
                };
                // A false person in the empty room now and then.
                let n = if phase.0 == 0 && k % 11 == 0 { 1 } else { n };
                events.extend(room.push_pose(t, &people(n)));
                t += FRAME_NS;
            }
        }
        assert_eq!(
            kinds(&events),
            [(EventKind::Entered, None), (EventKind::Left, None)]
        );
        // Entered within half the window plus the enter hold (1.5 s) and a frame of the
        // person's arrival, left within half the window plus the exit hold (5.5 s).
        let entered = events[0].t_ns - 200 * FRAME_NS;
        let left = events[1].t_ns - 600 * FRAME_NS;
        assert!((S..=S * 8 / 5).contains(&entered), "{entered}");
        assert!((5 * S..=6 * S).contains(&left), "{left}");
        assert!(!room.state().presence);
        assert_eq!(room.state().people, Some(0));
    }

    #[test]
    fn per_track_events_name_the_tracks() {
        let config = RoomConfig {
            track_events: true,
            ..RoomConfig::default()
        };
        let mut room = Room::new("lab", config).unwrap();
        let mut events = Vec::new();
        for k in 0..100i64 {
            events.extend(room.push_pose(k * FRAME_NS, &people(2)));
        }
        for k in 100..300i64 {
            events.extend(room.push_pose(k * FRAME_NS, &people(0)));
        }
        let mut per_track: Vec<(EventKind, Option<u64>)> = kinds(&events)
            .into_iter()
            .filter(|(_, id)| id.is_some())
            .collect();
        per_track.sort_by_key(|&(k, id)| (k == EventKind::Left, id));
        assert_eq!(
            per_track,
            [
                (EventKind::Entered, Some(1)),
                (EventKind::Entered, Some(2)),
                (EventKind::Left, Some(1)),
                (EventKind::Left, Some(2)),
            ]
        );
        let room_level = kinds(&events)
            .into_iter()
            .filter(|(_, id)| id.is_none())
            .count();
        assert_eq!(room_level, 2);
    }

    fn signal(presence: bool, motion: bool, p: f64) -> SignalObservation {
        SignalObservation {
            calibrating: false,
            motion,
            presence,
            presence_confidence: Some(p),
            breathing_bpm: None,
        }
    }

    #[test]
    fn signal_alone_gives_presence_and_motion_but_no_count() {
        let mut room = Room::new("esp", RoomConfig::default()).unwrap();
        let calibrating = SignalObservation {
            calibrating: true,
            ..signal(false, false, 0.5)
        };
        let mut events = room.push_signal(S, "esp32-0", calibrating);
        assert_eq!(room.state().source, Source::None);
        assert_eq!(room.state().presence_confidence, 0.0);
        events.extend(room.push_signal(2 * S, "esp32-0", signal(false, false, 0.05)));
        let s = room.state();
        assert_eq!(
            (s.source, s.presence, s.people),
            (Source::Signal, false, None)
        );
        assert!((s.presence_confidence - 0.95).abs() < 1e-9);
        events.extend(room.push_signal(3 * S, "esp32-0", signal(true, true, 0.97)));
        events.extend(room.push_signal(4 * S, "esp32-0", signal(true, false, 0.8)));
        let s = room.state();
        assert!(s.presence && !s.motion && s.tracks.is_empty());
        events.extend(room.push_signal(5 * S, "esp32-0", signal(false, false, 0.1)));
        assert_eq!(
            kinds(&events),
            [(EventKind::Entered, None), (EventKind::Left, None)]
        );
        // The sensor stops: after the timeout nothing is claimed any more.
        assert!(room.advance(7 * S).is_empty());
        assert_eq!(room.state().source, Source::Signal);
        room.advance(9 * S);
        assert_eq!(room.state().source, Source::None);
    }

    #[test]
    fn either_source_makes_presence_and_stale_poses_are_dropped() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        let mut events = Vec::new();
        for k in 0..100i64 {
            let t = k * FRAME_NS;
            events.extend(room.push_pose(t, &people(0)));
            if k % 20 == 19 {
                // The signal saw somebody move (poses miss them).
                events.extend(room.push_signal(t, "link0", signal(true, true, 0.9)));
            }
        }
        let s = room.state();
        assert_eq!(s.source, Source::Both);
        assert!(s.presence && s.motion);
        assert_eq!(s.people, Some(0));
        assert_eq!(kinds(&events), [(EventKind::Entered, None)]);
        // With `fusion: pose` the same inputs leave the room empty.
        let mut pose_first = Room::new(
            "lab",
            RoomConfig {
                fusion: Fusion::Pose,
                ..RoomConfig::default()
            },
        )
        .unwrap();
        for k in 0..100i64 {
            pose_first.push_pose(k * FRAME_NS, &people(0));
            pose_first.push_signal(k * FRAME_NS, "link0", signal(true, true, 0.9));
        }
        assert!(!pose_first.state().presence);
        // Poses stop coming: after the timeout the tracks and count go, the signal decides.
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        for k in 0..60i64 {
            room.push_pose(k * FRAME_NS, &people(1));
        }
        assert_eq!(room.state().tracks.len(), 1);
        room.push_signal(60 * FRAME_NS + 4 * S, "link0", signal(false, false, 0.1));
        let s = room.state();
        assert_eq!(
            (s.source, s.people, s.tracks.len()),
            (Source::Signal, None, 0)
        );
        assert!(!s.presence);
    }

    #[test]
    fn poses_running_behind_the_radio_stay_fresh_while_they_keep_coming() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        // The model delivers frames 4 s (more than the timeout) behind the radio's seconds.
        for k in 0..200i64 {
            let radio = 4 * S + k * FRAME_NS;
            if k % 20 == 0 {
                room.push_signal(radio, "link0", signal(true, true, 0.9));
            }
            room.push_pose(k * FRAME_NS, &people(2));
        }
        let s = room.state();
        assert_eq!(
            (s.source, s.people, s.tracks.len()),
            (Source::Both, Some(2), 2)
        );
    }

    #[test]
    fn poses_without_floor_positions_count_but_do_not_track() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        let unplaced = PoseObservation {
            score: 0.9,
            ..Default::default()
        };
        let low = PoseObservation {
            score: 0.2,
            ..Default::default()
        };
        let config = RoomConfig {
            min_score: 0.5,
            ..RoomConfig::default()
        };
        let mut strict = Room::new("lab", config).unwrap();
        for k in 0..100i64 {
            room.push_pose(k * FRAME_NS, &[unplaced, unplaced]);
            strict.push_pose(k * FRAME_NS, &[unplaced, low]);
        }
        assert_eq!(room.state().people, Some(2));
        assert!(room.state().tracks.is_empty());
        assert_eq!(strict.state().people, Some(1));
    }

    #[test]
    fn the_signal_breathing_rate_reaches_the_state() {
        let mut room = Room::new("bed", RoomConfig::default()).unwrap();
        let breathing = |bpm| SignalObservation {
            breathing_bpm: bpm,
            ..signal(true, false, 0.8)
        };
        room.push_signal(S, "a", breathing(Some(14.0)));
        room.push_signal(S, "b", breathing(Some(15.0)));
        room.push_signal(S, "c", breathing(None));
        assert_eq!(room.state().breathing_bpm, Some(14.5));
        // A link that stops goes stale, and its rate with it.
        room.push_signal(5 * S, "c", breathing(None));
        assert_eq!(room.state().breathing_bpm, None);
        let v = serde_json::to_value(room.state()).unwrap();
        assert!(v["breathing_bpm"].is_null());
    }

    #[test]
    fn the_state_serializes_as_the_contract_says() {
        let mut room = Room::new("lab", RoomConfig::default()).unwrap();
        for k in 0..60i64 {
            room.push_pose(k * FRAME_NS, &people(1));
        }
        let v = serde_json::to_value(room.state()).unwrap();
        assert_eq!(v["room"], "lab");
        assert_eq!(v["source"], "pose");
        assert_eq!(v["people"], 1);
        assert_eq!(v["tracks"][0]["id"], 1);
        assert!(v["tracks"][0]["x_m"].is_number());
        assert_eq!(v["tracks"][0]["moving"], false);
        let e = RoomEvent {
            room: "lab".into(),
            t_ns: 5,
            event: EventKind::Left,
            track_id: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"room":"lab","t_ns":5,"event":"left"}"#
        );
        // Readers parse both back, ignoring fields they do not know.
        let state = room.state();
        let mut v = serde_json::to_value(&state).unwrap();
        v["added_later"] = serde_json::json!(1);
        assert_eq!(serde_json::from_value::<RoomState>(v).unwrap(), state);
        let back: RoomEvent =
            serde_json::from_str(r#"{"room":"lab","t_ns":5,"event":"left"}"#).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<RoomState>(r#"{"room":"lab"}"#).is_err());
    }
}
