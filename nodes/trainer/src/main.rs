//! # trainer
//!
//! Trains the WiFi-DensePose model (`models/wdp-train`) inside a dataflow and writes checkpoints
//! (atomically: a reader never sees half a file) and metrics.
//!
//! Two ways to get labelled frames:
//! - **Shards** (no inputs wired): `DATASET` folders (`wdp simulate` output or a teacher-capture
//!   recording; the CSI is replayed through the inference preprocessing, so training sees what
//!   inference sees), in shuffled epochs until `STEPS` (`dataflows/train.yml`).
//! - **Live** (inputs wired): a running csi-preprocess's `window`s paired with a labeller's
//!   frames (`dataflows/train-live.yml`). Each labelled frame takes the newest window whose
//!   `t_ns` is at or before its own, within `MAX_LAG_MS`; the pairs fill a replay buffer of
//!   `BUFFER` frames (the newest replace the oldest; `DATASET` frames, if given, seed it).
//!   Once it holds a batch, the node takes optimiser steps on random minibatches from it,
//!   reading the events that arrived meanwhile between steps without waiting for more (a
//!   `wdp_node` handler, `live.rs`, whose `on_idle` takes a step). It ends after `STEPS` steps
//!   or at the dataflow's `Stop` (saving what it has), and keeps training on the buffer when
//!   its inputs end first.
//!
//! A live message that breaks its contract (a window of another shape, labels without part
//! maps, ...) is reported with the field at fault, dropped and counted (`input/field`); the
//! node goes on. Counts of paired, unpaired and dropped messages and of the buffer's use are
//! printed every 10 steps and at the end.
//!
//! ## Inputs (all optional)
//! - `window`: Float32 `[2, antennas, subcarriers, time]` (csi-preprocess's `window`, dims
//!   `feature,antenna,subcarrier,time`). The first window (or the first `DATASET` frame) fixes
//!   the model's input shape.
//! - The labels of those windows, from one labeller:
//!   - `labels_keypoints`, `labels_boxes`, `labels_parts` and optionally `labels_uv`: the pose
//!     contract (operators/wdp-pose) with COCO visibility, `image_wh` and maps over the whole
//!     image (`region: image`): csi-source's `keypoints`, `boxes`, `parts`, `uv` in `sim` mode;
//!   - or `labels`: a camera teacher's one-row struct (nodes/teacher-mediapipe's contract);
//!     its person masks train the foreground with the part unknown.
//! - `target_window`: unlabelled windows of another room (its own csi-source and
//!   csi-preprocess) for domain alignment (`DOMAIN`); kept in a second replay buffer of
//!   `BUFFER` windows (`TARGET` frames, if given, seed it), each step drawing a batch of them.
//! - `teacher_features` (optional): a teacher node's features (f32 `[F]`, dims `feature`, `F`
//!   the student's encoder width) of the moments it saw; each labelled frame takes the vector
//!   nearest its capture time within `MAX_LAG_MS` (frames without one are not trained on) and
//!   the transfer term (`feature_distill`) pulls the student's encoder features to it.
//!
//! ## Outputs
//! - `loss`: Float32 `[11]` per step, dims `term` (`total, mask, uv, keypoint, center,
//!   center_regression, translation, distill, domain, temporal, grad_norm`), metadata `seq` =
//!   step, `lr`.
//!
//! ## Configuration (`env:`; relative paths are from the dataflow's folder)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATASET` | dataset folders, comma-separated | required without live inputs |
//! | `OUT` | checkpoint to write (`.safetensors`; `.state.json` and `.metrics.jsonl` beside it) | required |
//! | `CONFIG` | training configuration (YAML, `wdp_train::TrainConfig`) | defaults |
//! | `STEPS` | optimiser steps (overrides the config) | the config's |
//! | `LR` | base learning rate (overrides the config) | the config's |
//! | `FREEZE` | modules left frozen, comma-separated prefixes (`encoder`, `upsampler`, `backbone`, `head`) | the config's |
//! | `INIT` | start from these weights (fine-tuning, adaptation) | none |
//! | `RESUME` | `true`: continue the run in `OUT` | `false` |
//! | `TARGET` | unlabelled target-room datasets for domain alignment, comma-separated | none |
//! | `DOMAIN` | domain alignment (`mmd`, `lmmd`, `adversarial`), with `TARGET` or `target_window` | none |
//! | `TEACHER`, `TEACHER_PRESET` | distil from a trained checkpoint of this preset | none, `lite` |
//! | `EVERY` | keep every n-th frame (shards and live) | `2` |
//! | `BUFFER` | live replay buffer size, frames (and target windows) | `500` |
//! | `MAX_LAG_MS` | longest gap between a live frame and the end of its window | `100` |
//! | `THREADS` | CPU threads for libtorch | libtorch's default |

mod config;
mod feed;
mod inputs;
mod live;
mod model;
mod shards;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::Result;

fn main() -> Result<()> {
    let settings = config::Settings::from_env()?;
    let (mut node, events) = DoraNode::init_from_env()?;
    let inputs = inputs::Inputs::of(&node)?;
    if !inputs.any() {
        let result = shards::train(&mut node, &settings);
        drop(events);
        return result;
    }
    let metrics = model::metrics_path(&settings);
    let options = model::run_options(&settings, &metrics);
    let mut trainer = live::LiveTrainer::new(&settings, &options, inputs)?;
    wdp_node::run("trainer", node, events, &mut trainer)?;
    Ok(())
}
