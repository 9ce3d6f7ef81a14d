//! What both modes share: the model built for a window shape, where a run writes, the `loss`
//! message of a step, and the closing line.

use crate::config::Settings;
use dora_node_api::{DoraNode, NodeError};
use eyre::Result;
use std::path::Path;
use wdp_models::InputDims;
use wdp_tensor::ndarray::arr1;
use wdp_tensor::{MetaValue, TensorMeta};
use wdp_train::{RunOptions, RunSummary, StepLosses, Trainer};

/// Publishes one step's losses on `loss`.
pub fn send_loss(node: &mut DoraNode, l: &StepLosses) -> Result<(), NodeError> {
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
pub fn build_trainer(settings: &Settings, shape: [usize; 4]) -> Result<Trainer> {
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

/// Where both modes write: the checkpoint `OUT` and the metrics file `metrics` beside it
/// ([`metrics_path`]).
pub fn run_options<'a>(settings: &'a Settings, metrics: &'a Path) -> RunOptions<'a> {
    RunOptions {
        checkpoint: &settings.out,
        metrics: Some(metrics),
        log_every: 10,
        save_every: 100,
    }
}

/// The metrics file beside the checkpoint.
pub fn metrics_path(settings: &Settings) -> std::path::PathBuf {
    settings.out.with_extension("metrics.jsonl")
}

/// The closing line of a run (after the node's name).
pub fn report(summary: &RunSummary, settings: &Settings) -> String {
    format!(
        "{} steps, loss {:.4} -> {:.4}, {:.1} samples/s, checkpoint {}",
        summary.steps,
        summary.first_loss,
        summary.last_loss,
        summary.samples_per_s,
        settings.out.display()
    )
}
