//! Where is one person, from the model's input windows, on sequences with other people and other
//! motions in the training rooms? One-person frames, mid-hip pixel, median error:
//! - a ridge regression on the windows' covariance features
//!   ([`wdp_models::encoder::covariance_features`]: how the links' changes co-vary) and the room;
//! - the 5 nearest training windows (fingerprinting);
//! - with `--steps N`, a preset's CSI encoder plus a linear layer trained N steps;
//!
//! each beside the same model fitted on shuffled (window, position) pairs and the room's mean
//! training position: answers that ignore the radio.
//!
//! ```text
//! cargo run --release -p wdp-train --example locate -- --preset models/presets/lite-now.yaml \
//!     --preprocess models/preprocess/relative.yaml --steps 1500 \
//!     --train data/protocol/data/train/lab-1000 ... --test data/protocol/data/test-seen/lab-5000 ...
//! ```
use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use tch::{nn, nn::Module, nn::ModuleT, nn::OptimizerConfig, Device, Kind, Tensor};
use wdp_csi::dsp::PipelineConfig;
use wdp_models::encoder::covariance_features;
use wdp_train::{load_datasets, LoadOptions, Sample};

#[path = "common/probes.rs"]
mod probes;
use probes::{knn, median_error, Ridge};

struct Args {
    preset: String,
    preprocess: PathBuf,
    train: Vec<PathBuf>,
    test: Vec<PathBuf>,
    steps: usize,
    every: usize,
    checkpoint: Option<PathBuf>,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        preset: "models/presets/lite-now.yaml".into(),
        preprocess: "models/preprocess/relative.yaml".into(),
        train: Vec::new(),
        test: Vec::new(),
        steps: 0,
        every: 4,
        checkpoint: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| eyre!("{flag} needs a value"))?;
        match flag.as_str() {
            "--preset" => a.preset = v,
            "--preprocess" => a.preprocess = v.into(),
            "--train" => a.train.push(v.into()),
            "--test" => a.test.push(v.into()),
            "--steps" => a.steps = v.parse().wrap_err("--steps")?,
            "--every" => a.every = v.parse().wrap_err("--every")?,
            "--checkpoint" => a.checkpoint = Some(v.into()),
            _ => return Err(eyre!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

/// The index of `room` in `rooms`, added when new.
fn room_index(rooms: &mut Vec<String>, room: &str) -> i64 {
    let i = rooms.iter().position(|r| r == room).unwrap_or_else(|| {
        rooms.push(room.to_owned());
        rooms.len() - 1
    });
    i as i64
}

/// A trained model (the preset's) for windows of `window_shape` `[2, A, S, T]`.
fn load_model(
    args: &Args,
    checkpoint: &std::path::Path,
    window_shape: &[i64],
) -> Result<(nn::VarStore, wdp_models::WifiDensePose)> {
    let preset = wdp_models::Preset::load(&args.preset)?;
    let dims = wdp_models::InputDims::from_window_shape(window_shape)?;
    wdp_train::trainer::load_trained(&preset, dims, checkpoint, Device::Cpu)
}

/// One-person frames: windows `[N, 2, A, S, T]`, mid-hip pixel `[N, 2]`, room index `[N]`.
fn one_person(samples: &[Sample], rooms: &mut Vec<String>) -> Result<(Tensor, Tensor, Tensor)> {
    let kept: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.people.len() == 1
                && s.people[0].keypoints[11][2] > 0.0
                && s.people[0].keypoints[12][2] > 0.0
        })
        .collect();
    if kept.is_empty() {
        return Err(eyre!("no one-person frames"));
    }
    let x = wdp_train::targets::sample_windows(&kept, Device::Cpu)?;
    let y: Vec<f32> = kept
        .iter()
        .flat_map(|s| {
            let k = s.people[0].keypoints;
            [(k[11][0] + k[12][0]) / 2.0, (k[11][1] + k[12][1]) / 2.0]
        })
        .collect();
    let r: Vec<i64> = kept.iter().map(|s| room_index(rooms, &s.room)).collect();
    Ok((
        x,
        Tensor::from_slice(&y).reshape([-1, 2]),
        Tensor::from_slice(&r),
    ))
}

