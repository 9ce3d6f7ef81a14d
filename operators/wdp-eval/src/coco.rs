//! COCO keypoint evaluation with exactly the semantics of pycocotools' `COCOeval` with
//! `iouType='keypoints'` (pycocotools 2.0.x `cocoeval.py`), for one category (person).
//!
//! What is reproduced, step by step:
//! - **OKS** ([`oks`]): COCO-17 sigmas, the gt `area` as the scale (plus `np.spacing(1)`), the mean
//!   over the gt's labelled keypoints (`v > 0`); for a gt without labelled keypoints, the distance of
//!   each detected keypoint to the gt box extended by its size on every side (2x the box), averaged
//!   over all 17 keypoints.
//! - **Ignored gts**: `iscrowd` or no labelled keypoint, and per area range the gts whose `area` is
//!   outside it. Crowd gts may be matched by several detections.
//! - **Detections**: per image sorted by score, descending, with a stable sort (numpy mergesort:
//!   ties keep the order in which they were added), then cut to the best [`MAX_DETS`] (20). A
//!   detection's area is that of the box around its 17 keypoints (as `COCO.loadRes` computes it);
//!   an unmatched detection outside the area range is ignored.
//! - **Matching**, per image, area range and OKS threshold: gts sorted non-ignored first (stable),
//!   each detection in score order takes the best-OKS gt still free (crowd gts stay free), never
//!   trading a regular match for an ignored gt; OKS must be `>= threshold`.
//! - **Accumulation**: detections of all images (in image-id order) sorted again by score (stable),
//!   cumulative TP/FP, precision made monotone from the right, sampled at 101 recall points with
//!   `searchsorted(side='left')`; -1 where an area range has no non-ignored gt.
//! - **Summary**: the 10 numbers of `COCOeval.summarize()` for keypoints, see [`CocoStats`].
//!
//! The thresholds are built exactly as numpy's `linspace` builds them, so that `0.75` is found by
//! equality as pycocotools does. The `small` area range is evaluated too (pycocotools' keypoint
//! parameters leave it out; it does not change any other range) so its PR curve is available.
//!
//! Layout: this file holds the inputs (gts, detections, areas), OKS and the per-image matching;
//! the accumulation of precision/recall over images and the summary numbers ([`CocoStats`],
//! [`CocoKeypointResult`]) are in the private submodule `coco/accumulate.rs`, split off to keep
//! each file short (issue 15). Everything is re-exported here under `wdp_eval::coco`.
//!
//! ```
//! use wdp_eval::coco::{CocoKeypointEval, DetPerson, GtPerson};
//! let mut keypoints = [[0.0f32; 3]; 17];
//! for (j, k) in keypoints.iter_mut().enumerate() {
//!     *k = [100.0 + 5.0 * j as f32, 50.0 + 10.0 * j as f32, 2.0];
//! }
//! let gt = GtPerson { keypoints, bbox_xywh: [100.0, 50.0, 80.0, 160.0], area: 8000.0, iscrowd: false };
//! let det = DetPerson { keypoints, score: 0.9 };
//! let mut eval = CocoKeypointEval::new();
//! eval.add_image(1, &[gt], &[det]);
//! let result = eval.evaluate();
//! assert!((result.stats.ap - 1.0).abs() < 1e-12);
//! assert_eq!(result.stats.ap_large, -1.0); // no gt in the large range
//! ```

use crate::names::N_KEYPOINTS;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

mod accumulate;

use accumulate::{accumulate, summarize};
pub use accumulate::{CocoKeypointResult, CocoStats};

/// COCO keypoint sigmas times 10, as written in pycocotools.
const SIGMAS_X10: [f64; N_KEYPOINTS] = [
    0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89,
    0.89,
];

/// Per-keypoint OKS sigmas of COCO-17, computed like pycocotools (`array([...]) / 10.0`).
pub const COCO_SIGMAS: [f64; N_KEYPOINTS] = {
    let mut s = [0.0; N_KEYPOINTS];
    let mut i = 0;
    while i < N_KEYPOINTS {
        s[i] = SIGMAS_X10[i] / 10.0;
        i += 1;
    }
    s
};

/// Detections kept per image (pycocotools' keypoint `maxDets`).
pub const MAX_DETS: usize = 20;

/// Number of OKS thresholds.
pub const N_THRESHOLDS: usize = 10;
/// Number of recall points.
pub const N_RECALL: usize = 101;

