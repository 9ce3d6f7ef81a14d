//! A nearest-neighbour tracker of floor positions in metres: gating around each track's
//! predicted position, tracks confirmed after a few matches and kept through short misses,
//! moving or still from the speed of the smoothed position.

use crate::config::TrackerConfig;
use crate::hold::ns;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A tracked person as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackState {
    /// Stable id of the track (never reused within a room).
    pub id: u64,
    /// Floor position, metres in the room frame (smoothed).
    pub x_m: f32,
    /// Floor position, metres in the room frame (smoothed).
    pub y_m: f32,
    /// The track's speed is above the moving threshold (with hysteresis).
    pub moving: bool,
}

/// A change of the reported tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackChange {
    /// A track got enough matches to be reported.
    Confirmed(u64),
    /// A reported track ended (no match for the hold time).
    Lost(u64),
}

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    position: [f32; 2],
    velocity: [f32; 2],
    /// Recent smoothed positions, for the speed.
    history: VecDeque<(i64, [f32; 2])>,
    last_ns: i64,
    hits: u32,
    confirmed: bool,
    moving: bool,
}

impl Track {
    fn predicted(&self, t_ns: i64, hold_ns: i64) -> [f32; 2] {
        // Extrapolate no further than the hold: an old velocity says little.
        let dt = ((t_ns - self.last_ns).clamp(0, hold_ns.max(0))) as f32 * 1e-9;
        [
            self.position[0] + self.velocity[0] * dt,
            self.position[1] + self.velocity[1] * dt,
        ]
    }
}

/// The tracker of one room.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

