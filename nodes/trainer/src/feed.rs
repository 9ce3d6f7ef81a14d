//! The live data side of the node: windows, labels, target windows and teacher features in,
//! paired (`wdp_train::live`) into the replay buffers the optimiser draws from.
//!
//! A message that breaks its contract is refused with the field at fault, as `wdp_train::live`
//! names it (`window`, `keypoints`, `parts`, `masks`, ...) or the tensor contract does
//! (`shape`, `values`, `dims`): the runtime drops and counts it, and the feed goes on.

use crate::inputs::{Inputs, Labeller, POSE_PREFIX};
use dora_node_api::{Metadata, Parameter};
use wdp_node::{Context, Counts, HandlerError, Input};
use wdp_pose::{AssemblerConfig, PoseAssembler};
use wdp_train::live::{FeatureMatch, Labels, LiveWindow, Pairing, ReplayBuffer, WINDOW_DIMS};
use wdp_train::Sample;

/// What the feed holds.
pub struct Feed {
    pairing: Pairing,
    /// With a `teacher_features` input: paired samples wait here for their teacher's features.
    features: Option<FeatureMatch>,
    assembler: Option<PoseAssembler>,
    /// Labelled frames the optimiser draws from.
    pub labelled: ReplayBuffer<Sample>,
    /// Target-room windows the optimiser draws from (domain alignment).
    pub target: ReplayBuffer<LiveWindow>,
    /// Whether labelled frames arrive live (`window` and labels are wired).
    live_labels: bool,
    /// Pose label inputs not closed yet.
    labels_open: usize,
    /// Whether target windows are kept (domain alignment is on).
    keep_target: bool,
    /// The model's input shape, once known (the first labelled window or dataset frame).
    pub shape: Option<[usize; 4]>,
    /// Target windows that came before the model's input shape was known.
    early_target: u64,
    announced_full: bool,
}

/// A check of `wdp_train::live` failed: its message starts with the field at fault
/// (`window: shape ...`, `keypoints_shape: ...`), which names the drop.
fn refused(e: &eyre::Report) -> HandlerError {
    let text = format!("{e:#}");
    match text.split_once(": ") {
        Some((field, reason)) if !field.is_empty() && !field.contains(char::is_whitespace) => {
            HandlerError::bad(field, reason)
        }
        _ => HandlerError::bad("message", text),
    }
}

/// A message's metadata; a teacher's struct message has no tensor `shape`, so one row is
/// assumed for it.
fn meta_of(metadata: &Metadata) -> Result<wdp_tensor::TensorMeta, HandlerError> {
    let mut params = metadata.parameters.clone();
    params
        .entry("shape".into())
        .or_insert_with(|| Parameter::ListInt(vec![1]));
    Ok(wdp_tensor::dora::from_parameters(&params)?)
}

impl Feed {
    /// An empty feed for `inputs`, its buffers holding `buffer` items (or all of the `seeds`
    /// and `target_seeds` frames, when more), seeded with them; `features`: the teacher
    /// feature matcher, when `teacher_features` is wired.
    pub fn new(
        inputs: &Inputs,
        settings: &crate::config::Settings,
        seeds: Vec<Sample>,
        target_seeds: Vec<Sample>,
        features: Option<FeatureMatch>,
    ) -> Self {
        let mut feed = Self {
            pairing: Pairing::new(settings.max_lag_ns, settings.every),
            features,
            assembler: match inputs.labeller {
                Labeller::Pose { uv } => Some(PoseAssembler::new(AssemblerConfig {
                    max_pending: 64,
                    expect_parts: true,
                    expect_uv: uv,
                })),
                _ => None,
            },
            labelled: ReplayBuffer::new(settings.buffer.max(seeds.len())),
            target: ReplayBuffer::new(settings.buffer.max(target_seeds.len())),
            live_labels: inputs.window,
            labels_open: match inputs.labeller {
                Labeller::Pose { uv } => 3 + usize::from(uv),
                _ => 0,
            },
            keep_target: settings.config.domain.is_some(),
            shape: seeds.first().map(|s| s.window_shape),
            early_target: 0,
            announced_full: false,
        };
        for s in seeds {
            feed.labelled.push(s);
        }
        for s in target_seeds {
            feed.target.push(LiveWindow::from(s));
        }
        feed
    }

