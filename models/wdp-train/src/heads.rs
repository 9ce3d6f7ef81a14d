//! Fitting the heads that read the encoder's feature vector (the floor and count heads) and the
//! encoder's signature branch, on features computed once per frame.
//!
//! Why: a whole-model step runs the encoder, the image path and the DensePose stage for a batch
//! of 8, so in a 20-minute run these small heads see about 30 000 frames and the floor
//! cross-entropy stays far above a fit (4.6-4.8 nats against about 3.2). The same readout on
//! the same inputs fitted over many passes reaches the fit (`scripts/probe_motion.py`). Here
//! the frozen rest of the encoder runs once per frame and the heads take thousands of
//! large-batch steps in minutes. The image path (upsampler, backbone, DensePose head) is not
//! trained; it reads features that the refitted signature branch changes.

use eyre::{eyre, Result};
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

use crate::data::Sample;
use crate::optim::{AdamW, AdamWConfig};
use crate::targets::{floor_points, sample_windows, target_people};
use crate::trainer::{lr_at, Trainer};
use wdp_models::floor::{fuse_radio_map, masked_floor_loss};

/// The modules fitted here; everything else keeps its weights.
pub const HEAD_MODULES: [&str; 3] = ["encoder.signature.", "upsampler.floor.", "upsampler.count."];

/// How long and how wide the fit is.
#[derive(Debug, Clone)]
pub struct HeadsOptions {
    /// Optimiser steps (the learning-rate schedule of the trainer's configuration over them).
    pub steps: usize,
    /// Frames per step.
    pub batch: usize,
    /// Steps between checks on the validation frames (when there are any).
    pub validate_every: usize,
}

/// What a fit did: the mean losses over its last tenth of steps.
#[derive(Debug, Clone, Serialize)]
pub struct HeadsSummary {
    /// Frames fitted on.
    pub frames: usize,
    /// Of them, frames with people on the floor grid (the floor term's).
    pub frames_with_people: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// The fitted parameters.
    pub parameters: Vec<String>,
    /// Floor cross-entropy, nats.
    pub floor_loss: f64,
    /// Count cross-entropy, nats.
    pub count_loss: f64,
    /// Time to compute the cached features.
    pub seconds_features: f64,
    /// Time of the fit.
    pub seconds_fit: f64,
    /// With validation frames: the step whose weights are kept (the lowest validation loss)
    /// and its floor and count cross-entropy there.
    pub best_step: Option<usize>,
    /// Validation floor cross-entropy at `best_step`.
    pub validation_floor_loss: Option<f64>,
    /// Validation count cross-entropy at `best_step`.
    pub validation_count_loss: Option<f64>,
}

/// The cached inputs and targets of every frame.
struct Cache {
    base: Tensor,
    signature: Option<Tensor>,
    /// `[N, cells]` target distribution (zeros without people).
    floor: Tensor,
    /// `[N]` 1 where the frame has people with a floor position.
    has_floor: Tensor,
    /// `[N]` people, capped at the count head's last class.
    count: Tensor,
    /// `[N, ny, nx]` what the radio's floor image adds to the floor logits
    /// ([`fuse_radio_map`]), when the preset weighs it: the head is fitted through the fusion
    /// it runs with, so it learns what the image does not say.
    radio: Option<Tensor>,
}

fn cache(trainer: &Trainer, samples: &[Sample], device: Device) -> Result<Cache> {
    let model = &trainer.model;
    let grid = model.preset().upsampler.floor.clone();
    let last_class = (model.preset().upsampler.count_classes - 1).max(0);
    let cells = grid.as_ref().map(|g| g.cells[0] * g.cells[1]).unwrap_or(1);
    let weighed = grid.as_ref().filter(|g| g.radio_map_weight > 0.0);
    let mut radio = Vec::new();
    let (mut base, mut sig) = (Vec::new(), Vec::new());
    let (mut floor, mut has_floor, mut count) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in samples.chunks(64) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let window = sample_windows(&refs, device)?;
        let (b, s) = tch::no_grad(|| model.encoder.split_signature(&window))?;
        base.push(b);
        if let Some(s) = s {
            sig.push(s);
        }
        if let Some(g) = weighed {
            let maps: Vec<Option<&[f32]>> = chunk.iter().map(|s| s.radio_map.as_deref()).collect();
            let zeros = Tensor::zeros(
                [chunk.len() as i64, g.cells[1], g.cells[0]],
                (Kind::Float, device),
            );
            radio.push(fuse_radio_map(
                &zeros,
                &maps,
                g.radio_map_weight,
                g.radio_map_floor,
            )?);
        }
        for sample in chunk {
            // The people the trainer supervises, as whole-model training picks them.
            let people = target_people(sample, &trainer.geometry);
            count.push((people.len() as i64).min(last_class));
            match grid
                .as_ref()
                .and_then(|g| g.target(&floor_points(sample, &people)))
            {
                Some(q) => {
                    floor.extend_from_slice(&q);
                    has_floor.push(1f32);
                }
                None => {
                    floor.extend(std::iter::repeat_n(0f32, cells as usize));
                    has_floor.push(0f32);
                }
            }
        }
    }
    Ok(Cache {
        base: Tensor::cat(&base, 0),
        signature: (!sig.is_empty()).then(|| Tensor::cat(&sig, 0)),
        floor: Tensor::from_slice(&floor)
            .view([-1, cells])
            .to_device(device),
        has_floor: Tensor::from_slice(&has_floor).to_device(device),
        count: Tensor::from_slice(&count).to_device(device),
        radio: (!radio.is_empty()).then(|| Tensor::cat(&radio, 0)),
    })
}

