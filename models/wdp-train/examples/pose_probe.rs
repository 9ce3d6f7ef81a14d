//! Does a trained model's encoder carry the pose, beyond where the person is? A ridge readout
//! ("probe") from the encoder's feature vector of frames with one person to that person's
//! keypoints in their own box (x and y as fractions of the box's width and height) and to their
//! pelvis height (standing, against sitting or squatting), fitted on training sequences and
//! scored on others. Beside it, the answers that ignore the radio: the training people's median
//! pose, and the same probe fitted on shuffled (features, pose) pairs. The same probe on the
//! window itself (each link's two parts averaged over the window's newest tenth, and how each
//! link's time series moves: its power in bands of Doppler frequency) says whether the input
//! holds what the features lost.
//!
//! ```text
//! cargo run --release -p wdp-train --example pose_probe -- \
//!     --checkpoint models/weights/lite-floor.safetensors --preset models/presets/lite-floor.yaml \
//!     --train data/train/lab-1000 --test data/test/lab-5000 [--every 2]
//! ```
//! Errors are the median over test frames of the mean keypoint error, in box heights (a
//! keypoint 0.1 off is a tenth of the person's height away), and of the pelvis height, metres.

use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};
use wdp_train::{load_dataset, LoadOptions, Sample};

// Shared with the position probes; this one needs only the ridge.
#[path = "common/probes.rs"]
#[allow(dead_code)]
mod probes;
use probes::Ridge;

struct Args {
    checkpoint: PathBuf,
    preset: String,
    train: Vec<PathBuf>,
    test: Vec<PathBuf>,
    every: usize,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        checkpoint: PathBuf::new(),
        preset: String::new(),
        train: Vec::new(),
        test: Vec::new(),
        every: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| eyre!("{flag} needs a value"))?;
        match flag.as_str() {
            "--checkpoint" => args.checkpoint = value.into(),
            "--preset" => args.preset = value,
            "--train" => args.train.push(value.into()),
            "--test" => args.test.push(value.into()),
            "--every" => args.every = value.parse().wrap_err("--every")?,
            _ => return Err(eyre!("unknown flag {flag}")),
        }
    }
    if args.train.is_empty() || args.test.is_empty() || args.preset.is_empty() {
        return Err(eyre!(
            "give --checkpoint, --preset, and at least one --train and --test"
        ));
    }
    Ok(args)
}

/// One person's pose target: 17 keypoints as fractions of the box (34 values) and the pelvis
/// height in metres. `None` unless every keypoint is labelled and the box and position known.
fn pose_of(s: &Sample) -> Option<Vec<f32>> {
    let [p] = s.people.as_slice() else {
        return None;
    };
    let [x0, y0, x1, y1] = p.bbox;
    let (w, h) = (x1 - x0, y1 - y0);
    if w < 2.0 || h < 4.0 || p.keypoints.iter().any(|k| k[2] <= 0.0) {
        return None;
    }
    let z = p.position_m?[2];
    let mut t: Vec<f32> = p
        .keypoints
        .iter()
        .flat_map(|k| [(k[0] - x0) / w, (k[1] - y0) / h])
        .collect();
    // The box's aspect scales the x fractions: the error is kept in box heights.
    for x in t.iter_mut().step_by(2) {
        *x *= w / h;
    }
    t.push(z);
    Some(t)
}

/// The window's own summary: per link and subcarrier, the two parts averaged over its newest
/// tenth (the label is the pose at the window's end).
fn window_features(s: &Sample) -> Vec<f32> {
    let [c, a, sc, t] = s.window_shape;
    let newest = (t / 10).max(1);
    let mut out = Vec::with_capacity(c * a * sc);
    for ci in 0..c {
        for ai in 0..a {
            for si in 0..sc {
                let row = ((ci * a + ai) * sc + si) * t;
                let v = &s.window[row + t - newest..row + t];
                out.push(v.iter().sum::<f32>() / newest as f32);
            }
        }
    }
    out
}

