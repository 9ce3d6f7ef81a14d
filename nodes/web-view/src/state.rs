//! What the page shows, built from the node's inputs: one [`RoomView`] per room with its latest
//! pose frame, frames/s, per-stage latency, the simulator's true floor positions and the latest
//! `room_state`, gathered in a [`ViewState`] that is sent to the browsers as JSON.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use wdp_pose::PoseFrame;

/// Frames/s is measured over the arrivals of this many last nanoseconds.
const FPS_WINDOW_NS: i64 = 2_000_000_000;
/// Latency medians are taken over this many last frames.
const LATENCY_FRAMES: usize = 64;
/// The floor plan of a room starts at this size (metres; the smallest simulated rooms).
const MIN_FLOOR_M: f32 = 4.0;
/// Floor coordinates beyond this (metres) are not believed and do not grow the plan.
const MAX_FLOOR_M: f32 = 100.0;

/// Everything the page shows: every room's latest state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ViewState {
    /// Pose frames received so far, all rooms together (the page's frame counter).
    pub frames: u64,
    /// Rooms by name.
    pub rooms: BTreeMap<String, RoomView>,
}

/// One room's latest state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomView {
    /// The room's name (`room` metadata, `default` when empty).
    pub room: String,
    /// Pose frames received from this room.
    pub frames: u64,
    /// `seq` of the latest frame.
    pub seq: u64,
    /// `t_ns` (capture time) of the latest frame.
    pub t_ns: i64,
    /// Frames per second over the last two seconds of arrivals (0 until two frames came).
    pub fps: f64,
    /// `[W, H]` of the image the keypoints and boxes are in (`image_wh`; the bounding box of
    /// the points when the frame does not say).
    pub image_wh: [f32; 2],
    /// The model's name (`model` metadata), when given.
    pub model: Option<String>,
    /// True when the poses come from untrained weights.
    pub untrained: bool,
    /// The people of the latest frame.
    pub people: Vec<PersonView>,
    /// The true people's floor positions (the `truth` input, the simulator's), metres.
    pub truth_floor_m: Vec<[f32; 2]>,
    /// The number of true people, when a `truth` input came for this room.
    pub truth_people: Option<usize>,
    /// The floor plan drawn: `[0, x] x [0, y]` metres, grown to hold every position seen.
    pub floor_extent_m: [f32; 2],
    /// Per-stage processing time and end-to-end latency, from the frames' latency traces.
    pub latency: LatencyView,
    /// The latest `room_state` of room-state for this room, as it sent it.
    pub room_state: Option<serde_json::Value>,
    /// The room's camera frames, when a `frame` input brings them (served as PNG at
    /// `/frame/<room>`).
    pub camera: Option<CameraView>,
}

/// A room's camera frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CameraView {
    /// Frames published so far (the page fetches the newest when this changes).
    pub frames: u64,
    /// `[W, H]` pixels of the latest.
    pub size: [usize; 2],
}

/// One person of a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonView {
    /// The track id, when temporal gave one.
    pub track_id: Option<i64>,
    /// COCO-17 `(x, y, s)` in image pixels (`s`: score or visibility).
    pub keypoints: Vec<[f32; 3]>,
    /// `(x1, y1, x2, y2, score)` in image pixels.
    pub bbox: [f32; 5],
    /// Where the person stands, metres in the room frame, when the frame says.
    pub floor_m: Option<[f32; 2]>,
}

/// Latency figures of a room, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyView {
    /// Stages in trace order: processing time inside each (received -> sent).
    pub stages: Vec<StageLatency>,
    /// First traced stage received -> this node received; `None` without a trace.
    pub end_to_end: Option<Timing>,
}

/// One stage's processing time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageLatency {
    /// The stage's name in the trace.
    pub stage: String,
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// A time of the latest frame and the median over the last frames, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// The latest frame's.
    pub last_ms: f64,
    /// The median of the last 64 frames'.
    pub p50_ms: f64,
}

/// Samples of one timing.
#[derive(Debug, Default, Clone)]
struct Samples(VecDeque<f64>);

