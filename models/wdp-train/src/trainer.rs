//! The training loop of seed 000 (section 7): AdamW with a learning rate per module, cosine
//! annealing with warm restarts after a linear warm-up, the seed's CSI augmentations, gradient
//! clipping, optional distillation from a teacher model (seed 000's feature and soft-target
//! terms, seed 003's keypoint-token, visual-token and coordinate-classification terms) and
//! domain alignment to another room (seed 001: gradient reversal, MMD, LMMD).

use crate::optim::{AdamW, AdamWConfig, GradScaler};
use crate::sequence::SequenceBatch;
use crate::targets::{Batch, TargetGeometry};
use eyre::{eyre, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{nn, nn::Module, Device, Kind, Tensor};
use wdp_csi::dsp::WindowChannels;
use wdp_models::{
    checkpoint, losses, model::densepose_loss, DomainDiscriminator, InputDims, Preset,
    TrainOutputs, WifiDensePose,
};

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

/// The stage sequence training adds (see [`TrainConfig::sequence`]).
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

/// Loss weights (seed 000 section 7.2 plus distillation and domain terms).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Part mask cross-entropy.
    pub mask: f64,
    /// UV smooth-L1 on foreground.
    pub uv: f64,
    /// Keypoint heatmap MSE (a mean over the whole map: small numbers, hence the weight).
    pub keypoint: f64,
    /// Person-centre focal loss.
    pub center: f64,
    /// Box size and offset L1.
    pub center_regression: f64,
    /// Feature (transfer) distillation against the teacher's encoder features.
    pub feature_distill: f64,
    /// Soft-target distillation on part logits, and MSE to the teacher's heatmaps.
    pub soft_distill: f64,
    /// Distillation temperature.
    pub temperature: f64,
    /// Domain alignment (gradient reversal or MMD).
    pub domain: f64,
    /// Keypoints as a spatial distribution: cross-entropy of each joint's softmax over its
    /// heatmap against the normalised target Gaussian (sharp peaks quickly; the MSE alone
    /// learns the flat background first).
    pub keypoint_ce: f64,
    /// Translated image against the scene's dense pose picture (foreground, U, V): the
    /// camera-teacher supervision of the modality translation (seeds 000 and 002).
    pub translation: f64,
    /// Extra weight of the translated image's person pixels (a person pixel counts
    /// `1 + translation_foreground` times): people cover a few percent of the picture, and
    /// without it a blurred room prior nearly minimises the term.
    pub translation_foreground: f64,
    /// The upsampler's location-first head against the centre heatmap (focal loss), when the
    /// preset has one (`upsampler.locator_hidden`).
    pub locator: f64,
    /// Seed 003 `alpha_1`: keypoint tokens (each person's backbone features pooled under each
    /// joint's heatmap) against the teacher's.
    pub keypoint_token: f64,
    /// Seed 003 `alpha_2`: visual tokens (the backbone map, token by token) against the
    /// teacher's.
    pub visual_token: f64,
    /// Temporal smoothness of the translated images over a sequence (seed 000 section 6.2;
    /// sequence training only).
    pub temporal: f64,
    /// Weight of the constant-velocity (motion) part inside the temporal term.
    pub temporal_motion: f64,
    /// Seed 003 `alpha_4`: coordinate classification, the x and y marginals of each joint's
    /// heatmap against the teacher's (SimCC's 1-D form; `alpha_3`, the heatmap term, is part
    /// of `soft_distill`).
    pub coordinate: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            mask: 1.0,
            uv: 0.5,
            keypoint: 100.0,
            center: 1.0,
            center_regression: 0.1,
            feature_distill: 1.0,
            soft_distill: 1.0,
            temperature: 2.0,
            domain: 0.1,
            translation: 10.0,
            translation_foreground: 4.0,
            locator: 1.0,
            keypoint_ce: 1.0,
            keypoint_token: 1.0,
            visual_token: 1.0,
            coordinate: 1.0,
            temporal: 0.2,
            temporal_motion: 0.5,
        }
    }
}

