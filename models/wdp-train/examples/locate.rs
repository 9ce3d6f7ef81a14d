//! Where is one person, from the model's input windows, on sequences with other people and other
//! motions in the training rooms? One-person frames, mid-hip pixel, median error:
//! - a ridge regression on the windows' covariance features
//!   ([`wdp_models::encoder::covariance_features`]: how the links' changes co-vary) and the room;
//! - the 5 nearest training windows (fingerprinting);
//! - with `--steps N`, a preset's CSI encoder plus a linear layer trained N steps;
//!
//! each beside the same model fitted on shuffled (window, position) pairs and the room's mean
//! training position: answers that ignore the radio. With `--checkpoint`, also how many people
//! a trained model's features and locator say there are, beside the room's most common count,
//! and where one person stands in metres (its features, its floor head, the room's mean).
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

/// How many people, each against the room prior's count (each room's most common training
/// count): a ridge on a trained model's frozen features (and the room), rounded; a softmax
/// classifier on the same; and, with a locator, its peaks above the person threshold and its map's
/// mass (sum of probabilities, mapped to a count by a line fitted on the training frames).
fn counts(model: &wdp_models::WifiDensePose, train: &[Sample], test: &[Sample]) -> Result<()> {
    let tr: Vec<&Sample> = train.iter().collect();
    let te: Vec<&Sample> = test.iter().collect();
    let mut rooms: Vec<String> = Vec::new();
    let rt: Vec<i64> = tr.iter().map(|s| room_index(&mut rooms, &s.room)).collect();
    let re: Vec<i64> = te.iter().map(|s| room_index(&mut rooms, &s.room)).collect();
    let nr = rooms.len() as i64;
    // Features + room, the locator's mass and its peaks at or above 0.3.
    type Located = Option<(Tensor, Tensor)>;
    let run = |s: &[&Sample], r: &[i64]| -> Result<(Tensor, Located, Option<Tensor>)> {
        let (mut f, mut mass, mut peaks, mut head) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in s.chunks(64) {
            let x = wdp_train::targets::sample_windows(c, Device::Cpu)?;
            let feats = tch::no_grad(|| model.encoder.encode_t(&x, false))?.features;
            let up = tch::no_grad(|| model.upsampler.forward_located_checked(&feats, false))?;
            if let Some(l) = up.locator {
                let heat = l.sigmoid();
                let hmax = heat.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false);
                let is_peak = heat.eq_tensor(&hmax).logical_and(&heat.ge(0.3));
                mass.push(heat.flatten(1, -1).sum_dim_intlist(1, false, Kind::Float));
                peaks.push(
                    is_peak
                        .flatten(1, -1)
                        .sum_dim_intlist(1, false, Kind::Float),
                );
            }
            if let Some(c) = up.count {
                head.push(c.argmax(1, false).to_kind(Kind::Float));
            }
            f.push(feats);
        }
        let room = Tensor::from_slice(r).one_hot(nr).to_kind(Kind::Float) * 10.0;
        let located = (!mass.is_empty()).then(|| (Tensor::cat(&mass, 0), Tensor::cat(&peaks, 0)));
        let head = (!head.is_empty()).then(|| Tensor::cat(&head, 0));
        Ok((Tensor::cat(&[Tensor::cat(&f, 0), room], 1), located, head))
    };
    let count = |s: &[&Sample]| {
        let c: Vec<f32> = s.iter().map(|s| s.people.len() as f32).collect();
        Tensor::from_slice(&c).unsqueeze(1)
    };
    let (ct, ce) = (count(&tr), count(&te));
    let (ft, lt, _) = run(&tr, &rt)?;
    let (fe, le, head) = run(&te, &re)?;
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
    let (pa, pm) = score(&prior);
    let histogram: Vec<i64> = (0..6)
        .map(|k| ce.eq(k as f64).sum(Kind::Int64).int64_value(&[]))
        .collect();
    println!("| count | test frames with 0..5 people {histogram:?}; room's most common count: accuracy {pa:.3} MAE {pm:.2} | |");
    let row = |name: &str, p: &Tensor| {
        let (a, m) = score(&p.round().clamp_min(0.0));
        println!("| count | {name} | accuracy {a:.3} MAE {m:.2} |");
    };
    row(
        "frozen features + room, ridge, rounded",
        &Ridge::fit(&ft, &ct, 0.1).predict(&fe),
    );
    let classes = ct.max().int64_value(&[]) + 1;
    let shuffled = shuffle(&ct, &Tensor::from_slice(&rt));
    for (name, labels) in [
        ("", ct.shallow_clone()),
        (" (fitted on shuffled counts)", shuffled),
    ] {
        let logits = softmax_fit(
            &ft,
            &labels.squeeze_dim(1).to_kind(Kind::Int64),
            classes,
            &fe,
        )?;
        row(
            &format!("frozen features + room, softmax classifier{name}"),
            &logits.argmax(1, false).to_kind(Kind::Float).unsqueeze(1),
        );
    }
    if let Some(h) = head {
        row("its count head's most likely count", &h.unsqueeze(1));
    }
    if let (Some((mass_t, _)), Some((mass_e, peaks_e))) = (lt, le) {
        row("its locator's peaks >= 0.3", &peaks_e.unsqueeze(1));
        let line = |m: &Tensor| Tensor::stack(&[m.shallow_clone(), m.ones_like()], 1);
        row(
            "its locator's mass, line fitted on training frames",
            &Ridge::fit(&line(&mass_t), &ct, 1e-6).predict(&line(&mass_e)),
        );
        println!(
            "| count | its locator's mass: training median {:.2}, test median {:.2} | |",
            mass_t.median().double_value(&[]),
            mass_e.median().double_value(&[])
        );
    }
    Ok(())
}

