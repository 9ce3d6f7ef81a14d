//! The building view: one `wdp_room::Room` per room (people count, tracks in metres with ids
//! stable inside the room), building-level ids handed over between rooms that share a door,
//! the building's occupancy, and each room's health from when its messages arrive.
//!
//! Two clocks: each room's own pose frames are decided on that room's capture clock (`t_ns`,
//! as room-state does), while health and handovers compare rooms with each other and so use
//! the wall clock of arrival here (`now_ns`, ns since the UNIX epoch), the one clock all rooms
//! share at this node.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wdp_building::BuildingPlan;
use wdp_room::{EventKind, PoseObservation, Room, RoomConfig, RoomState, Source};

const NS: f64 = 1e9;

/// What the fusion decides with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FusionConfig {
    /// A room without a pose frame for this long is stale (s).
    pub stale_after_s: f64,
    /// A room that came back is reported `rejoined` for this long, then `live` (s).
    pub rejoined_for_s: f64,
    /// A person whose track ended in one room and who appears in a room sharing a door within
    /// this time keeps their building id (s). It must cover the tracker's `hold_s` plus the
    /// time to walk through the door.
    pub handover_window_s: f64,
    /// With door positions in the description: how far from the door (m) the person's last
    /// position in the room left and first position in the room entered may be.
    pub door_radius_m: f32,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            stale_after_s: 2.0,
            rejoined_for_s: 10.0,
            handover_window_s: 4.0,
            door_radius_m: 1.5,
        }
    }
}

impl FusionConfig {
    /// Every duration positive and finite, the radius positive.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("stale_after_s", self.stale_after_s),
            ("rejoined_for_s", self.rejoined_for_s),
            ("handover_window_s", self.handover_window_s),
            ("door_radius_m", f64::from(self.door_radius_m)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} = {v}: must be positive and finite"));
            }
        }
        Ok(())
    }
}

/// A room's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No frame from it yet.
    Waiting,
    /// Frames arrive.
    Live,
    /// No frame for `stale_after_s`.
    Stale,
    /// Frames arrive again after it was stale (for `rejoined_for_s`, then `live`).
    Rejoined,
}

/// One tracked person of a room, with their building-level id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonView {
    /// The building-level id (kept across rooms through doors).
    pub building_id: u64,
    /// The room's track id (stable inside the room, not reused).
    pub track_id: u64,
    /// Floor position in the room's frame (m).
    pub x_m: f32,
    /// Floor position in the room's frame (m).
    pub y_m: f32,
    /// The track moves.
    pub moving: bool,
}

/// One room in the building state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomView {
    /// The room.
    pub room: String,
    /// Its health.
    pub health: Health,
    /// Wall clock (ms since the UNIX epoch) of its last frame.
    pub last_seen_ms: Option<i64>,
    /// Since when it is stale (wall clock ms: its last frame), while stale.
    pub stale_since_ms: Option<i64>,
    /// When it last came back (wall clock ms).
    pub rejoined_at_ms: Option<i64>,
    /// How many times it came back.
    pub rejoins: u64,
    /// Pose frames received from it.
    pub frames: u64,
    /// Frames that never came: gaps in the frames' `seq` (the window counter carried from
    /// csi-preprocess), so a window lost on the way (a stage that died and was restarted, a
    /// queue that dropped) is counted here rather than lost silently.
    pub missed_frames: u64,
    /// The newest frame's `seq`: between two states without a restart, the frames received
    /// plus the frames missed make up its advance.
    pub last_seq: Option<u64>,
    /// Times the room's `seq` started over (its chain restarted).
    pub seq_restarts: u64,
    /// People of its newest frame (unheld).
    pub frame_people: Option<u32>,
    /// People with the room state's hold (`wdp_room`); null without fresh poses and while
    /// stale.
    pub people: Option<u32>,
    /// Somebody is there (the room state's presence); false while stale.
    pub presence: bool,
    /// The tracked people (poses with floor positions only).
    pub tracks: Vec<PersonView>,
}

/// The building state (the `building_state` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildingState {
    /// The building's name.
    pub building: String,
    /// Wall clock of the state (ms since the UNIX epoch).
    pub t_ms: i64,
    /// People in the building: the sum over the rooms that report a count.
    pub occupancy: u32,
    /// True when every room is live (or rejoined) and reports a count.
    pub occupancy_complete: bool,
    /// The rooms, in the description's order.
    pub rooms: Vec<RoomView>,
    /// Handovers so far.
    pub handovers: u64,
}