/// The seed's CSI augmentations (applied to the normalised windows).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Standard deviation of added Gaussian noise.
    pub noise_level: f64,
    /// Largest constant phase shift, radians (uniform in +-).
    pub phase_shift: f64,
    /// Amplitude scale range, uniform.
    pub amplitude_scale: (f64, f64),
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            noise_level: 0.05,
            phase_shift: std::f64::consts::PI / 8.0,
            amplitude_scale: (0.9, 1.1),
        }
    }
}

/// Domain alignment method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainMethod {
    /// Gradient-reversal domain classifier (DANN).
    Adversarial,
    /// Multi-kernel MMD between source and target encoder features.
    Mmd,
    /// Local MMD (DSAN): MMD per class, frames weighted by class. The classes are where the
    /// people are: the zone of a `lmmd_grid x lmmd_grid` grid over the translated image that
    /// holds a person's centre, or "empty". Source frames take them from their labels, target
    /// frames from the model's own centre map (pseudo-labels), so features of frames with
    /// someone in the same place are aligned across rooms rather than all frames at once.
    Lmmd,
}

impl std::str::FromStr for DomainMethod {
    type Err = eyre::Report;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "adversarial" => Ok(Self::Adversarial),
            "mmd" => Ok(Self::Mmd),
            "lmmd" => Ok(Self::Lmmd),
            other => Err(eyre!(
                "domain method `{other}`: expected adversarial, mmd or lmmd"
            )),
        }
    }
}

/// Everything a training run is configured by.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Model preset name or file.
    pub preset: String,
    /// Optimiser steps.
    pub steps: usize,
    /// Frames per step.
    pub batch_size: usize,
    /// Base learning rate (encoder, upsampler, head).
    pub lr: f64,
    /// Backbone learning rate as a fraction of `lr` (the seed uses 0.1 for a pretrained backbone;
    /// ours starts from scratch).
    pub backbone_lr_factor: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// First cosine period in steps (`T_0`); 0: one period over the whole run.
    pub restart_period: usize,
    /// Period growth after each restart (`T_mult`).
    pub restart_mult: usize,
    /// Floor of the learning rate.
    pub min_lr: f64,
    /// Largest global gradient norm.
    pub clip_grad_norm: f64,
    /// Loss weights.
    pub weights: Weights,
    /// Augmentations (None: off).
    pub augment: Option<Augment>,
    /// Modules left frozen (prefixes: `encoder`, `upsampler`, `backbone`, `head`).
    pub freeze: Vec<String>,
    /// Domain alignment to unlabelled target-room frames.
    pub domain: Option<DomainMethod>,
    /// Seed of initialisation, shuffling and augmentation.
    pub seed: i64,
    /// Keypoint heatmap target sigma, in head output cells.
    pub heatmap_sigma: f32,
    /// Zones per side of the grid whose cells are LMMD's classes.
    pub lmmd_grid: i64,
    /// Mixed precision where the device has it (CUDA: float16 autocast of the forward pass and
    /// dynamic loss scaling); CPUs train in float32 whatever this says.
    pub mixed_precision: bool,
    /// Frames per training sequence: 0 trains frame by frame; `T > 1` trains the temporal
    /// module (saved under `temporal.`) on `T` consecutive frames, supervising the newest as
    /// the `temporal` node uses it, with the temporal smoothness term over all of them.
    pub sequence: usize,
    /// The model's preprocessing: what turns packets into its input windows, in training and
    /// at inference (saved beside each checkpoint, see [`crate::preprocess`]).
    pub preprocess: wdp_csi::dsp::PipelineConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            preset: "lite".into(),
            steps: 1000,
            batch_size: 16,
            lr: 1e-3,
            backbone_lr_factor: 1.0,
            weight_decay: 1e-4,
            warmup_steps: 50,
            restart_period: 1000,
            restart_mult: 2,
            min_lr: 1e-6,
            clip_grad_norm: 5.0,
            weights: Weights::default(),
            augment: Some(Augment::default()),
            freeze: Vec::new(),
            domain: None,
            seed: 0,
            heatmap_sigma: 1.5,
            lmmd_grid: 3,
            mixed_precision: true,
            sequence: 0,
            preprocess: crate::data::LoadOptions::default().pipeline,
        }
    }
}

