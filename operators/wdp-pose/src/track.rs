//! Track ids across frames ([`Tracker`]) and per-track smoothing ([`PoseSmoother`]).
//!
//! Each live track predicts where its person is now (constant velocity of the box centre), and
//! detections are matched to predictions by a similarity that mixes OKS (object keypoint
//! similarity, COCO's keypoint distance) and box IoU. The assignment that maximises total
//! similarity is found with the Hungarian algorithm, so two people crossing do not steal each
//! other's ids the way greedy best-first matching does when one pair is ambiguous. Pairs below
//! `min_similarity` stay unmatched: the detection starts a new track, the track counts a miss and
//! is forgotten after `max_missed` misses. Everything is deterministic (tracks in id order,
//! detections in frame order).

use crate::filter::{FilterConfig, PointFilter};
use crate::frame::{KeypointKind, Person, PoseFrame, NUM_KEYPOINTS};
use crate::COCO_SIGMAS;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Tracker parameters.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Weight of OKS in the similarity (the rest is box IoU); when a track and a detection share
    /// no present keypoint, IoU alone decides.
    pub oks_weight: f32,
    /// Least similarity for a detection to continue a track.
    pub min_similarity: f32,
    /// Frames a track survives without a detection.
    pub max_missed: u32,
    /// People whose box score is below this are not tracked (no id, not smoothed).
    pub min_box_score: f32,
    /// A keypoint with a score at or below this counts as absent (visibility: 0 is absent).
    pub min_keypoint_score: f32,
    /// Weight of the newest velocity measurement in the track's velocity average (0-1).
    pub velocity_gain: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            oks_weight: 0.5,
            min_similarity: 0.1,
            max_missed: 5,
            min_box_score: 0.0,
            min_keypoint_score: 0.0,
            velocity_gain: 0.5,
        }
    }
}

/// Tracking and smoothing parameters, e.g. from a node's YAML configuration:
///
/// ```
/// let config: wdp_pose::SmootherConfig =
///     serde_yaml::from_str("filter: {kind: kalman}\ntracker: {max_missed: 10}")?;
/// assert_eq!(config.tracker.max_missed, 10);
/// assert_eq!(config.filter.kind, wdp_pose::FilterKind::Kalman);
/// # Ok::<(), serde_yaml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmootherConfig {
    /// Track assignment.
    pub tracker: TrackerConfig,
    /// Smoothing of keypoints and box corners.
    pub filter: FilterConfig,
}

#[derive(Debug, Clone)]
struct Track {
    id: i64,
    last: Person,
    last_t_s: f64,
    /// Box-centre velocity, px/s.
    velocity: [f32; 2],
    missed: u32,
}

impl Track {
    fn predicted(&self, t_s: f64) -> Person {
        let dt = (t_s - self.last_t_s) as f32;
        let [vx, vy] = self.velocity.map(|v| v * dt);
        let mut p = self.last;
        for k in p.keypoints.iter_mut() {
            k[0] += vx;
            k[1] += vy;
        }
        p.bbox[0] += vx;
        p.bbox[2] += vx;
        p.bbox[1] += vy;
        p.bbox[3] += vy;
        p
    }
}

fn centre(b: &[f32; 5]) -> [f32; 2] {
    [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]
}

