//! One evaluator bundling every metric, and the per-room breakdown with an `all` total.
//!
//! ```
//! use wdp_eval::{EvalConfig, RoomEvaluator};
//! let config = EvalConfig {
//!     heads: vec![("presence".into(), vec!["empty".into(), "occupied".into()])],
//!     ..EvalConfig::default()
//! };
//! let mut eval = RoomEvaluator::new(config)?;
//! eval.add_class("office", "presence", 1, 1)?;
//! eval.add_class("kitchen", "presence", 0, 1)?;
//! let report = eval.finish();
//! assert_eq!(report.all.heads["presence"].accuracy, Some(0.5));
//! assert_eq!(report.rooms["office"].heads["presence"].accuracy, Some(1.0));
//! # Ok::<(), wdp_eval::EvalError>(())
//! ```

use crate::coco::{CocoKeypointEval, CocoKeypointResult, DetPerson, GtPerson};
use crate::confusion::{ConfusionMatrix, ConfusionResult};
use crate::dense::{PartIouAccumulator, PartIouResult, UvErrorAccumulator, UvErrorResult};
use crate::floor::{CountAccumulator, CountResult, FloorAccumulator, FloorResult, DEFAULT_GATE_M};
use crate::pck::{PckAccumulator, PckResult, DEFAULT_PCK_ALPHA};
use crate::EvalError;
use ndarray::{ArrayView2, ArrayView3};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What an [`Evaluator`] computes besides the fixed metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// `alpha` of PCK (default 0.2).
    pub pck_alpha: f64,
    /// Classification heads: name and class labels (class `i` is `labels[i]`).
    pub heads: Vec<(String, Vec<String>)>,
    /// Floor matching gate, metres (see [`crate::floor`]).
    #[serde(default = "default_gate")]
    pub floor_gate_m: f64,
}

fn default_gate() -> f64 {
    DEFAULT_GATE_M
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            pck_alpha: DEFAULT_PCK_ALPHA,
            heads: Vec::new(),
            floor_gate_m: DEFAULT_GATE_M,
        }
    }
}

/// Every metric accumulator of one scope (a room, or all rooms).
#[derive(Clone, Debug)]
pub struct Evaluator {
    keypoints: CocoKeypointEval,
    pck: PckAccumulator,
    parts: PartIouAccumulator,
    uv: UvErrorAccumulator,
    heads: BTreeMap<String, ConfusionMatrix>,
    floor: FloorAccumulator,
    floor_truth: FloorAccumulator,
    count: CountAccumulator,
    has_parts: bool,
    has_uv: bool,
}

impl Evaluator {
    /// An empty evaluator; fails on an invalid `pck_alpha` or a head without classes.
    pub fn new(config: &EvalConfig) -> Result<Self, EvalError> {
        let mut heads = BTreeMap::new();
        for (name, labels) in &config.heads {
            if labels.is_empty() {
                return Err(EvalError::Config(format!("head `{name}` has no classes")));
            }
            heads.insert(name.clone(), ConfusionMatrix::new(labels.clone()));
        }
        if !(config.floor_gate_m.is_finite() && config.floor_gate_m > 0.0) {
            return Err(EvalError::Config(format!(
                "floor_gate_m {} must be > 0",
                config.floor_gate_m
            )));
        }
        Ok(Self {
            keypoints: CocoKeypointEval::new(),
            pck: PckAccumulator::new(config.pck_alpha)?,
            parts: PartIouAccumulator::new(),
            uv: UvErrorAccumulator::new(),
            heads,
            floor: FloorAccumulator::new(config.floor_gate_m),
            floor_truth: FloorAccumulator::new(config.floor_gate_m),
            count: CountAccumulator::default(),
            has_parts: false,
            has_uv: false,
        })
    }

    /// Adds one image's people to the COCO keypoint evaluation and to PCK.
    pub fn add_keypoints(&mut self, image_id: u64, gts: &[GtPerson], dets: &[DetPerson]) {
        self.keypoints.add_image(image_id, gts, dets);
        self.pck.add_image(gts, dets);
    }