/// Cosine annealing with warm restarts (SGDR) after a linear warm-up: the factor of the base
/// learning rate at `step`.
pub fn lr_at(config: &TrainConfig, step: usize) -> f64 {
    let (base, floor) = (config.lr, config.min_lr.min(config.lr));
    if step < config.warmup_steps {
        return base * (step + 1) as f64 / config.warmup_steps as f64;
    }
    let mut t = step - config.warmup_steps;
    let mut period = match config.restart_period {
        0 => config.steps.saturating_sub(config.warmup_steps).max(1),
        p => p,
    };
    while t >= period && config.restart_period > 0 {
        t -= period;
        period *= config.restart_mult.max(1);
    }
    floor + (base - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / period as f64).cos())
}

/// The losses of one step (plain numbers, for logs and metrics).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepLosses {
    /// Step index.
    pub step: usize,
    /// Weighted total.
    pub total: f64,
    /// Part mask CE.
    pub mask: f64,
    /// UV smooth-L1.
    pub uv: f64,
    /// Keypoint heatmap MSE.
    pub keypoint: f64,
    /// Centre focal.
    pub center: f64,
    /// Size/offset L1.
    pub center_regression: f64,
    /// Distillation terms.
    pub distill: f64,
    /// Domain term.
    pub domain: f64,
    /// Translation term.
    pub translation: f64,
    /// The location-first head's focal loss.
    pub locator: f64,
    /// Temporal smoothness term (sequence training).
    pub temporal: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

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
    opt: AdamW,
    scaler: Option<GradScaler>,
    groups: Vec<(usize, f64)>,
    discriminator: Option<(nn::VarStore, DomainDiscriminator)>,
    teacher: Option<Teacher>,
}

/// A frozen model to distil from, and the student-to-teacher channel projection of the
/// token terms when their backbone widths differ (trained with the student, not saved).
struct Teacher {
    _vs: nn::VarStore,
    model: WifiDensePose,
    projection: Option<(nn::VarStore, nn::Linear)>,
}

