//! The state machine of one room: pose frames and signal-level seconds in, the room's state
//! and its events out.

use crate::config::{Fusion, RoomConfig};
use crate::fall::{BodyObservation, FallDetector};
use crate::hold::{ns, CountWindow, Hold};
use crate::track::{TrackChange, TrackState, Tracker};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One person of a pose frame, as the room state needs it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoseObservation {
    /// The person's box score.
    pub score: f32,
    /// Where the person stands, metres in the room frame, when the pose carries it.
    pub floor_m: Option<[f32; 2]>,
    /// The pose's track id (the `temporal` node's, the simulator's person index), if any.
    pub track_id: Option<u64>,
    /// The box `[x0, y0, x1, y1]` in pixels, for the fall detector.
    pub box_xyxy: Option<[f32; 4]>,
    /// COCO-17 keypoints `(x, y, v)` in pixels, for the fall detector.
    pub keypoints: Option<[[f32; 3]; 17]>,
}

impl From<&wdp_pose::Person> for PoseObservation {
    /// What the room state reads of one person of a pose frame.
    fn from(p: &wdp_pose::Person) -> Self {
        Self {
            score: p.bbox[4],
            floor_m: p.floor_m,
            track_id: p.track_id.and_then(|id| u64::try_from(id).ok()),
            box_xyxy: Some([p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]]),
            keypoints: Some(p.keypoints),
        }
    }
}

/// One second of signal-level sensing of one radio link (what `wdp-sense` answers).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SignalObservation {
    /// The sensor is still measuring the quiet level: no answer yet.
    pub calibrating: bool,
    /// Someone is moving.
    pub motion: bool,
    /// Someone is present.
    pub presence: bool,
    /// Probability-like confidence that someone is present, 0..1 (`None`: no score this
    /// second).
    pub presence_confidence: Option<f64>,
    /// Breathing rate of a still person, breaths per minute, when the sensor reports one.
    pub breathing_bpm: Option<f64>,
}

impl From<&wdp_sense::SecondState> for SignalObservation {
    fn from(s: &wdp_sense::SecondState) -> Self {
        Self {
            calibrating: s.calibrating,
            motion: s.motion,
            presence: s.presence,
            presence_confidence: s.presence_confidence,
            breathing_bpm: s.breathing_bpm,
        }
    }
}

/// Which inputs the state was decided from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Pose frames only.
    Pose,
    /// Signal-level sensing only.
    Signal,
    /// Both.
    Both,
    /// Neither is fresh (start-up, calibration, or both stopped): presence false with
    /// confidence 0.
    None,
}

/// The state of a room at one moment (the `room_state` message; readers of the JSON parse it
/// back with serde and ignore fields they do not know).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    /// The room's name.
    pub room: String,
    /// Capture time of the newest input, ns.
    pub t_ns: i64,
    /// Somebody is in the room.
    pub presence: bool,
    /// Confidence in the reported `presence` value, 0..1.
    pub presence_confidence: f64,
    /// Somebody is moving.
    pub motion: bool,
    /// People in the room (with hold times); `None` without fresh poses (the signal cannot
    /// count).
    pub people: Option<u32>,
    /// The tracked people (poses with floor positions only).
    pub tracks: Vec<TrackState>,
    /// Which inputs decided.
    pub source: Source,
    /// Breathing rate of a still person in breaths per minute, from the fresh signal-level
    /// sensors that report one (their median); `None` while anybody moves, during the
    /// sensor's first 30 s of stillness, or when its breathing peak is not clear.
    pub breathing_bpm: Option<f64>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The room became occupied (or, with a track id, a tracked person appeared).
    Entered,
    /// The room became empty (or, with a track id, a tracked person's track ended).
    Left,
    /// A person fell: a fast drop of their height in the picture, then stillness low down
    /// (with the pose's track id when the poses carry one).
    Fall,
}

/// An event of a room (the `events` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// The room's name.
    pub room: String,
    /// Capture time at which it was decided, ns.
    pub t_ns: i64,
    /// What happened.
    pub event: EventKind,
    /// The track, for per-track events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
}

struct PoseSide {
    last_ns: i64,
    window: CountWindow,
    count: Hold<u32>,
    presence: Hold<bool>,
    tracker: Tracker,
}

/// The room state machine. Feed it in capture-time order ([`Room::push_pose`],
/// [`Room::push_signal`], [`Room::advance`] when time passes without input); read it with
/// [`Room::state`]. Each call returns the events it caused.
pub struct Room {
    name: String,
    config: RoomConfig,
    newest_ns: Option<i64>,
    pose: Option<PoseSide>,
    signals: BTreeMap<String, (i64, SignalObservation)>,
    presence: bool,
    falls: FallDetector,
}