    /// Takes one message; what it completes goes into the buffers even when it is refused.
    pub fn input(&mut self, ctx: &mut Context, input: &Input) -> Result<(), HandlerError> {
        let result = self.decode(ctx, input);
        self.collect(ctx);
        result
    }

    fn decode(&mut self, ctx: &mut Context, input: &Input) -> Result<(), HandlerError> {
        let id = input.id.as_str();
        match id {
            "window" => {
                let r = input.tensor::<f32>(&WINDOW_DIMS)?;
                wdp_node::finite("values", r.data.iter())?;
                let w = LiveWindow::new(r.data, &r.meta, self.shape).map_err(|e| refused(&e))?;
                self.shape.get_or_insert(w.shape);
                self.pairing.push_window(w);
            }
            "target_window" => {
                let r = input.tensor::<f32>(&WINDOW_DIMS)?;
                // The labelled side decides the model's shape; target windows before it are
                // counted and passed over (more follow).
                let Some(shape) = self.shape else {
                    self.early_target += 1;
                    return Ok(());
                };
                wdp_node::finite("values", r.data.iter())?;
                let w = LiveWindow::new(r.data, &r.meta, Some(shape)).map_err(|e| refused(&e))?;
                if self.keep_target {
                    self.target.push(w);
                }
            }
            "teacher_features" => {
                let r = input.tensor::<f32>(&["feature"])?;
                wdp_node::finite("values", r.data.iter())?;
                let matcher = self
                    .features
                    .as_mut()
                    .ok_or_else(|| HandlerError::bad("id", "teacher features are not wired"))?;
                matcher
                    .push_features(r.meta.t_ns, r.data.iter().copied().collect())
                    .map_err(|e| refused(&e))?;
            }
            "labels" => {
                let meta = meta_of(&input.metadata)?;
                let labels = Labels::from_teacher(input.data.as_array().as_ref(), &meta)
                    .map_err(|e| refused(&e))?;
                self.pairing.push_frame(labels);
            }
            _ => {
                let output = id
                    .strip_prefix(POSE_PREFIX)
                    .ok_or_else(|| HandlerError::bad("id", "unexpected input"))?;
                // Finite values only: an infinite label would make every loss after it NaN.
                let message = input.pose(output)?;
                let assembler = self
                    .assembler
                    .as_mut()
                    .ok_or_else(|| HandlerError::bad("id", "pose labels are not wired"))?;
                let pushed = assembler.push(message);
                self.take_frames(ctx, id, false);
                pushed?;
            }
        }
        Ok(())
    }

    /// The frames the assembler completed (all it holds when `flush`: the labels ended),
    /// checked and handed to the pairing; a frame that cannot train is dropped as `id`'s.
    fn take_frames(&mut self, ctx: &mut Context, id: &str, flush: bool) {
        let Some(assembler) = self.assembler.as_mut() else {
            return;
        };
        let frames: Vec<_> = if flush {
            assembler.flush()
        } else {
            std::iter::from_fn(|| assembler.pop()).collect()
        };
        for frame in frames {
            match Labels::from_frame(&frame) {
                Ok(labels) => self.pairing.push_frame(labels),
                Err(e) => match refused(&e) {
                    HandlerError::BadInput { field, reason } => ctx.dropped(
                        id,
                        1,
                        &HandlerError::bad(field, format!("{reason} (frame seq {})", frame.seq())),
                    ),
                    other => ctx.dropped(id, 1, &other),
                },
            }
        }
    }

