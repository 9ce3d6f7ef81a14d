//! pycocotools' `accumulate()` and `summarize()`: the matched detections of all images turned
//! into interpolated precision, recall and the 10 summary numbers.
//!
//! Split from `coco.rs` (issue 15: no source file over ~600 lines): that file holds OKS and the
//! per-image matching, this one what is computed from the matches; `crate::coco` re-exports the
//! public types.

use super::{
    score_order, AreaRange, ImageEval, AREA_ALL, AREA_LARGE, AREA_MEDIUM, N_RECALL, N_THRESHOLDS,
    OKS_THRESHOLDS, RECALL_THRESHOLDS,
};
use serde::{Deserialize, Serialize};

/// The 10 summary numbers of pycocotools' keypoint `summarize()`; -1 where pycocotools gives -1
/// (no non-ignored gt in the range).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoStats {
    /// AP at OKS .50:.05:.95, area all.
    pub ap: f64,
    /// AP at OKS .50.
    pub ap50: f64,
    /// AP at OKS .75.
    pub ap75: f64,
    /// AP, medium area (32² to 96²).
    pub ap_medium: f64,
    /// AP, large area (>= 96²).
    pub ap_large: f64,
    /// AR at OKS .50:.05:.95, area all, 20 detections per image.
    pub ar: f64,
    /// AR at OKS .50.
    pub ar50: f64,
    /// AR at OKS .75.
    pub ar75: f64,
    /// AR, medium area.
    pub ar_medium: f64,
    /// AR, large area.
    pub ar_large: f64,
}

impl CocoStats {
    /// Names of the numbers of [`CocoStats::to_array`], in order.
    pub const NAMES: [&'static str; 10] = [
        "AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl",
    ];

    /// The numbers in pycocotools' `stats` order.
    pub fn to_array(&self) -> [f64; 10] {
        [
            self.ap,
            self.ap50,
            self.ap75,
            self.ap_medium,
            self.ap_large,
            self.ar,
            self.ar50,
            self.ar75,
            self.ar_medium,
            self.ar_large,
        ]
    }
}

/// Everything [`CocoKeypointEval::evaluate`](super::CocoKeypointEval::evaluate) computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoKeypointResult {
    /// The 10 summary numbers.
    pub stats: CocoStats,
    /// Images evaluated.
    pub n_images: usize,
    /// Gts counted in the `all` range (not crowd, at least one labelled keypoint).
    pub n_gt: usize,
    /// Detections evaluated (at most [`MAX_DETS`](super::MAX_DETS) per image).
    pub n_dets: usize,
    /// The OKS thresholds (rows of `precision`).
    pub oks_thresholds: Vec<f64>,
    /// The recall points (columns of `precision`).
    pub recall_thresholds: Vec<f64>,
    /// The area ranges: all, small, medium, large (see [`AREA_ALL`] ...).
    pub area_ranges: Vec<AreaRange>,
    /// Interpolated precision `[area][threshold][recall point]`, pycocotools'
    /// `eval['precision'][t, r, 0, a, 0]`; -1 for a range without non-ignored gt.
    pub precision: Vec<Vec<Vec<f64>>>,
    /// Highest recall `[area][threshold]`, pycocotools' `eval['recall']`; -1 as above.
    pub recall: Vec<Vec<f64>>,
}

impl CocoKeypointResult {
    /// Precision at the 101 recall points for one area range and OKS threshold index, `None` when
    /// the range has no gt.
    pub fn pr_curve(&self, area: usize, threshold: usize) -> Option<&[f64]> {
        let curve = self.precision.get(area)?.get(threshold)?;
        (curve.first().copied().unwrap_or(-1.0) > -1.0).then_some(curve.as_slice())
    }

    /// Precision averaged over the 10 OKS thresholds at each recall point (the curve whose area is
    /// AP), `None` when the range has no gt.
    pub fn mean_pr_curve(&self, area: usize) -> Option<Vec<f64>> {
        let rows = self.precision.get(area)?;
        let mut mean = vec![0.0; N_RECALL];
        for t in 0..rows.len() {
            for (m, p) in mean.iter_mut().zip(self.pr_curve(area, t)?) {
                *m += p / rows.len() as f64;
            }
        }
        Some(mean)
    }
}