impl Room {
    /// An empty room (nobody present, no source yet). The configuration is checked.
    pub fn new(name: &str, config: RoomConfig) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        let falls = FallDetector::new(config.fall.clone()).map_err(crate::ConfigError::Invalid)?;
        Ok(Self {
            falls,
            name: name.to_owned(),
            config,
            newest_ns: None,
            pose: None,
            signals: BTreeMap::new(),
            presence: false,
        })
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn clock(&mut self, t_ns: i64) -> i64 {
        let t = self.newest_ns.map_or(t_ns, |n| n.max(t_ns));
        self.newest_ns = Some(t);
        t
    }

    fn fresh(&self, last_ns: i64) -> bool {
        self.newest_ns
            .is_some_and(|n| n - last_ns <= ns(self.config.source_timeout_s))
    }

    /// One pose frame at capture time `t_ns` with its people.
    ///
    /// Counts, holds and tracks run on the frames' own times; freshness on the room's clock
    /// (the newest input of any source), so a pose pipeline that runs some seconds behind the
    /// radio but keeps delivering stays fresh.
    pub fn push_pose(&mut self, t_ns: i64, people: &[PoseObservation]) -> Vec<RoomEvent> {
        let now = self.clock(t_ns);
        let c = &self.config;
        let pose = self.pose.get_or_insert_with(|| PoseSide {
            last_ns: now,
            window: CountWindow::default(),
            count: Hold::new(0),
            presence: Hold::new(false),
            tracker: Tracker::new(c.tracker.clone()),
        });
        pose.last_ns = now;
        let counted: Vec<&PoseObservation> =
            people.iter().filter(|p| p.score >= c.min_score).collect();
        pose.window
            .push(t_ns, counted.len() as u32, ns(c.count_window_s));
        let mode = pose.window.mode(pose.count.value());
        pose.count.update(t_ns, mode, ns(c.count_hold_s));
        let occupied = pose.window.occupied_share() >= 0.5;
        let hold = if occupied {
            c.presence_enter_s
        } else {
            c.presence_exit_s
        };
        pose.presence.update(t_ns, occupied, ns(hold));
        let points: Vec<[f32; 2]> = counted.iter().filter_map(|p| p.floor_m).collect();
        let changes = pose.tracker.update(t_ns, &points);
        let min_keypoints = c.fall.min_keypoints;
        let bodies: Vec<BodyObservation> = counted
            .iter()
            .filter_map(|p| {
                BodyObservation::from_pose(
                    p.track_id,
                    p.box_xyxy,
                    p.keypoints.as_ref(),
                    min_keypoints,
                )
            })
            .collect();
        let falls = self.falls.update(t_ns, &bodies);
        let mut events = self.track_events(now, changes);
        events.extend(falls.into_iter().map(|f| RoomEvent {
            room: self.name.clone(),
            t_ns: f.t_ns,
            event: EventKind::Fall,
            track_id: f.track_id,
        }));
        events.extend(self.settle(now));
        events
    }

    /// One second of signal-level sensing of `link`, decided at capture time `t_ns`.
    pub fn push_signal(
        &mut self,
        t_ns: i64,
        link: &str,
        second: SignalObservation,
    ) -> Vec<RoomEvent> {
        let t = self.clock(t_ns);
        self.signals.insert(link.to_owned(), (t, second));
        if !second.calibrating {
            self.falls.signal(t, true, second.motion);
        }
        let changes = self.drop_stale_pose();
        let mut events = self.track_events(t, changes);
        events.extend(self.settle(t));
        events
    }

    /// Forgets what stale poses said (they start afresh if they return). Tracks of fresh
    /// poses expire on the frames' own clock, in [`Tracker::update`].
    fn drop_stale_pose(&mut self) -> Vec<TrackChange> {
        let stale = self.pose.as_ref().is_some_and(|p| !self.fresh(p.last_ns));
        match self.pose.as_mut() {
            Some(pose) if stale => {
                pose.window.clear();
                pose.count.reset(0);
                pose.presence.reset(false);
                pose.tracker.clear()
            }
            _ => Vec::new(),
        }
    }

    /// Time passes without input (a steady tick): stale sources are dropped.
    pub fn advance(&mut self, t_ns: i64) -> Vec<RoomEvent> {
        let t = self.clock(t_ns);
        let changes = self.drop_stale_pose();
        let mut events = self.track_events(t, changes);
        events.extend(self.settle(t));
        events
    }