/// What the fusion tells as it happens (the `events` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum BuildingEvent {
    /// A person went from one room to another and kept their building id.
    Handover {
        /// Wall clock (ms).
        t_ms: i64,
        /// The person's building id.
        building_id: u64,
        /// The room left.
        from: String,
        /// Their track there.
        from_track: u64,
        /// The room entered.
        to: String,
        /// Their track there.
        to_track: u64,
    },
    /// A room went stale.
    Stale {
        /// Wall clock (ms) of the decision.
        t_ms: i64,
        /// The room.
        room: String,
        /// Its last frame (wall clock ms).
        last_seen_ms: i64,
    },
    /// A stale room sends again.
    Rejoined {
        /// Wall clock (ms).
        t_ms: i64,
        /// The room.
        room: String,
        /// How long it was silent (s).
        silent_s: f64,
    },
}

/// A track that ended in a room, waiting for a person to appear next door.
#[derive(Debug, Clone)]
struct Departure {
    room: String,
    track: u64,
    building_id: u64,
    at_ns: i64,
    xy: Option<[f32; 2]>,
}

/// A track that appeared with a new building id, which a departure next door may still claim
/// (the room left ends a track only after the tracker's hold).
#[derive(Debug, Clone)]
struct Arrival {
    room: String,
    track: u64,
    at_ns: i64,
    xy: Option<[f32; 2]>,
}

struct RoomSlot {
    room: Room,
    /// Capture clock of its newest frame, and the wall clock it arrived at.
    capture_ns: i64,
    last_seen_ns: Option<i64>,
    stale_since_ns: Option<i64>,
    rejoined_at_ns: Option<i64>,
    rejoins: u64,
    frames: u64,
    frame_people: Option<u32>,
    last_seq: Option<u64>,
    missed_frames: u64,
    seq_restarts: u64,
    /// Building id and last position of each of its tracks.
    tracks: BTreeMap<u64, (u64, [f32; 2])>,
}

/// The fusion of a building's rooms.
pub struct Fusion {
    plan: BuildingPlan,
    config: FusionConfig,
    room_config: RoomConfig,
    rooms: BTreeMap<String, RoomSlot>,
    departures: Vec<Departure>,
    arrivals: Vec<Arrival>,
    next_id: u64,
    handovers: u64,
}

impl Fusion {
    /// A building of `plan`'s rooms, each room state decided with `room` (track events on).
    pub fn new(plan: BuildingPlan, config: FusionConfig, room: RoomConfig) -> Result<Self, String> {
        plan.validate()?;
        config.validate()?;
        let mut room_config = room;
        room_config.track_events = true;
        let mut rooms = BTreeMap::new();
        for name in plan.room_names() {
            let r = Room::new(&name, room_config.clone()).map_err(|e| e.to_string())?;
            rooms.insert(
                name,
                RoomSlot {
                    room: r,
                    capture_ns: 0,
                    last_seen_ns: None,
                    stale_since_ns: None,
                    rejoined_at_ns: None,
                    rejoins: 0,
                    frames: 0,
                    frame_people: None,
                    last_seq: None,
                    missed_frames: 0,
                    seq_restarts: 0,
                    tracks: BTreeMap::new(),
                },
            );
        }
        Ok(Self {
            plan,
            config,
            room_config,
            rooms,
            departures: Vec::new(),
            arrivals: Vec::new(),
            next_id: 1,
            handovers: 0,
        })
    }

    /// The description.
    pub fn plan(&self) -> &BuildingPlan {
        &self.plan
    }

    /// True when `room` is one of the building's.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// One pose frame of `room` (capture time `t_ns`), arrived at wall clock `now_ns`.
    pub fn push_frame(
        &mut self,
        room: &str,
        t_ns: i64,
        people: &[PoseObservation],
        now_ns: i64,
    ) -> Result<Vec<BuildingEvent>, String> {
        self.push_frame_seq(room, None, t_ns, people, now_ns)
    }