/// One-person frames for the floor diagnosis: features, floor positions, rooms, the floor
/// head's best peaks (when it has one), and the windows' covariance and delay features.
type FloorInputs = (Tensor, Tensor, Tensor, Option<Tensor>, [Tensor; 2]);

/// Where one person stands, in metres (one-person frames with a position): a ridge on a trained
/// model's frozen features and the room, the same fitted on shuffled positions, the room's mean
/// training position, and the model's floor head (its best peak), when it has one.
fn floor(model: &wdp_models::WifiDensePose, train: &[Sample], test: &[Sample]) -> Result<()> {
    // References, not copies: the windows are most of the memory.
    fn kept(s: &[Sample]) -> Vec<(&Sample, [f32; 2])> {
        s.iter()
            .filter(|s| s.people.len() == 1)
            .filter_map(|s| s.people[0].position_m.map(|p| (s, [p[0], p[1]])))
            .collect()
    }
    let (tr, te) = (kept(train), kept(test));
    if tr.is_empty() || te.is_empty() {
        return Err(eyre!("no one-person frames with positions"));
    }
    let mut rooms: Vec<String> = Vec::new();
    let grid = model.preset().upsampler.floor.clone();
    let run = |s: &[(&Sample, [f32; 2])], rooms: &mut Vec<String>| -> Result<FloorInputs> {
        let (mut f, mut head, mut cov, mut delay) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in s.chunks(64) {
            let refs: Vec<&Sample> = c.iter().map(|(s, _)| *s).collect();
            let x = wdp_train::targets::sample_windows(&refs, Device::Cpu)?;
            let feats = tch::no_grad(|| model.encoder.encode_t(&x, false))?.features;
            cov.push(covariance_features(&x, 4));
            delay.push(delay_features(&x, &DELAY_LAGS));
            let up = tch::no_grad(|| model.upsampler.forward_located_checked(&feats, false))?;
            if let (Some(logits), Some(g)) = (&up.floor, &grid) {
                for b in 0..logits.size()[0] {
                    let p = wdp_models::floor::decode_floor(&logits.get(b), 1, g.cell_m)?;
                    head.extend_from_slice(&p[0]);
                }
            }
            f.push(feats);
        }
        let y: Vec<f32> = s.iter().flat_map(|(_, p)| *p).collect();
        let r: Vec<i64> = s.iter().map(|(s, _)| room_index(rooms, &s.room)).collect();
        let head = (!head.is_empty()).then(|| Tensor::from_slice(&head).view([-1, 2]));
        Ok((
            Tensor::cat(&f, 0),
            Tensor::from_slice(&y).view([-1, 2]),
            Tensor::from_slice(&r),
            head,
            [Tensor::cat(&cov, 0), Tensor::cat(&delay, 0)],
        ))
    };
    let (ft, yt, rt, _, [ct, dt]) = run(&tr, &mut rooms)?;
    let (fe, ye, re, head, [ce, de]) = run(&te, &mut rooms)?;
    let nr = rooms.len() as i64;
    let onehot = |r: &Tensor| r.one_hot(nr).to_kind(Kind::Float) * 10.0;
    let with_room = |f: &Tensor, r: &Tensor| Tensor::cat(&[f.shallow_clone(), onehot(r)], 1);
    let mean = Tensor::stack(
        &(0..nr)
            .map(|r| {
                let idx = rt.eq(r).nonzero().squeeze_dim(1);
                if idx.size()[0] == 0 {
                    yt.mean_dim(0, false, Kind::Float)
                } else {
                    yt.index_select(0, &idx).mean_dim(0, false, Kind::Float)
                }
            })
            .collect::<Vec<_>>(),
        0,
    )
    .index_select(0, &re);
    println!(
        "| floor, {} / {} one-person frames | model | test m |",
        tr.len(),
        te.len()
    );
    println!("| --- | --- | --- |");
    println!(
        "| none | the room's mean training position | {:.2} |",
        median_error(&mean, &ye)
    );
    let ridge = Ridge::fit(&with_room(&ft, &rt), &yt, 0.1);
    println!(
        "| frozen features + room | ridge 0.1 | {:.2} |",
        median_error(&ridge.predict(&with_room(&fe, &re)), &ye)
    );
    let shuffled = Ridge::fit(&with_room(&ft, &rt), &shuffle(&yt, &rt), 0.1);
    println!(
        "| frozen features + room | ridge 0.1 fitted on shuffled positions | {:.2} |",
        median_error(&shuffled.predict(&with_room(&fe, &re)), &ye)
    );
    println!(
        "| frozen features | 5-NN | {:.2} |",
        median_error(&knn(&ft, &yt, &fe, 5), &ye)
    );
    if let Some(h) = head {
        println!(
            "| windows | its floor head's best peak | {:.2} |",
            median_error(&h, &ye)
        );
    }
    // Straight from the windows: the links' covariance (angle of arrival) and the changes'
    // correlation across subcarriers (the moving path's delay against the static ones).
    let both = |c: &Tensor, d: &Tensor| Tensor::cat(&[c.shallow_clone(), d.shallow_clone()], 1);
    for (name, xt, xe) in [
        (
            "covariance, 4 groups",
            ct.shallow_clone(),
            ce.shallow_clone(),
        ),
        (
            "subcarrier correlation",
            dt.shallow_clone(),
            de.shallow_clone(),
        ),
        (
            "covariance + subcarrier correlation",
            both(&ct, &dt),
            both(&ce, &de),
        ),
    ] {
        let fit = Ridge::fit(&with_room(&xt, &rt), &yt, 0.1);
        let blind = Ridge::fit(&with_room(&xt, &rt), &shuffle(&yt, &rt), 0.1);
        println!(
            "| windows: {name} + room | ridge 0.1 (on shuffled positions) | {:.2} ({:.2}) |",
            median_error(&fit.predict(&with_room(&xe, &re)), &ye),
            median_error(&blind.predict(&with_room(&xe, &re)), &ye)
        );
    }
    Ok(())
}