/// Bands the Doppler features split each link's spectrum into.
const BANDS: i64 = 8;

/// How the window moves: per part and link, the power of its time series (each subcarrier's
/// mean removed) in `BANDS` equal bands of frequency, summed over subcarriers, as logs.
fn doppler(x: &Tensor) -> Tensor {
    let t = x.size()[4];
    let centred = x - x.mean_dim(4, true, Kind::Float);
    let power = centred
        .fft_rfft(None, 4, "backward")
        .abs()
        .square()
        .sum_dim_intlist(3, false, Kind::Float);
    let bins = t / 2 + 1;
    let width = (bins - 1) / BANDS;
    let bands: Vec<Tensor> = (0..BANDS)
        .map(|b| {
            power
                .narrow(3, 1 + b * width, width)
                .sum_dim_intlist(3, false, Kind::Float)
        })
        .collect();
    (Tensor::stack(&bands, 3) + 1e-6).log().flatten(1, -1)
}

/// Encoder features `[N, F]` of `samples`, their window summaries `[N, W]` and their Doppler
/// bands `[N, D]`.
fn features(
    model: &wdp_models::WifiDensePose,
    samples: &[&Sample],
) -> Result<(Tensor, Tensor, Tensor)> {
    let (mut enc, mut dop) = (Vec::new(), Vec::new());
    for chunk in samples.chunks(64) {
        let x = wdp_train::targets::sample_windows(chunk, Device::Cpu)?;
        let f = tch::no_grad(|| model.encoder.encode_t(&x, false))?.features;
        enc.push(f);
        dop.push(tch::no_grad(|| doppler(&x)));
    }
    let win: Vec<f32> = samples.iter().flat_map(|s| window_features(s)).collect();
    let n = samples.len() as i64;
    Ok((
        Tensor::cat(&enc, 0),
        Tensor::from_slice(&win).reshape([n, -1]),
        Tensor::cat(&dop, 0),
    ))
}

/// Pelvis height below which a person sits, squats or kneels (an upright one's is about 0.9 m).
const LOW_PELVIS_M: f64 = 0.7;

/// Median over rows of the mean keypoint distance (box heights), of the pelvis height error,
/// and of the pelvis height error of the rows whose person is low (sitting, squatting).
fn errors(pred: &Tensor, y: &Tensor) -> (f64, f64, f64) {
    let n = y.size()[0];
    let kp = (pred.narrow(1, 0, 34) - y.narrow(1, 0, 34))
        .reshape([n, 17, 2])
        .square()
        .sum_dim_intlist(2, false, Kind::Float)
        .sqrt()
        .mean_dim(1, false, Kind::Float)
        .median()
        .double_value(&[]);
    let dz = (pred.narrow(1, 34, 1) - y.narrow(1, 34, 1)).abs();
    let low = y.narrow(1, 34, 1).lt(LOW_PELVIS_M);
    let z_low = if low.any().int64_value(&[]) != 0 {
        dz.masked_select(&low).median().double_value(&[])
    } else {
        f64::NAN
    };
    (kp, dz.median().double_value(&[]), z_low)
}

/// The ridge probe of `xt -> yt` scored on `xe -> ye`, its lambda chosen on the training rows'
/// last fifth; and the same fitted on shuffled training pairs.
type Errors = (f64, f64, f64);

fn probe(xt: &Tensor, yt: &Tensor, xe: &Tensor, ye: &Tensor) -> (Errors, Errors) {
    let n = xt.size()[0];
    let cut = n * 4 / 5;
    let mut best = (f64::INFINITY, 1.0);
    for lambda in [1e-3, 1e-2, 1e-1, 1.0, 10.0] {
        let r = Ridge::fit(&xt.narrow(0, 0, cut), &yt.narrow(0, 0, cut), lambda);
        let (e, _, _) = errors(
            &r.predict(&xt.narrow(0, cut, n - cut)),
            &yt.narrow(0, cut, n - cut),
        );
        if e < best.0 {
            best = (e, lambda);
        }
    }
    let fitted = errors(&Ridge::fit(xt, yt, best.1).predict(xe), ye);
    tch::manual_seed(0);
    let perm = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
    let shuffled = errors(
        &Ridge::fit(xt, &yt.index_select(0, &perm), best.1).predict(xe),
        ye,
    );
    (fitted, shuffled)
}

