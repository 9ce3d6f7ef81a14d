//! `wdp-train`: train, adapt and evaluate the WiFi-DensePose model on wdp datasets.
//!
//! ```text
//! wdp-train train --data data/lab --data data/office --out models/weights/lite-sim.safetensors
//! wdp-train train --data data/lab --target data/corridor --domain mmd --init lite.safetensors ...
//! ```

use clap::{Parser, Subcommand};
use eyre::{eyre, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use wdp_models::InputDims;
use wdp_train::{train, DomainMethod, RunOptions, Sample, TrainConfig, Trainer};

#[derive(Parser)]
#[command(about = "Train, adapt and evaluate the WiFi-DensePose model on wdp datasets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Dataset folders (from `wdp simulate` or a teacher-capture recording).
    #[arg(long = "data", required = true)]
    data: Vec<PathBuf>,
    /// Checkpoint to write (`.safetensors`; a `.state.json` is written beside it).
    #[arg(long)]
    out: PathBuf,
    /// Training configuration (YAML, fields of TrainConfig); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Preset.
    #[arg(long)]
    preset: Option<String>,
    /// Total optimiser steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Frames per step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Keep every n-th frame of the datasets.
    #[arg(long, default_value_t = 2)]
    every: usize,
    /// Start from this checkpoint's weights (fine-tuning, adaptation).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Train the temporal module on sequences of this many frames (0: frame by frame).
    #[arg(long)]
    sequence: Option<usize>,
    /// Take only these stages from `--init` (e.g. `encoder,upsampler` for a GFL student that
    /// starts from a lite teacher's CSI encoder and translation); default all.
    #[arg(long, value_delimiter = ',')]
    init_stages: Vec<String>,
    /// `--init` was trained on windows made another way: fine-tune it onto this run's
    /// preprocessing anyway (without it such an init is refused before the data loads).
    #[arg(long)]
    init_new_preprocess: bool,
    /// Continue the run in `--out` (weights, step count and optimiser moments).
    #[arg(long)]
    resume: bool,
    /// Unlabelled target-room datasets for domain alignment.
    #[arg(long)]
    target: Vec<PathBuf>,
    /// Domain alignment method with `--target`: adversarial, mmd or lmmd.
    #[arg(long)]
    domain: Option<DomainMethod>,
    /// Freeze these modules (encoder, upsampler, backbone, head), e.g. to fine-tune only the head.
    #[arg(long, value_delimiter = ',')]
    freeze: Vec<String>,
    /// Fit only the heads that read the feature vector (floor, count) and the encoder's
    /// signature branch, on features computed once per frame: `--steps` steps of
    /// `--heads-batch` frames (`wdp_train::heads`). Start from a trained `--init`.
    #[arg(long)]
    heads_only: bool,
    /// Frames per step with `--heads-only`.
    #[arg(long, default_value_t = 256)]
    heads_batch: usize,
    /// With `--heads-only`: datasets of other sequences whose loss picks the step kept.
    #[arg(long)]
    heads_validation: Vec<PathBuf>,
    /// With `--heads-only` and `--heads-validation`: steps between checks.
    #[arg(long, default_value_t = 250)]
    heads_validate_every: usize,
    /// Distil from this trained checkpoint ...
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// ... built with this preset.
    #[arg(long, default_value = "lite")]
    teacher_preset: String,
    /// Metrics file (JSON lines); default: beside the checkpoint.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Log every n steps.
    #[arg(long, default_value_t = 25)]
    log_every: usize,
    /// Save every n steps.
    #[arg(long, default_value_t = 200)]
    save_every: usize,
    /// CPU threads for libtorch.
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The trained checkpoint (not with --prior, which needs no model).
    #[arg(long, required_unless_present = "prior")]
    checkpoint: Option<PathBuf>,
    /// Its preset.
    #[arg(long, default_value = "lite")]
    preset: String,
    /// Labelled dataset folders to evaluate on.
    #[arg(long = "data", required = true)]
    data: Vec<PathBuf>,
    /// Report folder (report.md, results.json, plots).
    #[arg(long)]
    report: PathBuf,
    /// Report title.
    #[arg(long, default_value = "Evaluation")]
    title: String,
    /// Keep every n-th frame.
    #[arg(long, default_value_t = 1)]
    every: usize,
    /// Lowest score of a detection COCO AP ranks (default: the preset's). AP ranks detections
    /// by score, so a low threshold only adds low-ranked candidates, as COCO evaluations keep.
    #[arg(long)]
    score_threshold: Option<f64>,
    /// Lowest score of a detection that is a person: the people count, the floor error, the
    /// part masks and UV (default: the preset's, what the deployed nodes keep). Detections are
    /// decoded down to `--score-threshold` only: lower that too to count people below the
    /// preset's threshold.
    #[arg(long)]
    person_threshold: Option<f64>,
    /// CPU threads for libtorch.
    #[arg(long)]
    threads: Option<i32>,
    /// Run the checkpoint's trained temporal module over the last N frames of each recording
    /// (as the `temporal` node does); 0: frame by frame.
    #[arg(long, default_value_t = 0)]
    sequence: usize,
    /// CSI-blind baseline: run the model on the window of another random frame of the same
    /// room (`shuffle`) or on all-zero windows (`zero`) instead of each frame's own.
    #[arg(long, value_enum, conflicts_with = "prior")]
    blind: Option<wdp_train::Blind>,
    /// Seed of --blind shuffle and of the prior's k-means.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// CSI-blind baseline without a model: the prior of these training dataset folders (per
    /// room the most common people count K and K k-means poses, score 1 on every frame).
    #[arg(long, num_args = 1..)]
    prior: Vec<PathBuf>,
    /// Floor position matching gate, metres: a farther pair is a miss plus a false positive.
    #[arg(long, default_value_t = wdp_eval::floor::DEFAULT_GATE_M)]
    floor_gate_m: f64,
    /// Weight of the radio's own floor image (back-projection through the dataset scene's
    /// antenna geometry) in placing people on the floor (default: the preset's
    /// `upsampler.floor.radio_map_weight`); 0 places them from the floor head alone.
    #[arg(long)]
    radio_map_weight: Option<f64>,
    /// The smallest image value the fusion takes the log of (default: the preset's
    /// `upsampler.floor.radio_map_floor`).
    #[arg(long)]
    radio_map_floor: Option<f64>,
    /// The locator's settings (YAML, `wdp_locate::LocatorSettings`: its preprocessing, the
    /// changes imaged per window, ...; the grid is the floor head's).
    #[arg(long)]
    locator: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The checkpoint to export.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write it (`.safetensors`).
    #[arg(long)]
    out: PathBuf,
    /// Store half-precision values (half the size; models load them as f32).
    #[arg(long)]
    half: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train (or fine-tune / adapt) a model.
    Train(Box<TrainArgs>),
    /// Evaluate a checkpoint: COCO keypoint AP, PCK, part mIoU, UV error, per room.
    Eval(Box<EvalArgs>),
    /// Copy a checkpoint, optionally in half precision, for shipping.
    Export(ExportArgs),
}

