//! Evaluation of a model on labelled samples with `wdp-eval` (see `wdp_eval::frame` for what is
//! compared and how): COCO keypoint AP (pycocotools' semantics), PCK@0.2, part mIoU, UV error,
//! the people count (confusion matrix, accuracy, mean absolute error) and, where the camera and
//! the people's positions are known, the floor position error in metres, per room.

use crate::data::Sample;
use crate::predict::Detection;
use eyre::{eyre, Result};
use ndarray::{Array2, Array3};
use wdp_eval::floor::{FloorCamera, DEFAULT_GATE_M};
use wdp_eval::frame::{add_floor_frame, add_frame_kept, PredictedPerson, TruthFrame, MAX_COUNT};
use wdp_eval::{EvalConfig, EvalReport, RoomEvaluator};

/// How detections are scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalOptions {
    /// Detections below this score are dropped before anything is scored.
    pub score_threshold: f32,
    /// Detections at or above this score are people: the count, the floor positions, the part
    /// masks and UV (COCO AP ranks every detection above `score_threshold`).
    pub person_threshold: f32,
    /// Floor matching gate, metres.
    pub floor_gate_m: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            score_threshold: 0.0,
            person_threshold: 0.0,
            floor_gate_m: DEFAULT_GATE_M,
        }
    }
}

/// The truth of a sample as the evaluator takes it.
pub fn truth_frame(s: &Sample) -> TruthFrame {
    TruthFrame {
        people: s.people.iter().map(|p| (p.keypoints, p.bbox)).collect(),
        part_index: s.part_index.clone(),
        uv: s.uv.clone(),
        image_wh: s.image_wh,
    }
}

/// A detection as the evaluator takes it.
pub fn predicted_person(d: &Detection) -> Result<PredictedPerson> {
    let r = d.grid;
    Ok(PredictedPerson {
        keypoints: d.keypoints,
        bbox: d.bbox,
        score: d.score,
        parts: Array2::from_shape_vec((r, r), d.parts.clone())
            .map_err(|e| eyre!("detection parts: {e}"))?,
        uv: Array3::from_shape_vec((2, r, r), d.uv.clone())
            .map_err(|e| eyre!("detection uv: {e}"))?,
        floor_m: d.floor_m.map(|p| p.map(f64::from)),
    })
}

/// The floor geometry of a sample's camera.
pub fn floor_camera(cam: &wdp_sim::camera::PinholeCamera) -> FloorCamera {
    let a = |v: wdp_sim::geom::Vec3| [v.x, v.y, v.z];
    FloorCamera {
        position_m: a(cam.position_m),
        right: a(cam.right),
        down: a(cam.down),
        forward: a(cam.forward),
        fx: cam.fx,
        fy: cam.fy,
        cx: cam.cx,
        cy: cam.cy,
    }
}

/// Evaluates detections against their samples (same order), every detection counted.
pub fn evaluate(samples: &[&Sample], detections: &[Vec<Detection>]) -> Result<EvalReport> {
    evaluate_with(samples, detections, &EvalOptions::default())
}

/// Evaluates detections against their samples (same order) as `options` say.
pub fn evaluate_with(
    samples: &[&Sample],
    detections: &[Vec<Detection>],
    options: &EvalOptions,
) -> Result<EvalReport> {
    evaluate_with_progress(samples, detections, options, || {})
}

/// [`evaluate_with`], calling `on_frame` after each frame is scored: a progress bar's hook.
pub fn evaluate_with_progress(
    samples: &[&Sample],
    detections: &[Vec<Detection>],
    options: &EvalOptions,
    mut on_frame: impl FnMut(),
) -> Result<EvalReport> {
    if samples.len() != detections.len() {
        return Err(eyre!(
            "{} samples but {} detection lists",
            samples.len(),
            detections.len()
        ));
    }
    // Rooms whose datasets have positions: there an empty frame's predictions are false
    // positives too; elsewhere (no positions anywhere) the floor is not scored.
    let located: std::collections::HashSet<&str> = samples
        .iter()
        .filter(|s| s.people.iter().any(|p| p.position_m.is_some()))
        .map(|s| s.room.as_str())
        .collect();
    let labels: Vec<String> = (0..=MAX_COUNT).map(|n| n.to_string()).collect();
    let mut eval = RoomEvaluator::new(EvalConfig {
        heads: vec![("people".into(), labels)],
        floor_gate_m: options.floor_gate_m,
        ..EvalConfig::default()
    })?;
    for (i, (s, dets)) in samples.iter().zip(detections).enumerate() {
        let preds = dets
            .iter()
            .filter(|d| d.score >= options.score_threshold)
            .map(predicted_person)
            .collect::<Result<Vec<_>>>()?;
        let truth = truth_frame(s);
        add_frame_kept(
            &mut eval,
            &s.room,
            i as u64,
            &truth,
            &preds,
            options.person_threshold,
        )?;
        let preds: Vec<_> = preds
            .into_iter()
            .filter(|p| p.score >= options.person_threshold)
            .collect();
        let positions: Vec<Option<[f64; 3]>> = s
            .people
            .iter()
            .map(|p| p.position_m.map(|v| v.map(f64::from)))
            .collect();
        if let Some(cam) = &s.camera {
            if located.contains(s.room.as_str()) {
                add_floor_frame(
                    &mut eval,
                    &s.room,
                    &floor_camera(cam),
                    &truth,
                    &positions,
                    &preds,
                )?;
            }
        }
        on_frame();
    }
    Ok(eval.finish())
}

/// The headline figures of one scope as JSON: `keypoints` (COCO AP, AP50, AP75, ...), `pck`,
/// `part_miou`, `uv_error`, `floor` (metres, with the truth keypoints' own error) and `count`;
/// AP always comes with the position error in metres, as OKS alone is harsh on small offsets.
pub fn summary(r: &wdp_eval::EvalResults) -> serde_json::Value {
    let floor = r.floor.as_ref().map(|f| {
        let own = r.floor_truth_keypoints.as_ref();
        serde_json::json!({
            "median_m": f.median_m,
            "p90_m": f.p90_m,
            "mean_m": f.mean_m,
            "matched": f.matched,
            "missed": f.missed,
            "false_positives": f.false_positives,
            "miss_rate": f.miss_rate,
            "false_positive_rate": f.false_positive_rate,
            "gate_m": f.gate_m,
            "truth_keypoints_median_m": own.and_then(|t| t.median_m),
            "truth_keypoints_p90_m": own.and_then(|t| t.p90_m),
        })
    });
    let count = r.count.as_ref().map(|c| {
        serde_json::json!({
            "accuracy": c.accuracy,
            "mean_abs_error": c.mean_abs_error,
        })
    });
    serde_json::json!({
        "keypoints": r.keypoints.as_ref().map(|k| k.stats),
        "pck": r.pck.as_ref().and_then(|p| p.mean),
        "part_miou": r.parts.as_ref().map(|p| p.miou_parts),
        "uv_error": r.uv.as_ref().map(|u| u.mean_foreground),
        "floor": floor,
        "count": count,
    })
}