    fn track_events(&self, t_ns: i64, changes: Vec<TrackChange>) -> Vec<RoomEvent> {
        if !self.config.track_events {
            return Vec::new();
        }
        changes
            .into_iter()
            .map(|c| {
                let (event, id) = match c {
                    TrackChange::Confirmed(id) => (EventKind::Entered, id),
                    TrackChange::Lost(id) => (EventKind::Left, id),
                };
                RoomEvent {
                    room: self.name.clone(),
                    t_ns,
                    event,
                    track_id: Some(id),
                }
            })
            .collect()
    }

    /// Re-decides presence; an event when it changed.
    fn settle(&mut self, t_ns: i64) -> Vec<RoomEvent> {
        let presence = self.decide().presence;
        if presence == self.presence {
            return Vec::new();
        }
        self.presence = presence;
        vec![RoomEvent {
            room: self.name.clone(),
            t_ns,
            event: if presence {
                EventKind::Entered
            } else {
                EventKind::Left
            },
            track_id: None,
        }]
    }

    /// The fresh pose side, if any.
    fn fresh_pose(&self) -> Option<&PoseSide> {
        self.pose.as_ref().filter(|p| self.fresh(p.last_ns))
    }

    /// The fresh signal seconds that have an answer (not calibrating).
    fn fresh_signals(&self) -> impl Iterator<Item = &SignalObservation> {
        self.signals
            .values()
            .filter(|(t, s)| self.fresh(*t) && !s.calibrating)
            .map(|(_, s)| s)
    }

    fn decide(&self) -> RoomState {
        let pose = self.fresh_pose();
        let signals: Vec<&SignalObservation> = self.fresh_signals().collect();
        // Each source: (presence, probability-like confidence that someone is present).
        let pose_vote = pose.map(|p| (p.presence.value(), p.window.occupied_share()));
        let signal_vote = (!signals.is_empty()).then(|| {
            let presence = signals.iter().any(|s| s.presence);
            let p = signals
                .iter()
                .map(|s| {
                    s.presence_confidence
                        .unwrap_or(if s.presence { 1.0 } else { 0.0 })
                })
                .fold(0.0, f64::max);
            (presence, p)
        });
        let (source, votes): (Source, Vec<(bool, f64)>) = match (pose_vote, signal_vote) {
            (Some(p), Some(s)) => match self.config.fusion {
                Fusion::Either => (Source::Both, vec![p, s]),
                Fusion::Pose => (Source::Both, vec![p]),
                Fusion::Signal => (Source::Both, vec![s]),
            },
            (Some(p), None) => (Source::Pose, vec![p]),
            (None, Some(s)) => (Source::Signal, vec![s]),
            (None, None) => (Source::None, vec![]),
        };
        let presence = votes.iter().any(|&(v, _)| v);
        let presence_confidence = if votes.is_empty() {
            0.0
        } else if presence {
            votes
                .iter()
                .filter(|&&(v, _)| v)
                .map(|&(_, p)| p)
                .fold(0.0, f64::max)
        } else {
            votes.iter().map(|&(_, p)| 1.0 - p).fold(1.0, f64::min)
        };
        let tracks = pose.map(|p| p.tracker.tracks()).unwrap_or_default();
        let motion = signals.iter().any(|s| s.motion) || tracks.iter().any(|t| t.moving);
        // The pose count agrees with the pose presence: no "present, 0 people" or the reverse.
        let people = pose.map(|p| {
            if p.presence.value() {
                p.count.value().max(1)
            } else {
                0
            }
        });
        let mut breaths: Vec<f64> = signals.iter().filter_map(|s| s.breathing_bpm).collect();
        breaths.sort_by(f64::total_cmp);
        let breathing_bpm = match breaths.len() {
            0 => None,
            n if n % 2 == 1 => Some(breaths[n / 2]),
            n => Some(0.5 * (breaths[n / 2 - 1] + breaths[n / 2])),
        };
        RoomState {
            breathing_bpm,
            room: self.name.clone(),
            t_ns: self.newest_ns.unwrap_or(0),
            presence,
            presence_confidence: presence_confidence.clamp(0.0, 1.0),
            motion,
            people,
            tracks,
            source,
        }
    }

    /// The room's state now (as of the newest input or [`Room::advance`]).
    pub fn state(&self) -> RoomState {
        let mut s = self.decide();
        // The reported presence is the one the events announced.
        s.presence = self.presence;
        s
    }
}
