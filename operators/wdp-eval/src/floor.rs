//! Where people stand, in metres: image poses back-projected onto the floor and matched to the
//! truth positions, and how many people a frame holds.
//!
//! OKS-based AP punishes small pixel offsets hard (a perfect pose moved 10 cm sideways loses much
//! of its AP50), so every AP figure comes with these errors in metres.
//!
//! A person's floor point is the midpoint of its two ankles (COCO 15, 16) cast through the
//! camera onto the floor plane `z = 0`; when an ankle is missing or that ray does not meet the
//! floor in front of the camera, the bottom centre of its box. Predictions are matched to truth
//! people per frame by minimum total floor distance (Hungarian assignment) with each distance
//! capped at the gate, so that one far-off person does not reshuffle the others; a matched pair
//! farther apart than the gate counts as a miss plus a false positive.
//!
//! ```
//! use wdp_eval::floor::{match_floor, FloorCamera};
//! // 2 m up, looking straight down: the image centre is the floor point below the camera.
//! let cam = FloorCamera {
//!     position_m: [1.0, 2.0, 2.0],
//!     right: [1.0, 0.0, 0.0],
//!     down: [0.0, -1.0, 0.0],
//!     forward: [0.0, 0.0, -1.0],
//!     fx: 100.0, fy: 100.0, cx: 50.0, cy: 50.0,
//! };
//! assert_eq!(cam.floor_point(50.0, 50.0), Some([1.0, 2.0]));
//! let m = match_floor(&[Some([0.0, 0.0]), Some([5.0, 5.0])], &[[0.1, 0.0]], 1.0);
//! assert_eq!(m.pairs.len(), 1);
//! assert_eq!((m.missed, m.false_positives), (0, 1));
//! ```

use serde::{Deserialize, Serialize};

/// COCO-17 index of the left ankle.
pub const LEFT_ANKLE: usize = 15;
/// COCO-17 index of the right ankle.
pub const RIGHT_ANKLE: usize = 16;
/// Default gate: a matched pair farther apart than this counts as a miss plus a false positive.
pub const DEFAULT_GATE_M: f64 = 1.0;

/// A pinhole camera in the room frame (z up, floor at `z = 0`), as the simulator defines it:
/// axes x right, y down, z forward; pixel `(u, v)` looks along
/// `right * (u - cx) / fx + down * (v - cy) / fy + forward`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloorCamera {
    /// Optical centre, metres.
    pub position_m: [f64; 3],
    /// Camera x axis (image right) in the room frame, unit length.
    pub right: [f64; 3],
    /// Camera y axis (image down) in the room frame, unit length.
    pub down: [f64; 3],
    /// Optical axis in the room frame, unit length.
    pub forward: [f64; 3],
    /// Focal length x, pixels.
    pub fx: f64,
    /// Focal length y, pixels.
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
}

impl FloorCamera {
    /// Room-frame direction (not normalised) of the ray through pixel coordinates `(u, v)`.
    pub fn ray(&self, u: f64, v: f64) -> [f64; 3] {
        let a = (u - self.cx) / self.fx;
        let b = (v - self.cy) / self.fy;
        std::array::from_fn(|i| self.right[i] * a + self.down[i] * b + self.forward[i])
    }

    /// Where the ray through `(u, v)` meets the floor `z = 0`, as `(x, y)` metres; `None` when
    /// it runs parallel to the floor, upwards, or the camera is not above the floor.
    pub fn floor_point(&self, u: f64, v: f64) -> Option<[f64; 2]> {
        if !(u.is_finite() && v.is_finite()) {
            return None;
        }
        let d = self.ray(u, v);
        let z = self.position_m[2];
        // Only a downward ray from above the floor hits it in front of the camera.
        if z <= 0.0 || d[2] >= -1e-9 {
            return None;
        }
        let t = z / -d[2];
        Some([self.position_m[0] + t * d[0], self.position_m[1] + t * d[1]])
    }
}