/// The floor and count cross-entropy of `features` against frames `idx` of `c`.
fn losses(trainer: &Trainer, c: &Cache, idx: &Tensor, train: bool) -> (Tensor, Tensor) {
    let model = &trainer.model;
    let sig = c.signature.as_ref().map(|s| s.index_select(0, idx));
    let features =
        model
            .encoder
            .with_signature_t(&c.base.index_select(0, idx), sig.as_ref(), train);
    let zero = || features.sum(Kind::Float) * 0.0;
    let floor = match model.upsampler.floor_logits(&features) {
        Some(logits) => masked_floor_loss(
            &match &c.radio {
                Some(r) => logits + r.index_select(0, idx),
                None => logits,
            },
            &c.floor.index_select(0, idx),
            &c.has_floor.index_select(0, idx),
        ),
        None => zero(),
    };
    let count = match model.upsampler.count_logits(&features) {
        Some(logits) => logits.cross_entropy_for_logits(&c.count.index_select(0, idx)),
        None => zero(),
    };
    (floor, count)
}

/// Fits [`HEAD_MODULES`] of `trainer`'s model on `samples` (the trainer's configuration gives
/// the learning rate and its schedule, the weight decay and the floor and count loss weights);
/// `on_step(step, floor, count)` after each step. With `validation` frames (other sequences),
/// their loss is measured every `validate_every` steps and the weights of the best check are
/// kept: the heads fit a hundred sequences' frames closely, and past some point they learn the
/// sequences rather than the rooms. Save with [`Trainer::save`].
pub fn fit_heads(
    trainer: &mut Trainer,
    samples: &[Sample],
    validation: &[Sample],
    options: &HeadsOptions,
    mut on_step: impl FnMut(usize, f64, f64),
) -> Result<HeadsSummary> {
    let preset = trainer.model.preset();
    if preset.upsampler.floor.is_none() && preset.upsampler.count_classes == 0 {
        return Err(eyre!(
            "the preset has neither a floor nor a count head: nothing to fit"
        ));
    }
    if samples.is_empty() || options.batch == 0 || options.steps == 0 {
        return Err(eyre!("fitting the heads needs frames, a batch and steps"));
    }
    let device = trainer.vs.device();
    let started = Instant::now();
    let c = cache(trainer, samples, device)?;
    let val = (!validation.is_empty())
        .then(|| cache(trainer, validation, device))
        .transpose()?;
    let seconds_features = started.elapsed().as_secs_f64();
    let n = c.base.size()[0];

    let mut opt = AdamW::new(AdamWConfig {
        weight_decay: trainer.config.weight_decay,
        ..AdamWConfig::default()
    });
    let mut names = Vec::new();
    let mut vars: Vec<(String, Tensor)> = trainer.vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in vars {
        // Buffers (BatchNorm's running statistics) and frozen modules have no gradient.
        if t.requires_grad() && HEAD_MODULES.iter().any(|m| name.starts_with(m)) {
            opt.add(name.clone(), &t, 0)?;
            names.push(name);
        }
    }
    let (wf, wc) = (trainer.config.weights.floor, trainer.config.weights.count);
    let mut schedule = trainer.config.clone();
    schedule.steps = options.steps;
    let (mut floor_sum, mut count_sum, mut tail) = (0.0, 0.0, 0usize);
    let fit_started = Instant::now();
    let mut best: Option<(f64, usize, f64, f64, Vec<Tensor>)> = None;
    for step in 0..options.steps {
        opt.set_lr(0, lr_at(&schedule, step));
        let idx = Tensor::randint(n, [options.batch as i64], (Kind::Int64, device));
        let (floor, count) = losses(trainer, &c, &idx, true);
        let (floor_value, count_value) = (floor.double_value(&[]), count.double_value(&[]));
        opt.zero_grad();
        (floor * wf + count * wc).backward();
        opt.step();
        if step >= options.steps - options.steps.div_ceil(10) {
            floor_sum += floor_value;
            count_sum += count_value;
            tail += 1;
        }
        on_step(step, floor_value, count_value);
        let check = (step + 1) % options.validate_every.max(1) == 0 || step + 1 == options.steps;
        if let (Some(v), true) = (&val, check) {
            let all = Tensor::arange(v.base.size()[0], (Kind::Int64, device));
            let (f, k) = tch::no_grad(|| losses(trainer, v, &all, false));
            let (f, k) = (f.double_value(&[]), k.double_value(&[]));
            let total = wf * f + wc * k;
            tracing::info!(step = step + 1, floor = f, count = k, "heads: validation");
            if best.as_ref().is_none_or(|b| total < b.0) {
                let kept = opt.parameters().map(|t| t.detach().copy()).collect();
                best = Some((total, step + 1, f, k, kept));
            }
        }
    }
    let (best_step, validation_floor_loss, validation_count_loss) = match best {
        Some((_, step, f, k, kept)) => {
            tch::no_grad(|| {
                for (p, v) in opt.parameters().zip(&kept) {
                    let mut p = p.shallow_clone();
                    p.copy_(v);
                }
            });
            (Some(step), Some(f), Some(k))
        }
        None => (None, None, None),
    };
    Ok(HeadsSummary {
        frames: n as usize,
        frames_with_people: c.has_floor.sum(Kind::Float).double_value(&[]) as usize,
        steps: options.steps,
        parameters: names,
        floor_loss: floor_sum / tail.max(1) as f64,
        count_loss: count_sum / tail.max(1) as f64,
        seconds_features,
        seconds_fit: fit_started.elapsed().as_secs_f64(),
        best_step,
        validation_floor_loss,
        validation_count_loss,
    })
}
