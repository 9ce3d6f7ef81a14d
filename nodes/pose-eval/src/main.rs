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
//! within `TOLERANCE_MS` (`wdp_timepair`'s nearest policy); a truth frame is used once, and the
//! older truth of its room is then given up. Predictions without a truth frame are counted and
//! left out; at most 1024 truth frames wait per room (the oldest beyond are counted as dropped).
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OUT_DIR` | report folder | `out/eval` |
//! | `TITLE` | report title | `Evaluation` |
//! | `TOLERANCE_MS` | largest time between a prediction and its truth | `30` |

mod eval;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::Result;
use std::path::PathBuf;
use wdp_node::env::{parse_or, var};

fn main() -> Result<()> {
    let out = PathBuf::from(var("OUT_DIR").unwrap_or_else(|| "out/eval".into()));
    let title = var("TITLE").unwrap_or_else(|| "Evaluation".into());
    let tolerance_ns = parse_or::<i64>("TOLERANCE_MS", 30)? * 1_000_000;
    let mut handler = eval::PoseEval::new(out, title, tolerance_ns)?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run("pose-eval", node, events, &mut handler)?;
    Ok(())
}