/// The floor point of one person in the image: ankle midpoint, else box bottom centre (see the
/// module docs). An ankle counts when its third value (visibility or score) is above 0. `None`
/// when neither gives a floor point (no ankles and an empty box, or rays above the horizon).
pub fn person_floor_point(
    cam: &FloorCamera,
    keypoints: &[[f32; 3]; 17],
    bbox: &[f32; 4],
) -> Option<[f64; 2]> {
    let (l, r) = (keypoints[LEFT_ANKLE], keypoints[RIGHT_ANKLE]);
    let present = |k: [f32; 3]| k[2] > 0.0 && k[0].is_finite() && k[1].is_finite();
    if present(l) && present(r) {
        let u = (f64::from(l[0]) + f64::from(r[0])) / 2.0;
        let v = (f64::from(l[1]) + f64::from(r[1])) / 2.0;
        if let Some(p) = cam.floor_point(u, v) {
            return Some(p);
        }
    }
    let [x0, _, x1, y1] = bbox.map(f64::from);
    if x1 > x0 && bbox.iter().all(|v| v.is_finite()) {
        return cam.floor_point((x0 + x1) / 2.0, y1);
    }
    None
}

/// The matching of one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloorMatch {
    /// `(prediction, truth, distance m)` of every match within the gate.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Truth people without a prediction within the gate.
    pub missed: usize,
    /// Predictions without a truth person within the gate (including those without a floor
    /// point).
    pub false_positives: usize,
}

/// Matches predicted floor points (`None`: the prediction has none, always a false positive) to
/// truth floor points `(x, y)` by minimum total distance, each distance capped at `gate_m`.
pub fn match_floor(preds: &[Option<[f64; 2]>], truth: &[[f64; 2]], gate_m: f64) -> FloorMatch {
    let located: Vec<(usize, [f64; 2])> = preds
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    let cost: Vec<Vec<f64>> = located
        .iter()
        .map(|(_, p)| truth.iter().map(|t| dist(*p, *t).min(gate_m)).collect())
        .collect();
    let mut pairs = Vec::new();
    for (li, ti) in assign(&cost, located.len(), truth.len()) {
        let (pi, p) = located[li];
        let d = dist(p, truth[ti]);
        if d <= gate_m {
            pairs.push((pi, ti, d));
        }
    }
    pairs.sort_by_key(|&(p, _, _)| p);
    FloorMatch {
        missed: truth.len() - pairs.len(),
        false_positives: preds.len() - pairs.len(),
        pairs,
    }
}

/// Minimum-cost assignment of a `rows x cols` cost matrix: `min(rows, cols)` pairs
/// `(row, col)` (the tracker's Hungarian method, `wdp_pose::track::hungarian`).
pub fn assign(cost: &[Vec<f64>], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    wdp_pose::track::hungarian(cost)
        .into_iter()
        .enumerate()
        .filter_map(|(r, c)| c.map(|c| (r, c)))
        .collect()
}

/// Floor position errors of many frames.
#[derive(Clone, Debug)]
pub struct FloorAccumulator {
    gate_m: f64,
    distances: Vec<f64>,
    missed: usize,
    false_positives: usize,
    truth_people: usize,
    predicted_people: usize,
    frames: usize,
}

impl FloorAccumulator {
    /// Empty, with the given gate (metres).
    pub fn new(gate_m: f64) -> Self {
        Self {
            gate_m,
            distances: Vec::new(),
            missed: 0,
            false_positives: 0,
            truth_people: 0,
            predicted_people: 0,
            frames: 0,
        }
    }

    /// Matches and counts one frame.
    pub fn add(&mut self, preds: &[Option<[f64; 2]>], truth: &[[f64; 2]]) -> FloorMatch {
        let m = match_floor(preds, truth, self.gate_m);
        self.distances.extend(m.pairs.iter().map(|p| p.2));
        self.missed += m.missed;
        self.false_positives += m.false_positives;
        self.truth_people += truth.len();
        self.predicted_people += preds.len();
        self.frames += 1;
        m
    }