/// Intersection over union of two `[x1, y1, x2, y2, ..]` boxes (0 when either is empty).
pub fn box_iou(a: &[f32], b: &[f32]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// COCO object keypoint similarity of `a` to `b`, with `b`'s box area as scale, over keypoints
/// present in both; `None` when they share none or `b`'s box is empty.
pub fn oks(a: &Person, b: &Person, kind: KeypointKind, min_score: f32) -> Option<f32> {
    let area = b.box_area();
    if area <= 0.0 {
        return None;
    }
    let mut sum = 0.0;
    let mut count = 0;
    for ((ka, kb), sigma) in a.keypoints.iter().zip(&b.keypoints).zip(COCO_SIGMAS) {
        if !(kind.is_present(ka[2], min_score) && kind.is_present(kb[2], min_score)) {
            continue;
        }
        let d2 = (ka[0] - kb[0]).powi(2) + (ka[1] - kb[1]).powi(2);
        let var = (2.0 * sigma).powi(2);
        sum += (-d2 / (2.0 * area * var)).exp();
        count += 1;
    }
    (count > 0).then(|| sum / count as f32)
}

/// Minimum-cost assignment (Hungarian algorithm, O(n^2 m)) of a `rows x cols` cost matrix:
/// for each row, its column, or `None` when there are more rows than columns and it got none.
/// Non-finite costs are treated as the largest finite cost.
pub fn hungarian(cost: &[Vec<f64>]) -> Vec<Option<usize>> {
    let rows = cost.len();
    let cols = cost.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    let worst = cost
        .iter()
        .flatten()
        .copied()
        .filter(|c| c.is_finite())
        .fold(0.0_f64, f64::max);
    let at = |r: usize, c: usize| {
        let v = cost[r].get(c).copied().unwrap_or(worst);
        if v.is_finite() {
            v
        } else {
            worst
        }
    };
    if rows <= cols {
        assign(rows, cols, at).into_iter().map(Some).collect()
    } else {
        let by_col = assign(cols, rows, |c, r| at(r, c));
        let mut out = vec![None; rows];
        for (c, r) in by_col.into_iter().enumerate() {
            out[r] = Some(c);
        }
        out
    }
}

/// Shortest-augmenting-path Hungarian algorithm with potentials for `n <= m`; returns each
/// row's column.
fn assign(n: usize, m: usize, a: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let (mut p, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = a(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = j - 1;
        }
    }
    out
}

/// Assigns stable track ids across frames; see the module documentation.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: i64,
}

impl Tracker {
    /// A tracker without tracks; ids start at 0.
    pub fn new(config: TrackerConfig) -> Self {
        Tracker {
            config,
            tracks: Vec::new(),
            next_id: 0,
        }
    }

    /// Similarity in [0, 1] of a track's predicted person to a detection.
    pub fn similarity(&self, predicted: &Person, detection: &Person, kind: KeypointKind) -> f32 {
        let iou = box_iou(&predicted.bbox, &detection.bbox);
        match oks(predicted, detection, kind, self.config.min_keypoint_score) {
            Some(o) => self.config.oks_weight * o + (1.0 - self.config.oks_weight) * iou,
            None => iou,
        }
    }

    /// Matches the people of a frame taken at `t_s` seconds to the live tracks and returns
    /// their ids (`None` for people below `min_box_score`).
    pub fn update(&mut self, t_s: f64, people: &[Person], kind: KeypointKind) -> Vec<Option<i64>> {
        let tracked: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].bbox[4] >= self.config.min_box_score)
            .collect();
        let predicted: Vec<Person> = self.tracks.iter().map(|t| t.predicted(t_s)).collect();
        let sim: Vec<Vec<f32>> = predicted
            .iter()
            .map(|p| {
                tracked
                    .iter()
                    .map(|&i| self.similarity(p, &people[i], kind))
                    .collect()
            })
            .collect();
        let cost: Vec<Vec<f64>> = sim
            .iter()
            .map(|row| row.iter().map(|&s| f64::from(1.0 - s)).collect())
            .collect();
        let mut ids = vec![None; people.len()];
        let mut matched = vec![false; self.tracks.len()];
        for (t, col) in hungarian(&cost).into_iter().enumerate() {
            let Some(c) = col else { continue };
            if sim[t][c] < self.config.min_similarity {
                continue;
            }
            let person = &people[tracked[c]];
            let track = &mut self.tracks[t];
            let dt = (t_s - track.last_t_s) as f32;
            if dt > 0.0 {
                let (a, b) = (centre(&track.last.bbox), centre(&person.bbox));
                let g = self.config.velocity_gain.clamp(0.0, 1.0);
                for axis in 0..2 {
                    let measured = (b[axis] - a[axis]) / dt;
                    track.velocity[axis] += g * (measured - track.velocity[axis]);
                }
            }
            track.last = *person;
            track.last_t_s = t_s;
            track.missed = 0;
            matched[t] = true;
            ids[tracked[c]] = Some(track.id);
        }
        for (track, &m) in self.tracks.iter_mut().zip(&matched) {
            if !m {
                track.missed += 1;
            }
        }
        let max_missed = self.config.max_missed;
        self.tracks.retain(|t| t.missed <= max_missed);
        for &i in &tracked {
            if ids[i].is_none() {
                let id = self.next_id;
                self.next_id += 1;
                self.tracks.push(Track {
                    id,
                    last: people[i],
                    last_t_s: t_s,
                    velocity: [0.0; 2],
                    missed: 0,
                });
                ids[i] = Some(id);
            }
        }
        ids
    }

    /// Ids of the live tracks, ascending.
    pub fn live_ids(&self) -> Vec<i64> {
        self.tracks.iter().map(|t| t.id).collect()
    }

    /// Forgets every track (ids keep counting up).
    pub fn clear(&mut self) {
        self.tracks.clear();
    }
}

