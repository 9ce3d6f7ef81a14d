//! A confusion matrix for any classification head (presence, count, activity, part labels, ...).
//!
//! ```
//! use wdp_eval::confusion::ConfusionMatrix;
//! let mut cm = ConfusionMatrix::new(vec!["empty".into(), "one".into(), "two".into()]);
//! cm.add(0, 0)?;
//! cm.add(1, 2)?;
//! assert_eq!(cm.result().accuracy, Some(0.5));
//! # Ok::<(), wdp_eval::EvalError>(())
//! ```

use crate::EvalError;
use serde::{Deserialize, Serialize};

/// Counts of (true class, predicted class) pairs over `n` labelled classes.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    labels: Vec<String>,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix over the classes `labels` (class `i` is `labels[i]`).
    pub fn new(labels: Vec<String>) -> Self {
        let n = labels.len();
        Self {
            labels,
            counts: vec![0; n * n],
        }
    }

    /// An empty matrix over `n` classes labelled `0`, `1`, ...
    pub fn with_classes(n: usize) -> Self {
        Self::new((0..n).map(|i| i.to_string()).collect())
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.labels.len()
    }

    /// The class labels.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Counts one sample of true class `truth` predicted as `pred`.
    pub fn add(&mut self, truth: usize, pred: usize) -> Result<(), EvalError> {
        self.add_count(truth, pred, 1)
    }

    /// Counts `count` samples of true class `truth` predicted as `pred`.
    pub fn add_count(&mut self, truth: usize, pred: usize, count: u64) -> Result<(), EvalError> {
        let n = self.n_classes();
        for (what, label) in [("truth", truth), ("prediction", pred)] {
            if label >= n {
                return Err(EvalError::Label {
                    what,
                    label,
                    n_classes: n,
                });
            }
        }
        self.counts[truth * n + pred] += count;
        Ok(())
    }

    /// Counts pairs `(truth[i], pred[i])`; nothing is counted when any label is out of range.
    pub fn add_all(&mut self, truth: &[usize], pred: &[usize]) -> Result<(), EvalError> {
        if truth.len() != pred.len() {
            return Err(EvalError::Shape {
                what: "predictions",
                expected: vec![truth.len()],
                got: vec![pred.len()],
            });
        }
        let n = self.n_classes();
        if let Some(&label) = truth.iter().chain(pred).find(|&&l| l >= n) {
            return Err(EvalError::Label {
                what: "labels",
                label,
                n_classes: n,
            });
        }
        for (&t, &p) in truth.iter().zip(pred) {
            self.counts[t * n + p] += 1;
        }
        Ok(())
    }

    /// Adds every count of `other`, which must have the same number of classes.
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<(), EvalError> {
        if other.n_classes() != self.n_classes() {
            return Err(EvalError::Shape {
                what: "confusion matrix",
                expected: vec![self.n_classes(); 2],
                got: vec![other.n_classes(); 2],
            });
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    /// Samples of true class `truth` predicted as `pred`.
    pub fn count(&self, truth: usize, pred: usize) -> u64 {
        self.counts[truth * self.n_classes() + pred]
    }

    /// All samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Correct over all samples, `None` when empty.
    pub fn accuracy(&self) -> Option<f64> {
        let n = self.n_classes();
        let total = self.total();
        let correct: u64 = (0..n).map(|i| self.count(i, i)).sum();
        (total > 0).then(|| correct as f64 / total as f64)
    }

    /// Intersection over union of class `c`: `tp / (tp + fp + fn)`, `None` when the class occurs
    /// in neither truth nor prediction.
    pub fn iou(&self, c: usize) -> Option<f64> {
        let (tp, truth, pred) = self.class_counts(c);
        let union = truth + pred - tp;
        (union > 0).then(|| tp as f64 / union as f64)
    }

    /// (true positives, samples of class `c`, predictions of class `c`).
    fn class_counts(&self, c: usize) -> (u64, u64, u64) {
        let n = self.n_classes();
        let truth = (0..n).map(|p| self.count(c, p)).sum();
        let pred = (0..n).map(|t| self.count(t, c)).sum();
        (self.count(c, c), truth, pred)
    }

    /// Accuracy, per-class precision/recall/F1 and the counts.
    pub fn result(&self) -> ConfusionResult {
        let n = self.n_classes();
        let per_class = (0..n)
            .map(|c| {
                let (tp, truth, pred) = self.class_counts(c);
                let precision = (pred > 0).then(|| tp as f64 / pred as f64);
                let recall = (truth > 0).then(|| tp as f64 / truth as f64);
                let f1 = match (precision, recall) {
                    (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
                    (Some(_), Some(_)) => Some(0.0),
                    _ => None,
                };
                ClassStats {
                    precision,
                    recall,
                    f1,
                    support: truth,
                }
            })
            .collect();
        ConfusionResult {
            labels: self.labels.clone(),
            counts: self.counts.chunks(n.max(1)).map(<[u64]>::to_vec).collect(),
            total: self.total(),
            accuracy: self.accuracy(),
            per_class,
        }
    }
}

/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Correct over predicted as this class; `None` when never predicted.
    pub precision: Option<f64>,
    /// Correct over samples of this class; `None` when the class never occurs.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall; `None` when either is.
    pub f1: Option<f64>,
    /// Samples of this class.
    pub support: u64,
}

/// A confusion matrix with its derived numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfusionResult {
    /// Class labels.
    pub labels: Vec<String>,
    /// `counts[truth][pred]`.
    pub counts: Vec<Vec<u64>>,
    /// Samples counted.
    pub total: u64,
    /// Correct over all; `None` when empty.
    pub accuracy: Option<f64>,
    /// Per class, in label order.
    pub per_class: Vec<ClassStats>,
}