    /// Frames added so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The errors so far.
    pub fn result(&self) -> FloorResult {
        let mut d = self.distances.clone();
        d.sort_by(f64::total_cmp);
        let rate = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
        FloorResult {
            gate_m: self.gate_m,
            frames: self.frames,
            median_m: quantile(&d, 0.5),
            p90_m: quantile(&d, 0.9),
            mean_m: (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64),
            matched: d.len(),
            missed: self.missed,
            false_positives: self.false_positives,
            truth_people: self.truth_people,
            predicted_people: self.predicted_people,
            miss_rate: rate(self.missed, self.truth_people),
            false_positive_rate: rate(self.false_positives, self.predicted_people),
        }
    }
}

/// Linearly interpolated quantile `q` of sorted values (numpy's default); `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Floor position errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloorResult {
    /// The gate, metres.
    pub gate_m: f64,
    /// Frames with a known camera and truth positions.
    pub frames: usize,
    /// Median distance of matched pairs, metres.
    pub median_m: Option<f64>,
    /// 90th percentile of matched distances, metres.
    pub p90_m: Option<f64>,
    /// Mean matched distance, metres.
    pub mean_m: Option<f64>,
    /// Matched pairs.
    pub matched: usize,
    /// Truth people without a prediction within the gate.
    pub missed: usize,
    /// Predictions without a truth person within the gate.
    pub false_positives: usize,
    /// Truth people.
    pub truth_people: usize,
    /// Predictions.
    pub predicted_people: usize,
    /// `missed / truth_people`.
    pub miss_rate: Option<f64>,
    /// `false_positives / predicted_people`.
    pub false_positive_rate: Option<f64>,
}

/// People count per frame, predicted against truth.
#[derive(Clone, Debug, Default)]
pub struct CountAccumulator {
    frames: usize,
    exact: usize,
    abs_error: usize,
}

impl CountAccumulator {
    /// Counts one frame.
    pub fn add(&mut self, truth: usize, pred: usize) {
        self.frames += 1;
        self.exact += usize::from(truth == pred);
        self.abs_error += truth.abs_diff(pred);
    }

    /// The counts so far.
    pub fn result(&self) -> CountResult {
        let of = |n: usize| (self.frames > 0).then(|| n as f64 / self.frames as f64);
        CountResult {
            frames: self.frames,
            accuracy: of(self.exact),
            mean_abs_error: of(self.abs_error),
        }
    }
}

