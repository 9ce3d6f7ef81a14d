//! Dense DensePose metrics over image label maps: part-mask IoU and UV error.
//!
//! Inputs are whole-image maps: a part label map `[H, W]` (0 background, 1..=24 parts, see
//! [`crate::names::PART_CLASSES`]) and UV `[2, H, W]` (u, v in 0..1). Turning the model's
//! per-person outputs into one image map (pasting each person's box) is the caller's job.

use crate::confusion::{ConfusionMatrix, ConfusionResult};
use crate::names::{N_PART_CLASSES, PART_CLASSES};
use crate::EvalError;
use ndarray::{ArrayView2, ArrayView3};
use serde::{Deserialize, Serialize};

fn check_parts(
    gt: &ArrayView2<u8>,
    pred: &ArrayView2<u8>,
    what: &'static str,
) -> Result<(), EvalError> {
    if gt.dim() != pred.dim() {
        return Err(EvalError::Shape {
            what,
            expected: gt.shape().to_vec(),
            got: pred.shape().to_vec(),
        });
    }
    if let Some(&label) = gt
        .iter()
        .chain(pred.iter())
        .find(|&&l| usize::from(l) >= N_PART_CLASSES)
    {
        return Err(EvalError::Label {
            what,
            label: label.into(),
            n_classes: N_PART_CLASSES,
        });
    }
    Ok(())
}

/// Accumulates a 25-class confusion matrix of part label maps.
#[derive(Clone, Debug)]
pub struct PartIouAccumulator {
    matrix: ConfusionMatrix,
}

