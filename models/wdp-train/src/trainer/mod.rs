//! The training loop of seed 000 (section 7): AdamW with a learning rate per module, cosine
//! annealing with warm restarts after a linear warm-up, the seed's CSI augmentations, gradient
//! clipping, optional distillation from a teacher model (seed 000's feature and soft-target
//! terms, seed 003's keypoint-token, visual-token and coordinate-classification terms) and
//! domain alignment to another room (seed 001: gradient reversal, MMD, LMMD).
//!
//! The work is split by job: `config` holds what a run is configured by (loss weights,
//! augmentations, domain method, [`TrainConfig`]); `step` the learning-rate schedule, the
//! augmentations, the forward passes and the optimiser step; `objective` the loss of one
//! forward pass; `distill` the teacher and its terms; `domain` the domain-alignment term;
//! `checkpoint` saving, resuming and loading trained weights. The [`Trainer`] is built here,
//! and everything public is re-exported here.

mod checkpoint;
mod config;
mod distill;
mod domain;
mod objective;
mod step;

pub use checkpoint::{
    load_trained, optimizer_path, same_preprocess, stages_in, state_path, TEMPORAL_STAGE,
    TRAINED_STAGES,
};
pub use config::{Augment, DomainMethod, TrainConfig, Weights};
pub use step::{lr_at, StepLosses};
pub use wdp_models::losses::{keypoint_ce, zone_labels, zone_probabilities};

use crate::optim::{AdamW, AdamWConfig, GradScaler};
use crate::targets::TargetGeometry;
use distill::Teacher;
use eyre::{eyre, Result};
use tch::{nn, Device, Tensor};
use wdp_models::{DomainDiscriminator, InputDims, Preset, WifiDensePose};

/// A model being trained.
pub struct Trainer {
    /// Training configuration.
    pub config: TrainConfig,
    /// The model's variables.
    pub vs: nn::VarStore,
    /// The model.
    pub model: WifiDensePose,
    /// Geometry of the targets for this model.
    pub geometry: TargetGeometry,
    /// Steps taken (continues after a resume).
    pub step: usize,
    /// `--init` may come from a checkpoint trained on other windows (a change of preprocessing
    /// that the whole model is fine-tuned onto).
    pub new_preprocess: bool,
    opt: AdamW,
    scaler: Option<GradScaler>,
    groups: Vec<(usize, f64)>,
    discriminator: Option<(nn::VarStore, DomainDiscriminator)>,
    teacher: Option<Teacher>,
}

/// Optimiser group of a variable and its learning-rate factor.
fn group_of(name: &str, config: &TrainConfig) -> (usize, f64) {
    match name.split('.').next().unwrap_or("") {
        "backbone" => (1, config.backbone_lr_factor),
        "head" => (2, 1.0),
        "temporal" => (3, 1.0),
        _ => (0, 1.0),
    }
}

impl Trainer {
    /// A fresh model for windows of `dims` on `device`.
    pub fn new(config: TrainConfig, dims: InputDims, device: Device) -> Result<Self> {
        config.validate()?;
        tch::manual_seed(config.seed);
        let preset = Preset::load(&config.preset)?;
        let vs = nn::VarStore::new(device);
        let model = WifiDensePose::new(&vs.root(), &preset, dims)?;
        let geometry = TargetGeometry {
            translated_wh: [preset.upsampler.out_width, preset.upsampler.out_height],
            stride: model.stage.stride(),
            roi_out: model.stage.output_size(),
            heatmap_sigma: config.heatmap_sigma,
        };
        let mut opt = AdamW::new(AdamWConfig {
            weight_decay: config.weight_decay,
            ..AdamWConfig::default()
        });
        let mut names: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        // A misspelt module would silently train everything.
        for f in &config.freeze {
            if !names.iter().any(|(n, _)| n.starts_with(&format!("{f}."))) {
                return Err(eyre!("freeze: no module of the model is called `{f}`"));
            }
        }
        let mut groups = vec![(0usize, 1.0f64); 0];
        for (name, t) in names {
            let frozen = config
                .freeze
                .iter()
                .any(|f| name.starts_with(&format!("{f}.")));
            if !t.requires_grad() {
                continue;
            }
            if frozen {
                let _ = t.set_requires_grad(false);
                continue;
            }
            let (g, factor) = group_of(&name, &config);
            opt.add(name, &t, g)?;
            if !groups.iter().any(|(gg, _)| *gg == g) {
                groups.push((g, factor));
            }
        }
        groups.sort_by_key(|g| g.0);
        let discriminator = match config.domain {
            Some(DomainMethod::Adversarial) => {
                let dvs = nn::VarStore::new(device);
                let d = DomainDiscriminator::new(
                    dvs.root() / "domain",
                    preset.encoder.feature_dim,
                    (128, 64),
                    0.1,
                );
                let g = 4;
                let mut dnames: Vec<(String, Tensor)> = dvs.variables().into_iter().collect();
                dnames.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, t) in dnames {
                    opt.add(name, &t, g)?;
                }
                groups.push((g, 1.0));
                Some((dvs, d))
            }
            _ => None,
        };
        let scaler = (config.mixed_precision && device.is_cuda()).then(GradScaler::default);
        Ok(Self {
            config,
            vs,
            model,
            geometry,
            step: 0,
            new_preprocess: false,
            opt,
            scaler,
            groups,
            discriminator,
            teacher: None,
        })
    }
}
