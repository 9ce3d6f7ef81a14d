//! The node's configuration from `env:` (see the table in main.rs); every error names its
//! variable.

use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use wdp_node::env::{list, parse, var};
use wdp_train::{DomainMethod, LoadOptions, TrainConfig};

/// Everything the node is configured by.
pub struct Settings {
    /// The training configuration, with the variables that override it applied.
    pub config: TrainConfig,
    /// Checkpoint to write.
    pub out: PathBuf,
    /// Labelled dataset folders.
    pub datasets: Vec<PathBuf>,
    /// Unlabelled target-room dataset folders.
    pub target: Vec<PathBuf>,
    /// Weights to start from.
    pub init: Option<PathBuf>,
    /// Continue the run in `out`.
    pub resume: bool,
    /// Teacher preset and checkpoint to distil from.
    pub teacher: Option<(String, PathBuf)>,
    /// Keep every n-th frame.
    pub every: usize,
    /// Frames (and target windows) the live replay buffers hold.
    pub buffer: usize,
    /// Longest gap between a live labelled frame and the end of its window, ns.
    pub max_lag_ns: i64,
}

fn paths(name: &str) -> Vec<PathBuf> {
    list(name).into_iter().map(PathBuf::from).collect()
}

impl Settings {
    /// How dataset folders are read: the model's own preprocessing, every `EVERY`-th frame.
    pub fn load_options(&self) -> wdp_train::LoadOptions {
        wdp_train::LoadOptions::with(self.config.preprocess.clone(), self.every)
    }

    /// Reads the environment.
    pub fn from_env() -> Result<Self> {
        let mut config: TrainConfig = match var("CONFIG") {
            Some(p) => TrainConfig::from_yaml(
                &format!("CONFIG={p}"),
                &std::fs::read_to_string(&p).wrap_err_with(|| format!("CONFIG={p}"))?,
            )?,
            None => TrainConfig::default(),
        };
        if let Some(steps) = parse("STEPS")? {
            config.steps = steps;
        }
        if let Some(lr) = parse::<f64>("LR")? {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(eyre!("LR={lr}: must be a positive number"));
            }
            config.lr = lr;
        }
        let freeze = list("FREEZE");
        if !freeze.is_empty() {
            config.freeze = freeze;
        }
        // DOMAIN alone switches domain alignment on or off, whatever CONFIG says.
        config.domain = parse::<DomainMethod>("DOMAIN")?;
        if let Some(t) = parse::<i32>("THREADS")? {
            tch::set_num_threads(t);
        }
        let max_lag_ms =
            parse::<f64>("MAX_LAG_MS")?.unwrap_or(LoadOptions::default().max_lag_ns as f64 / 1e6);
        if !(max_lag_ms >= 0.0 && max_lag_ms.is_finite()) {
            return Err(eyre!("MAX_LAG_MS={max_lag_ms}: must be a number >= 0"));
        }
        let buffer = parse::<usize>("BUFFER")?.unwrap_or(500);
        if buffer == 0 {
            return Err(eyre!("BUFFER=0: the replay buffer needs room for a batch"));
        }
        Ok(Self {
            config,
            out: PathBuf::from(var("OUT").ok_or_else(|| eyre!("OUT is required"))?),
            datasets: paths("DATASET"),
            target: paths("TARGET"),
            init: var("INIT").map(PathBuf::from),
            resume: parse::<bool>("RESUME")?.unwrap_or(false),
            teacher: var("TEACHER").map(|t| {
                (
                    var("TEACHER_PRESET").unwrap_or_else(|| "lite".into()),
                    PathBuf::from(t),
                )
            }),
            every: parse("EVERY")?.unwrap_or(2),
            buffer,
            max_lag_ns: (max_lag_ms * 1e6) as i64,
        })
    }
}
