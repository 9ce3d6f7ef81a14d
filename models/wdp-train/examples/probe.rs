//! How much of a person's position the model's input windows hold, before any network: a ridge
//! regression ("probe") from window features to the mid-hip pixel of frames with one person,
//! fitted on one sequence of a room and scored on another sequence of the same room. Beside it,
//! the two answers that ignore the radio: the training sequence's mean position, and the same
//! probe fitted on shuffled (window, position) pairs.
//!
//! ```text
//! cargo run --release -p wdp-train --example probe -- \
//!     --preprocess models/preprocess/relative.yaml --train data/train/lab --test data/test/lab
//! ```
//! Several `--preprocess` files are compared on the same frames; `--train`/`--test` pair up in
//! order (one room each). `scripts/probe.sh` makes the data and runs the ablation.

use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};
use wdp_csi::dsp::PipelineConfig;
use wdp_train::{load_dataset, LoadOptions, Sample};

#[path = "common/probes.rs"]
mod probes;
use probes::{knn, median_error, Ridge};

/// Newest samples averaged into the "now" part of the features.
const NEWEST: usize = 10;
/// Neighbours averaged by the fingerprint probe.
const KNN: i64 = 5;

struct Args {
    preprocess: Vec<PathBuf>,
    train: Vec<PathBuf>,
    test: Vec<PathBuf>,
    every: usize,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        preprocess: Vec::new(),
        train: Vec::new(),
        test: Vec::new(),
        every: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| eyre!("{flag} needs a value"))?;
        match flag.as_str() {
            "--preprocess" => args.preprocess.push(value.into()),
            "--train" => args.train.push(value.into()),
            "--test" => args.test.push(value.into()),
            "--every" => args.every = value.parse().wrap_err("--every")?,
            _ => return Err(eyre!("unknown flag {flag}")),
        }
    }
    if args.train.len() != args.test.len() || args.train.is_empty() {
        return Err(eyre!("give one --test per --train (one room each)"));
    }
    Ok(args)
}

/// Features of one window `[2, links, subcarriers, time]`: the mean of the newest samples and
/// the standard deviation over the window, per channel and stream.
fn features(s: &Sample) -> Vec<f32> {
    let [c, l, k, t] = s.window_shape;
    let newest = NEWEST.min(t);
    let mut out = Vec::with_capacity(2 * c * l * k);
    for stream in s.window.chunks_exact(t) {
        let tail = &stream[t - newest..];
        out.push(tail.iter().sum::<f32>() / newest as f32);
        let m = stream.iter().sum::<f32>() / t as f32;
        let var = stream.iter().map(|v| (v - m).powi(2)).sum::<f32>() / t as f32;
        out.push(var.sqrt());
    }
    out
}

/// Frames with exactly one person whose hips are labelled: (features, mid-hip pixel).
fn one_person(samples: &[Sample]) -> (Vec<Vec<f32>>, Vec<[f32; 2]>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for s in samples {
        let [p] = s.people.as_slice() else { continue };
        let (l, r) = (p.keypoints[11], p.keypoints[12]);
        if l[2] <= 0.0 || r[2] <= 0.0 {
            continue;
        }
        x.push(features(s));
        y.push([(l[0] + r[0]) / 2.0, (l[1] + r[1]) / 2.0]);
    }
    (x, y)
}

fn tensor(rows: &[Vec<f32>]) -> Tensor {
    let d = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).reshape([rows.len() as i64, d as i64])
}

fn targets(y: &[[f32; 2]]) -> Tensor {
    let flat: Vec<f32> = y.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).reshape([y.len() as i64, 2])
}

/// The probe of one room: fitted on its training sequence (lambda chosen on the training
/// sequence's last fifth), scored on its test sequence; and the nearest-neighbour
/// fingerprint. Returns (ridge, nearest neighbours, mean, shuffled ridge, test frames).
fn probe_room(train: &[Sample], test: &[Sample], seed: i64) -> Result<(f64, f64, f64, f64, usize)> {
    let (xt, yt) = one_person(train);
    let (xe, ye) = one_person(test);
    if xt.len() < 50 || xe.len() < 20 {
        return Err(eyre!(
            "too few one-person frames ({} train, {} test)",
            xt.len(),
            xe.len()
        ));
    }
    let (xt, yt, xe, ye) = (tensor(&xt), targets(&yt), tensor(&xe), targets(&ye));
    let n = xt.size()[0];
    let cut = n * 4 / 5;
    let mut best = (f64::INFINITY, 1.0);
    for lambda in [1e-3, 1e-2, 1e-1, 1.0, 10.0] {
        let r = Ridge::fit(&xt.narrow(0, 0, cut), &yt.narrow(0, 0, cut), lambda);
        let e = median_error(
            &r.predict(&xt.narrow(0, cut, n - cut)),
            &yt.narrow(0, cut, n - cut),
        );
        if e < best.0 {
            best = (e, lambda);
        }
    }
    let probe = median_error(&Ridge::fit(&xt, &yt, best.1).predict(&xe), &ye);
    let mean = median_error(&yt.mean_dim(0, true, Kind::Float).expand_as(&ye), &ye);
    // Fingerprinting: the mean position of the k nearest training windows.
    let knn = median_error(&knn(&xt, &yt, &xe, KNN), &ye);
    tch::manual_seed(seed);
    let perm = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
    let shuffled = median_error(
        &Ridge::fit(&xt, &yt.index_select(0, &perm), best.1).predict(&xe),
        &ye,
    );
    Ok((probe, knn, mean, shuffled, xe.size()[0] as usize))
}

fn main() -> Result<()> {
    let args = parse()?;
    tch::set_num_threads(1);
    let configs: Vec<(String, PipelineConfig)> = if args.preprocess.is_empty() {
        vec![("default".into(), LoadOptions::default().pipeline)]
    } else {
        args.preprocess
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .wrap_err_with(|| format!("reading {}", p.display()))?;
                let c: PipelineConfig =
                    serde_yaml::from_str(&text).wrap_err_with(|| format!("{}", p.display()))?;
                let name = p
                    .file_stem()
                    .map_or("?".into(), |s| s.to_string_lossy().into_owned());
                Ok((name, c))
            })
            .collect::<Result<_>>()?
    };
    println!(
        "| preprocessing | room | test frames | ridge px | {KNN}-NN px | mean position px | shuffled CSI ridge px |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, config) in &configs {
        let options = LoadOptions::with(config.clone(), args.every);
        let mut sums = [0.0; 4];
        for (i, (tr, te)) in args.train.iter().zip(&args.test).enumerate() {
            let (train, _) =
                load_dataset(tr, &options).wrap_err_with(|| format!("{}", tr.display()))?;
            let (test, _) =
                load_dataset(te, &options).wrap_err_with(|| format!("{}", te.display()))?;
            let room = train.first().map_or("?".into(), |s| s.room.clone());
            let (p, k, m, s, n) =
                probe_room(&train, &test, i as i64).wrap_err_with(|| format!("{name} {room}"))?;
            println!("| {name} | {room} | {n} | {p:.1} | {k:.1} | {m:.1} | {s:.1} |");
            for (sum, v) in sums.iter_mut().zip([p, k, m, s]) {
                *sum += v;
            }
        }
        let k = args.train.len() as f64;
        let [p, kn, m, s] = sums.map(|v| v / k);
        println!("| {name} | mean | | {p:.1} | {kn:.1} | {m:.1} | {s:.1} |");
    }
    Ok(())
}
