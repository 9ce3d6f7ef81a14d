//! Diagnostics: how much the encoder features and the centre heatmap vary across frames, in eval
//! and train mode.
//! `cargo run --release -p wdp-train --example probe_features -- CHECKPOINT DATASET`
use eyre::{eyre, Result};
use tch::Kind;
use wdp_train::{load_dataset, make_batch, LoadOptions, Sample};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (ckpt, data) = (
        args.get(1).ok_or_else(|| eyre!("ckpt"))?,
        args.get(2).ok_or_else(|| eyre!("data"))?,
    );
    let (samples, _) = load_dataset(std::path::Path::new(data), &LoadOptions::default())?;
    let w = samples[0].window_shape.map(|d| d as i64);
    let preset = wdp_models::Preset::load("lite")?;
    let (_vs, model) = wdp_train::trainer::load_trained(
        &preset,
        wdp_models::InputDims::from_window_shape(&w)?,
        std::path::Path::new(ckpt),
        tch::Device::Cpu,
    )?;
    let picked: Vec<&Sample> = samples
        .iter()
        .step_by(samples.len() / 16)
        .take(16)
        .collect();
    let geo = wdp_train::TargetGeometry {
        translated_wh: [128, 96],
        stride: 4,
        roi_out: 28,
        heatmap_sigma: 1.5,
    };
    let batch = make_batch(&picked, &geo, tch::Device::Cpu)?;
    println!(
        "input std across frames {:.4}, overall std {:.4}",
        batch
            .window
            .std_dim(0, true, false)
            .mean(Kind::Float)
            .double_value(&[]),
        batch.window.std(true).double_value(&[])
    );
    for train in [false, true] {
        let out = tch::no_grad(|| model.forward_t(&batch.window, Some(&batch.rois), train))?;
        let f = &out.features;
        let across = f
            .std_dim(0, true, false)
            .mean(Kind::Float)
            .double_value(&[]);
        let within = f.std(true).double_value(&[]);
        let c = out.stage.person.center_logits.sigmoid();
        let c_across = c
            .std_dim(0, true, false)
            .mean(Kind::Float)
            .double_value(&[]);
        let sp = out
            .spatial
            .std_dim(0, true, false)
            .mean(Kind::Float)
            .double_value(&[]);
        println!("train={train}: features std across frames {across:.4} (overall {within:.4}); spatial across {sp:.4}; centre prob across {c_across:.4}, max {:.3}", c.max().double_value(&[]));
    }
    Ok(())
}