    /// Adds one image's part label maps, see [`PartIouAccumulator::add`].
    pub fn add_parts(&mut self, gt: ArrayView2<u8>, pred: ArrayView2<u8>) -> Result<(), EvalError> {
        self.parts.add(gt, pred)?;
        self.has_parts = true;
        Ok(())
    }

    /// Adds one image's UV maps, see [`UvErrorAccumulator::add`].
    pub fn add_uv(
        &mut self,
        gt_parts: ArrayView2<u8>,
        gt_uv: ArrayView3<f32>,
        pred_parts: ArrayView2<u8>,
        pred_uv: ArrayView3<f32>,
    ) -> Result<(), EvalError> {
        self.uv.add(gt_parts, gt_uv, pred_parts, pred_uv)?;
        self.has_uv = true;
        Ok(())
    }

    /// Adds one image's floor points (see [`crate::floor`]): the predictions', and the truth
    /// keypoints' own (the best a perfect keypoint model can score), against the truth
    /// positions `(x, y)`.
    pub fn add_floor(
        &mut self,
        preds: &[Option<[f64; 2]>],
        truth_keypoints: &[Option<[f64; 2]>],
        truth: &[[f64; 2]],
    ) {
        self.floor.add(preds, truth);
        self.floor_truth.add(truth_keypoints, truth);
    }

    /// Counts one image's people, truth against prediction.
    pub fn add_count(&mut self, truth: usize, pred: usize) {
        self.count.add(truth, pred);
    }

    /// Counts one sample of a classification head.
    pub fn add_class(&mut self, head: &str, truth: usize, pred: usize) -> Result<(), EvalError> {
        self.heads
            .get_mut(head)
            .ok_or_else(|| EvalError::UnknownHead(head.to_owned()))?
            .add(truth, pred)
    }

    /// The results so far; a metric that was never fed is `None`.
    pub fn finish(&self) -> EvalResults {
        let has_keypoints = self.keypoints.n_images() > 0;
        EvalResults {
            keypoints: has_keypoints.then(|| self.keypoints.evaluate()),
            pck: has_keypoints.then(|| self.pck.result()),
            parts: self.has_parts.then(|| self.parts.result()),
            uv: self.has_uv.then(|| self.uv.result()),
            floor: (self.floor.frames() > 0).then(|| self.floor.result()),
            floor_truth_keypoints: (self.floor_truth.frames() > 0)
                .then(|| self.floor_truth.result()),
            count: (self.count.result().frames > 0).then(|| self.count.result()),
            heads: self
                .heads
                .iter()
                .map(|(name, m)| (name.clone(), m.result()))
                .collect(),
        }
    }
}

/// The results of one scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalResults {
    /// COCO keypoint AP/AR and PR curves.
    pub keypoints: Option<CocoKeypointResult>,
    /// PCK@alpha.
    pub pck: Option<PckResult>,
    /// Part-mask IoU.
    pub parts: Option<PartIouResult>,
    /// UV error.
    pub uv: Option<UvErrorResult>,
    /// Classification heads by name.
    pub heads: BTreeMap<String, ConfusionResult>,
    /// Floor position error of the predictions, metres.
    #[serde(default)]
    pub floor: Option<FloorResult>,
    /// The same of the truth keypoints (the metric's own floor).
    #[serde(default)]
    pub floor_truth_keypoints: Option<FloorResult>,
    /// People count per frame.
    #[serde(default)]
    pub count: Option<CountResult>,
}

/// The results of every room and of all rooms together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Everything together.
    pub all: EvalResults,
    /// Per room, by room name.
    pub rooms: BTreeMap<String, EvalResults>,
}

/// Per-room evaluators plus an `all` evaluator fed with everything.
#[derive(Clone, Debug)]
pub struct RoomEvaluator {
    config: EvalConfig,
    all: Evaluator,
    rooms: BTreeMap<String, Evaluator>,
    /// `all` needs image ids unique across rooms: (room, id) -> id in `all`, in arrival order.
    all_ids: HashMap<(String, u64), u64>,
}

