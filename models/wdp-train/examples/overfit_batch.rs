//! Sanity check of the training loop: repeated steps on one batch must drive every loss down.
//! `cargo run --release -p wdp-train --example overfit_batch -- DATASET [STEPS]`
use eyre::{eyre, Result};
use wdp_train::{load_dataset, make_batch, LoadOptions, Sample, TrainConfig, Trainer};

fn main() -> Result<()> {
    let data = std::env::args()
        .nth(1)
        .ok_or_else(|| eyre!("usage: overfit_batch DATASET [STEPS]"))?;
    let steps: usize = std::env::args().nth(2).map_or(Ok(150), |s| s.parse())?;
    let (samples, _) = load_dataset(std::path::Path::new(&data), &LoadOptions::default())?;
    let w = samples[0].window_shape.map(|d| d as i64);
    let config = TrainConfig {
        augment: None,
        steps,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(
        config,
        wdp_models::InputDims::from_window_shape(&w)?,
        tch::Device::Cpu,
    )?;
    let picked: Vec<&Sample> = samples.iter().step_by(samples.len() / 8).take(8).collect();
    let batch = make_batch(&picked, &trainer.geometry, tch::Device::Cpu)?;
    for i in 0..steps {
        let l = trainer.step(&batch, None)?;
        if i % 25 == 0 || i + 1 == steps {
            println!(
                "{i:4} total {:.3} translation {:.4} mask {:.3} kp {:.5} centre {:.3} reg {:.3}",
                l.total, l.translation, l.mask, l.keypoint, l.center, l.center_regression
            );
        }
    }
    Ok(())
}