impl Samples {
    fn push(&mut self, ms: f64) {
        if self.0.len() == LATENCY_FRAMES {
            self.0.pop_front();
        }
        self.0.push_back(ms);
    }

    fn timing(&self) -> Option<Timing> {
        let last_ms = *self.0.back()?;
        let mut sorted: Vec<f64> = self.0.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Some(Timing {
            last_ms,
            p50_ms: wdp_node::quantile(&sorted, 0.5),
        })
    }
}

/// A room and what is kept to compute its figures.
#[derive(Debug, Clone)]
struct Slot {
    view: RoomView,
    arrivals_ns: VecDeque<i64>,
    stages: Vec<(String, Samples)>,
    end_to_end: Samples,
}

impl Slot {
    fn new(room: &str) -> Self {
        Self {
            view: RoomView {
                room: room.to_owned(),
                frames: 0,
                seq: 0,
                t_ns: 0,
                fps: 0.0,
                image_wh: [0.0, 0.0],
                model: None,
                untrained: false,
                people: Vec::new(),
                truth_floor_m: Vec::new(),
                truth_people: None,
                floor_extent_m: [MIN_FLOOR_M, MIN_FLOOR_M],
                latency: LatencyView::default(),
                room_state: None,
                camera: None,
            },
            arrivals_ns: VecDeque::new(),
            stages: Vec::new(),
            end_to_end: Samples::default(),
        }
    }

    /// Grows the floor plan to whole metres past every believable point of `xy`.
    fn see_floor(&mut self, xy: impl IntoIterator<Item = [f32; 2]>) {
        for p in xy
            .into_iter()
            .filter(|p| p.iter().all(|v| v.is_finite() && v.abs() < MAX_FLOOR_M))
        {
            for (e, v) in self.view.floor_extent_m.iter_mut().zip(p) {
                *e = e.max(v.max(0.0).floor() + 1.0);
            }
        }
    }

    fn arrived(&mut self, received_ns: i64) {
        self.arrivals_ns.push_back(received_ns);
        while self
            .arrivals_ns
            .front()
            .is_some_and(|&t| received_ns - t > FPS_WINDOW_NS)
        {
            self.arrivals_ns.pop_front();
        }
        self.view.fps = match (self.arrivals_ns.front(), self.arrivals_ns.back()) {
            (Some(&first), Some(&last)) if last > first => {
                (self.arrivals_ns.len() - 1) as f64 / ((last - first) as f64 / 1e9)
            }
            _ => 0.0,
        };
    }

    fn trace(&mut self, frame: &PoseFrame, received_ns: i64) {
        let trace = frame.meta.trace();
        let ms = |ns: i64| ns as f64 / 1e6;
        for (stage, received, sent) in &trace {
            let i = match self.stages.iter().position(|(s, _)| s == stage) {
                Some(i) => i,
                None => {
                    self.stages.push((stage.clone(), Samples::default()));
                    self.stages.len() - 1
                }
            };
            self.stages[i].1.push(ms(sent - received));
        }
        if let Some((_, first, _)) = trace.first() {
            self.end_to_end.push(ms(received_ns - first));
        }
        self.view.latency = LatencyView {
            stages: self
                .stages
                .iter()
                .filter_map(|(stage, samples)| {
                    Some(StageLatency {
                        stage: stage.clone(),
                        timing: samples.timing()?,
                    })
                })
                .collect(),
            end_to_end: self.end_to_end.timing(),
        };
    }
}

/// The rooms as the inputs describe them; [`Board::view`] is what the page gets.
#[derive(Debug, Clone, Default)]
pub struct Board {
    frames: u64,
    rooms: BTreeMap<String, Slot>,
}

/// The room a message belongs to: its `room` metadata, `default` when empty.
pub fn room_name(meta_room: &str) -> String {
    if meta_room.is_empty() {
        "default".to_owned()
    } else {
        meta_room.to_owned()
    }
}

