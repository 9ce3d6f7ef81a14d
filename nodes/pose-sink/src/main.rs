//! # pose-sink
//!
//! The end of an inference pipeline: everything a person or another system needs from the
//! poses, and the pipeline's latency.
//!
//! ## Inputs
//! - `keypoints`, `boxes`, `parts`, `uv`: the pose contract (densepose, densepose-fused or
//!   temporal); `parts`/`uv` optional.
//! - `frame` (optional): a camera picture, UInt8 `[H, W, 3]` (e.g. the simulator's rendered
//!   camera); overlays are drawn on the latest one, else on a dark canvas.
//! - `truth` (optional): the ground truth's `boxes` (the simulator's); their `floor_m` (where
//!   each true person stands) are drawn as rings on the pictures' floor inset.
//!
//! ## Writes into `OUT_DIR`
//! - `poses.jsonl`: one JSON object per frame (time, seq, room, model, untrained, people with
//!   track id, keypoints, box).
//! - `arrow/<output>/*.arrow`: the four pose messages as received (Arrow IPC, `wdp-record`).
//! - `png/frame-<seq>.png`: an overlay every `PNG_EVERY` frames (skeleton, part colours or UV,
//!   boxes, track ids; a red border when the weights are untrained; a top-down floor inset with
//!   the people's floor positions when the poses or the truth carry them).
//! - `summary.gif`: an animated summary of up to `GIF_FRAMES` overlays.
//! - `latency.json`: per-stage processing and transfer times (p50/p99) from the latency trace
//!   the stages append to each message, end-to-end latency and throughput; also printed at
//!   stop.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OUT_DIR` | output folder | `out/poses` |
//! | `PNG_EVERY` | one PNG per this many frames (0: none) | `10` |
//! | `GIF_FRAMES` | most frames in the animated summary (0: none) | `100` |
//! | `DENSE` | `parts`, `uv` or `none` | `parts` |

mod latency;
mod sink;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use sink::{config_from_env, Sink};
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_pose::{PoseAssembler, RgbImage};

fn main() -> Result<()> {
    let config = config_from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    let assembler = wdp_pose::dora::assembler_for(&node, 32);
    let mut handler = PoseSink {
        sink: Some(Sink::create(config)?),
        assembler,
    };
    wdp_node::run("pose-sink", node, events, &mut handler)?;
    Ok(())
}

/// The node's handler: pose messages assembled into frames, each frame written.
struct PoseSink {
    sink: Option<Sink>,
    assembler: PoseAssembler,
}

impl Handler for PoseSink {
    fn accepts(&self, id: &str) -> bool {
        matches!(
            id,
            "frame" | "truth" | "keypoints" | "boxes" | "parts" | "uv"
        )
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let sink = self
            .sink
            .as_mut()
            .ok_or_else(|| HandlerError::fatal(eyre!("sink already finished")))?;
        if input.id == "frame" {
            let rgb = input.tensor::<u8>(&["height", "width", "channel"])?;
            let rgb = rgb
                .data
                .into_dimensionality::<wdp_tensor::ndarray::Ix3>()
                .map_err(|e| HandlerError::bad("shape", e))?;
            sink.camera = Some(RgbImage::from_view(rgb));
            return Ok(());
        }
        if input.id == "truth" {
            let truth = input.pose("boxes")?;
            sink.set_truth_floor(truth.floor_positions()?.unwrap_or_default());
            return Ok(());
        }
        let message = input.pose(&input.id)?;
        sink.recorder
            .write(&input.id, input.data.as_array().as_ref(), &message.meta)
            .map_err(|e| eyre!("recording: {e}"))?;
        sink.latency.arrived(message.meta.seq, input.received_ns);
        self.assembler.push(message)?;
        while let Some(frame) = self.assembler.pop() {
            let at = sink
                .latency
                .arrival(frame.seq())
                .unwrap_or(input.received_ns);
            sink.frame(frame, at)?;
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let Some(mut sink) = self.sink.take() else {
            return Ok(());
        };
        for frame in self.assembler.flush() {
            let at = sink
                .latency
                .arrival(frame.seq())
                .unwrap_or_else(wdp_tensor::wall_ns);
            sink.frame(frame, at)?;
        }
        for line in sink.finish(&self.assembler.stats(), ctx.counts().dropped())? {
            ctx.announce(&line);
        }
        Ok(())
    }
}
