//! # temporal-learned
//!
//! Seed 000's learned temporal module (2-layer bidirectional LSTM + multi-head attention +
//! residual; `models/wdp-models`, checkpoint prefix `temporal.`) between encoder and upsampler:
//! over the last `SEQUENCE` feature vectors of each room/link stream, the output is the refined
//! newest vector. Pose inputs, when wired too, get the `temporal` node's tracking and
//! smoothing. (A dataflow that wires `features` to the `temporal` node runs this binary.)
//!
//! ## Inputs
//! - `features`: Float32 `[feature_dim]`, dims `feature` (encoder). A vector of another size,
//!   type or dims, or with NaN values, is reported, counted and dropped; the node keeps running.
//! - `keypoints`, `boxes`, `parts`, `uv` (optional): as the `temporal` node.
//!
//! ## Outputs
//! - `features`: Float32 `[feature_dim]`, metadata carried plus `untrained` and this stage in
//!   the latency trace.
//! - `keypoints`, `boxes`, `parts`, `uv` when poses are wired: as the `temporal` node.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `SEQUENCE` | frames the module looks back over | `8` |
//! | `SMOOTHER` | tracking smoother, as the `temporal` node | One-Euro, defaults |
//! | `PRESET`, `CHECKPOINT`, `SEED`, `THREADS`, `DEVICE` | the module (`wdp-stage`) | |

mod learned;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::Result;
use learned::Learned;
use temporal::{smoother_config, Tracking};
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_stage::{Frame, StageConfig};
use wdp_tensor::ndarray::Array1;

/// The node's handler: the module on `features`, tracking on poses.
pub struct LearnedNode<'c> {
    config: &'c StageConfig,
    sequence: usize,
    learned: Option<Learned>,
    refined: u64,
    tracking: Tracking,
}

impl<'c> LearnedNode<'c> {
    fn new(config: &'c StageConfig, sequence: usize, tracking: Tracking) -> Self {
        Self {
            config,
            sequence,
            learned: None,
            refined: 0,
            tracking,
        }
    }

    fn features(&mut self, ctx: &mut Context, input: &Input) -> Result<(), HandlerError> {
        let frame = Frame::decode(input, &["feature"])?;
        if self.learned.is_none() {
            self.learned = Some(Learned::build(self.config, self.sequence)?);
        }
        let Some(l) = self.learned.as_mut() else {
            return Err(HandlerError::fatal(eyre::eyre!("module not built")));
        };
        if frame.values.len() != l.feature_dim() {
            return Err(HandlerError::bad(
                "shape",
                format!(
                    "{:?}; the preset has {} features",
                    frame.meta.shape,
                    l.feature_dim()
                ),
            ));
        }
        let out = Array1::from(l.refine(&frame)?);
        let meta = frame.output_meta(
            "temporal",
            out.shape(),
            &["feature"],
            self.config.untrained(),
        );
        wdp_tensor::dora::send(&mut ctx.node, "features", out.view().into_dyn(), &meta)?;
        self.refined += 1;
        ctx.handled(1);
        ctx.record(input.received);
        Ok(())
    }
}

impl Handler for LearnedNode<'_> {
    fn accepts(&self, id: &str) -> bool {
        id == "features" || Tracking::accepts(id)
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        if input.id == "features" {
            self.features(ctx, &input)
        } else {
            self.tracking.on_input(ctx, &input)
        }
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        self.tracking.finish(ctx)?;
        if self.learned.is_some() {
            if self.config.untrained() {
                self.config.announce_untrained();
            }
            wdp_node::announce(&format!(
                "temporal (learned, features): {} vectors refined{}",
                self.refined,
                if self.config.untrained() {
                    " (UNTRAINED weights)"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }

    fn records_latency(&self) -> bool {
        true
    }
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("temporal")?;
    let sequence = wdp_node::env::parse_or("SEQUENCE", 8usize)?;
    let smoother = smoother_config()?;
    let (node, events) = DoraNode::init_from_env()?;
    let tracking = Tracking::for_node(&node, smoother);
    let mut handler = LearnedNode::new(&config, sequence, tracking);
    wdp_node::run("temporal", node, events, &mut handler)?;
    Ok(())
}
