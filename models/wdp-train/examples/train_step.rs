//! Training throughput: optimiser steps of the real training loop (`Trainer::step`: forward
//! with ground-truth ROIs, every loss of the shipped config, backward, clipping, AdamW) on a
//! batch of simulated frames. The PyTorch peer is `scripts/bench_train_pytorch.py`, run beside
//! it by `scripts/bench_train.sh`.
//!
//! `cargo run --release -p wdp-train --example train_step -- [STEPS] [BATCH] [THREADS]`
//! prints one JSON object: samples/s, ms per step (median), steps, batch.

use eyre::{eyre, Result};
use std::time::Instant;
use wdp_train::{load_dataset, make_batch, LoadOptions, Sample, TrainConfig, Trainer};

fn main() -> Result<()> {
    let arg = |i: usize, d: usize| -> Result<usize> {
        std::env::args()
            .nth(i)
            .map_or(Ok(d), |s| s.parse().map_err(|e| eyre!("argument {i}: {e}")))
    };
    let (steps, batch_size, threads) = (arg(1, 30)?, arg(2, 8)?, arg(3, 2)?);
    tch::set_num_threads(threads as i32);
    let dir = tempfile::tempdir()?;
    let scene = wdp_sim::Scene::preset("office")?;
    let options = wdp_sim::DatasetOptions {
        duration_s: 3.0,
        include_rgb: false,
        ..wdp_sim::DatasetOptions::default()
    };
    wdp_sim::write_dataset(&scene, dir.path(), &options)?;
    let (samples, _) = load_dataset(dir.path(), &LoadOptions::default())?;
    let w = samples
        .first()
        .ok_or_else(|| eyre!("no frames"))?
        .window_shape
        .map(|d| d as i64);
    let config = TrainConfig {
        steps: usize::MAX,
        batch_size,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(
        config,
        wdp_models::InputDims::from_window_shape(&w)?,
        tch::Device::Cpu,
    )?;
    let picked: Vec<&Sample> = samples.iter().rev().take(batch_size).collect();
    let batch = make_batch(&picked, &trainer.geometry, tch::Device::Cpu)?;
    for _ in 0..3 {
        trainer.step(&batch, None)?;
    }
    let mut ms = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t0 = Instant::now();
        trainer.step(&batch, None)?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "ms_per_step_median": median,
            "samples_per_s": batch_size as f64 * 1e3 / median,
            "steps": steps,
            "batch": batch_size,
            "people_in_batch": batch.rois.size()[0],
            "threads": threads,
        })
    );
    Ok(())
}
