//! Stage configuration from the node's environment.

use eyre::{eyre, Context, Result};
use std::path::PathBuf;
use tch::{nn, Device};
use wdp_models::{checkpoint, Preset};

/// Where a stage's weights come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A whole-model safetensors checkpoint; the stage loads its prefix.
    Checkpoint(PathBuf),
    /// A TorchScript module replacing the stage.
    TorchScript(PathBuf),
    /// Seeded random initialisation: outputs are not poses.
    Untrained {
        /// The seed.
        seed: i64,
    },
}

/// What every stage node reads from `env:` (see the crate docs).
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// The stage's name, used in logs and latency traces.
    pub stage: String,
    /// Model sizes.
    pub preset: Preset,
    /// Weights.
    pub source: Source,
    /// Most inputs run as one batch.
    pub max_batch: usize,
    /// Where the model runs.
    pub device: Device,
}

use wdp_node::env::{parse_or, var};

fn device(text: &str) -> Result<Device> {
    Ok(match text {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Device::Cuda(n),
            _ => return Err(eyre!("DEVICE={other}: expected auto, cpu, cuda or cuda:N")),
        },
    })
}

impl StageConfig {
    /// Reads the configuration; also applies `THREADS` to libtorch.
    pub fn from_env(stage: &str) -> Result<Self> {
        let preset_name = var("PRESET").unwrap_or_else(|| "lite".into());
        let preset =
            Preset::load(&preset_name).wrap_err_with(|| format!("PRESET={preset_name}"))?;
        let source = match (var("TORCHSCRIPT"), var("CHECKPOINT")) {
            (Some(ts), Some(ck)) => {
                return Err(eyre!(
                    "TORCHSCRIPT={ts} and CHECKPOINT={ck}: set one of them, not both"
                ))
            }
            (Some(ts), None) => Source::TorchScript(existing("TORCHSCRIPT", &ts)?),
            (None, Some(ck)) => Source::Checkpoint(existing("CHECKPOINT", &ck)?),
            (None, None) => Source::Untrained {
                seed: parse_or("SEED", 0i64)?,
            },
        };
        if let Some(n) = wdp_node::env::parse::<i32>("THREADS")? {
            tch::set_num_threads(n);
        }
        let max_batch = parse_or("MAX_BATCH", 8usize)?.max(1);
        let device = device(&var("DEVICE").unwrap_or_else(|| "auto".into()))?;
        Ok(Self {
            stage: stage.to_owned(),
            preset,
            source,
            max_batch,
            device,
        })
    }

    /// A stage of `preset` with seeded random weights on the CPU (tests, examples).
    pub fn random(stage: &str, preset: &str, seed: i64) -> Result<Self> {
        Ok(Self {
            stage: stage.to_owned(),
            preset: Preset::load(preset).wrap_err_with(|| format!("preset {preset}"))?,
            source: Source::Untrained { seed },
            max_batch: 8,
            device: Device::Cpu,
        })
    }

    /// True when the stage runs random weights.
    pub fn untrained(&self) -> bool {
        matches!(self.source, Source::Untrained { .. })
    }

    /// Once the stage's module is built on `vs.root()` (its variables named with their stage
    /// prefixes, e.g. `encoder.`), fills them from the checkpoint; tensors of other stages in the
    /// file are ignored. Announces untrained weights.
    pub fn init_weights(&self, vs: &mut nn::VarStore, prefixes: &[&str]) -> Result<()> {
        match &self.source {
            Source::Checkpoint(path) => {
                checkpoint::load_stages(vs, path, prefixes)
                    .wrap_err_with(|| format!("CHECKPOINT={}", path.display()))?;
                crate::announce(&format!(
                    "{}: loaded {} ({})",
                    self.stage,
                    path.display(),
                    prefixes.join(", ")
                ));
            }
            Source::Untrained { .. } => self.announce_untrained(),
            Source::TorchScript(_) => {}
        }
        Ok(())
    }

    /// Seeds libtorch before variables are created, so random weights repeat.
    pub fn seed(&self) {
        if let Source::Untrained { seed } = self.source {
            tch::manual_seed(seed);
        }
    }

    /// The loud line an untrained stage prints at start and stop.
    pub fn announce_untrained(&self) {
        crate::announce(&format!(
            "{}: UNTRAINED - no CHECKPOINT, seeded random weights; outputs are not poses",
            self.stage
        ));
    }
}

fn existing(name: &str, path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        Ok(p)
    } else {
        Err(eyre!(
            "{name}={path}: no such file (relative paths are from the dataflow's folder)"
        ))
    }
}