/// Subcarrier lags of [`delay_features`].
const DELAY_LAGS: [i64; 5] = [1, 2, 4, 8, 16];

/// How a window's changes (each value's mean over time removed) co-vary across subcarriers,
/// per link: `R(l) = mean dz(k + l, t) dz(k, t)*` over subcarriers `k` and time `t`, divided
/// by `R(0)`, real and imaginary parts, for each lag `l`. A single moving path of delay `tau`
/// (against the static paths the relative phase refers to) gives `R(l) ~ exp(-j 2 pi df l tau)`:
/// its range, which the links' covariance (a direction) lacks. Output `[B, 2 * A * lags]`.
fn delay_features(window: &Tensor, lags: &[i64]) -> Tensor {
    let sc = window.size()[3];
    let dz = window - window.mean_dim(-1, true, Kind::Float);
    let (re, im) = (dz.select(1, 0), dz.select(1, 1)); // [B, A, S, T]
    let mean = |x: Tensor| x.mean_dim([2, 3].as_slice(), false, Kind::Float);
    let r0 = mean(re.square() + im.square()).clamp_min(1e-9); // [B, A]
    let mut out = Vec::new();
    for &l in lags.iter().filter(|&&l| l < sc) {
        let (ar, ai) = (re.narrow(2, l, sc - l), im.narrow(2, l, sc - l));
        let (br, bi) = (re.narrow(2, 0, sc - l), im.narrow(2, 0, sc - l));
        out.push(mean(&ar * &br + &ai * &bi) / &r0);
        out.push(mean(&ai * &br - &ar * &bi) / &r0);
    }
    Tensor::cat(&out, 1)
}

/// `y` permuted among the frames of the same room (`room [N]`): the room stays known, the radio
/// not. Seeded: the same draw on every run.
fn shuffle(y: &Tensor, room: &Tensor) -> Tensor {
    tch::manual_seed(0);
    let mut shuffled = y.copy();
    let rooms = room.max().int64_value(&[]) + 1;
    for r in 0..rooms {
        let idx = room.eq(r).nonzero().squeeze_dim(1);
        let perm = idx.index_select(
            0,
            &Tensor::randperm(idx.size()[0], (Kind::Int64, Device::Cpu)),
        );
        let _ = shuffled.index_copy_(0, &idx, &y.index_select(0, &perm));
    }
    shuffled
}

/// A linear softmax classifier on standardised `x` (Adam, full batch), logits of `eval`.
fn softmax_fit(x: &Tensor, y: &Tensor, classes: i64, eval: &Tensor) -> Result<Tensor> {
    tch::manual_seed(0);
    let mean = x.mean_dim(0, true, Kind::Float);
    let std = x.std_dim(0, true, true) + 1e-6;
    let vs = nn::VarStore::new(Device::Cpu);
    let lin = nn::linear(vs.root(), x.size()[1], classes, Default::default());
    let mut opt = nn::Adam::default().build(&vs, 1e-2)?;
    opt.set_weight_decay(1e-3);
    let xn = (x - &mean) / &std;
    for _ in 0..300 {
        let loss = lin.forward(&xn).cross_entropy_for_logits(y);
        opt.backward_step(&loss);
    }
    Ok(tch::no_grad(|| lin.forward(&((eval - &mean) / &std))))
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
        floor(model, &train, &test)?;
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
    let shuffled = shuffle(&yt, &rt);
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
