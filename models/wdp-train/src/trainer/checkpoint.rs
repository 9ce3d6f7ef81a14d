//! Checkpoints: the stages a run trains and saves, atomic saving with the state and optimiser
//! sidecars, resuming, starting from other weights, and loading a trained model.

use super::Trainer;
use crate::TrainConfig;
use eyre::{eyre, Context, Result};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};
use wdp_models::{checkpoint, InputDims, Preset, WifiDensePose};

/// The stages frame-by-frame training trains and saves.
pub const TRAINED_STAGES: [&str; 4] = ["encoder", "upsampler", "backbone", "head"];

/// A trained model for inference: `preset` built for `dims` on `device`, its
/// [`TRAINED_STAGES`] loaded from the checkpoint at `path`. The VarStore owns the weights.
pub fn load_trained(
    preset: &Preset,
    dims: InputDims,
    path: &Path,
    device: Device,
) -> Result<(nn::VarStore, WifiDensePose)> {
    let mut vs = nn::VarStore::new(device);
    let model = WifiDensePose::new(&vs.root(), preset, dims)?;
    checkpoint::load_stages(&mut vs, path, &TRAINED_STAGES)
        .wrap_err_with(|| format!("checkpoint {}", path.display()))?;
    Ok((vs, model))
}

/// The stage sequence training adds (see
/// [`TrainConfig::sequence`](super::TrainConfig::sequence)).
pub const TEMPORAL_STAGE: &str = "temporal";

/// The stages a checkpoint holds: the frame model, and the temporal module when it was trained.
pub fn stages_in(path: &Path) -> Result<Vec<&'static str>> {
    let shapes =
        checkpoint::tensor_shapes(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let mut stages = TRAINED_STAGES.to_vec();
    if shapes
        .iter()
        .any(|(name, _)| name.starts_with(&format!("{TEMPORAL_STAGE}.")))
    {
        stages.push(TEMPORAL_STAGE);
    }
    Ok(stages)
}

/// Weights learnt on windows made another way would be fine-tuned on inputs they never saw:
/// refuse, unless the run says it means to (`Trainer::new_preprocess`), rather than quietly
/// start from a model that cannot read its data. Cheap: callers check before loading datasets.
pub fn same_preprocess(config: &TrainConfig, path: &Path) -> Result<()> {
    let theirs = crate::preprocess::for_checkpoint(path)?;
    if theirs != config.preprocess {
        return Err(eyre!(
            "{} was trained with other preprocessing ({}) than this run's `preprocess`: copy \
             that file's settings into the training config, or pass --init-new-preprocess to \
             fine-tune it onto this run's windows",
            path.display(),
            crate::preprocess::sidecar_path(path).display()
        ));
    }
    Ok(())
}

impl Trainer {
    /// The stages this run trains (and saves).
    pub fn trained_stages(&self) -> Vec<&'static str> {
        let mut stages = TRAINED_STAGES.to_vec();
        if self.config.sequence > 0 {
            stages.push(TEMPORAL_STAGE);
        }
        stages
    }

    /// Continues the run saved at `path`: weights, the step count (sidecar state file) and the
    /// optimiser's moments (sidecar optimiser file, when the run wrote one).
    pub fn resume(&mut self, path: &Path) -> Result<()> {
        self.init_stages(path, &self.trained_stages())?;
        if let Ok(text) = std::fs::read_to_string(state_path(path)) {
            let state: serde_json::Value = serde_json::from_str(&text)
                .wrap_err_with(|| format!("reading {}", state_path(path).display()))?;
            self.step = state["step"].as_u64().unwrap_or(0) as usize;
        }
        let optim = optimizer_path(path);
        if optim.is_file() {
            self.opt.load(&optim)?;
        } else {
            tracing::warn!(
                "{}: no optimiser state beside the checkpoint; moments start afresh",
                optim.display()
            );
        }
        Ok(())
    }

    /// Starts from the weights at `path` (fine-tuning, adaptation, a student initialised from
    /// a teacher): every stage the checkpoint holds, step 0, fresh optimiser moments. A module
    /// the checkpoint has none of (a head added since, e.g. `upsampler.count`) starts fresh and
    /// is named on stderr.
    pub fn init_from(&mut self, path: &Path) -> Result<()> {
        self.init_stages(path, &stages_in(path)?)
    }

    /// [`Trainer::init_from`] for some of the trained stages only (e.g. a GFL student taking
    /// the CSI encoder and translation of a `lite` teacher, its backbone staying its own).
    pub fn init_stages(&mut self, path: &Path, stages: &[&str]) -> Result<()> {
        if let Some(s) = stages
            .iter()
            .find(|s| !TRAINED_STAGES.contains(s) && **s != TEMPORAL_STAGE)
        {
            return Err(eyre!(
                "stage `{s}`: expected one of {TRAINED_STAGES:?} or {TEMPORAL_STAGE}"
            ));
        }
        if !self.new_preprocess {
            same_preprocess(&self.config, path)?;
        }
        let new = checkpoint::load_stages_keeping_new(&mut self.vs, path, stages)
            .wrap_err_with(|| format!("loading {}", path.display()))?;
        if !new.is_empty() {
            eprintln!(
                "{}: has nothing of {}: they start fresh",
                path.display(),
                new.join(", ")
            );
        }
        self.step = 0;
        Ok(())
    }

    /// Saves the weights atomically (written beside, then renamed), a sidecar state file
    /// (step, configuration) and the optimiser's moments (`.optim.safetensors`) next to them.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("partial.safetensors");
        // The model only (the discriminator lives in its own store), and only the stages this
        // run trains: an untrained temporal module is left out rather than shipped as random
        // weights under a trained name.
        let stages = self.trained_stages();
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(name, _)| stages.contains(&name.split('.').next().unwrap_or("")))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Tensor::write_safetensors(&named, &tmp)?;
        std::fs::rename(&tmp, path)?;
        let state = serde_json::json!({ "step": self.step, "config": self.config });
        let sp = state_path(path);
        let tmp = sp.with_extension("json.partial");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)?;
        std::fs::rename(&tmp, &sp)?;
        crate::preprocess::save(path, &self.config.preprocess)?;
        self.opt.save(&optimizer_path(path))
    }
}

/// `model.safetensors` -> `model.state.json`.
pub fn state_path(path: &Path) -> PathBuf {
    path.with_extension("state.json")
}

/// `model.safetensors` -> `model.optim.safetensors` (the optimiser's moments, for resuming).
pub fn optimizer_path(path: &Path) -> PathBuf {
    path.with_extension("optim.safetensors")
}