fn pick<'a>(all: &'a [Sample], idx: &[usize]) -> Vec<&'a Sample> {
    idx.iter().map(|&i| &all[i]).collect()
}

fn load(dirs: &[PathBuf], options: &LoadOptions) -> Result<Vec<Sample>> {
    let mut all = Vec::new();
    for d in dirs {
        let (samples, _) = load_dataset(d, options).wrap_err_with(|| d.display().to_string())?;
        all.extend(samples);
    }
    Ok(all)
}

fn main() -> Result<()> {
    let args = parse()?;
    tch::set_num_threads(2);
    let mut options = LoadOptions::with(
        wdp_train::preprocess::for_checkpoint(&args.checkpoint)?,
        args.every,
    );
    options.masks = false;
    let (train, test) = (load(&args.train, &options)?, load(&args.test, &options)?);
    let keep = |all: &[Sample]| -> (Vec<usize>, Vec<f32>) {
        let mut idx = Vec::new();
        let mut y = Vec::new();
        for (i, s) in all.iter().enumerate() {
            if let Some(t) = pose_of(s) {
                idx.push(i);
                y.extend(t);
            }
        }
        (idx, y)
    };
    let ((it, yt), (ie, ye)) = (keep(&train), keep(&test));
    if it.len() < 100 || ie.len() < 20 {
        return Err(eyre!(
            "too few one-person frames with every keypoint labelled ({} train, {} test)",
            it.len(),
            ie.len()
        ));
    }
    let yt = Tensor::from_slice(&yt).reshape([it.len() as i64, 35]);
    let ye = Tensor::from_slice(&ye).reshape([ie.len() as i64, 35]);
    let preset = wdp_models::Preset::load(&args.preset)?;
    let w = train[0].window_shape.map(|d| d as i64);
    let (_vs, model) = wdp_train::trainer::load_trained(
        &preset,
        wdp_models::InputDims::from_window_shape(&w)?,
        &args.checkpoint,
        Device::Cpu,
    )?;
    let (ft, wt, dt) = features(&model, &pick(&train, &it))?;
    let (fe, we, de) = features(&model, &pick(&test, &ie))?;
    let median_pose = yt.median_dim(0, true).0.expand_as(&ye);
    let prior = errors(&median_pose, &ye);
    let (enc, enc_shuffled) = probe(&ft, &yt, &fe, &ye);
    let (win, win_shuffled) = probe(&wt, &yt, &we, &ye);
    let (dop, dop_shuffled) = probe(&dt, &yt, &de, &ye);
    let low = ye
        .narrow(1, 34, 1)
        .lt(LOW_PELVIS_M)
        .sum(Kind::Int64)
        .int64_value(&[]);
    println!(
        "one-person frames: {} train, {} test, {low} of them low (pelvis below {LOW_PELVIS_M} m); keypoints: median of the mean error, box heights; pelvis height: median error, m",
        it.len(),
        ie.len()
    );
    println!("| readout | keypoints | pelvis height | pelvis height, low frames |");
    println!("| --- | --- | --- | --- |");
    for (name, (kp, z, z_low)) in [
        ("training people's median pose (no radio)", prior),
        ("ridge on the encoder features", enc),
        (
            "ridge on the encoder features, shuffled pairs",
            enc_shuffled,
        ),
        ("ridge on the window's newest tenth", win),
        ("ridge on the window, shuffled pairs", win_shuffled),
        ("ridge on the window's Doppler bands", dop),
        ("ridge on the Doppler bands, shuffled pairs", dop_shuffled),
    ] {
        println!("| {name} | {kp:.3} | {z:.3} | {z_low:.3} |");
    }
    Ok(())
}