/// Optimiser group of the distillation projection.
const PROJECTION_GROUP: usize = 5;

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
            opt,
            scaler,
            groups,
            discriminator,
            teacher: None,
        })
    }

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
    /// a teacher): every stage the checkpoint holds, step 0, fresh optimiser moments.
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
        // Weights learnt on windows made another way would be fine-tuned on inputs they never
        // saw: refuse rather than quietly start from a model that cannot read its data.
        let theirs = crate::preprocess::for_checkpoint(path)?;
        if theirs != self.config.preprocess {
            return Err(eyre!(
                "{} was trained with other preprocessing ({}) than this run's `preprocess`: \
                 copy that file's settings into the training config",
                path.display(),
                crate::preprocess::sidecar_path(path).display()
            ));
        }
        checkpoint::load_stages(&mut self.vs, path, stages)
            .wrap_err_with(|| format!("loading {}", path.display()))?;
        self.step = 0;
        Ok(())
    }

    /// Distil from a trained model (any preset with the same input dims and translated size).
    pub fn set_teacher(&mut self, preset: &str, path: &Path, dims: InputDims) -> Result<()> {
        let preset = Preset::load(preset)?;
        let (mut vs, model) = load_trained(&preset, dims, path, self.vs.device())
            .wrap_err_with(|| format!("teacher {}", path.display()))?;
        vs.freeze();
        let (student_c, teacher_c) = (self.model.stage.out_channels(), model.stage.out_channels());
        let projection = if student_c == teacher_c {
            None
        } else {
            let pvs = nn::VarStore::new(self.vs.device());
            let linear = nn::linear(
                pvs.root() / "distill_projection",
                student_c,
                teacher_c,
                Default::default(),
            );
            let mut names: Vec<(String, Tensor)> = pvs.variables().into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, t) in names {
                self.opt.add(name, &t, PROJECTION_GROUP)?;
            }
            if !self.groups.iter().any(|(g, _)| *g == PROJECTION_GROUP) {
                self.groups.push((PROJECTION_GROUP, 1.0));
            }
            Some((pvs, linear))
        };
        self.teacher = Some(Teacher {
            _vs: vs,
            model,
            projection,
        });
        Ok(())
    }

    fn augment(&self, window: &Tensor) -> Tensor {
        let Some(a) = &self.config.augment else {
            return window.shallow_clone();
        };
        let b = window.size()[0];
        let opts = (Kind::Float, window.device());
        let (lo, hi) = a.amplitude_scale;
        let scale = Tensor::rand([b, 1, 1, 1], opts) * (hi - lo) + lo;
        let shift = (Tensor::rand([b, 1, 1, 1], opts) * 2.0 - 1.0) * a.phase_shift;
        let (c0, c1) = (window.select(1, 0), window.select(1, 1));
        let augmented = match self.config.preprocess.channels {
            WindowChannels::Polar => Tensor::stack(&[&c0 * &scale, c1 + shift], 1),
            // Real and imaginary parts: the phase shift is a rotation, the scale scales both.
            WindowChannels::Complex => {
                let (sin, cos) = (shift.sin() * &scale, shift.cos() * &scale);
                Tensor::stack(&[&c0 * &cos - &c1 * &sin, &c0 * &sin + &c1 * &cos], 1)
            }
        };
        augmented + window.randn_like() * a.noise_level
    }

    /// One optimiser step on a labelled batch; `target_window` (unlabelled frames of the
    /// target room) drives the domain term when domain alignment is on.
    pub fn step(&mut self, batch: &Batch, target_window: Option<&Tensor>) -> Result<StepLosses> {
        let mut report = self.begin_step();
        let total = tch::autocast(self.scaler.is_some(), || -> Result<Tensor> {
            let window = self.augment(&batch.window);
            let out = self.forward(&window, &batch.rois)?;
            self.objective(&out, &window, batch, target_window, &mut report)
        })?;
        self.finish_step(total, report)
    }

    /// One optimiser step on sequences (see [`TrainConfig::sequence`]): the encoder runs on
    /// every frame, the temporal module over each sequence, and the newest frame's refined
    /// features are supervised like a single frame; the temporal smoothness term covers the
    /// translated images of all frames.
    pub fn step_sequence(
        &mut self,
        seq: &SequenceBatch,
        target_window: Option<&Tensor>,
    ) -> Result<StepLosses> {
        let mut report = self.begin_step();
        let total = tch::autocast(self.scaler.is_some(), || {
            self.sequence_objective(seq, target_window, &mut report)
        })?;
        self.finish_step(total, report)
    }

    fn sequence_objective(
        &self,
        seq: &SequenceBatch,
        target_window: Option<&Tensor>,
        report: &mut StepLosses,
    ) -> Result<Tensor> {
        let (b, t) = (seq.last.window.size()[0], seq.length);
        let windows = self.augment(&seq.windows);
        let enc = self
            .model
            .encoder
            .encode_t(&windows, self.trains("encoder"))?;
        let f = enc.features.size()[1];
        let refined = self
            .model
            .temporal_t(&enc.features.view([b, t, f]), self.trains(TEMPORAL_STAGE))?;
        let translated = self
            .model
            .upsampler
            .forward_checked(&refined.reshape([b * t, f]), self.trains("upsampler"))?;
        let ts = translated.size();
        let translated = translated.view([b, t, ts[1], ts[2], ts[3]]);
        let spatial = translated.select(1, t - 1);
        let out = TrainOutputs {
            // The encoder's own features of the newest frame: what distillation and domain
            // alignment compare, as in frame training.
            features: enc.features.view([b, t, f]).select(1, t - 1),
            branch_weights: enc.branch_weights.view([b, t, -1]).select(1, t - 1),
            stage: self.model.stage.forward_t(
                &spatial,
                Some(&seq.last.rois),
                self.trains("backbone"),
            )?,
            spatial,
            // Sequence training refines features over time; the locator trains frame by frame.
            locator_logits: None,
        };
        let ws = windows.size();
        let mut newest_shape = vec![b, t];
        newest_shape.extend_from_slice(&ws[1..]);
        let newest = windows.view(newest_shape.as_slice()).select(1, t - 1);
        let total = self.objective(&out, &newest, &seq.last, target_window, report)?;
        let w = &self.config.weights;
        let smooth =
            losses::temporal_smoothness(&translated.flatten(2, -1), 1.0, w.temporal_motion)?;
        report.temporal = smooth.double_value(&[]);
        Ok(total + smooth * w.temporal)
    }

    /// Whether `module` trains: a frozen one runs as at inference (BatchNorm statistics kept,
    /// no dropout), so freezing leaves it exactly as it was.
    fn trains(&self, module: &str) -> bool {
        !self.config.freeze.iter().any(|f| f == module)
    }

    /// The training forward pass, module by module in train or inference mode.
    fn forward(&self, window: &Tensor, rois: &Tensor) -> Result<TrainOutputs> {
        let enc = self
            .model
            .encoder
            .encode_t(window, self.trains("encoder"))?;
        self.model.upsampler.check_input(&enc.features)?;
        let (spatial, locator_logits) = self
            .model
            .upsampler
            .forward_located(&enc.features, self.trains("upsampler"));
        Ok(TrainOutputs {
            stage: self.model.stage.forward_located_t(
                &spatial,
                locator_logits.as_ref(),
                Some(rois),
                self.trains("backbone"),
            )?,
            features: enc.features,
            branch_weights: enc.branch_weights,
            spatial,
            locator_logits,
        })
    }

    /// Sets this step's learning rates; the report to fill.
    fn begin_step(&mut self) -> StepLosses {
        let lr = lr_at(&self.config, self.step);
        for (g, factor) in &self.groups {
            self.opt.set_lr(*g, lr * factor);
        }
        StepLosses {
            step: self.step,
            lr,
            ..Default::default()
        }
    }

    /// Backward pass, clipping and the update (with mixed precision: on the scaled loss, and
    /// no update when the scaled gradients overflowed).
    fn finish_step(&mut self, total: Tensor, mut report: StepLosses) -> Result<StepLosses> {
        report.total = total.double_value(&[]);
        if !report.total.is_finite() {
            return Err(eyre!("step {}: loss is not finite ({report:?})", self.step));
        }
        self.opt.zero_grad();
        match &mut self.scaler {
            None => total.backward(),
            Some(scaler) => {
                scaler.scale_loss(&total).backward();
                if !scaler.unscale(self.opt.parameters()) {
                    tracing::debug!("step {}: gradients overflowed, update skipped", self.step);
                    self.step += 1;
                    return Ok(report);
                }
            }
        }
        report.grad_norm = self.clip_gradients();
        self.opt.step();
        self.step += 1;
        Ok(report)
    }

    /// The loss of one forward pass `out` of the (augmented) `window` against `batch`: the
    /// supervised terms, distillation when a teacher is set, domain alignment with a target.
    fn objective(
        &self,
        out: &TrainOutputs,
        window: &Tensor,
        batch: &Batch,
        target_window: Option<&Tensor>,
        report: &mut StepLosses,
    ) -> Result<Tensor> {
        let w = &self.config.weights;
        let k = batch.rois.size()[0];
        let center = losses::center_focal_loss(
            &out.stage.person.center_logits,
            &batch.targets.center.heatmap,
        )?;
        let t = &batch.targets;
        let regression =
            losses::center_regression_l1(&out.stage.person.size, &t.center.size, &t.center.mask)?
                + losses::center_regression_l1(
                    &out.stage.person.offset,
                    &t.center.offset,
                    &t.center.mask,
                )?;
        // Person pixels count more: people cover a small part of the picture.
        let fg_weight = batch.spatial.select(1, 0).unsqueeze(1) * w.translation_foreground + 1.0;
        let translation = ((&out.spatial - &batch.spatial).square() * fg_weight).mean(Kind::Float);
        report.translation = translation.double_value(&[]);
        let mut total =
            &center * w.center + &regression * w.center_regression + &translation * w.translation;
        if let Some(logits) = &out.locator_logits {
            // Where people are, straight from the features (the upsampler's location-first head).
            let locator = losses::center_focal_loss(logits, &batch.targets.center.heatmap)?;
            report.locator = locator.double_value(&[]);
            total += locator * w.locator;
        }
        report.center = center.double_value(&[]);
        report.center_regression = regression.double_value(&[]);
        if k > 0 {
            let dp = densepose_loss(
                &out.stage,
                t,
                &losses::LossWeights {
                    mask: w.mask,
                    uv: w.uv,
                    keypoint: w.keypoint,
                    center: 0.0,
                    center_regression: 0.0,
                },
            )?;
            // Camera-teacher labels know where the person is, not which part: their person
            // pixels (target -100, left out of the part cross-entropy) are pulled to "some
            // part", the box's other pixels to background by the cross-entropy.
            let has_known = t.part_index.ge(0).any().int64_value(&[]) == 1;
            let known = if has_known {
                dp.mask.shallow_clone()
            } else {
                dp.mask.zeros_like()
            };
            let mask = known
                + losses::foreground_ce(&out.stage.densepose.mask_logits, &t.part_index.eq(-100))?;
            let ce = keypoint_ce(
                &out.stage.densepose.keypoint_heatmaps,
                &t.keypoint_heatmaps,
                t.keypoint_visible.as_ref(),
            );
            total = total
                + &mask * w.mask
                + &dp.uv * w.uv
                + &dp.keypoint * w.keypoint
                + &ce * w.keypoint_ce;
            report.mask = mask.double_value(&[]);
            report.uv = dp.uv.double_value(&[]);
            report.keypoint = dp.keypoint.double_value(&[]);
        }
        if let Some(teacher) = &self.teacher {
            let distill = self.distillation(teacher, window, batch, out)?;
            report.distill += distill.double_value(&[]);
            total += distill;
        }
        // A teacher node's features of the same moments (live training): seed 000's transfer
        // term against them.
        if let Some(tf) = &batch.teacher_features {
            let transfer = losses::feature_distillation(&out.features, tf)? * w.feature_distill;
            report.distill += transfer.double_value(&[]);
            total += transfer;
        }
        if let (Some(method), Some(tw)) = (self.config.domain, target_window) {
            let domain = self.domain_alignment(method, out, batch, tw)?;
            report.domain = domain.double_value(&[]);
            total += domain * w.domain;
        }
        Ok(total)
    }

    /// Every distillation term against `teacher` on the same (augmented) input and ROIs:
    /// seed 000's feature MSE and soft targets (part logits at temperature, heatmap MSE) and
    /// seed 003's keypoint tokens, visual tokens and coordinate classification.
    fn distillation(
        &self,
        teacher: &Teacher,
        window: &Tensor,
        batch: &Batch,
        out: &TrainOutputs,
    ) -> Result<Tensor> {
        let w = &self.config.weights;
        let tout = tch::no_grad(|| teacher.model.forward_t(window, Some(&batch.rois), false))?;
        let mut distill =
            losses::feature_distillation(&out.features, &tout.features)? * w.feature_distill;
        let project = |t: &Tensor| match &teacher.projection {
            Some((_, linear)) => linear.forward(t),
            None => t.shallow_clone(),
        };
        if w.visual_token > 0.0 {
            let (s, t) = (&out.stage.backbone_features, &tout.stage.backbone_features);
            if s.size()[2..] != t.size()[2..] {
                return Err(eyre!(
                    "visual tokens: student map {:?} and teacher map {:?} differ in size",
                    s.size(),
                    t.size()
                ));
            }
            // [B, C, h, w] -> tokens [B, h*w, C].
            let tokens = |m: &Tensor| m.flatten(2, 3).transpose(1, 2);
            distill += losses::token_mse(&project(&tokens(s)), &tokens(t))? * w.visual_token;
        }
        if batch.rois.size()[0] > 0 {
            let (sd, td) = (&out.stage.densepose, &tout.stage.densepose);
            distill +=
                (losses::soft_target_kl(&sd.mask_logits, &td.mask_logits, w.temperature, 1)?
                    + sd.keypoint_heatmaps
                        .mse_loss(&td.keypoint_heatmaps, tch::Reduction::Mean)
                        * w.keypoint)
                    * w.soft_distill;
            if w.keypoint_token > 0.0 {
                let sampling = self.model.preset().head.sampling_ratio;
                let tokens = |features: &Tensor, heat: &Tensor, stride: i64| {
                    losses::keypoint_tokens(features, &batch.rois, heat, stride, sampling)
                };
                let s = tokens(
                    &out.stage.backbone_features,
                    &sd.keypoint_heatmaps,
                    self.model.stage.stride(),
                )?;
                let t = tokens(
                    &tout.stage.backbone_features,
                    &td.keypoint_heatmaps,
                    teacher.model.stage.stride(),
                )?;
                distill += losses::token_mse(&project(&s), &t)? * w.keypoint_token;
            }
            if w.coordinate > 0.0 {
                distill += losses::coordinate_kl(
                    &sd.keypoint_heatmaps,
                    &td.keypoint_heatmaps,
                    w.temperature,
                )? * w.coordinate;
            }
        }
        Ok(distill)
    }

    /// The domain term between the labelled batch's features and the target room's.
    fn domain_alignment(
        &self,
        method: DomainMethod,
        out: &TrainOutputs,
        batch: &Batch,
        target_window: &Tensor,
    ) -> Result<Tensor> {
        let target_features = self
            .model
            .encoder
            .encode_t(&self.augment(target_window), self.trains("encoder"))?
            .features;
        Ok(match method {
            DomainMethod::Mmd => {
                let bw = losses::default_bandwidths(&out.features, &target_features)?;
                losses::mmd(&out.features, &target_features, &bw)?
            }
            DomainMethod::Lmmd => {
                let source = zone_labels(
                    &batch.rois,
                    batch.window.size()[0],
                    self.geometry.translated_wh,
                    self.config.lmmd_grid,
                )?;
                let target = tch::no_grad(|| -> Result<Tensor> {
                    let spatial = self
                        .model
                        .upsampler
                        .forward_checked(&target_features.detach(), false)?;
                    let person = self.model.stage.person_maps(&spatial, false)?;
                    Ok(zone_probabilities(
                        &person.center_logits,
                        self.config.lmmd_grid,
                    ))
                })?;
                let bw = losses::default_bandwidths(&out.features, &target_features)?;
                losses::lmmd_weighted(&out.features, &target_features, &source, &target, &bw)?
            }
            DomainMethod::Adversarial => {
                let (_, d) = self
                    .discriminator
                    .as_ref()
                    .ok_or_else(|| eyre!("no domain discriminator"))?;
                // DANN's schedule for the reversal strength: 0 -> 1 over the run.
                let p = self.step as f64 / self.config.steps.max(1) as f64;
                let lambda = 2.0 / (1.0 + (-10.0 * p).exp()) - 1.0;
                let feats = Tensor::cat(&[&out.features, &target_features], 0);
                let opts = (Kind::Float, feats.device());
                let labels = Tensor::cat(
                    &[
                        Tensor::zeros([out.features.size()[0]], opts),
                        Tensor::ones([target_features.size()[0]], opts),
                    ],
                    0,
                );
                DomainDiscriminator::loss(&d.forward_t(&feats, lambda, true), &labels)?
            }
        })
    }

    fn clip_gradients(&self) -> f64 {
        tch::no_grad(|| {
            let mut sq = 0f64;
            for p in self.opt.parameters() {
                let g = p.grad();
                if g.defined() {
                    sq += g.square().sum(Kind::Double).double_value(&[]);
                }
            }
            let norm = sq.sqrt();
            let max = self.config.clip_grad_norm;
            if max > 0.0 && norm > max {
                let scale = max / (norm + 1e-6);
                for p in self.opt.parameters() {
                    let mut g = p.grad();
                    if g.defined() {
                        let _ = g.f_mul_scalar_(scale);
                    }
                }
            }
            norm
        })
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

/// Cross-entropy between each joint's spatial softmax and its normalised target heatmap, over
/// the visible joints: `pred`, `target [K, J, r, r]`, `visible [K, J]`.
pub fn keypoint_ce(pred: &Tensor, target: &Tensor, visible: Option<&Tensor>) -> Tensor {
    let s = pred.size();
    let (n, cells) = (s[0] * s[1], s[2] * s[3]);
    let logp = pred.reshape([n, cells]).log_softmax(1, Kind::Float);
    let t = target.reshape([n, cells]);
    let t = &t / t.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-6);
    let per_joint = -(t * logp).sum_dim_intlist(1, false, Kind::Float);
    let w = match visible {
        Some(v) => v.reshape([n]).to_kind(Kind::Float),
        None => per_joint.ones_like(),
    };
    (per_joint * &w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0)
}