    /// [`Fusion::push_frame`] with the frame's `seq`: a gap counts the frames missed, a `seq`
    /// below the last one a restart of the room's chain.
    pub fn push_frame_seq(
        &mut self,
        room: &str,
        seq: Option<u64>,
        t_ns: i64,
        people: &[PoseObservation],
        now_ns: i64,
    ) -> Result<Vec<BuildingEvent>, String> {
        let slot = self
            .rooms
            .get_mut(room)
            .ok_or_else(|| format!("room {room:?} is not in the building description"))?;
        let mut out = Vec::new();
        if slot.stale_since_ns.take().is_some() {
            let silent = slot.last_seen_ns.map_or(0, |t| now_ns - t);
            slot.rejoins += 1;
            slot.rejoined_at_ns = Some(now_ns);
            // Its pipeline restarted (its capture clock may have too): its state starts over.
            slot.room = Room::new(room, self.room_config.clone()).map_err(|e| e.to_string())?;
            slot.capture_ns = t_ns;
            out.push(BuildingEvent::Rejoined {
                t_ms: ms(now_ns),
                room: room.to_owned(),
                silent_s: silent as f64 / NS,
            });
        }
        slot.last_seen_ns = Some(now_ns);
        slot.capture_ns = slot.capture_ns.max(t_ns);
        slot.frames += 1;
        if let Some(seq) = seq {
            match slot.last_seq {
                Some(last) if seq > last => slot.missed_frames += seq - last - 1,
                Some(last) if seq < last => slot.seq_restarts += 1,
                _ => {}
            }
            slot.last_seq = Some(seq);
        }
        slot.frame_people = Some(u32::try_from(people.len()).unwrap_or(u32::MAX));
        let events = slot.room.push_pose(t_ns, people);
        let state = slot.room.state();
        for t in &state.tracks {
            if let Some(entry) = slot.tracks.get_mut(&t.id) {
                entry.1 = [t.x_m, t.y_m];
            }
        }
        let positions: BTreeMap<u64, [f32; 2]> = state
            .tracks
            .iter()
            .map(|t| (t.id, [t.x_m, t.y_m]))
            .collect();
        for e in events {
            let Some(track) = e.track_id else { continue };
            match e.event {
                EventKind::Entered => {
                    let xy = positions.get(&track).copied();
                    out.extend(self.entered(room, track, xy, now_ns));
                }
                EventKind::Left => out.extend(self.left(room, track, now_ns)),
                EventKind::Fall => {}
            }
        }
        Ok(out)
    }

    /// Moves health on to wall clock `now_ns`: rooms silent for `stale_after_s` go stale (their
    /// tracks end as lost, never as departures); returns what changed.
    pub fn advance(&mut self, now_ns: i64) -> Vec<BuildingEvent> {
        let stale_after = secs_ns(self.config.stale_after_s);
        let window = secs_ns(self.config.handover_window_s);
        let mut out = Vec::new();
        for (name, slot) in &mut self.rooms {
            let Some(last) = slot.last_seen_ns else {
                continue;
            };
            if slot.stale_since_ns.is_none() && now_ns - last > stale_after {
                slot.stale_since_ns = Some(last);
                out.push(BuildingEvent::Stale {
                    t_ms: ms(now_ns),
                    room: name.clone(),
                    last_seen_ms: ms(last),
                });
            }
            if slot.stale_since_ns.is_some() {
                // Its people are lost with it (not departed: nobody is handed over from it).
                slot.tracks.clear();
            }
        }
        self.departures.retain(|d| now_ns - d.at_ns <= window);
        self.arrivals.retain(|a| now_ns - a.at_ns <= window);
        out
    }

