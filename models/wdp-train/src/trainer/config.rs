//! What a training run is configured by: the loss weights, the CSI augmentations, the domain
//! alignment method and [`TrainConfig`], with their defaults.

use eyre::{eyre, Result};
use serde::{Deserialize, Serialize};

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
    /// The upsampler's count head against the number of people of each frame (cross-entropy;
    /// more than it has classes count as its last), when the preset has one
    /// (`upsampler.count_classes`).
    pub count: f64,
    /// The upsampler's floor head against the people's floor positions (cross-entropy of its
    /// softmax over the floor cells against their Gaussians), when the preset has one
    /// (`upsampler.floor`) and the data has positions.
    pub floor: f64,
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
            count: 1.0,
            floor: 1.0,
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

/// `v` finite and at least `min` (above it when `strict`), or an error naming `field`.
fn number(field: &str, v: f64, min: f64, strict: bool) -> Result<()> {
    let ok = v.is_finite() && if strict { v > min } else { v >= min };
    if ok {
        Ok(())
    } else {
        let bound = if strict { ">" } else { ">=" };
        Err(eyre!("{field}: {v} must be a finite number {bound} {min}"))
    }
}

impl TrainConfig {
    /// Parses a training configuration (YAML; missing keys take their defaults) and checks it;
    /// `origin` (a file name) begins every error.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Self> {
        let config: TrainConfig = serde_yaml::from_str(text).map_err(|e| eyre!("{origin}: {e}"))?;
        config.validate().map_err(|e| eyre!("{origin}: {e}"))?;
        Ok(config)
    }

    /// Checks every value the trainer divides by, schedules with or feeds to the optimiser
    /// (a zero batch, a NaN learning rate or a negative sigma would fail deep in a step, or
    /// train on silently); the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.preset.is_empty() {
            return Err(eyre!("preset: a preset name or file is needed"));
        }
        if self.steps == 0 || self.batch_size == 0 {
            return Err(eyre!(
                "steps {} and batch_size {}: both must be >= 1",
                self.steps,
                self.batch_size
            ));
        }
        number("lr", self.lr, 0.0, true)?;
        number("min_lr", self.min_lr, 0.0, false)?;
        number("backbone_lr_factor", self.backbone_lr_factor, 0.0, false)?;
        number("weight_decay", self.weight_decay, 0.0, false)?;
        number("clip_grad_norm", self.clip_grad_norm, 0.0, true)?;
        number("heatmap_sigma", f64::from(self.heatmap_sigma), 0.0, true)?;
        if self.lmmd_grid < 1 {
            return Err(eyre!("lmmd_grid: {} must be >= 1", self.lmmd_grid));
        }
        let w = &self.weights;
        for (field, v) in [
            ("mask", w.mask),
            ("uv", w.uv),
            ("keypoint", w.keypoint),
            ("center", w.center),
            ("center_regression", w.center_regression),
            ("feature_distill", w.feature_distill),
            ("soft_distill", w.soft_distill),
            ("domain", w.domain),
            ("keypoint_ce", w.keypoint_ce),
            ("translation", w.translation),
            ("translation_foreground", w.translation_foreground),
            ("locator", w.locator),
            ("count", w.count),
            ("floor", w.floor),
            ("keypoint_token", w.keypoint_token),
            ("visual_token", w.visual_token),
            ("temporal", w.temporal),
            ("temporal_motion", w.temporal_motion),
            ("coordinate", w.coordinate),
        ] {
            number(&format!("weights.{field}"), v, 0.0, false)?;
        }
        number("weights.temperature", w.temperature, 0.0, true)?;
        if let Some(a) = &self.augment {
            number("augment.noise_level", a.noise_level, 0.0, false)?;
            number("augment.phase_shift", a.phase_shift, 0.0, false)?;
            let (lo, hi) = a.amplitude_scale;
            number("augment.amplitude_scale", lo, 0.0, true)?;
            number("augment.amplitude_scale", hi, lo, false)?;
        }
        if let Some(f) = self.freeze.iter().find(|f| f.is_empty()) {
            return Err(eyre!("freeze: {f:?} is not a module prefix"));
        }
        self.preprocess
            .validate()
            .map_err(|e| eyre!("preprocess: {e}"))?;
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::trainer::lr_at;

    #[test]
    fn every_shipped_config_is_valid_and_bad_values_are_named() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../train");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                TrainConfig::from_yaml(&path.display().to_string(), &text).unwrap();
                n += 1;
            }
        }
        assert!(n >= 5, "{n} configs in {}", dir.display());
        for (yaml, field) in [
            ("batch_size: 0", "batch_size"),
            ("lr: .nan", "lr"),
            ("lr: -0.1", "lr"),
            ("heatmap_sigma: 0", "heatmap_sigma"),
            ("weights: {mask: -1}", "weights.mask"),
            ("weights: {temperature: 0}", "weights.temperature"),
            (
                "augment: {amplitude_scale: [1.2, 0.8]}",
                "augment.amplitude_scale",
            ),
            ("lmmd_grid: 0", "lmmd_grid"),
            ("freeze: ['']", "freeze"),
            ("preprocess: {window: {length: 0, hop: 1}}", "preprocess"),
            ("colour: red", "colour"),
        ] {
            let err = TrainConfig::from_yaml("t.yaml", yaml)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("t.yaml: ") && err.contains(field),
                "{yaml}: {err}"
            );
        }
    }

    #[test]
    fn the_schedule_stays_finite_and_quick_far_past_its_periods() {
        // Found by the fuzz target `train_config`: periods that overflowed when growing, and
        // equal periods walked one at a time (step / period turns at a resumed run's step).
        for (period, mult) in [(usize::MAX / 3, 7), (5, 1), (5, 0), (1, 2)] {
            let config = TrainConfig {
                restart_period: period,
                restart_mult: mult,
                ..TrainConfig::default()
            };
            for step in [0, 49, 50, 10_000, usize::MAX / 2, usize::MAX] {
                let lr = lr_at(&config, step);
                assert!(
                    lr.is_finite() && lr >= 0.0 && lr <= config.lr,
                    "{step}: {lr}"
                );
            }
        }
        let equal = TrainConfig {
            restart_period: 100,
            restart_mult: 1,
            warmup_steps: 0,
            ..TrainConfig::default()
        };
        assert_eq!(lr_at(&equal, 1_000_000_037), lr_at(&equal, 37));
    }
}