/// `model.safetensors` -> `model.state.json`.
pub fn state_path(path: &Path) -> PathBuf {
    path.with_extension("state.json")
}

/// `model.safetensors` -> `model.optim.safetensors` (the optimiser's moments, for resuming).
pub fn optimizer_path(path: &Path) -> PathBuf {
    path.with_extension("optim.safetensors")
}

/// LMMD's classes of labelled frames: for each of `frames`, the share of its people whose box
/// centre falls in each zone of a `grid x grid` split of the translated image (`wh`), and a
/// last class for a frame with nobody. `rois [K, 5]` (frame, x1, y1, x2, y2) -> `[B, grid^2 + 1]`.
pub fn zone_labels(rois: &Tensor, frames: i64, wh: [i64; 2], grid: i64) -> Result<Tensor> {
    if grid < 1 {
        return Err(eyre!("lmmd_grid {grid}: must be at least 1"));
    }
    let zones = (grid * grid) as usize;
    let mut weights = vec![0f32; frames as usize * (zones + 1)];
    let rows = Vec::<f32>::try_from(rois.to_kind(Kind::Float).contiguous().view([-1]))?;
    for roi in rows.chunks_exact(5) {
        let b = roi[0] as usize;
        if b >= frames as usize {
            return Err(eyre!("ROI of frame {b} in a batch of {frames}"));
        }
        let zone = |centre: f32, size: i64| {
            ((centre / size as f32 * grid as f32).floor() as i64).clamp(0, grid - 1) as usize
        };
        let (zx, zy) = (
            zone((roi[1] + roi[3]) / 2.0, wh[0]),
            zone((roi[2] + roi[4]) / 2.0, wh[1]),
        );
        weights[b * (zones + 1) + zy * grid as usize + zx] += 1.0;
    }
    for frame in weights.chunks_exact_mut(zones + 1) {
        let people: f32 = frame.iter().sum();
        if people == 0.0 {
            frame[zones] = 1.0;
        } else {
            frame.iter_mut().for_each(|v| *v /= people);
        }
    }
    Ok(Tensor::from_slice(&weights)
        .view([frames, zones as i64 + 1])
        .to_device(rois.device()))
}

/// LMMD's pseudo-labels of unlabelled frames from the model's centre map
/// `[B, 1, h, w]` logits: each zone's peak person probability, and "empty" as the chance that
/// no zone holds anyone; normalised per frame -> `[B, grid^2 + 1]`.
pub fn zone_probabilities(center_logits: &Tensor, grid: i64) -> Tensor {
    let b = center_logits.size()[0];
    let peaks = center_logits
        .sigmoid()
        .adaptive_max_pool2d([grid, grid])
        .0
        .view([b, grid * grid]);
    let empty = peaks
        .ones_like()
        .g_sub(&peaks)
        .prod_dim_int(1, true, Kind::Float);
    let all = Tensor::cat(&[peaks, empty], 1);
    &all / all.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-6)
}