    /// A track appeared in `room`: a recent departure next door hands its id over, else a new
    /// id (which a departure next door may still claim within the window).
    fn entered(
        &mut self,
        room: &str,
        track: u64,
        xy: Option<[f32; 2]>,
        now_ns: i64,
    ) -> Vec<BuildingEvent> {
        let window = secs_ns(self.config.handover_window_s);
        let best = self
            .departures
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                now_ns - d.at_ns <= window && self.through_door(&d.room, d.xy, room, xy)
            })
            .max_by_key(|(_, d)| d.at_ns)
            .map(|(i, _)| i);
        let xy_or = xy.unwrap_or([f32::NAN; 2]);
        if let Some(i) = best {
            let d = self.departures.remove(i);
            self.assign(room, track, d.building_id, xy_or);
            self.handovers += 1;
            return vec![BuildingEvent::Handover {
                t_ms: ms(now_ns),
                building_id: d.building_id,
                from: d.room,
                from_track: d.track,
                to: room.to_owned(),
                to_track: track,
            }];
        }
        let id = self.next_id;
        self.next_id += 1;
        self.assign(room, track, id, xy_or);
        self.arrivals.push(Arrival {
            room: room.to_owned(),
            track,
            at_ns: now_ns,
            xy,
        });
        Vec::new()
    }

    /// A track of `room` ended: a recent arrival next door takes this person's id, else the
    /// person waits as a departure.
    fn left(&mut self, room: &str, track: u64, now_ns: i64) -> Vec<BuildingEvent> {
        let Some((building_id, xy)) = self
            .rooms
            .get_mut(room)
            .and_then(|s| s.tracks.remove(&track))
        else {
            return Vec::new();
        };
        let xy = xy.iter().all(|v| v.is_finite()).then_some(xy);
        let window = secs_ns(self.config.handover_window_s);
        let best = self
            .arrivals
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                now_ns - a.at_ns <= window && self.through_door(room, xy, &a.room, a.xy)
            })
            .filter(|(_, a)| {
                self.rooms
                    .get(&a.room)
                    .is_some_and(|s| s.tracks.contains_key(&a.track))
            })
            .min_by_key(|(_, a)| a.at_ns)
            .map(|(i, _)| i);
        if let Some(i) = best {
            let a = self.arrivals.remove(i);
            if let Some(entry) = self
                .rooms
                .get_mut(&a.room)
                .and_then(|s| s.tracks.get_mut(&a.track))
            {
                entry.0 = building_id;
            }
            self.handovers += 1;
            return vec![BuildingEvent::Handover {
                t_ms: ms(now_ns),
                building_id,
                from: room.to_owned(),
                from_track: track,
                to: a.room,
                to_track: a.track,
            }];
        }
        self.departures.push(Departure {
            room: room.to_owned(),
            track,
            building_id,
            at_ns: now_ns,
            xy,
        });
        Vec::new()
    }

    fn assign(&mut self, room: &str, track: u64, building_id: u64, xy: [f32; 2]) {
        if let Some(slot) = self.rooms.get_mut(room) {
            slot.tracks.insert(track, (building_id, xy));
        }
    }

    /// Whether leaving `from` at `from_xy` and appearing in `to` at `to_xy` passes a door: the
    /// rooms share one, and where the door has a position in a room, the person was within
    /// `door_radius_m` of it (an unknown position passes).
    fn through_door(
        &self,
        from: &str,
        from_xy: Option<[f32; 2]>,
        to: &str,
        to_xy: Option<[f32; 2]>,
    ) -> bool {
        let r = self.config.door_radius_m;
        let near = |door: Option<&[f32; 2]>, xy: Option<[f32; 2]>| match (door, xy) {
            (Some(d), Some(p)) => ((d[0] - p[0]).powi(2) + (d[1] - p[1]).powi(2)).sqrt() <= r,
            _ => true,
        };
        from != to
            && self
                .plan
                .doors_between(from, to)
                .any(|d| near(d.at.get(from), from_xy) && near(d.at.get(to), to_xy))
    }

    /// The building state at wall clock `now_ns` (call [`Fusion::advance`] first).
    pub fn state(&self, now_ns: i64) -> BuildingState {
        let rejoined_for = secs_ns(self.config.rejoined_for_s);
        let mut occupancy = 0u32;
        let mut complete = true;
        let mut rooms = Vec::new();
        for name in self.plan.room_names() {
            let Some(slot) = self.rooms.get(&name) else {
                continue;
            };
            let health = match (slot.last_seen_ns, slot.stale_since_ns, slot.rejoined_at_ns) {
                (None, _, _) => Health::Waiting,
                (_, Some(_), _) => Health::Stale,
                (_, None, Some(r)) if now_ns - r <= rejoined_for => Health::Rejoined,
                _ => Health::Live,
            };
            let room_state: RoomState = slot.room.state();
            let usable = matches!(health, Health::Live | Health::Rejoined);
            let people = if usable { room_state.people } else { None };
            match people {
                Some(n) => occupancy += n,
                None => complete = false,
            }
            let tracks = if usable {
                room_state
                    .tracks
                    .iter()
                    .filter_map(|t| {
                        slot.tracks.get(&t.id).map(|(bid, _)| PersonView {
                            building_id: *bid,
                            track_id: t.id,
                            x_m: t.x_m,
                            y_m: t.y_m,
                            moving: t.moving,
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            rooms.push(RoomView {
                room: name.clone(),
                health,
                last_seen_ms: slot.last_seen_ns.map(ms),
                stale_since_ms: slot.stale_since_ns.map(ms),
                rejoined_at_ms: slot.rejoined_at_ns.map(ms),
                rejoins: slot.rejoins,
                frames: slot.frames,
                missed_frames: slot.missed_frames,
                last_seq: slot.last_seq,
                seq_restarts: slot.seq_restarts,
                frame_people: slot.frame_people,
                people,
                presence: usable && room_state.presence && room_state.source != Source::None,
                tracks,
            });
        }
        BuildingState {
            building: self.plan.name.clone().unwrap_or_else(|| "building".into()),
            t_ms: ms(now_ns),
            occupancy,
            occupancy_complete: complete,
            rooms,
            handovers: self.handovers,
        }
    }
}

fn secs_ns(s: f64) -> i64 {
    (s * NS).round() as i64
}

fn ms(ns: i64) -> i64 {
    ns.div_euclid(1_000_000)
}
