//! # temporal
//!
//! Temporal consistency of poses, without a model (this node links no libtorch): non-learned
//! tracking and smoothing (`wdp-pose`) after densepose: stable `track_ids` across frames
//! (OKS/IoU matching with the Hungarian algorithm, tracks kept through missed frames) and
//! One-Euro or constant-velocity Kalman filtering of keypoints and boxes per track. The frame's
//! dense maps pass through.
//!
//! The learned module on features (seed 000's BiLSTM + attention, between encoder and
//! upsampler) is the `temporal-learned` node. A dataflow that wires `features` to this node
//! gets it too: `temporal` then hands its process over to the `temporal-learned` binary beside
//! it, before connecting to dora.
//!
//! ## Inputs
//! - `keypoints`, `boxes`, and `parts`/`uv` when wired: the pose contract. A message that breaks
//!   it is reported, counted and dropped; the node keeps running.
//!
//! ## Outputs
//! - `keypoints`, `boxes`, `parts`, `uv`: the same frames with `track_ids`, smoothed.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `SMOOTHER` | `wdp_pose::SmootherConfig` as YAML (inline or a file) | One-Euro, defaults |

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use temporal::{smoother_config, Tracking, TrackingNode};

#[cfg(test)]
mod tests;

/// Replaces this process by `temporal-learned` (same arguments and environment).
fn hand_over_to_learned() -> Result<()> {
    use std::os::unix::process::CommandExt;
    let learned = std::env::current_exe()?.with_file_name("temporal-learned");
    if !learned.is_file() {
        return Err(eyre!(
            "`features` is wired: the learned module runs in the temporal-learned node, but {} \
             is missing (cargo build --release -p temporal-learned)",
            learned.display()
        ));
    }
    let e = std::process::Command::new(&learned)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(eyre!("starting {}: {e}", learned.display()))
}

fn main() -> Result<()> {
    if wdp_node::env::wired_inputs().is_some_and(|ids| ids.iter().any(|i| i == "features")) {
        return hand_over_to_learned();
    }
    let smoother = smoother_config()?;
    let (node, events) = DoraNode::init_from_env()?;
    let mut handler = TrackingNode(Tracking::for_node(&node, smoother));
    wdp_node::run("temporal", node, events, &mut handler)?;
    Ok(())
}