impl Tracker {
    /// No tracks yet; ids start at 1.
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// One frame's floor positions at `t_ns`: each continues the nearest track within the gate
    /// (closest pairs first), the others start tracks; tracks unmatched for the hold end.
    pub fn update(&mut self, t_ns: i64, points: &[[f32; 2]]) -> Vec<TrackChange> {
        let c = self.config.clone();
        let hold_ns = ns(c.hold_s);
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            let p = track.predicted(t_ns, hold_ns);
            for (pi, &z) in points.iter().enumerate() {
                let d = distance(p, z);
                if d <= c.gate_m {
                    pairs.push((d, ti, pi));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut track_taken = vec![false; self.tracks.len()];
        let mut point_taken = vec![false; points.len()];
        let mut changes = Vec::new();
        for (_, ti, pi) in pairs {
            if track_taken[ti] || point_taken[pi] {
                continue;
            }
            track_taken[ti] = true;
            point_taken[pi] = true;
            let track = &mut self.tracks[ti];
            let z = points[pi];
            let a = c.position_smoothing;
            let p = track.predicted(t_ns, hold_ns);
            track.position = [p[0] + a * (z[0] - p[0]), p[1] + a * (z[1] - p[1])];
            track.last_ns = t_ns;
            track.hits += 1;
            track.history.push_back((t_ns, track.position));
            let window_ns = ns(c.speed_window_s);
            while track
                .history
                .front()
                .is_some_and(|&(t, _)| t_ns - t > window_ns)
            {
                track.history.pop_front();
            }
            if let Some(&(t0, p0)) = track.history.front() {
                let dt = (t_ns - t0) as f32 * 1e-9;
                if dt > 0.0 {
                    track.velocity = [
                        (track.position[0] - p0[0]) / dt,
                        (track.position[1] - p0[1]) / dt,
                    ];
                }
            }
            let speed = distance(track.velocity, [0.0, 0.0]);
            if track.moving && speed < c.moving_exit_m_s {
                track.moving = false;
            } else if !track.moving && speed > c.moving_enter_m_s {
                track.moving = true;
            }
            if !track.confirmed && track.hits >= c.confirm_hits {
                track.confirmed = true;
                changes.push(TrackChange::Confirmed(track.id));
            }
        }
        for (pi, &z) in points.iter().enumerate() {
            if point_taken[pi] {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let confirmed = c.confirm_hits <= 1;
            if confirmed {
                changes.push(TrackChange::Confirmed(id));
            }
            self.tracks.push(Track {
                id,
                position: z,
                velocity: [0.0, 0.0],
                history: VecDeque::from([(t_ns, z)]),
                last_ns: t_ns,
                hits: 1,
                confirmed,
                moving: false,
            });
        }
        changes.extend(self.expire(t_ns));
        changes
    }

    /// Ends the tracks without a match for longer than the hold at `t_ns`.
    pub fn expire(&mut self, t_ns: i64) -> Vec<TrackChange> {
        let hold_ns = ns(self.config.hold_s);
        let mut changes = Vec::new();
        self.tracks.retain(|t| {
            let keep = t_ns - t.last_ns <= hold_ns;
            if !keep && t.confirmed {
                changes.push(TrackChange::Lost(t.id));
            }
            keep
        });
        changes
    }

    /// Ends every track (the positions stopped coming).
    pub fn clear(&mut self) -> Vec<TrackChange> {
        let lost = self
            .tracks
            .iter()
            .filter(|t| t.confirmed)
            .map(|t| TrackChange::Lost(t.id))
            .collect();
        self.tracks.clear();
        lost
    }

    /// The confirmed tracks, oldest first.
    pub fn tracks(&self) -> Vec<TrackState> {
        self.tracks
            .iter()
            .filter(|t| t.confirmed)
            .map(|t| TrackState {
                id: t.id,
                x_m: t.position[0],
                y_m: t.position[1],
                moving: t.moving,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FRAME_NS: i64 = 50_000_000;

    fn track_at(tracks: &[TrackState], id: u64) -> &TrackState {
        tracks.iter().find(|t| t.id == id).unwrap()
    }

    #[test]
    fn two_people_crossing_keep_their_ids() {
        // Two people walk towards each other along parallel lines 0.6 m apart at 1.2 m/s,
        // pass, and walk on; positions jitter by +-5 cm.
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut ids = None;
        for k in 0..100i64 {
            let t = k * FRAME_NS;
            let s = k as f32 * 0.06;
            let jitter = if k % 2 == 0 { 0.05 } else { -0.05 };
            let a = [0.5 + s, 1.0 + jitter];
            let b = [6.5 - s, 1.6 - jitter];
            // The detector's order swaps every frame: order must not matter.
            let points = if k % 3 == 0 { [b, a] } else { [a, b] };
            tracker.update(t, &points);
            let tracks = tracker.tracks();
            if k == 5 {
                assert_eq!(tracks.len(), 2);
                let left = tracks.iter().find(|t| t.x_m < 3.5).unwrap().id;
                let right = tracks.iter().find(|t| t.x_m > 3.5).unwrap().id;
                ids = Some((left, right));
            }
            if let Some((left, right)) = ids {
                let (ta, tb) = (track_at(&tracks, left), track_at(&tracks, right));
                assert!((ta.y_m - 1.0).abs() < 0.1, "frame {k}: {tracks:?}");
                assert!((tb.y_m - 1.6).abs() < 0.1, "frame {k}: {tracks:?}");
                assert!((ta.x_m - a[0]).abs() < 0.2, "frame {k}: {tracks:?}");
                if k > 30 {
                    assert!(ta.moving && tb.moving, "frame {k}: {tracks:?}");
                }
            }
        }
        // After the crossing the left walker is far right and still has its id.
        let (left, _) = ids.unwrap();
        assert!(track_at(&tracker.tracks(), left).x_m > 5.5);
        assert_eq!(tracker.tracks().len(), 2);
    }

    #[test]
    fn a_single_false_detection_is_never_reported_and_misses_are_held() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut changes = Vec::new();
        for k in 0..10i64 {
            let mut points = vec![[2.0, 2.0]];
            if k == 4 {
                points.push([4.0, 1.0]);
            }
            // Frames 6 and 7 miss the person.
            if k == 6 || k == 7 {
                points.clear();
            }
            changes.extend(tracker.update(k * FRAME_NS, &points));
            assert!(tracker.tracks().len() <= 1, "frame {k}");
        }
        assert_eq!(changes, [TrackChange::Confirmed(1)]);
        let t = &tracker.tracks()[0];
        assert!(!t.moving);
        // Nobody for longer than the hold: the track ends once.
        assert!(tracker.update(9 * FRAME_NS + 1_400_000_000, &[]).is_empty());
        assert_eq!(
            tracker.update(9 * FRAME_NS + 1_600_000_000, &[]),
            [TrackChange::Lost(1)]
        );
        assert!(tracker.tracks().is_empty());
        assert!(tracker.expire(i64::MAX / 2).is_empty());
    }

    #[test]
    fn a_jump_beyond_the_gate_starts_a_new_track() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        for k in 0..5i64 {
            tracker.update(k * FRAME_NS, &[[1.0, 1.0]]);
        }
        for k in 5..10i64 {
            tracker.update(k * FRAME_NS, &[[3.0, 1.0]]);
        }
        let ids: Vec<u64> = tracker.tracks().iter().map(|t| t.id).collect();
        // The old one is held (not yet expired), the new one confirmed.
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn a_person_who_stops_becomes_still() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut x = 0.5;
        let mut moving = Vec::new();
        for k in 0..120i64 {
            if k < 40 {
                x += 0.05; // 1 m/s
            }
            tracker.update(k * FRAME_NS, &[[x, 2.0]]);
            moving.push(tracker.tracks().first().is_some_and(|t| t.moving));
        }
        assert!(moving[20..40].iter().all(|&m| m));
        // Still within the speed window plus a little after the stop, and stays still.
        let still_from = (40..120).find(|&k| !moving[k]).unwrap();
        assert!(still_from <= 40 + 25, "still from frame {still_from}");
        assert!(moving[still_from..].iter().all(|&m| !m));
    }
}