/// The progress bars: on stderr, hidden when stderr is not a terminal (CI, tests, logs).
/// Nothing of them goes to stdout, where `train` and `eval` print their JSON.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| {
        MultiProgress::with_draw_target(if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        })
    })
}

/// A bar of `len` `unit`s (with rate and ETA) from `start` on (a resumed run's steps), or a
/// spinner when `len` is `None`.
fn bar(what: &str, start: usize, len: Option<usize>, unit: &str) -> ProgressBar {
    let template = match len {
        Some(_) => format!(
            "{what} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{rate}} {unit}/s, ETA {{eta}} {{msg}}"
        ),
        None => format!("{{spinner}} {what} {{elapsed}} {{msg}}"),
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                // Over this run's steps: a resumed run's earlier steps do not count.
                let done = s.pos().saturating_sub(start as u64);
                let _ = write!(
                    w,
                    "{:.1}",
                    done as f64 / s.elapsed().as_secs_f64().max(1e-3)
                );
            },
        )
        .progress_chars("=> ");
    let bar = match len {
        Some(n) => ProgressBar::new(n as u64),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(style);
    bar.set_position(start as u64);
    bar.reset_eta();
    let bar = bars().add(bar);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// stderr for the log lines, cleared of the bars while a line is written.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        bars().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn run_export(args: &ExportArgs) -> Result<()> {
    let tensors = tch::Tensor::read_safetensors(&args.checkpoint)
        .wrap_err_with(|| format!("reading {}", args.checkpoint.display()))?;
    let kind = if args.half {
        tch::Kind::Half
    } else {
        tch::Kind::Float
    };
    let converted: Vec<(String, tch::Tensor)> = tensors
        .into_iter()
        .map(|(name, t)| {
            // Integer buffers (BatchNorm's step counter) keep their type.
            let t = if t.is_floating_point() {
                t.to_kind(kind)
            } else {
                t
            };
            (name, t)
        })
        .collect();
    tch::Tensor::write_safetensors(&converted, &args.out)
        .wrap_err_with(|| format!("writing {}", args.out.display()))?;
    // The model's preprocessing goes with it.
    let preprocess = wdp_train::preprocess::for_checkpoint(&args.checkpoint)?;
    wdp_train::preprocess::save(&args.out, &preprocess)?;
    eprintln!(
        "{} tensors -> {} (+ {})",
        converted.len(),
        args.out.display(),
        wdp_train::preprocess::sidecar_path(&args.out).display()
    );
    Ok(())
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    if let Some(n) = args.threads {
        tch::set_num_threads(n);
    }
    let mut preset = wdp_models::Preset::load(&args.preset)?;
    let person_threshold = args
        .person_threshold
        .unwrap_or(preset.person.score_threshold);
    if let Some(t) = args.score_threshold {
        preset.person.score_threshold = t.min(person_threshold);
    }
    if args.radio_map_weight.is_some() || args.radio_map_floor.is_some() {
        let floor = preset.upsampler.floor.as_mut().ok_or_else(|| {
            eyre!(
                "--radio-map-weight/--radio-map-floor: preset {} has no floor head",
                args.preset
            )
        })?;
        floor.radio_map_weight = args.radio_map_weight.unwrap_or(floor.radio_map_weight);
        floor.radio_map_floor = args.radio_map_floor.unwrap_or(floor.radio_map_floor);
        floor.validate()?;
    }
    let started = std::time::Instant::now();
    let (samples, detections, baseline) = match &args.checkpoint {
        Some(checkpoint) if args.prior.is_empty() => {
            // The checkpoint's own preprocessing (saved beside it by training).
            let mut load = wdp_train::LoadOptions::with(
                wdp_train::preprocess::for_checkpoint(checkpoint)?,
                args.every,
            );
            load.locator = wdp_train::data::locator_for(&preset);
            if let (Some(settings), Some(path)) = (load.locator.as_mut(), &args.locator) {
                let text = std::fs::read_to_string(path)
                    .wrap_err_with(|| format!("--locator {}", path.display()))?;
                let grid = settings.grid.clone();
                *settings = wdp_locate::LocatorSettings::from_yaml_str(&text)
                    .wrap_err_with(|| format!("--locator {}", path.display()))?;
                (settings.grid.cell_m, settings.grid.cells) = (grid.cell_m, grid.cells);
            }
            let loading = bar("loading the datasets", 0, None, "");
            let samples = wdp_train::data::load_datasets(&args.data, &load)?;
            loading.finish_and_clear();
            let dims = dims_of(&samples)?;
            let device = tch::Device::cuda_if_available();
            let mut vs = tch::nn::VarStore::new(device);
            let model = wdp_models::WifiDensePose::new(&vs.root(), &preset, dims)?;
            let stages = wdp_train::trainer::stages_in(checkpoint)?;
            if args.sequence > 0 && !stages.contains(&wdp_train::trainer::TEMPORAL_STAGE) {
                return Err(eyre!(
                    "--sequence {}: {} has no trained temporal module",
                    args.sequence,
                    checkpoint.display()
                ));
            }
            wdp_models::checkpoint::load_stages(&mut vs, checkpoint, &stages)
                .wrap_err_with(|| format!("--checkpoint {}", checkpoint.display()))?;
            let own: Vec<&Sample> = samples.iter().collect();
            let blinded = args
                .blind
                .map(|b| wdp_train::blind_inputs(&own, b, args.seed));
            let inputs: Vec<&Sample> = match &blinded {
                Some(b) => b.iter().collect(),
                None => own,
            };
            let inferring = bar("inference", 0, Some(inputs.len()), "frames");
            let detections = wdp_train::predict::predict_with_progress(
                &model,
                &inputs,
                16,
                device,
                (args.sequence > 0).then_some(args.sequence),
                |n| inferring.inc(n as u64),
            )?;
            inferring.finish_and_clear();
            let baseline = args.blind.map_or("model".to_owned(), |b| {
                format!("blind-{}", serde_json::json!(b).as_str().unwrap_or("?"))
            });
            (samples, detections, baseline)
        }
        _ => {
            // The prior sees no CSI: the default preprocessing only pairs frames as training did.
            let load = wdp_train::LoadOptions::with(
                wdp_train::LoadOptions::default().pipeline,
                args.every,
            );
            // Of the training frames only their people are needed.
            let labels = wdp_train::LoadOptions {
                labels_only: true,
                ..load.clone()
            };
            let loading = bar("loading the datasets, fitting the prior", 0, None, "");
            let training = wdp_train::data::load_datasets(&args.prior, &labels)?;
            let train_refs: Vec<&Sample> = training.iter().collect();
            let prior = wdp_train::RoomPrior::fit(&train_refs, args.seed)?;
            let samples = wdp_train::data::load_datasets(&args.data, &load)?;
            loading.finish_and_clear();
            let refs: Vec<&Sample> = samples.iter().collect();
            for room in refs
                .iter()
                .map(|s| s.room.as_str())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let p = prior.for_room(room);
                let source = if prior.rooms.contains_key(room) {
                    "its training frames"
                } else {
                    "all training rooms (room not in the prior)"
                };
                eprintln!(
                    "prior of {room}: {} people from {} frames of {source}",
                    p.count, p.frames
                );
            }
            let detections = prior.predict(&refs);
            (samples, detections, "prior".to_owned())
        }
    };
    let infer_s = started.elapsed().as_secs_f64();
    let refs: Vec<&Sample> = samples.iter().collect();
    let options = wdp_train::EvalOptions {
        score_threshold: preset.person.score_threshold as f32,
        person_threshold: person_threshold as f32,
        floor_gate_m: args.floor_gate_m,
    };
    let scoring = bar("scoring", 0, Some(refs.len()), "frames");
    let report = wdp_train::evaluate::evaluate_with_progress(&refs, &detections, &options, || {
        scoring.inc(1)
    })?;
    scoring.finish_and_clear();
    wdp_eval::write_report(&report, &args.report, &args.title)?;
    let mut summary = wdp_train::evaluate::summary(&report.all);
    summary["frames"] = samples.len().into();
    summary["inference_frames_per_s"] = (samples.len() as f64 / infer_s.max(1e-9)).into();
    summary["baseline"] = baseline.into();
    summary["score_threshold"] = preset.person.score_threshold.into();
    summary["person_threshold"] = person_threshold.into();
    summary["rooms"] = report
        .rooms
        .iter()
        .map(|(room, r)| (room.clone(), wdp_train::evaluate::summary(r)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    summary["report"] = serde_json::json!(args.report.join("report.md"));
    println!("{summary}");
    Ok(())
}

fn dims_of(samples: &[Sample]) -> Result<InputDims> {
    let s = samples
        .first()
        .ok_or_else(|| eyre!("no frames in the datasets"))?;
    let w = s.window_shape;
    Ok(InputDims::from_window_shape(&[
        w[0] as i64,
        w[1] as i64,
        w[2] as i64,
        w[3] as i64,
    ])?)
}

fn run_train(args: &TrainArgs) -> Result<()> {
    let mut config: TrainConfig = match &args.config {
        Some(p) => TrainConfig::from_yaml(
            &p.display().to_string(),
            &std::fs::read_to_string(p).wrap_err_with(|| format!("reading {}", p.display()))?,
        )?,
        None => TrainConfig::default(),
    };
    if let Some(v) = &args.preset {
        config.preset = v.clone();
    }
    if let Some(v) = args.steps {
        config.steps = v;
    }
    if let Some(v) = args.batch_size {
        config.batch_size = v;
    }
    if let Some(v) = args.sequence {
        config.sequence = v;
    }
    if let Some(v) = args.lr {
        config.lr = v;
    }
    if !args.freeze.is_empty() {
        config.freeze = args.freeze.clone();
    }
    config.domain = args.domain;
    if config.domain.is_some() && args.target.is_empty() {
        return Err(eyre!("--domain needs --target datasets"));
    }
    if let Some(n) = args.threads {
        tch::set_num_threads(n);
    }
    let mut load = wdp_train::LoadOptions::with(config.preprocess.clone(), args.every);
    if args.heads_only {
        // The floor head is fitted through the radio's image it runs with; the heads read no
        // masks.
        load.locator = wdp_train::data::locator_for(&wdp_models::Preset::load(&config.preset)?);
        load.masks = false;
    }
    if let (Some(init), false, false) = (&args.init, args.init_new_preprocess, args.resume) {
        wdp_train::trainer::same_preprocess(&config, init)?;
    }
    let loading = bar("loading the datasets", 0, None, "");
    let samples = wdp_train::data::load_datasets(&args.data, &load)?;
    let target = wdp_train::data::load_datasets(&args.target, &load)?;
    loading.finish_and_clear();
    let dims = dims_of(&samples)?;
    let device = tch::Device::cuda_if_available();
    let mut trainer = Trainer::new(config, dims, device)?;
    trainer.new_preprocess = args.init_new_preprocess;
    if args.resume {
        trainer.resume(&args.out)?;
        eprintln!("resuming {} at step {}", args.out.display(), trainer.step);
    } else if let Some(init) = &args.init {
        if args.init_stages.is_empty() {
            trainer.init_from(init)?;
        } else {
            let stages: Vec<&str> = args.init_stages.iter().map(String::as_str).collect();
            trainer.init_stages(init, &stages)?;
        }
    }
    if let Some(t) = &args.teacher {
        trainer.set_teacher(&args.teacher_preset, t, dims)?;
    }
    if args.heads_only {
        return fit_heads(args, &mut trainer, &samples);
    }
    let metrics = args
        .metrics
        .clone()
        .unwrap_or_else(|| args.out.with_extension("metrics.jsonl"));
    let steps = bar(
        "training",
        trainer.step,
        Some(trainer.config.steps.max(trainer.step)),
        "steps",
    );
    let summary = train(
        &mut trainer,
        &samples,
        &target,
        &RunOptions {
            checkpoint: &args.out,
            metrics: Some(Path::new(&metrics)),
            log_every: args.log_every,
            save_every: args.save_every,
        },
        |losses| {
            steps.inc(1);
            steps.set_message(format!("loss {:.4}", losses.total));
        },
    )?;
    steps.finish_and_clear();
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// `train --heads-only`: the heads on features computed once, then the checkpoint saved as a
/// training run saves it.
fn fit_heads(args: &TrainArgs, trainer: &mut Trainer, samples: &[Sample]) -> Result<()> {
    if args.init.is_none() && !args.resume {
        return Err(eyre!(
            "--heads-only fits heads on a trained encoder: give --init (or --resume)"
        ));
    }
    let options = wdp_train::heads::HeadsOptions {
        steps: trainer.config.steps,
        batch: args.heads_batch,
        validate_every: args.heads_validate_every,
    };
    let mut load = wdp_train::LoadOptions::with(trainer.config.preprocess.clone(), args.every);
    load.locator = wdp_train::data::locator_for(trainer.model.preset());
    load.masks = false;
    let validation = wdp_train::data::load_datasets(&args.heads_validation, &load)?;
    let steps = bar("fitting the heads", 0, Some(options.steps), "steps");
    let log_every = args.log_every.max(1);
    let summary = wdp_train::heads::fit_heads(
        trainer,
        samples,
        &validation,
        &options,
        |step, floor, count| {
            steps.inc(1);
            if step % log_every == 0 {
                steps.set_message(format!("floor {floor:.3} count {count:.3}"));
            }
        },
    )?;
    steps.finish_and_clear();
    trainer.save(&args.out)?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(|| LogWriter)
        .init();
    match Cli::parse().command {
        Command::Train(args) => run_train(&args),
        Command::Eval(args) => run_eval(&args),
        Command::Export(args) => run_export(&args),
    }
}