impl RoomEvaluator {
    /// An empty evaluator; fails on an invalid configuration (see [`Evaluator::new`]).
    pub fn new(config: EvalConfig) -> Result<Self, EvalError> {
        Ok(Self {
            all: Evaluator::new(&config)?,
            config,
            rooms: BTreeMap::new(),
            all_ids: HashMap::new(),
        })
    }

    fn room(&mut self, room: &str) -> Result<&mut Evaluator, EvalError> {
        if !self.rooms.contains_key(room) {
            self.rooms
                .insert(room.to_owned(), Evaluator::new(&self.config)?);
        }
        self.rooms
            .get_mut(room)
            .ok_or_else(|| EvalError::Config(format!("room `{room}` vanished")))
    }

    /// Adds one image's people of `room`. Image ids are per room; in the `all` total each
    /// (room, id) becomes its own image, numbered in arrival order (which then breaks score ties
    /// across images).
    pub fn add_keypoints(
        &mut self,
        room: &str,
        image_id: u64,
        gts: &[GtPerson],
        dets: &[DetPerson],
    ) -> Result<(), EvalError> {
        self.room(room)?.add_keypoints(image_id, gts, dets);
        let next = self.all_ids.len() as u64;
        let all_id = *self
            .all_ids
            .entry((room.to_owned(), image_id))
            .or_insert(next);
        self.all.add_keypoints(all_id, gts, dets);
        Ok(())
    }

    /// Adds one image's part label maps of `room`.
    pub fn add_parts(
        &mut self,
        room: &str,
        gt: ArrayView2<u8>,
        pred: ArrayView2<u8>,
    ) -> Result<(), EvalError> {
        // `all` checks the input first (counting nothing when it is invalid), so a refused input
        // creates no room and the room then cannot refuse it.
        self.all.add_parts(gt.view(), pred.view())?;
        self.room(room)?.add_parts(gt, pred)
    }

    /// Adds one image's UV maps of `room`.
    pub fn add_uv(
        &mut self,
        room: &str,
        gt_parts: ArrayView2<u8>,
        gt_uv: ArrayView3<f32>,
        pred_parts: ArrayView2<u8>,
        pred_uv: ArrayView3<f32>,
    ) -> Result<(), EvalError> {
        self.all.add_uv(
            gt_parts.view(),
            gt_uv.view(),
            pred_parts.view(),
            pred_uv.view(),
        )?;
        self.room(room)?
            .add_uv(gt_parts, gt_uv, pred_parts, pred_uv)
    }

    /// Adds one image's floor points of `room`, see [`Evaluator::add_floor`].
    pub fn add_floor(
        &mut self,
        room: &str,
        preds: &[Option<[f64; 2]>],
        truth_keypoints: &[Option<[f64; 2]>],
        truth: &[[f64; 2]],
    ) -> Result<(), EvalError> {
        self.all.add_floor(preds, truth_keypoints, truth);
        self.room(room)?.add_floor(preds, truth_keypoints, truth);
        Ok(())
    }

    /// Counts one image's people of `room`.
    pub fn add_count(&mut self, room: &str, truth: usize, pred: usize) -> Result<(), EvalError> {
        self.all.add_count(truth, pred);
        self.room(room)?.add_count(truth, pred);
        Ok(())
    }

    /// Counts one sample of a classification head in `room`.
    pub fn add_class(
        &mut self,
        room: &str,
        head: &str,
        truth: usize,
        pred: usize,
    ) -> Result<(), EvalError> {
        self.all.add_class(head, truth, pred)?;
        self.room(room)?.add_class(head, truth, pred)
    }

    /// Names of the rooms seen so far, sorted.
    pub fn rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms.keys().map(String::as_str)
    }

    /// The results of all rooms and of each.
    pub fn finish(&self) -> EvalReport {
        EvalReport {
            all: self.all.finish(),
            rooms: self
                .rooms
                .iter()
                .map(|(name, e)| (name.clone(), e.finish()))
                .collect(),
        }
    }
}