#[derive(Debug, Clone)]
struct TrackFilters {
    keypoints: Vec<PointFilter>,
    corners: [PointFilter; 2],
}

impl TrackFilters {
    fn new(config: &FilterConfig) -> Self {
        TrackFilters {
            keypoints: (0..NUM_KEYPOINTS)
                .map(|_| PointFilter::new(config))
                .collect(),
            corners: [PointFilter::new(config), PointFilter::new(config)],
        }
    }
}

/// Track ids plus per-track smoothing of keypoints and box corners.
#[derive(Debug, Clone)]
pub struct PoseSmoother {
    config: SmootherConfig,
    tracker: Tracker,
    filters: BTreeMap<i64, TrackFilters>,
    /// First frame time (ns), the origin of filter time, and the last frame time.
    clock: Option<(i64, i64)>,
}

impl PoseSmoother {
    /// A smoother that has seen nothing yet.
    pub fn new(config: SmootherConfig) -> Self {
        PoseSmoother {
            config,
            tracker: Tracker::new(config.tracker),
            filters: BTreeMap::new(),
            clock: None,
        }
    }

    /// The frame with track ids set and keypoints and box corners smoothed per track. Scores,
    /// dense maps, metadata and the order of people are unchanged; absent keypoints are left as
    /// they are and restart their filter when they reappear. A frame older than the previous one
    /// (a restarted source) restarts tracking.
    pub fn process(&mut self, mut frame: PoseFrame) -> PoseFrame {
        let t_ns = frame.t_ns();
        let origin = match self.clock {
            Some((origin, last)) if t_ns >= last => origin,
            Some(_) => {
                tracing::info!("pose time went backwards: restarting tracks");
                self.tracker.clear();
                self.filters.clear();
                t_ns
            }
            None => t_ns,
        };
        self.clock = Some((origin, t_ns));
        let t_s = (t_ns - origin) as f64 * 1e-9;
        let kind = frame.keypoint_kind;
        let ids = self.tracker.update(t_s, &frame.people, kind);
        let min_score = self.config.tracker.min_keypoint_score;
        for (person, id) in frame.people.iter_mut().zip(ids) {
            person.track_id = id;
            let Some(id) = id else { continue };
            let filters = self
                .filters
                .entry(id)
                .or_insert_with(|| TrackFilters::new(&self.config.filter));
            for (k, f) in person.keypoints.iter_mut().zip(&mut filters.keypoints) {
                if kind.is_present(k[2], min_score) && k[0].is_finite() && k[1].is_finite() {
                    let [x, y] = f.filter(t_s, [f64::from(k[0]), f64::from(k[1])]);
                    k[0] = x as f32;
                    k[1] = y as f32;
                } else {
                    f.reset();
                }
            }
            if person.box_area() > 0.0 {
                for (c, f) in filters.corners.iter_mut().enumerate() {
                    let p = [
                        f64::from(person.bbox[2 * c]),
                        f64::from(person.bbox[2 * c + 1]),
                    ];
                    let [x, y] = f.filter(t_s, p);
                    person.bbox[2 * c] = x as f32;
                    person.bbox[2 * c + 1] = y as f32;
                }
            }
        }
        let live = self.tracker.live_ids();
        self.filters.retain(|id, _| live.binary_search(id).is_ok());
        frame
    }

    /// The tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }
}