    /// An input was closed by its sender.
    pub fn closed(&mut self, ctx: &mut Context, id: &str) {
        if id == "teacher_features" {
            if let Some(m) = self.features.as_mut() {
                m.end();
            }
        } else if id == "window" {
            self.pairing.end_windows();
        } else if id.starts_with(POSE_PREFIX) {
            // A frame's messages come on all of them: flush once the last one closes.
            self.labels_open = self.labels_open.saturating_sub(1);
            if self.labels_open == 0 {
                self.take_frames(ctx, id, true);
            }
        }
        self.collect(ctx);
    }

    /// Every input has closed: what is held is decided with what is there.
    pub fn end(&mut self, ctx: &mut Context) {
        self.take_frames(ctx, "labels_*", true);
        self.pairing.end_windows();
        if let Some(m) = self.features.as_mut() {
            m.end();
        }
        self.collect(ctx);
    }

    /// Paired frames (with their teacher's features, when those are wired) into the replay
    /// buffer.
    fn collect(&mut self, ctx: &Context) {
        let mut ready = Vec::new();
        while let Some(sample) = self.pairing.pop() {
            match self.features.as_mut() {
                Some(m) => m.push_sample(sample),
                None => ready.push(sample),
            }
        }
        if let Some(m) = self.features.as_mut() {
            ready.extend(std::iter::from_fn(|| m.pop()));
        }
        for sample in ready {
            if self.labelled.push(sample) && !self.announced_full {
                self.announced_full = true;
                ctx.announce(&format!(
                    "replay buffer full ({} frames); the newest now replace the oldest",
                    self.labelled.capacity()
                ));
            }
        }
    }

    /// Whether a step can be taken: a batch of labelled frames and, with domain alignment, of
    /// target windows.
    pub fn ready(&self, batch: usize) -> bool {
        self.labelled.len() >= batch && (!self.keep_target || self.target.len() >= batch)
    }

    /// Whether target windows are drawn (domain alignment is on).
    pub fn keeps_target(&self) -> bool {
        self.keep_target
    }

    /// What the pairing did so far.
    #[cfg(test)]
    pub fn pairing(&self) -> wdp_train::live::PairingStats {
        self.pairing.stats()
    }

    /// One line of counts: pairing, buffers, teacher features, messages dropped (`counts`,
    /// the runtime's) by input.
    pub fn status(&self, counts: &Counts) -> String {
        let p = self.pairing.stats();
        let mut line = String::new();
        if self.live_labels {
            line += &format!(
                "{} windows, {} labelled frames: {} paired ({} kept by EVERY), {} unpaired; ",
                p.windows,
                p.frames,
                p.paired,
                p.paired - p.skipped,
                p.unpaired
            );
        }
        line += &format!(
            "buffer {}/{} frames, {} replaced",
            self.labelled.len(),
            self.labelled.capacity(),
            self.labelled.replaced()
        );
        if self.keep_target {
            line += &format!(
                "; target buffer {}/{} windows, {} replaced",
                self.target.len(),
                self.target.capacity(),
                self.target.replaced()
            );
        }
        if let Some(m) = &self.features {
            let f = m.stats();
            line += &format!(
                "; teacher features: {} received, {} frames matched, {} without",
                f.features, f.matched, f.unmatched
            );
        }
        if self.early_target > 0 {
            line += &format!(
                "; {} target windows before the input shape was known",
                self.early_target
            );
        }
        let mut dropped = std::collections::BTreeMap::<&str, u64>::new();
        for (key, n) in &counts.bad {
            let input = key.split_once('/').map_or(key.as_str(), |(i, _)| i);
            *dropped.entry(input).or_default() += n;
        }
        if !dropped.is_empty() {
            let by_input: Vec<String> = dropped
                .iter()
                .map(|(id, n)| format!("{n} `{id}`"))
                .collect();
            line += &format!("; dropped bad messages: {}", by_input.join(", "));
        }
        line
    }
}