/// OKS thresholds .50:.05:.95, bit-identical to `np.linspace(.5, 0.95, 10)`.
pub const OKS_THRESHOLDS: [f64; N_THRESHOLDS] = linspace::<N_THRESHOLDS>(0.5, 0.95);
/// Recall points 0:.01:1, bit-identical to `np.linspace(.0, 1.00, 101)`.
pub const RECALL_THRESHOLDS: [f64; N_RECALL] = linspace::<N_RECALL>(0.0, 1.0);

/// numpy's `linspace(start, stop, N, endpoint=True)`: `i * step + start`, last value `stop`.
const fn linspace<const N: usize>(start: f64, stop: f64) -> [f64; N] {
    let mut out = [0.0; N];
    let step = (stop - start) / (N - 1) as f64;
    let mut i = 0;
    while i < N {
        out[i] = i as f64 * step + start;
        i += 1;
    }
    out[N - 1] = stop;
    out
}

/// An object-area range, in pixels² (COCO's `areaRng`, bounds inclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaRange {
    /// `all`, `small`, `medium` or `large`.
    pub label: String,
    /// Smallest area in the range.
    pub min: f64,
    /// Largest area in the range.
    pub max: f64,
}

/// Index of the `all` range in [`CocoKeypointResult`] arrays.
pub const AREA_ALL: usize = 0;
/// Index of the `small` range (area <= 32²).
pub const AREA_SMALL: usize = 1;
/// Index of the `medium` range (32² to 96²).
pub const AREA_MEDIUM: usize = 2;
/// Index of the `large` range (area >= 96²).
pub const AREA_LARGE: usize = 3;

const AREA_BOUNDS: [(&str, f64, f64); 4] = [
    ("all", 0.0, 1e10),
    ("small", 0.0, 1024.0),
    ("medium", 1024.0, 9216.0),
    ("large", 9216.0, 1e10),
];

/// One ground-truth person of an image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GtPerson {
    /// COCO-17 keypoints `(x, y, v)` in pixels; `v` is 0 (not labelled), 1 (labelled, occluded)
    /// or 2 (labelled, visible). Only `v > 0` counts as labelled.
    pub keypoints: [[f32; 3]; N_KEYPOINTS],
    /// Person box `(x, y, width, height)` in pixels; used only for gts without labelled keypoints.
    pub bbox_xywh: [f32; 4],
    /// Object area in pixels², the OKS scale: COCO uses the person's segmentation-mask area, see
    /// [`area_from_mask`] and [`area_from_bbox`].
    pub area: f32,
    /// A crowd region: never counted as a miss, may absorb any number of detections.
    pub iscrowd: bool,
}

impl GtPerson {
    /// Number of labelled keypoints (`v > 0`), COCO's `num_keypoints`.
    pub fn num_keypoints(&self) -> usize {
        self.keypoints.iter().filter(|k| k[2] > 0.0).count()
    }

    /// Whether pycocotools ignores this gt in every area range: a crowd, or no labelled keypoint.
    pub fn is_ignored(&self) -> bool {
        self.iscrowd || self.num_keypoints() == 0
    }
}

/// One detected person of an image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetPerson {
    /// COCO-17 keypoints `(x, y, score)` in pixels; the per-keypoint score is not used by OKS.
    pub keypoints: [[f32; 3]; N_KEYPOINTS],
    /// Person confidence, which orders detections; must not be NaN (NaN sorts last, as in numpy).
    pub score: f32,
}

impl DetPerson {
    /// Area of the box around all 17 keypoints, as pycocotools' `loadRes` computes a keypoint
    /// result's `area` (used to ignore unmatched detections outside an area range).
    pub fn area(&self) -> f64 {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for k in &self.keypoints {
            let (x, y) = (f64::from(k[0]), f64::from(k[1]));
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        (x1 - x0) * (y1 - y0)
    }
}

/// COCO `area` of a gt from its person-mask pixel count (the definition COCO uses).
pub fn area_from_mask(pixels: u64) -> f32 {
    pixels as f32
}

/// COCO `area` of a gt from its box `(x, y, w, h)`: `w * h`. A person's mask covers only about
/// half to two thirds of its box, so this scale is larger than COCO's and OKS more lenient; use it
/// only when no mask exists, and say so next to the numbers.
pub fn area_from_bbox(bbox_xywh: [f32; 4]) -> f32 {
    bbox_xywh[2].max(0.0) * bbox_xywh[3].max(0.0)
}

/// numpy's pairwise summation of a contiguous float64 array (`np.sum`), so that OKS values match
/// pycocotools to the last bit in most cases.
fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(0.0, |s, x| s + x);
    }
    if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[i..] {
            res += x;
        }
        return res;
    }
    let half = (n / 2) - (n / 2) % 8;
    np_sum(&a[..half]) + np_sum(&a[half..])
}