/// Trains encoder + linear on (x, y) (y standardized), returns predictions for `eval` in pixels.
fn fit(args: &Args, x: &Tensor, y: &Tensor, evals: &[&Tensor], seed: i64) -> Result<Vec<Tensor>> {
    tch::manual_seed(seed);
    let preset = wdp_models::Preset::load(&args.preset)?;
    let s = x.size();
    let dims = wdp_models::InputDims::new(s[2], s[3], s[4]);
    let vs = nn::VarStore::new(Device::Cpu);
    let enc = wdp_models::encoder::CsiEncoder::new(vs.root() / "encoder", &preset.encoder, dims)?;
    let head = nn::linear(
        vs.root() / "head",
        preset.encoder.feature_dim,
        2,
        Default::default(),
    );
    let mean = y.mean_dim(0, true, Kind::Float);
    let std = y.std_dim(0, true, true);
    let yn = (y - &mean) / &std;
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    let n = s[0];
    for step in 0..args.steps {
        let idx = Tensor::randint(n, [32], (Kind::Int64, Device::Cpu));
        let pred = head.forward(&enc.forward_t(&x.index_select(0, &idx), true));
        let loss = (pred - yn.index_select(0, &idx)).square().mean(Kind::Float);
        opt.set_lr(
            1e-3 * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / args.steps as f64).cos()),
        );
        opt.backward_step(&loss);
        if step % 500 == 0 {
            eprintln!("step {step} loss {:.3}", loss.double_value(&[]));
        }
    }
    evals
        .iter()
        .map(|e| {
            let preds: Vec<Tensor> = tch::no_grad(|| {
                e.split(256, 0)
                    .iter()
                    .map(|c| head.forward(&enc.forward_t(c, false)))
                    .collect()
            });
            Ok(Tensor::cat(&preds, 0) * &std + &mean)
        })
        .collect()
}

/// How many people: a ridge on a trained model's frozen features (and the room), rounded,
/// against the room prior's count (each room's most common training count).
fn counts(model: &wdp_models::WifiDensePose, train: &[Sample], test: &[Sample]) -> Result<()> {
    let tr: Vec<&Sample> = train.iter().collect();
    let te: Vec<&Sample> = test.iter().collect();
    let mut rooms: Vec<String> = Vec::new();
    let rt: Vec<i64> = tr.iter().map(|s| room_index(&mut rooms, &s.room)).collect();
    let re: Vec<i64> = te.iter().map(|s| room_index(&mut rooms, &s.room)).collect();
    let nr = rooms.len() as i64;
    let feats = |s: &[&Sample], r: &[i64]| -> Result<Tensor> {
        let mut f = Vec::new();
        for c in s.chunks(64) {
            let x = wdp_train::targets::sample_windows(c, Device::Cpu)?;
            f.push(tch::no_grad(|| model.encoder.encode_t(&x, false))?.features);
        }
        let room = Tensor::from_slice(r).one_hot(nr).to_kind(Kind::Float) * 10.0;
        Ok(Tensor::cat(&[Tensor::cat(&f, 0), room], 1))
    };
    let count = |s: &[&Sample]| {
        let c: Vec<f32> = s.iter().map(|s| s.people.len() as f32).collect();
        Tensor::from_slice(&c).unsqueeze(1)
    };
    let (ct, ce) = (count(&tr), count(&te));
    let pred = Ridge::fit(&feats(&tr, &rt)?, &ct, 0.1)
        .predict(&feats(&te, &re)?)
        .round()
        .clamp_min(0.0);
    let room_prior = wdp_train::RoomPrior::fit(&tr, 0)?;
    let prior: Vec<f32> = te
        .iter()
        .map(|s| room_prior.for_room(&s.room).count as f32)
        .collect();
    let prior = Tensor::from_slice(&prior).unsqueeze(1);
    let score = |p: &Tensor| {
        (
            p.eq_tensor(&ce)
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]),
            (p - &ce).abs().mean(Kind::Float).double_value(&[]),
        )
    };
    let (a, m) = score(&pred);
    let (pa, pm) = score(&prior);
    println!("| count | frozen features + room, ridge, rounded | accuracy {a:.3} MAE {m:.2} | room's most common count: accuracy {pa:.3} MAE {pm:.2} |");
    Ok(())
}

