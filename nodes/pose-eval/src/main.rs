//! # pose-eval
//!
//! Scores the poses of a running pipeline against ground truth (`operators/wdp-eval`): COCO
//! keypoint AP/AR with pycocotools' semantics, PCK@0.2, part-mask IoU, UV error and the
//! people-count confusion matrix, overall and per room; the report (Markdown, JSON, plots) is
//! written when the inputs end.
//!
//! ## Inputs
//! - `keypoints`, `boxes`, `parts`, `uv`: the predictions (the pose contract; coordinates in
//!   their `image_wh` frame, maps over each box).
//! - `truth_keypoints`, `truth_boxes`, `truth_parts`, `truth_uv`: the ground truth (the
//!   simulator's, or a teacher's), keypoints with COCO visibility, maps over the image.
//!
//! Each prediction is paired with the truth frame of the same room nearest in capture time,
//! within `TOLERANCE_MS`; a truth frame is used once. Predictions without a truth frame are
//! counted and left out.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OUT_DIR` | report folder | `out/eval` |
//! | `TITLE` | report title | `Evaluation` |
//! | `TOLERANCE_MS` | largest time between a prediction and its truth | `30` |

use dora_node_api::{DoraNode, Event};
use eyre::{eyre, Context, Result};
use ndarray::{s, Axis};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wdp_eval::frame::{add_frame, frame_evaluator, PredictedPerson, TruthFrame};
use wdp_pose::{AssemblerConfig, PoseAssembler, PoseFrame, Region};

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn truth_of(frame: &PoseFrame) -> Result<TruthFrame> {
    if frame.region != Region::Image {
        return Err(eyre!("truth maps must cover the image (`region: image`)"));
    }
    let image_wh = frame
        .image_wh
        .ok_or_else(|| eyre!("truth without `image_wh`"))?;
    let parts = frame
        .parts
        .clone()
        .ok_or_else(|| eyre!("truth without `parts`"))?;
    Ok(TruthFrame {
        people: frame
            .people
            .iter()
            .map(|p| {
                let b = p.bbox;
                (p.keypoints, [b[0], b[1], b[2], b[3]])
            })
            .collect(),
        part_index: parts,
        uv: frame.uv.clone(),
        image_wh,
    })
}

/// Predictions scaled from their `image_wh` frame to the truth's image.
fn predictions_of(frame: &PoseFrame, truth_wh: [usize; 2]) -> Result<Vec<PredictedPerson>> {
    let [pw, ph] = frame.image_wh.unwrap_or(truth_wh);
    let sx = truth_wh[0] as f32 / pw.max(1) as f32;
    let sy = truth_wh[1] as f32 / ph.max(1) as f32;
    let (parts, uv) = match (&frame.parts, &frame.uv, frame.region) {
        (Some(p), Some(u), Region::Box) => (p, u),
        _ => return Err(eyre!("predictions need `parts` and `uv` over each box")),
    };
    frame
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let b = p.bbox;
            Ok(PredictedPerson {
                keypoints: p.keypoints.map(|k| [k[0] * sx, k[1] * sy, k[2]]),
                bbox: [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy],
                score: b[4],
                parts: parts.index_axis(Axis(0), i).to_owned(),
                uv: uv.slice(s![i, .., .., ..]).to_owned(),
            })
        })
        .collect()
}

fn main() -> Result<()> {
    let out = PathBuf::from(var("OUT_DIR").unwrap_or_else(|| "out/eval".into()));
    let title = var("TITLE").unwrap_or_else(|| "Evaluation".into());
    let tolerance_ns: i64 = match var("TOLERANCE_MS") {
        Some(v) => {
            v.parse::<i64>()
                .wrap_err_with(|| format!("TOLERANCE_MS={v}"))?
                * 1_000_000
        }
        None => 30_000_000,
    };
    let (_node, mut events) = DoraNode::init_from_env()?;
    let config = AssemblerConfig {
        max_pending: 64,
        ..AssemblerConfig::default()
    };
    let mut predicted = PoseAssembler::new(config.clone());
    let mut truth = PoseAssembler::new(config);
    // Truth frames waiting for their prediction, per room, by capture time.
    let mut waiting: BTreeMap<(String, i64), TruthFrame> = BTreeMap::new();
    let mut eval = frame_evaluator()?;
    let (mut scored, mut unmatched, mut dropped) = (0u64, 0u64, 0u64);
    let mut score =
        |frame: PoseFrame, waiting: &mut BTreeMap<(String, i64), TruthFrame>| -> Result<bool> {
            let room = frame.meta.room.clone();
            let t = frame.t_ns();
            let lo = (room.clone(), t - tolerance_ns);
            let hi = (room.clone(), t + tolerance_ns);
            let nearest = waiting
                .range(lo..=hi)
                .min_by_key(|((_, tt), _)| (tt - t).abs())
                .map(|(k, _)| k.clone());
            let Some(key) = nearest else {
                return Ok(false);
            };
            let truth = waiting
                .remove(&key)
                .ok_or_else(|| eyre!("truth vanished"))?;
            // Older truth of this room can no longer be matched.
            waiting.retain(|(r, tt), _| r != &room || *tt > key.1);
            let preds = predictions_of(&frame, truth.image_wh)?;
            add_frame(&mut eval, &room, frame.seq(), &truth, &preds)?;
            Ok(true)
        };
    while let Some(event) = events.recv() {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            _ => continue,
        };
        let result = (|| -> Result<()> {
            let name = id.as_str();
            if let Some(output) = name.strip_prefix("truth_") {
                truth.push(wdp_pose::dora::receive(output, &metadata, &data)?)?;
                while let Some(f) = truth.pop() {
                    let room = f.meta.room.clone();
                    waiting.insert((room, f.t_ns()), truth_of(&f)?);
                }
            } else {
                predicted.push(wdp_pose::dora::receive(name, &metadata, &data)?)?;
                while let Some(f) = predicted.pop() {
                    if score(f, &mut waiting)? {
                        scored += 1;
                    } else {
                        unmatched += 1;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            dropped += 1;
            eprintln!("pose-eval: dropping `{id}` message: {e:#}");
        }
    }
    for f in predicted.flush() {
        if score(f, &mut waiting)? {
            scored += 1;
        } else {
            unmatched += 1;
        }
    }
    let report = eval.finish();
    wdp_eval::write_report(&report, &out, &title)
        .wrap_err_with(|| format!("writing the report to {}", out.display()))?;
    let kp = report.all.keypoints.as_ref().map(|k| k.stats);
    let line = format!(
        "pose-eval: {scored} frames scored, {unmatched} without truth, {dropped} messages dropped; AP {:.3} AP50 {:.3} AP75 {:.3}, PCK@0.2 {:.3}, part mIoU {:.3}; report {}",
        kp.as_ref().map_or(f64::NAN, |k| k.ap),
        kp.as_ref().map_or(f64::NAN, |k| k.ap50),
        kp.as_ref().map_or(f64::NAN, |k| k.ap75),
        report.all.pck.as_ref().and_then(|p| p.mean).unwrap_or(f64::NAN),
        report.all.parts.as_ref().and_then(|p| p.miou_parts).unwrap_or(f64::NAN),
        out.join("report.md").display()
    );
    eprintln!("{line}");
    tracing::info!("{line}");
    Ok(())
}
