//! Evaluation of a model on labelled samples with `wdp-eval` (see `wdp_eval::frame` for what is
//! compared and how): COCO keypoint AP (pycocotools' semantics), PCK@0.2, part mIoU, UV error and
//! the people-count confusion matrix, per room.

use crate::data::Sample;
use crate::predict::Detection;
use eyre::{eyre, Result};
use ndarray::{Array2, Array3};
use wdp_eval::frame::{add_frame, frame_evaluator, PredictedPerson, TruthFrame};
use wdp_eval::EvalReport;

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
    })
}

/// Evaluates detections against their samples (same order).
pub fn evaluate(samples: &[&Sample], detections: &[Vec<Detection>]) -> Result<EvalReport> {
    let mut eval = frame_evaluator()?;
    for (i, (s, dets)) in samples.iter().zip(detections).enumerate() {
        let preds = dets
            .iter()
            .map(predicted_person)
            .collect::<Result<Vec<_>>>()?;
        add_frame(&mut eval, &s.room, i as u64, &truth_frame(s), &preds)?;
    }
    Ok(eval.finish())
}