/// Object keypoint similarity between a gt and a detection's keypoints, as pycocotools'
/// `computeOks` (see the module documentation); in `[0, 1]`.
pub fn oks(gt: &GtPerson, det: &[[f32; 3]; N_KEYPOINTS]) -> f64 {
    let labelled = gt.num_keypoints();
    let b = gt.bbox_xywh.map(f64::from);
    let (x0, x1) = (b[0] - b[2], b[0] + b[2] * 2.0);
    let (y0, y1) = (b[1] - b[3], b[1] + b[3] * 2.0);
    let area = f64::from(gt.area) + f64::EPSILON;
    let mut terms = Vec::with_capacity(N_KEYPOINTS);
    for j in 0..N_KEYPOINTS {
        let (xd, yd) = (f64::from(det[j][0]), f64::from(det[j][1]));
        let g = gt.keypoints[j];
        let (dx, dy) = if labelled > 0 {
            (xd - f64::from(g[0]), yd - f64::from(g[1]))
        } else {
            (
                (x0 - xd).max(0.0) + (xd - x1).max(0.0),
                (y0 - yd).max(0.0) + (yd - y1).max(0.0),
            )
        };
        let var = (COCO_SIGMAS[j] * 2.0) * (COCO_SIGMAS[j] * 2.0);
        let e = (dx * dx + dy * dy) / var / area / 2.0;
        if labelled == 0 || g[2] > 0.0 {
            terms.push((-e).exp());
        }
    }
    np_sum(&terms) / terms.len() as f64
}

/// numpy's ascending order of `-score` (NaN last), used with a stable sort.
fn by_score_desc(a: f64, b: f64) -> Ordering {
    let (ka, kb) = (-a, -b);
    match (ka.is_nan(), kb.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => ka.partial_cmp(&kb).unwrap_or(Ordering::Equal),
    }
}

/// Indices that sort `scores` by descending score, stable (numpy `argsort(-s, kind='mergesort')`).
pub(crate) fn score_order(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| by_score_desc(scores[a], scores[b]));
    order
}

#[derive(Clone, Debug, Default)]
struct Image {
    gts: Vec<GtPerson>,
    dets: Vec<DetPerson>,
}

/// Per-image, per-area-range matching result (pycocotools' `evalImgs` entry).
struct ImageEval {
    scores: Vec<f64>,
    matched: Vec<Vec<bool>>,
    ignored: Vec<Vec<bool>>,
    n_gt: usize,
}

/// Accumulates images of gts and detections, then computes the COCO keypoint metrics.
#[derive(Clone, Debug, Default)]
pub struct CocoKeypointEval {
    images: BTreeMap<u64, Image>,
}

impl CocoKeypointEval {
    /// An empty evaluation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the gts and detections of one image. Images are evaluated in ascending id order (which
    /// breaks score ties across images, as in pycocotools); adding the same id again appends to
    /// that image, as COCO groups annotations by `image_id`. An image with neither gts nor
    /// detections changes nothing.
    pub fn add_image(&mut self, image_id: u64, gts: &[GtPerson], dets: &[DetPerson]) {
        let image = self.images.entry(image_id).or_default();
        image.gts.extend_from_slice(gts);
        image.dets.extend_from_slice(dets);
    }

    /// Number of images added.
    pub fn n_images(&self) -> usize {
        self.images.len()
    }

    /// Runs pycocotools' `evaluate()`, `accumulate()` and `summarize()`.
    pub fn evaluate(&self) -> CocoKeypointResult {
        let mut per_area: Vec<Vec<ImageEval>> =
            (0..AREA_BOUNDS.len()).map(|_| Vec::new()).collect();
        let mut n_dets = 0;
        for image in self.images.values() {
            let scores: Vec<f64> = image.dets.iter().map(|d| f64::from(d.score)).collect();
            let mut order = score_order(&scores);
            order.truncate(MAX_DETS);
            if image.gts.is_empty() && order.is_empty() {
                continue;
            }
            n_dets += order.len();
            let dets: Vec<&DetPerson> = order.iter().map(|&i| &image.dets[i]).collect();
            let ious: Vec<Vec<f64>> = dets
                .iter()
                .map(|d| image.gts.iter().map(|g| oks(g, &d.keypoints)).collect())
                .collect();
            let det_areas: Vec<f64> = dets.iter().map(|d| d.area()).collect();
            let det_scores: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
            for (a, &(_, lo, hi)) in AREA_BOUNDS.iter().enumerate() {
                per_area[a].push(evaluate_image(
                    &image.gts,
                    &ious,
                    &det_areas,
                    &det_scores,
                    lo,
                    hi,
                ));
            }
        }
        let mut precision = Vec::new();
        let mut recall = Vec::new();
        for evals in &per_area {
            let (p, r) = accumulate(evals);
            precision.push(p);
            recall.push(r);
        }
        let stats = summarize(&precision, &recall);
        let n_gt = per_area[AREA_ALL].iter().map(|e| e.n_gt).sum();
        CocoKeypointResult {
            stats,
            n_images: self.images.len(),
            n_gt,
            n_dets,
            oks_thresholds: OKS_THRESHOLDS.to_vec(),
            recall_thresholds: RECALL_THRESHOLDS.to_vec(),
            area_ranges: AREA_BOUNDS
                .iter()
                .map(|&(label, min, max)| AreaRange {
                    label: label.to_owned(),
                    min,
                    max,
                })
                .collect(),
            precision,
            recall,
        }
    }
}