/// Where a trained model loses the position: a ridge on its frozen encoder features, the
/// argmax of its locator's centre logits and of its person head's centre heatmap, in camera
/// pixels of `image_wh` (the grids' cells are 4 translated pixels; the translated image is the
/// camera's scaled). The label is the mid-hip; the centre maps are trained on the box centre, a few
/// pixels above it.
#[allow(clippy::too_many_arguments)]
fn trained(
    model: &wdp_models::WifiDensePose,
    checkpoint: &std::path::Path,
    xt: &Tensor,
    yt: &Tensor,
    xe: &Tensor,
    ye: &Tensor,
    room_t: &Tensor,
    room_e: &Tensor,
    image_wh: [usize; 2],
) -> Result<()> {
    let (cam_w, cam_h) = (image_wh[0] as f64, image_wh[1] as f64);
    let argmax_px = |logits: &Tensor| -> Tensor {
        let s = logits.size();
        let (h, w) = (s[2], s[3]);
        let flat = logits.reshape([s[0], -1]).argmax(1, false);
        let iy = flat.divide_scalar_mode(w, "floor").to_kind(Kind::Float);
        let ix = flat.remainder(w).to_kind(Kind::Float);
        let px = (ix + 0.5) * (cam_w / w as f64);
        let py = (iy + 0.5) * (cam_h / h as f64);
        Tensor::stack(&[px, py], 1)
    };
    // Features, locator argmax, person-centre argmax and that map's peak probability.
    let run = |x: &Tensor| -> Result<(Tensor, Option<Tensor>, Tensor, Tensor)> {
        let mut f = Vec::new();
        let mut loc = Vec::new();
        let mut centre = Vec::new();
        let mut peak = Vec::new();
        for c in x.split(64, 0) {
            let out = tch::no_grad(|| model.forward_t(&c, None, false))?;
            f.push(out.features);
            if let Some(l) = &out.locator_logits {
                loc.push(argmax_px(l));
            }
            let logits = &out.stage.person.center_logits;
            centre.push(argmax_px(logits));
            peak.push(logits.flatten(1, -1).amax(1, false).sigmoid());
        }
        Ok((
            Tensor::cat(&f, 0),
            (!loc.is_empty()).then(|| Tensor::cat(&loc, 0)),
            Tensor::cat(&centre, 0),
            Tensor::cat(&peak, 0),
        ))
    };
    let (ft, _, ct, _) = run(xt)?;
    let (fe, le, ce, pe) = run(xe)?;
    println!(
        "| windows | its person-centre map's peak probability, test median (p10, p90) | {:.3} ({:.3}, {:.3}) | |",
        pe.median().double_value(&[]),
        pe.quantile_scalar(0.1, None, false, "linear").double_value(&[]),
        pe.quantile_scalar(0.9, None, false, "linear").double_value(&[])
    );
    let with_room =
        |f: &Tensor, r: &Tensor| Tensor::cat(&[f.shallow_clone(), r.shallow_clone()], 1);
    println!(
        "| windows | {} frozen features + room, ridge 0.1 | {:.1} | |",
        checkpoint.display(),
        median_error(
            &Ridge::fit(&with_room(&ft, room_t), yt, 0.1).predict(&with_room(&fe, room_e)),
            ye
        )
    );
    if let Some(le) = le {
        println!(
            "| windows | its locator's argmax | {:.1} | |",
            median_error(&le, ye)
        );
    }
    println!(
        "| windows | its person head's centre argmax | {:.1} (train {:.1}) | |",
        median_error(&ce, ye),
        median_error(&ct, yt)
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = parse()?;
    let pipeline: PipelineConfig = match &args.checkpoint {
        Some(c) => wdp_train::preprocess::for_checkpoint(c)?,
        None => {
            let text = std::fs::read_to_string(&args.preprocess)
                .wrap_err_with(|| format!("reading {}", args.preprocess.display()))?;
            serde_yaml::from_str(&text)?
        }
    };
    let options = LoadOptions::with(pipeline, args.every);
    let mut rooms = Vec::new();
    let train = load_datasets(&args.train, &options)?;
    let test = load_datasets(&args.test, &options)?;
    let (xt, yt, rt) = one_person(&train, &mut rooms)?;
    let (xe, ye, re) = one_person(&test, &mut rooms)?;
    // A trained model, loaded once for the count and position diagnoses.
    let trained_model = match &args.checkpoint {
        Some(c) => Some((c, load_model(&args, c, &xt.size()[1..])?)),
        None => None,
    };
    if let Some((_, (_, model))) = &trained_model {
        counts(model, &train, &test)?;
    }
    println!(
        "train {} / test {} one-person frames",
        xt.size()[0],
        xe.size()[0]
    );
    // The room prior: each test frame's room's mean training position.
    let mean = {
        let means: Vec<Tensor> = (0..rooms.len() as i64)
            .map(|r| {
                let m = rt.eq(r);
                if m.sum(Kind::Int64).int64_value(&[]) == 0 {
                    yt.mean_dim(0, false, Kind::Float)
                } else {
                    yt.index_select(0, &m.nonzero().squeeze_dim(1))
                        .mean_dim(0, false, Kind::Float)
                }
            })
            .collect();
        Tensor::stack(&means, 0).index_select(0, &re)
    };
    // The room is known to a deployed model (one radio link per room): the probes get it too.
    let rooms_onehot = |r: &Tensor| r.one_hot(rooms.len() as i64).to_kind(Kind::Float) * 10.0;
    // Positions shuffled among the frames of the same room: the room stays known, the radio not.
    // Seeded: one draw, the same on every run.
    tch::manual_seed(0);
    let mut shuffled = yt.copy();
    for r in 0..rooms.len() as i64 {
        let idx = rt.eq(r).nonzero().squeeze_dim(1);
        let perm = idx.index_select(
            0,
            &Tensor::randperm(idx.size()[0], (Kind::Int64, Device::Cpu)),
        );
        let _ = shuffled.index_copy_(0, &idx, &yt.index_select(0, &perm));
    }
    println!("| input | model | test px | same fitted on shuffled pairs px |");
    println!("| --- | --- | --- | --- |");
    for groups in [1, 4, 8] {
        let ct = Tensor::cat(&[covariance_features(&xt, groups), rooms_onehot(&rt)], 1);
        let ce = Tensor::cat(&[covariance_features(&xe, groups), rooms_onehot(&re)], 1);
        for lambda in [1e-2, 1e-1] {
            println!(
                "| covariance, {groups} groups + room | ridge {lambda} | {:.1} | {:.1} |",
                median_error(&Ridge::fit(&ct, &yt, lambda).predict(&ce), &ye),
                median_error(&Ridge::fit(&ct, &shuffled, lambda).predict(&ce), &ye)
            );
        }
    }
    let flat = |x: &Tensor| x.reshape([x.size()[0], -1]);
    println!(
        "| windows | 5-NN | {:.1} | |",
        median_error(&knn(&flat(&xt), &yt, &flat(&xe), 5), &ye)
    );
    println!(
        "| none | the room's mean position | {:.1} | |",
        median_error(&mean, &ye)
    );
    if let Some((c, (_, model))) = &trained_model {
        let image_wh = train.first().map_or([320, 240], |s| s.image_wh);
        trained(
            model,
            c,
            &xt,
            &yt,
            &xe,
            &ye,
            &rooms_onehot(&rt),
            &rooms_onehot(&re),
            image_wh,
        )?;
    }
    if args.steps > 0 {
        let p = fit(&args, &xt, &yt, &[&xe], 0)?;
        let ps = fit(&args, &xt, &shuffled, &[&xe], 1)?;
        println!(
            "| windows | {} encoder + linear, {} steps | {:.1} | {:.1} |",
            args.preset,
            args.steps,
            median_error(&p[0], &ye),
            median_error(&ps[0], &ye)
        );
    }
    Ok(())
}
