//! PCK@alpha: the fraction of labelled gt keypoints whose detected position lies within
//! `alpha * scale` of the truth.
//!
//! Choices, stated once:
//! - **Scale**: the torso diameter, the distance between the gt's left shoulder and right hip
//!   (COCO indices 5 and 12), when both are labelled and apart; otherwise the diagonal of the gt
//!   box. A gt with neither (zero box) is skipped and counted in [`PckResult::skipped_gts`].
//! - **Which gts**: those that COCO evaluation counts (not crowd, at least one labelled keypoint);
//!   only their labelled keypoints (`v > 0`) enter the counts.
//! - **Matching**: greedy by OKS ([`crate::coco::oks`]) over the image: the detection/gt pair with
//!   the highest OKS is matched first, then the next among the unmatched, until no pair with
//!   OKS > 0 is left (ties: the higher-scored detection, then the earlier gt). A gt left without a
//!   detection counts all its labelled keypoints as misses; a detection left without a gt is not
//!   counted (PCK measures localisation, false positives are what AP is for).
//! - **Mean**: correct keypoints over labelled keypoints, pooled over all keypoint types.

use crate::coco::{oks, score_order, DetPerson, GtPerson};
use crate::names::{COCO_KEYPOINTS, LEFT_SHOULDER, N_KEYPOINTS, RIGHT_HIP};
use crate::EvalError;
use serde::{Deserialize, Serialize};

/// Default `alpha` of PCK.
pub const DEFAULT_PCK_ALPHA: f64 = 0.2;

/// Accumulates PCK counts over images.
#[derive(Clone, Debug)]
pub struct PckAccumulator {
    alpha: f64,
    correct: [u64; N_KEYPOINTS],
    labelled: [u64; N_KEYPOINTS],
    n_gt: u64,
    n_matched: u64,
    bbox_scale: u64,
    skipped: u64,
}

impl Default for PckAccumulator {
    fn default() -> Self {
        Self::new(DEFAULT_PCK_ALPHA).expect("the default alpha is valid")
    }
}

impl PckAccumulator {
    /// An empty accumulator for PCK@`alpha`; `alpha` must be positive and finite.
    pub fn new(alpha: f64) -> Result<Self, EvalError> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(EvalError::Config(format!(
                "PCK alpha must be positive, got {alpha}"
            )));
        }
        Ok(Self {
            alpha,
            correct: [0; N_KEYPOINTS],
            labelled: [0; N_KEYPOINTS],
            n_gt: 0,
            n_matched: 0,
            bbox_scale: 0,
            skipped: 0,
        })
    }

    /// The `alpha` of this accumulator.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Adds one image: matches detections to gts (see the module documentation) and counts.
    pub fn add_image(&mut self, gts: &[GtPerson], dets: &[DetPerson]) {
        let eligible: Vec<&GtPerson> = gts.iter().filter(|g| !g.is_ignored()).collect();
        let scores: Vec<f64> = dets.iter().map(|d| f64::from(d.score)).collect();
        let order = score_order(&scores);
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (rank, &d) in order.iter().enumerate() {
            for (g, gt) in eligible.iter().enumerate() {
                let s = oks(gt, &dets[d].keypoints);
                if s > 0.0 {
                    pairs.push((s, rank, g));
                }
            }
        }
        // Highest OKS first; the stable sort keeps (detection rank, gt) order for ties.
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut det_used = vec![false; order.len()];
        let mut match_of: Vec<Option<usize>> = vec![None; eligible.len()];
        for (_, rank, g) in pairs {
            if !det_used[rank] && match_of[g].is_none() {
                det_used[rank] = true;
                match_of[g] = Some(order[rank]);
            }
        }
        for (gt, m) in eligible.iter().zip(match_of) {
            let Some(scale) = self.scale(gt) else {
                self.skipped += 1;
                continue;
            };
            self.n_gt += 1;
            self.n_matched += u64::from(m.is_some());
            for j in 0..N_KEYPOINTS {
                let g = gt.keypoints[j];
                if g[2] <= 0.0 {
                    continue;
                }
                self.labelled[j] += 1;
                if let Some(d) = m {
                    let k = dets[d].keypoints[j];
                    let dist = f64::from(k[0] - g[0]).hypot(f64::from(k[1] - g[1]));
                    if dist <= self.alpha * scale {
                        self.correct[j] += 1;
                    }
                }
            }
        }
    }

    /// Torso diameter, or the box diagonal (counted), or `None`.
    fn scale(&mut self, gt: &GtPerson) -> Option<f64> {
        let (a, b) = (gt.keypoints[LEFT_SHOULDER], gt.keypoints[RIGHT_HIP]);
        if a[2] > 0.0 && b[2] > 0.0 {
            let torso = f64::from(a[0] - b[0]).hypot(f64::from(a[1] - b[1]));
            if torso > 0.0 {
                return Some(torso);
            }
        }
        let diag = f64::from(gt.bbox_xywh[2]).hypot(f64::from(gt.bbox_xywh[3]));
        if diag > 0.0 && diag.is_finite() {
            self.bbox_scale += 1;
            Some(diag)
        } else {
            None
        }
    }

    /// The PCK values so far.
    pub fn result(&self) -> PckResult {
        let per_keypoint = (0..N_KEYPOINTS)
            .map(|j| {
                (self.labelled[j] > 0).then(|| self.correct[j] as f64 / self.labelled[j] as f64)
            })
            .collect();
        let (c, l) = (
            self.correct.iter().sum::<u64>(),
            self.labelled.iter().sum::<u64>(),
        );
        PckResult {
            alpha: self.alpha,
            keypoints: COCO_KEYPOINTS.iter().map(|s| (*s).to_owned()).collect(),
            per_keypoint,
            mean: (l > 0).then(|| c as f64 / l as f64),
            correct: self.correct.to_vec(),
            labelled: self.labelled.to_vec(),
            n_gt: self.n_gt,
            n_matched: self.n_matched,
            bbox_scale_gts: self.bbox_scale,
            skipped_gts: self.skipped,
        }
    }
}

/// PCK values and the counts behind them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PckResult {
    /// The `alpha` used.
    pub alpha: f64,
    /// Keypoint names, the order of the per-keypoint vectors.
    pub keypoints: Vec<String>,
    /// PCK per keypoint; `None` when that keypoint was never labelled.
    pub per_keypoint: Vec<Option<f64>>,
    /// Correct over labelled keypoints, pooled over keypoint types; `None` without any label.
    pub mean: Option<f64>,
    /// Correct keypoints per keypoint type.
    pub correct: Vec<u64>,
    /// Labelled gt keypoints per keypoint type.
    pub labelled: Vec<u64>,
    /// Gts counted.
    pub n_gt: u64,
    /// Counted gts that a detection was matched to.
    pub n_matched: u64,
    /// Counted gts scaled by their box diagonal (shoulder or hip not labelled).
    pub bbox_scale_gts: u64,
    /// Gts skipped for want of any scale (no torso, empty box).
    pub skipped_gts: u64,
}