/// People count accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    /// Frames counted.
    pub frames: usize,
    /// Fraction of frames whose predicted count equals the truth.
    pub accuracy: Option<f64>,
    /// Mean `|predicted - truth|` people per frame.
    pub mean_abs_error: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 m up at the origin, tilted 45° down looking along +x.
    fn tilted() -> FloorCamera {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        FloorCamera {
            position_m: [0.0, 0.0, 3.0],
            right: [0.0, -1.0, 0.0],
            down: [-s, 0.0, -s],
            forward: [s, 0.0, -s],
            fx: 100.0,
            fy: 100.0,
            cx: 160.0,
            cy: 120.0,
        }
    }

    const SIDE: f64 = 3.0 * std::f64::consts::SQRT_2;

    fn close(a: [f64; 2], b: [f64; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9
    }

    #[test]
    fn principal_ray_of_a_45_degree_camera_lands_at_its_height() {
        let cam = tilted();
        let p = cam.floor_point(160.0, 120.0).expect("hits the floor");
        assert!(close(p, [3.0, 0.0]), "{p:?}");
        // One focal length right of centre: as far sideways (the image's right is the room's
        // -y) as along the 3·√2 m principal ray.
        let p = cam.floor_point(260.0, 120.0).expect("hits the floor");
        assert!(close(p, [3.0, -SIDE]), "{p:?}");
        // Looking up by 45° (v one focal length above centre): parallel to the floor.
        assert_eq!(cam.floor_point(160.0, 20.0), None);
        assert_eq!(cam.floor_point(160.0, 0.0), None);
    }

    #[test]
    fn ankles_first_then_box_bottom() {
        let cam = tilted();
        let mut kp = [[0.0f32; 3]; 17];
        kp[LEFT_ANKLE] = [150.0, 120.0, 2.0];
        kp[RIGHT_ANKLE] = [170.0, 120.0, 1.0];
        let bbox = [260.0, 50.0, 260.0 + 0.0, 120.0];
        let p = person_floor_point(&cam, &kp, &bbox).expect("ankles");
        assert!(close(p, [3.0, 0.0]), "{p:?}");
        // One ankle unlabelled: the box bottom centre.
        kp[RIGHT_ANKLE][2] = 0.0;
        let bbox = [250.0, 50.0, 270.0, 120.0];
        let p = person_floor_point(&cam, &kp, &bbox).expect("box");
        assert!(close(p, [3.0, -SIDE]), "{p:?}");
        // Ankles above the horizon: the box.
        kp[LEFT_ANKLE] = [150.0, 0.0, 2.0];
        kp[RIGHT_ANKLE] = [170.0, 0.0, 2.0];
        let p = person_floor_point(&cam, &kp, &bbox).expect("box");
        assert!(close(p, [3.0, -SIDE]), "{p:?}");
        // Neither.
        assert_eq!(person_floor_point(&cam, &kp, &[0.0; 4]), None);
    }

    #[test]
    fn hungarian_beats_greedy() {
        // Greedy nearest takes (0, 0) at 1.0 and leaves (1, 1) at 10; the optimum crosses.
        let cost = vec![vec![1.0, 2.0], vec![2.0, 10.0]];
        let mut a = assign(&cost, 2, 2);
        a.sort_unstable();
        assert_eq!(a, vec![(0, 1), (1, 0)]);
        // Rectangular both ways.
        let cost = vec![vec![5.0], vec![1.0], vec![3.0]];
        assert_eq!(assign(&cost, 3, 1), vec![(1, 0)]);
        let cost = vec![vec![5.0, 1.0, 3.0]];
        assert_eq!(assign(&cost, 1, 3), vec![(0, 1)]);
        assert!(assign(&[], 0, 2).is_empty());
    }

    #[test]
    fn gate_splits_far_matches_into_miss_and_false_positive() {
        let truth = [[0.0, 0.0], [4.0, 0.0]];
        let preds = [Some([0.3, 0.4]), None, Some([4.0, 2.0])];
        let m = match_floor(&preds, &truth, 1.0);
        assert_eq!(m.pairs.len(), 1);
        assert_eq!(m.pairs[0].0, 0);
        assert_eq!(m.pairs[0].1, 0);
        assert!((m.pairs[0].2 - 0.5).abs() < 1e-12);
        assert_eq!((m.missed, m.false_positives), (1, 2));
        // A wider gate accepts the 2 m pair.
        let m = match_floor(&preds, &truth, 2.5);
        assert_eq!((m.pairs.len(), m.missed, m.false_positives), (2, 0, 1));
    }

    #[test]
    fn accumulated_quantiles_and_rates() {
        let mut acc = FloorAccumulator::new(1.0);
        for d in [0.1, 0.2, 0.3, 0.4, 0.5] {
            acc.add(&[Some([d, 0.0])], &[[0.0, 0.0]]);
        }
        acc.add(&[], &[[0.0, 0.0]]);
        let r = acc.result();
        assert_eq!(r.frames, 6);
        assert_eq!(r.matched, 5);
        assert!((r.median_m.expect("median") - 0.3).abs() < 1e-12);
        assert!((r.p90_m.expect("p90") - 0.46).abs() < 1e-12);
        assert_eq!(r.miss_rate, Some(1.0 / 6.0));
        assert_eq!(r.false_positive_rate, Some(0.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn count_accuracy_and_error() {
        let mut c = CountAccumulator::default();
        c.add(2, 2);
        c.add(1, 3);
        c.add(0, 0);
        c.add(3, 2);
        let r = c.result();
        assert_eq!(r.accuracy, Some(0.5));
        assert_eq!(r.mean_abs_error, Some(0.75));
        assert_eq!(CountAccumulator::default().result().accuracy, None);
    }
}
