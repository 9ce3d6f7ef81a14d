//! Prints ground truth next to predictions for a few frames of a dataset: where the model puts
//! people and keypoints, in camera pixels.
//!
//! `cargo run --release -p wdp-train --example inspect_predictions -- CHECKPOINT DATASET [N] [SCORE_THRESHOLD]`

use eyre::{eyre, Result};
use wdp_train::{load_dataset, predict, LoadOptions, Sample};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (ckpt, data) = match (args.get(1), args.get(2)) {
        (Some(c), Some(d)) => (c, d),
        _ => return Err(eyre!("usage: inspect_predictions CHECKPOINT DATASET [N]")),
    };
    let n: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let options = LoadOptions::with(
        wdp_train::preprocess::for_checkpoint(std::path::Path::new(ckpt))?,
        1,
    );
    let (samples, _) = load_dataset(std::path::Path::new(data), &options)?;
    let s0 = samples.first().ok_or_else(|| eyre!("empty dataset"))?;
    let w = s0.window_shape.map(|d| d as i64);
    let mut preset = wdp_models::Preset::load("lite")?;
    if let Some(t) = args.get(4) {
        preset.person.score_threshold = t.parse()?;
    }
    let (_vs, model) = wdp_train::trainer::load_trained(
        &preset,
        wdp_models::InputDims::from_window_shape(&w)?,
        std::path::Path::new(ckpt),
        tch::Device::Cpu,
    )?;
    let step = (samples.len() / n.max(1)).max(1);
    let picked: Vec<&Sample> = samples.iter().step_by(step).take(n).collect();
    let dets = predict(&model, &picked, 8, tch::Device::Cpu)?;
    for (s, d) in picked.iter().zip(&dets) {
        println!("frame {} ({}), image {:?}", s.seq, s.room, s.image_wh);
        for p in &s.people {
            println!(
                "  gt   box {:?} nose {:?} l_hip {:?}",
                p.bbox.map(|v| v.round()),
                p.keypoints[0].map(|v| v.round()),
                p.keypoints[11].map(|v| v.round())
            );
        }
        for p in d {
            println!(
                "  pred box {:?} score {:.2} nose {:?} l_hip {:?}",
                p.bbox.map(|v| v.round()),
                p.score,
                p.keypoints[0].map(|v| v.round()),
                p.keypoints[11].map(|v| v.round())
            );
        }
    }
    Ok(())
}