/// pycocotools' `evaluateImg` for one area range; `ious` is `[det][gt]` with dets in score order.
fn evaluate_image(
    gts: &[GtPerson],
    ious: &[Vec<f64>],
    det_areas: &[f64],
    det_scores: &[f64],
    lo: f64,
    hi: f64,
) -> ImageEval {
    let ignore: Vec<bool> = gts
        .iter()
        .map(|g| {
            let area = f64::from(g.area);
            g.is_ignored() || area < lo || area > hi
        })
        .collect();
    // Stable argsort of the ignore flags: regular gts first, each group in its original order.
    let mut gt_order: Vec<usize> = (0..gts.len()).collect();
    gt_order.sort_by_key(|&g| ignore[g]);
    let n_det = det_scores.len();
    let mut matched = vec![vec![false; n_det]; N_THRESHOLDS];
    let mut ignored = vec![vec![false; n_det]; N_THRESHOLDS];
    if !gts.is_empty() && n_det > 0 {
        for (t, &thr) in OKS_THRESHOLDS.iter().enumerate() {
            let mut gt_taken = vec![false; gts.len()];
            for d in 0..n_det {
                let mut best = thr.min(1.0 - 1e-10);
                let mut m: Option<usize> = None;
                for (s, &g) in gt_order.iter().enumerate() {
                    if gt_taken[s] && !gts[g].iscrowd {
                        continue;
                    }
                    // Matched to a regular gt already: the ignored gts that follow cannot win.
                    if let Some(mm) = m {
                        if !ignore[gt_order[mm]] && ignore[g] {
                            break;
                        }
                    }
                    if ious[d][g] < best {
                        continue;
                    }
                    best = ious[d][g];
                    m = Some(s);
                }
                if let Some(s) = m {
                    ignored[t][d] = ignore[gt_order[s]];
                    matched[t][d] = true;
                    gt_taken[s] = true;
                }
            }
        }
    }
    for (d, &area) in det_areas.iter().enumerate() {
        if area < lo || area > hi {
            for t in 0..N_THRESHOLDS {
                if !matched[t][d] {
                    ignored[t][d] = true;
                }
            }
        }
    }
    ImageEval {
        scores: det_scores.to_vec(),
        matched,
        ignored,
        n_gt: ignore.iter().filter(|&&i| !i).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_match_numpy_linspace() {
        // Values printed by numpy 2.x: np.linspace(.5, .95, 10), np.linspace(0, 1, 101).
        assert_eq!(OKS_THRESHOLDS[8], 0.8999999999999999);
        assert_eq!(OKS_THRESHOLDS[5], 0.75);
        assert_eq!(RECALL_THRESHOLDS[57], 0.5700000000000001);
        assert_eq!(RECALL_THRESHOLDS[29], 0.29);
        assert_eq!(RECALL_THRESHOLDS[100], 1.0);
    }

    #[test]
    fn numpy_pairwise_sum_order() {
        let a: Vec<f64> = (0..17).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let r: Vec<f64> = (0..8).map(|j| a[j] + a[j + 8]).collect();
        let expected = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + a[16];
        assert_eq!(np_sum(&a), expected);
        assert_eq!(np_sum(&a[..3]), a[0] + a[1] + a[2]);
    }

    #[test]
    fn stable_descending_score_order_with_nan_last() {
        let order = score_order(&[0.5, f64::NAN, 0.9, 0.5, 0.9]);
        assert_eq!(order, vec![2, 4, 0, 3, 1]);
    }
}
