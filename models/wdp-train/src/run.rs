//! A whole training run over loaded datasets: shuffled batches, periodic metrics and atomic
//! checkpoints. Shared by the `wdp-train` tool and the trainer node.

use crate::data::Sample;
use crate::targets::make_batch;
use crate::trainer::{StepLosses, Trainer};
use eyre::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tch::Tensor;

/// Where a run writes and how often.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    /// Checkpoint path (`.safetensors`).
    pub checkpoint: &'a Path,
    /// Metrics as JSON lines (one per logged step), appended.
    pub metrics: Option<&'a Path>,
    /// Log and write metrics every this many steps.
    pub log_every: usize,
    /// Save a checkpoint every this many steps (and at the end).
    pub save_every: usize,
}

/// Summary of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// Steps taken in this run.
    pub steps: usize,
    /// Mean total loss over the first logged window of steps.
    pub first_loss: f64,
    /// Mean total loss over the last logged window of steps.
    pub last_loss: f64,
    /// Training throughput.
    pub samples_per_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// A deterministic shuffle (xorshift), so runs repeat from the config's seed.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        idx.swap(i, (s % (i as u64 + 1)) as usize);
    }
    idx
}

/// Trains until `trainer.config.steps`, on `samples` (and, with domain alignment, unlabelled
/// `target` frames). `on_step` sees every step's losses (a node publishes them).
pub fn train(
    trainer: &mut Trainer,
    samples: &[Sample],
    target: &[Sample],
    options: &RunOptions<'_>,
    mut on_step: impl FnMut(&StepLosses),
) -> Result<RunSummary> {
    let device = trainer.vs.device();
    let bs = trainer.config.batch_size.max(1);
    let steps = trainer.config.steps;
    let start_step = trainer.step;
    let started = Instant::now();
    let mut order = Vec::new();
    let mut epoch = 0u64;
    let mut cursor = 0usize;
    let mut target_cursor = 0usize;
    let mut window_losses = Vec::new();
    let (mut first_loss, mut last_loss) = (f64::NAN, f64::NAN);
    let mut metrics = match options.metrics {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .wrap_err_with(|| format!("creating {}", dir.display()))?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .wrap_err_with(|| format!("opening {}", p.display()))?,
            )
        }
        None => None,
    };
    while trainer.step < steps {
        if cursor + bs > order.len() {
            order = shuffled(samples.len(), trainer.config.seed as u64 + epoch);
            epoch += 1;
            cursor = 0;
        }
        let picked: Vec<&Sample> = order[cursor..(cursor + bs).min(order.len())]
            .iter()
            .map(|&i| &samples[i])
            .collect();
        cursor += bs;
        let batch = make_batch(&picked, &trainer.geometry, device)?;
        let target_window: Option<Tensor> = if target.is_empty() {
            None
        } else {
            let picked: Vec<&Sample> = (0..bs)
                .map(|k| &target[(target_cursor + k * 7919) % target.len()])
                .collect();
            target_cursor += 1;
            Some(make_batch(&picked, &trainer.geometry, device)?.window)
        };
        let losses = trainer.step(&batch, target_window.as_ref())?;
        on_step(&losses);
        window_losses.push(losses.total);
        let done = trainer.step - start_step;
        if done.is_multiple_of(options.log_every.max(1)) || trainer.step == steps {
            let mean = window_losses.iter().sum::<f64>() / window_losses.len() as f64;
            if first_loss.is_nan() {
                first_loss = mean;
            }
            last_loss = mean;
            window_losses.clear();
            let rate = (done * bs) as f64 / started.elapsed().as_secs_f64();
            tracing::info!(
                "step {} loss {mean:.4} (translation {:.4} mask {:.3} uv {:.3} kp {:.5} centre {:.3} reg {:.3} distill {:.3} domain {:.3}) lr {:.2e} |g| {:.2} {rate:.1} samples/s",
                trainer.step,
                losses.translation,
                losses.mask,
                losses.uv,
                losses.keypoint,
                losses.center,
                losses.center_regression,
                losses.distill,
                losses.domain,
                losses.lr,
                losses.grad_norm
            );
            if let Some(f) = metrics.as_mut() {
                let mut line = serde_json::to_value(&losses)?;
                line["mean_total"] = mean.into();
                line["samples_per_s"] = rate.into();
                line["wall_s"] = started.elapsed().as_secs_f64().into();
                writeln!(f, "{line}")?;
            }
        }
        if trainer.step.is_multiple_of(options.save_every.max(1)) || trainer.step == steps {
            trainer
                .save(options.checkpoint)
                .wrap_err_with(|| format!("saving {}", options.checkpoint.display()))?;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let steps_done = trainer.step - start_step;
    Ok(RunSummary {
        steps: steps_done,
        first_loss,
        last_loss,
        samples_per_s: (steps_done * bs) as f64 / wall_s.max(1e-9),
        wall_s,
    })
}