impl Board {
    /// A board with no room yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&mut self, room: &str) -> &mut Slot {
        self.rooms
            .entry(room.to_owned())
            .or_insert_with(|| Slot::new(room))
    }

    /// Takes a pose frame that arrived at `received_ns` (wall clock, ns since the UNIX epoch,
    /// as the latency traces): it becomes its room's latest.
    pub fn frame(&mut self, frame: &PoseFrame, received_ns: i64) {
        self.frames += 1;
        let slot = self.slot(&room_name(&frame.meta.room));
        let people: Vec<PersonView> = frame
            .people
            .iter()
            .map(|p| PersonView {
                track_id: p.track_id.filter(|id| *id >= 0),
                keypoints: p.keypoints.to_vec(),
                bbox: p.bbox,
                floor_m: p.floor_m,
            })
            .collect();
        slot.see_floor(people.iter().filter_map(|p| p.floor_m));
        let image_wh = match frame.image_wh {
            Some([w, h]) => [w as f32, h as f32],
            None => points_extent(&people).unwrap_or(slot.view.image_wh),
        };
        slot.view.frames += 1;
        slot.view.seq = frame.seq();
        slot.view.t_ns = frame.t_ns();
        slot.view.image_wh = image_wh;
        slot.view.model = frame.model().map(str::to_owned);
        slot.view.untrained = frame.untrained().unwrap_or(false);
        slot.view.people = people;
        slot.arrived(received_ns);
        slot.trace(frame, received_ns);
    }

    /// Counts a camera frame of `size` `[W, H]` published for `room`.
    pub fn camera_frame(&mut self, room: &str, size: [usize; 2]) {
        let slot = self.slot(room);
        let frames = slot.view.camera.map_or(0, |c| c.frames) + 1;
        slot.view.camera = Some(CameraView { frames, size });
    }

    /// Takes the true people of `room` (their count and floor positions, metres).
    pub fn truth(&mut self, room: &str, people: usize, floor_m: Vec<[f32; 2]>) {
        let slot = self.slot(room);
        slot.see_floor(floor_m.iter().copied());
        slot.view.truth_people = Some(people);
        slot.view.truth_floor_m = floor_m;
    }

    /// Takes a `room_state` message (docs/CONTRACT.md): a JSON object whose `room` names the
    /// room (`meta_room`, the message's metadata, when it has none). Its tracks' positions
    /// grow the floor plan. An error when the text is not a JSON object.
    pub fn room_state(&mut self, text: &str, meta_room: &str) -> Result<String, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if !value.is_object() {
            return Err(format!("not a JSON object: {}", short(text)));
        }
        let room = room_name(value["room"].as_str().unwrap_or(meta_room));
        let tracks: Vec<[f32; 2]> = value["tracks"]
            .as_array()
            .map(|tracks| {
                tracks
                    .iter()
                    .filter_map(|t| Some([t["x_m"].as_f64()? as f32, t["y_m"].as_f64()? as f32]))
                    .collect()
            })
            .unwrap_or_default();
        let slot = self.slot(&room);
        slot.see_floor(tracks);
        slot.view.room_state = Some(value);
        Ok(room)
    }

    /// What the page shows now.
    pub fn view(&self) -> ViewState {
        ViewState {
            frames: self.frames,
            rooms: self
                .rooms
                .iter()
                .map(|(k, s)| (k.clone(), s.view.clone()))
                .collect(),
        }
    }

    /// Pose frames taken so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// The smallest image from the origin that holds every keypoint and box corner.
fn points_extent(people: &[PersonView]) -> Option<[f32; 2]> {
    let mut extent: Option<[f32; 2]> = None;
    for p in people {
        let corners = [[p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]];
        for [x, y] in p.keypoints.iter().map(|k| [k[0], k[1]]).chain(corners) {
            if x.is_finite() && y.is_finite() {
                let e = extent.get_or_insert([1.0, 1.0]);
                e[0] = e[0].max(x.ceil());
                e[1] = e[1].max(y.ceil());
            }
        }
    }
    extent
}

fn short(text: &str) -> String {
    text.chars().take(80).collect()
}