impl Default for PartIouAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl PartIouAccumulator {
    /// An empty accumulator over the 25 part classes.
    pub fn new() -> Self {
        Self {
            matrix: ConfusionMatrix::new(PART_CLASSES.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    /// Adds one image's gt and predicted label maps (same shape, labels < 25). Nothing is counted
    /// when the input is invalid.
    pub fn add(&mut self, gt: ArrayView2<u8>, pred: ArrayView2<u8>) -> Result<(), EvalError> {
        check_parts(&gt, &pred, "predicted part map")?;
        let n = N_PART_CLASSES;
        let mut counts = vec![0u64; n * n];
        for (&g, &p) in gt.iter().zip(pred.iter()) {
            counts[usize::from(g) * n + usize::from(p)] += 1;
        }
        for (i, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            self.matrix.add_count(i / n, i % n, c)?;
        }
        Ok(())
    }

    /// The confusion matrix so far (`[gt][pred]`).
    pub fn matrix(&self) -> &ConfusionMatrix {
        &self.matrix
    }

    /// IoU per class and their means.
    pub fn result(&self) -> PartIouResult {
        let per_class: Vec<Option<f64>> = (0..N_PART_CLASSES).map(|c| self.matrix.iou(c)).collect();
        let mean = |classes: &[Option<f64>]| {
            let present: Vec<f64> = classes.iter().flatten().copied().collect();
            (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
        };
        PartIouResult {
            classes: self.matrix.labels().to_vec(),
            miou: mean(&per_class),
            miou_parts: mean(&per_class[1..]),
            pixel_accuracy: self.matrix.accuracy(),
            per_class,
            confusion: self.matrix.result(),
        }
    }
}

/// Part-mask IoU results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartIouResult {
    /// Class names (index = part id, 0 background).
    pub classes: Vec<String>,
    /// IoU per class; `None` when the class is in neither gt nor prediction.
    pub per_class: Vec<Option<f64>>,
    /// Mean IoU over the classes present in gt or prediction, background included.
    pub miou: Option<f64>,
    /// The same mean over the 24 body parts only (background left out).
    pub miou_parts: Option<f64>,
    /// Pixels with the right class over all pixels.
    pub pixel_accuracy: Option<f64>,
    /// The pixel confusion matrix `[gt][pred]`.
    pub confusion: ConfusionResult,
}

/// Width of one UV-error histogram bin.
pub const UV_BIN_WIDTH: f64 = 0.05;
/// Number of UV-error histogram bins; the last one also holds every larger error (the largest
/// possible error for u, v in 0..1 is √2).
pub const UV_BINS: usize = 29;

#[derive(Clone, Copy, Debug, Default)]
struct Sum {
    sum: f64,
    n: u64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        self.sum += x;
        self.n += 1;
    }
    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// Accumulates UV errors over gt foreground pixels.
#[derive(Clone, Debug)]
pub struct UvErrorAccumulator {
    foreground: Sum,
    same_part: Sum,
    per_part: [Sum; N_PART_CLASSES],
    histogram: [u64; UV_BINS],
}

impl Default for UvErrorAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl UvErrorAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self {
            foreground: Sum::default(),
            same_part: Sum::default(),
            per_part: [Sum::default(); N_PART_CLASSES],
            histogram: [0; UV_BINS],
        }
    }

    /// Adds one image: gt and predicted part maps `[H, W]` and UV maps `[2, H, W]`. Every pixel with
    /// gt part > 0 contributes the L2 distance between predicted and gt `(u, v)`, to the foreground
    /// mean, to its gt part's mean and to the histogram, and to the same-part mean when the
    /// predicted part equals the gt part. Nothing is counted when the input is invalid.
    pub fn add(
        &mut self,
        gt_parts: ArrayView2<u8>,
        gt_uv: ArrayView3<f32>,
        pred_parts: ArrayView2<u8>,
        pred_uv: ArrayView3<f32>,
    ) -> Result<(), EvalError> {
        check_parts(&gt_parts, &pred_parts, "predicted part map")?;
        let (h, w) = gt_parts.dim();
        for (what, shape) in [("gt UV", gt_uv.shape()), ("predicted UV", pred_uv.shape())] {
            if shape != [2, h, w] {
                return Err(EvalError::Shape {
                    what,
                    expected: vec![2, h, w],
                    got: shape.to_vec(),
                });
            }
        }
        for ((y, x), &g) in gt_parts.indexed_iter() {
            if g == 0 {
                continue;
            }
            let du = f64::from(pred_uv[[0, y, x]] - gt_uv[[0, y, x]]);
            let dv = f64::from(pred_uv[[1, y, x]] - gt_uv[[1, y, x]]);
            let err = du.hypot(dv);
            self.foreground.add(err);
            self.per_part[usize::from(g)].add(err);
            if pred_parts[[y, x]] == g {
                self.same_part.add(err);
            }
            let bin = ((err / UV_BIN_WIDTH) as usize).min(UV_BINS - 1);
            self.histogram[bin] += 1;
        }
        Ok(())
    }

    /// The means and histogram so far.
    pub fn result(&self) -> UvErrorResult {
        UvErrorResult {
            mean_foreground: self.foreground.mean(),
            n_foreground: self.foreground.n,
            mean_same_part: self.same_part.mean(),
            n_same_part: self.same_part.n,
            classes: PART_CLASSES.iter().map(|s| (*s).to_owned()).collect(),
            per_part: self.per_part.iter().map(Sum::mean).collect(),
            bin_width: UV_BIN_WIDTH,
            histogram: self.histogram.to_vec(),
        }
    }
}

/// UV error results (errors are Euclidean distances in (u, v) space).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvErrorResult {
    /// Mean error over gt foreground pixels (gt part > 0).
    pub mean_foreground: Option<f64>,
    /// Pixels behind `mean_foreground`.
    pub n_foreground: u64,
    /// Mean error over gt foreground pixels whose predicted part equals the gt part.
    pub mean_same_part: Option<f64>,
    /// Pixels behind `mean_same_part`.
    pub n_same_part: u64,
    /// Class names of `per_part`.
    pub classes: Vec<String>,
    /// Mean error per gt part (index 0, background, is always `None`).
    pub per_part: Vec<Option<f64>>,
    /// Histogram bin width; bin `i` holds errors in `[i, i+1) * bin_width`, the last bin the rest.
    pub bin_width: f64,
    /// Pixel counts per bin, over gt foreground pixels.
    pub histogram: Vec<u64>,
}
