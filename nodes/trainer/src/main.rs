//! # trainer
//!
//! Trains the WiFi-DensePose model (`models/wdp-train`) inside a dataflow and writes checkpoints
//! (atomically: a reader never sees half a file) and metrics.
//!
//! It reads dataset shards (`DATASET`: `wdp simulate` output or a teacher-capture recording;
//! the CSI is replayed through the inference preprocessing, so training sees what inference
//! sees) and needs no inputs.
//!
//! ## Outputs
//! - `loss`: Float32 `[9]` per step, dims `term` (`total, mask, uv, keypoint, center,
//!   center_regression, distill, domain, grad_norm`), metadata `seq` = step, `lr`.
//!
//! ## Configuration (`env:`; relative paths are from the dataflow's folder)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATASET` | dataset folders, comma-separated | required |
//! | `OUT` | checkpoint to write (`.safetensors`) | required |
//! | `CONFIG` | training configuration (YAML, `wdp_train::TrainConfig`) | defaults |
//! | `STEPS` | optimiser steps (overrides the config) | the config's |
//! | `INIT` | start from these weights (fine-tuning, adaptation) | none |
//! | `RESUME` | `true`: continue the run in `OUT` | `false` |
//! | `TARGET` | unlabelled target-room datasets for domain alignment, comma-separated | none |
//! | `DOMAIN` | `mmd` or `adversarial` (with `TARGET`) | none |
//! | `TEACHER`, `TEACHER_PRESET` | distil from a trained checkpoint of this preset | none, `lite` |
//! | `EVERY` | keep every n-th frame | `2` |
//! | `THREADS` | CPU threads for libtorch | libtorch's default |

use dora_node_api::DoraNode;
use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use wdp_models::InputDims;
use wdp_tensor::ndarray::arr1;
use wdp_tensor::{MetaValue, TensorMeta};
use wdp_train::{DomainMethod, RunOptions, TrainConfig, Trainer};

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn paths(name: &str) -> Vec<PathBuf> {
    var(name)
        .map(|v| v.split(',').map(|p| PathBuf::from(p.trim())).collect())
        .unwrap_or_default()
}

fn main() -> Result<()> {
    let mut config: TrainConfig = match var("CONFIG") {
        Some(p) => serde_yaml::from_str(
            &std::fs::read_to_string(&p).wrap_err_with(|| format!("CONFIG={p}"))?,
        )
        .wrap_err_with(|| format!("CONFIG={p}"))?,
        None => TrainConfig::default(),
    };
    if let Some(s) = var("STEPS") {
        config.steps = s.parse().wrap_err_with(|| format!("STEPS={s}"))?;
    }
    config.domain = match var("DOMAIN").as_deref() {
        None => None,
        Some("mmd") => Some(DomainMethod::Mmd),
        Some("adversarial") => Some(DomainMethod::Adversarial),
        Some(other) => return Err(eyre!("DOMAIN={other}: expected mmd or adversarial")),
    };
    if let Some(t) = var("THREADS") {
        tch::set_num_threads(t.parse().wrap_err_with(|| format!("THREADS={t}"))?);
    }
    let every: usize = match var("EVERY") {
        Some(e) => e.parse().wrap_err_with(|| format!("EVERY={e}"))?,
        None => 2,
    };
    let out = PathBuf::from(var("OUT").ok_or_else(|| eyre!("OUT is required"))?);
    let datasets = paths("DATASET");
    if datasets.is_empty() {
        return Err(eyre!(
            "DATASET is required (dataset folders, comma-separated)"
        ));
    }
    let (mut node, events) = DoraNode::init_from_env()?;
    let samples = wdp_train::data::load_datasets(&datasets, every)?;
    let target = wdp_train::data::load_datasets(&paths("TARGET"), every)?;
    if config.domain.is_some() && target.is_empty() {
        return Err(eyre!("DOMAIN needs TARGET datasets"));
    }
    let first = samples
        .first()
        .ok_or_else(|| eyre!("no frames in DATASET"))?;
    let w = first.window_shape.map(|d| d as i64);
    let dims = InputDims::from_window_shape(&w)?;
    let mut trainer = Trainer::new(config, dims, tch::Device::cuda_if_available())?;
    if var("RESUME").as_deref() == Some("true") {
        trainer.resume(&out)?;
    } else if let Some(init) = var("INIT") {
        trainer.init_from(std::path::Path::new(&init))?;
    }
    if let Some(t) = var("TEACHER") {
        let preset = var("TEACHER_PRESET").unwrap_or_else(|| "lite".into());
        trainer.set_teacher(&preset, std::path::Path::new(&t), dims)?;
    }
    let metrics = out.with_extension("metrics.jsonl");
    let mut send_error = None;
    let summary = wdp_train::train(
        &mut trainer,
        &samples,
        &target,
        &RunOptions {
            checkpoint: &out,
            metrics: Some(&metrics),
            log_every: 10,
            save_every: 100,
        },
        |l| {
            let values = arr1(&[
                l.total as f32,
                l.mask as f32,
                l.uv as f32,
                l.keypoint as f32,
                l.center as f32,
                l.center_regression as f32,
                l.distill as f32,
                l.domain as f32,
                l.grad_norm as f32,
            ]);
            let meta = TensorMeta::new(&[9], ["term"])
                .with_seq(l.step as u64)
                .with_time_ns(wdp_tensor::wall_ns())
                .with("lr", MetaValue::Float(l.lr));
            if let Err(e) =
                wdp_tensor::dora::send(&mut node, "loss", values.view().into_dyn(), &meta)
            {
                send_error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = send_error {
        tracing::warn!("sending `loss`: {e}");
    }
    let line = format!(
        "trainer: {} steps, loss {:.4} -> {:.4}, {:.1} samples/s, checkpoint {}",
        summary.steps,
        summary.first_loss,
        summary.last_loss,
        summary.samples_per_s,
        out.display()
    );
    tracing::info!("{line}");
    eprintln!("{line}");
    drop(events);
    Ok(())
}