/// pycocotools' `accumulate` for one area range: precision `[threshold][recall point]` and recall
/// `[threshold]`, -1 when there is no non-ignored gt.
pub(super) fn accumulate(evals: &[ImageEval]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n_gt: usize = evals.iter().map(|e| e.n_gt).sum();
    if evals.is_empty() || n_gt == 0 {
        return (
            vec![vec![-1.0; N_RECALL]; N_THRESHOLDS],
            vec![-1.0; N_THRESHOLDS],
        );
    }
    let scores: Vec<f64> = evals
        .iter()
        .flat_map(|e| e.scores.iter().copied())
        .collect();
    let order = score_order(&scores);
    let npig = n_gt as f64;
    let mut precision = Vec::with_capacity(N_THRESHOLDS);
    let mut recall = Vec::with_capacity(N_THRESHOLDS);
    for t in 0..N_THRESHOLDS {
        let matched: Vec<bool> = evals
            .iter()
            .flat_map(|e| e.matched[t].iter().copied())
            .collect();
        let ignored: Vec<bool> = evals
            .iter()
            .flat_map(|e| e.ignored[t].iter().copied())
            .collect();
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut rc = Vec::with_capacity(order.len());
        let mut pr = Vec::with_capacity(order.len());
        for &i in &order {
            if !ignored[i] {
                if matched[i] {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            let (tp, fp) = (tp as f64, fp as f64);
            rc.push(tp / npig);
            pr.push(tp / (fp + tp + f64::EPSILON));
        }
        recall.push(rc.last().copied().unwrap_or(0.0));
        for i in (1..pr.len()).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let mut q = vec![0.0; N_RECALL];
        for (r, &thr) in RECALL_THRESHOLDS.iter().enumerate() {
            let i = rc.partition_point(|&x| x < thr);
            // pycocotools stops at the first recall point beyond the reached recall; the rest stay 0.
            let Some(&p) = pr.get(i) else { break };
            q[r] = p;
        }
        precision.push(q);
    }
    (precision, recall)
}

/// Mean of the entries > -1 of the selected thresholds, or -1 (pycocotools' `_summarize`).
fn summary_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.filter(|&v| v > -1.0) {
        sum += v;
        n += 1;
    }
    if n == 0 {
        -1.0
    } else {
        sum / n as f64
    }
}

/// Threshold indices selected by `iouThr` (exact equality, as pycocotools' `np.where`).
fn thresholds(thr: Option<f64>) -> Vec<usize> {
    (0..N_THRESHOLDS)
        .filter(|&t| thr.is_none_or(|x| OKS_THRESHOLDS[t] == x))
        .collect()
}

pub(super) fn summarize(precision: &[Vec<Vec<f64>>], recall: &[Vec<f64>]) -> CocoStats {
    let ap = |thr: Option<f64>, area: usize| {
        summary_mean(
            thresholds(thr)
                .into_iter()
                .flat_map(|t| precision[area][t].iter().copied()),
        )
    };
    let ar = |thr: Option<f64>, area: usize| {
        summary_mean(thresholds(thr).into_iter().map(|t| recall[area][t]))
    };
    CocoStats {
        ap: ap(None, AREA_ALL),
        ap50: ap(Some(0.5), AREA_ALL),
        ap75: ap(Some(0.75), AREA_ALL),
        ap_medium: ap(None, AREA_MEDIUM),
        ap_large: ap(None, AREA_LARGE),
        ar: ar(None, AREA_ALL),
        ar50: ar(Some(0.5), AREA_ALL),
        ar75: ar(Some(0.75), AREA_ALL),
        ar_medium: ar(None, AREA_MEDIUM),
        ar_large: ar(None, AREA_LARGE),
    }
}
