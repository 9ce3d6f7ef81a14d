//! One optimiser step: the learning-rate schedule, the augmentations, the training forward
//! passes (frame by frame and over sequences), the backward pass with clipping and the update,
//! and the losses it reports.

use super::{TrainConfig, Trainer, TEMPORAL_STAGE};
use crate::sequence::SequenceBatch;
use crate::targets::Batch;
use eyre::{eyre, Result};
use serde::Serialize;
use tch::{Kind, Tensor};
use wdp_csi::dsp::WindowChannels;
use wdp_models::{losses, TrainOutputs};

/// Cosine annealing with warm restarts (SGDR) after a linear warm-up: the factor of the base
/// learning rate at `step`.
pub fn lr_at(config: &TrainConfig, step: usize) -> f64 {
    let (base, floor) = (config.lr, config.min_lr.min(config.lr));
    if step < config.warmup_steps {
        return base * step.saturating_add(1) as f64 / config.warmup_steps as f64;
    }
    let mut t = step - config.warmup_steps;
    let mut period = match config.restart_period {
        0 => config.steps.saturating_sub(config.warmup_steps).max(1),
        p => p,
    };
    if config.restart_period > 0 {
        let mult = config.restart_mult.max(1);
        if mult == 1 {
            // Equal periods: the position in the current one, at once (a loop would take
            // step / period turns).
            t %= period;
        } else {
            // Growing periods: a handful of turns. Saturates rather than overflows, so a run
            // far past its periods stays in the last one.
            while t >= period {
                t -= period;
                period = period.saturating_mul(mult);
            }
        }
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
    /// The count head's cross-entropy.
    pub count: f64,
    /// The floor head's cross-entropy.
    pub floor: f64,
    /// Temporal smoothness term (sequence training).
    pub temporal: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl Trainer {
    pub(super) fn augment(&self, window: &Tensor) -> Tensor {
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
            // Sequence training refines features over time; the locator, the count and the
            // floor heads train frame by frame.
            locator_logits: None,
            count_logits: None,
            floor_logits: None,
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
    pub(super) fn trains(&self, module: &str) -> bool {
        !self.config.freeze.iter().any(|f| f == module)
    }

    /// The training forward pass, module by module in train or inference mode.
    fn forward(&self, window: &Tensor, rois: &Tensor) -> Result<TrainOutputs> {
        let enc = self
            .model
            .encoder
            .encode_t(window, self.trains("encoder"))?;
        let up = self
            .model
            .upsampler
            .forward_located_checked(&enc.features, self.trains("upsampler"))?;
        Ok(TrainOutputs {
            stage: self.model.stage.forward_located_t(
                &up.spatial,
                up.located(),
                Some(rois),
                self.trains("backbone"),
            )?,
            features: enc.features,
            branch_weights: enc.branch_weights,
            spatial: up.spatial,
            locator_logits: up.locator,
            count_logits: up.count,
            floor_logits: up.floor,
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
}
