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
//!   reading the events that arrived meanwhile between steps without waiting for more. It ends
//!   after `STEPS` steps or at the dataflow's `Stop` (saving what it has), and keeps training
//!   on the buffer when its inputs end first.
//!
//! A live message that breaks its contract (a window of another shape, labels without part
//! maps, ...) is reported with the field at fault and dropped; the node goes on. Counts of
//! paired, unpaired and dropped messages and of the buffer's use are printed every 10 steps and
//! at the end.
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
mod live;

use config::Settings;
use dora_node_api::{DoraNode, NodeError};
use eyre::{eyre, Result};
use wdp_models::InputDims;
use wdp_tensor::ndarray::arr1;
use wdp_tensor::{MetaValue, TensorMeta};
use wdp_train::{RunOptions, RunSummary, StepLosses, Trainer};

use wdp_node::announce;

/// Publishes one step's losses on `loss`.
fn send_loss(node: &mut DoraNode, l: &StepLosses) -> Result<(), NodeError> {
    let values = arr1(&[
        l.total as f32,
        l.mask as f32,
        l.uv as f32,
        l.keypoint as f32,
        l.center as f32,
        l.center_regression as f32,
        l.translation as f32,
        l.distill as f32,
        l.domain as f32,
        l.temporal as f32,
        l.grad_norm as f32,
    ]);
    let meta = TensorMeta::new(&[values.len()], ["term"])
        .with_seq(l.step as u64)
        .with_time_ns(wdp_tensor::wall_ns())
        .with("lr", MetaValue::Float(l.lr));
    wdp_tensor::dora::send(node, "loss", values.view().into_dyn(), &meta)
}

/// The model for windows of `shape`, from `INIT` or the run in `OUT` (`RESUME`), with its
/// teacher.
fn build_trainer(settings: &Settings, shape: [usize; 4]) -> Result<Trainer> {
    let dims = InputDims::from_window_shape(&shape.map(|d| d as i64))?;
    let mut trainer = Trainer::new(
        settings.config.clone(),
        dims,
        tch::Device::cuda_if_available(),
    )?;
    if settings.resume {
        trainer.resume(&settings.out)?;
    } else if let Some(init) = &settings.init {
        trainer.init_from(init)?;
    }
    if let Some((preset, path)) = &settings.teacher {
        trainer.set_teacher(preset, path, dims)?;
    }
    Ok(trainer)
}

/// Where both modes write: the checkpoint `OUT` and the metrics file `metrics` beside it.
fn run_options<'a>(settings: &'a Settings, metrics: &'a std::path::Path) -> RunOptions<'a> {
    RunOptions {
        checkpoint: &settings.out,
        metrics: Some(metrics),
        log_every: 10,
        save_every: 100,
    }
}

fn report(summary: &RunSummary, settings: &Settings) {
    announce(&format!(
        "trainer: {} steps, loss {:.4} -> {:.4}, {:.1} samples/s, checkpoint {}",
        summary.steps,
        summary.first_loss,
        summary.last_loss,
        summary.samples_per_s,
        settings.out.display()
    ));
}

/// Shard mode: the datasets in shuffled epochs until `STEPS`.
fn train_shards(node: &mut DoraNode, settings: &Settings) -> Result<()> {
    if settings.datasets.is_empty() {
        return Err(eyre!(
            "DATASET is required (dataset folders, comma-separated) when no live inputs are wired"
        ));
    }
    let samples = wdp_train::data::load_datasets(&settings.datasets, &settings.load_options())?;
    let target = wdp_train::data::load_datasets(&settings.target, &settings.load_options())?;
    if settings.config.domain.is_some() && target.is_empty() {
        return Err(eyre!("DOMAIN needs TARGET datasets"));
    }
    let first = samples
        .first()
        .ok_or_else(|| eyre!("no frames in DATASET"))?;
    let mut trainer = build_trainer(settings, first.window_shape)?;
    let metrics = settings.out.with_extension("metrics.jsonl");
    let mut send_error = None;
    let summary = wdp_train::train(
        &mut trainer,
        &samples,
        &target,
        &run_options(settings, &metrics),
        |l| {
            if let Err(e) = send_loss(node, l) {
                send_error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = send_error {
        tracing::warn!("sending `loss`: {e}");
    }
    report(&summary, settings);
    Ok(())
}

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let (mut node, events) = DoraNode::init_from_env()?;
    let inputs = live::Inputs::of(&node)?;
    if inputs.any() {
        live::train(&mut node, events, &settings, &inputs)
    } else {
        let result = train_shards(&mut node, &settings);
        drop(events);
        result
    }
}
