//! Does averaging the floor head's map over the last frames of a recording place people better?
//! Every frame of the given sequences (a window every 50 ms), the floor head's probability maps
//! averaged over the last `K` frames of the same recording (causal: what a live pipeline could
//! do, at `(K - 1) / 2` frames of lag), decoded as the count head's number of peaks and as the
//! true number (placement alone), matched to the truth's floor positions within 1 m.
//!
//! ```text
//! cargo run --release -p wdp-train --example floor_frames -- models/weights/lite-floor.safetensors \
//!     models/presets/lite-floor.yaml <sequence folders>...
//! ```
use eyre::{eyre, Result};
use std::collections::VecDeque;
use tch::{Device, Kind, Tensor};
use wdp_eval::floor::match_floor;
use wdp_train::{load_datasets, LoadOptions, Sample};

/// Averaging lengths compared, frames.
const FRAMES: [usize; 5] = [1, 3, 5, 9, 17];

#[derive(Default)]
struct Tally {
    errors: Vec<f64>,
    missed: usize,
    false_positives: usize,
    truth: usize,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [checkpoint, preset, data @ ..] = args.as_slice() else {
        return Err(eyre!("usage: floor_frames CHECKPOINT PRESET SEQUENCE..."));
    };
    let preset = wdp_models::Preset::load(preset)?;
    let grid = preset
        .upsampler
        .floor
        .clone()
        .ok_or_else(|| eyre!("preset `{}` has no floor head", preset.name))?;
    let pipeline = wdp_train::preprocess::for_checkpoint(std::path::Path::new(checkpoint))?;
    let dirs: Vec<std::path::PathBuf> = data.iter().map(Into::into).collect();
    let samples = load_datasets(&dirs, &LoadOptions::with(pipeline, 1))?;
    let first = samples.first().ok_or_else(|| eyre!("no frames"))?;
    let dims = wdp_models::InputDims::from_window_shape(&first.window_shape.map(|d| d as i64))?;
    let (_vs, model) = wdp_train::trainer::load_trained(
        &preset,
        dims,
        std::path::Path::new(checkpoint),
        Device::Cpu,
    )?;
    // Per frame: floor probabilities [ny * nx] and the count head's most likely count.
    let mut maps: Vec<Tensor> = Vec::with_capacity(samples.len());
    let mut counts: Vec<usize> = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(64) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let x = wdp_train::targets::sample_windows(&refs, Device::Cpu)?;
        let (floor, count) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
            let f = model.encoder.encode_t(&x, false)?.features;
            let up = model.upsampler.forward_located_checked(&f, false)?;
            let floor = up.floor.ok_or_else(|| eyre!("no floor logits"))?;
            let count = up.count.ok_or_else(|| eyre!("no count logits"))?;
            Ok((floor.flatten(1, -1).softmax(-1, Kind::Float), count))
        })?;
        for b in 0..floor.size()[0] {
            maps.push(floor.get(b));
            counts.push(count.get(b).argmax(0, false).int64_value(&[]) as usize);
        }
    }
    let (ny, nx) = grid.map_size();
    println!(
        "{} frames of {} sequences; floor median / p90 m, people missed / false (gate 1 m)",
        samples.len(),
        dirs.len()
    );
    println!("| averaged over | count head's number | true number |");
    println!("| --- | --- | --- |");
    for k in FRAMES {
        let (mut head, mut oracle) = (Tally::default(), Tally::default());
        let mut recent: VecDeque<&Tensor> = VecDeque::new();
        let mut previous: Option<&Sample> = None;
        for (i, s) in samples.iter().enumerate() {
            if previous.is_some_and(|p| !wdp_train::sequence::same_recording(p, s)) {
                recent.clear();
            }
            previous = Some(s);
            recent.push_back(&maps[i]);
            if recent.len() > k {
                recent.pop_front();
            }
            let truth: Vec<[f64; 2]> = s
                .people
                .iter()
                .filter(|p| p.keypoints.iter().any(|k| k[2] > 0.0))
                .filter_map(|p| p.position_m.map(|v| [f64::from(v[0]), f64::from(v[1])]))
                .collect();
            let mean = (Tensor::stack(&recent.iter().copied().collect::<Vec<&Tensor>>(), 0)
                .mean_dim(0, false, Kind::Float)
                + 1e-12)
                .log()
                .view([ny, nx]);
            for (tally, n) in [(&mut head, counts[i]), (&mut oracle, truth.len())] {
                let xy = wdp_models::floor::decode_floor(&mean, n, grid.cell_m)?;
                let preds: Vec<Option<[f64; 2]>> = xy
                    .iter()
                    .map(|p| Some([f64::from(p[0]), f64::from(p[1])]))
                    .collect();
                let m = match_floor(&preds, &truth, 1.0);
                tally.errors.extend(m.pairs.iter().map(|p| p.2));
                tally.missed += m.missed;
                tally.false_positives += m.false_positives;
                tally.truth += truth.len();
            }
        }
        let lag_ms = (k - 1) * 25;
        println!(
            "| {k} frames (lag ~{lag_ms} ms) | {} | {} |",
            row(&mut head),
            row(&mut oracle)
        );
    }
    Ok(())
}

/// One tally's cell: median / p90 m, missed / false.
fn row(t: &mut Tally) -> String {
    t.errors.sort_by(f64::total_cmp);
    let q = |p: f64| {
        t.errors
            .get(((t.errors.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let drawn = t.errors.len() + t.false_positives;
    format!(
        "{:.2} / {:.2} m, {:.0}% / {:.0}%",
        q(0.5),
        q(0.9),
        100.0 * t.missed as f64 / t.truth.max(1) as f64,
        100.0 * t.false_positives as f64 / drawn.max(1) as f64
    )
}
