//! Live mode: windows and labels from a running dataflow into replay buffers, optimiser steps
//! on random minibatches from them (`wdp_train::live` does the pairing and the buffers).

use crate::config::Settings;
use crate::{announce, build_trainer, report, run_options, send_loss};
use dora_node_api::{DoraNode, Event, EventStream, Metadata, Parameter, StopCause, TryRecvError};
use eyre::{eyre, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use wdp_pose::{AssemblerConfig, PoseAssembler};
use wdp_train::live::{FeatureMatch, Labels, LiveWindow, Pairing, ReplayBuffer};
use wdp_train::run::{stack_windows, Run, XorShift};
use wdp_train::{Sample, Trainer};

/// Prefix of the pose-contract label inputs (`labels_keypoints`, ...).
const POSE_PREFIX: &str = "labels_";

/// Most events read between two steps, so a flood of input cannot starve the optimiser (dora's
/// queues bound what waits).
const MAX_DRAIN: usize = 2000;

/// Reports of bad messages printed per input before they are only counted.
const MAX_REPORTS: u64 = 5;

/// Status line every this many steps.
const STATUS_EVERY: usize = 10;

/// Status line this often while waiting for a first batch.
const WAITING_STATUS: Duration = Duration::from_secs(10);

/// Where live labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Labeller {
    None,
    /// The pose contract on `labels_*`; whether `labels_uv` is wired.
    Pose {
        uv: bool,
    },
    /// A camera teacher's struct on `labels`.
    Teacher,
}

/// The live inputs the dataflow wires to this node.
pub struct Inputs {
    window: bool,
    labeller: Labeller,
    target_window: bool,
    teacher_features: bool,
}

impl Inputs {
    /// Reads the node's declared inputs and checks that they make sense together.
    pub fn of(node: &DoraNode) -> Result<Self> {
        let declared: BTreeSet<String> = node
            .node_config()
            .inputs
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        let has = |id: &str| declared.contains(id);
        let pose: Vec<&str> = ["keypoints", "boxes", "parts", "uv"]
            .into_iter()
            .filter(|o| has(&format!("{POSE_PREFIX}{o}")))
            .collect();
        let labeller = match (has("labels"), pose.is_empty()) {
            (true, false) => {
                return Err(eyre!(
                    "inputs: `labels` and `labels_*` both wired; one labeller feeds the trainer"
                ))
            }
            (true, true) => Labeller::Teacher,
            (false, false) => {
                for needed in ["keypoints", "boxes", "parts"] {
                    if !pose.contains(&needed) {
                        return Err(eyre!(
                            "inputs: `{POSE_PREFIX}{needed}` is not wired; pose labels need keypoints, boxes and parts"
                        ));
                    }
                }
                Labeller::Pose {
                    uv: pose.contains(&"uv"),
                }
            }
            (false, true) => Labeller::None,
        };
        let window = has("window");
        if window != (labeller != Labeller::None) {
            return Err(eyre!(
                "inputs: `window` and labels (`labels` or `labels_*`) go together: a labelled frame needs its window"
            ));
        }
        for id in &declared {
            let known = matches!(
                id.as_str(),
                "window" | "labels" | "target_window" | "teacher_features"
            ) || id
                .strip_prefix(POSE_PREFIX)
                .is_some_and(|o| ["keypoints", "boxes", "parts", "uv"].contains(&o));
            if !known {
                return Err(eyre!(
                    "inputs: `{id}` is not an input of the trainer (window, labels or labels_keypoints/boxes/parts/uv, target_window, teacher_features)"
                ));
            }
        }
        let teacher_features = has("teacher_features");
        if teacher_features && !window {
            return Err(eyre!(
                "inputs: `teacher_features` describe live labelled frames: wire `window` and labels too"
            ));
        }
        Ok(Self {
            window,
            labeller,
            target_window: has("target_window"),
            teacher_features,
        })
    }

    /// Whether any live input is wired.
    pub fn any(&self) -> bool {
        self.window || self.target_window
    }
}

/// What the live loop holds between steps.
struct State {
    pairing: Pairing,
    /// With a `teacher_features` input: paired samples wait here for their teacher's features.
    features: Option<FeatureMatch>,
    assembler: Option<PoseAssembler>,
    labelled: ReplayBuffer<Sample>,
    target: ReplayBuffer<LiveWindow>,
    /// Whether labelled frames arrive live (`window` and labels are wired).
    live_labels: bool,
    /// Pose label inputs not closed yet.
    labels_open: usize,
    /// Whether target windows are kept (domain alignment is on).
    keep_target: bool,
    /// The model's input shape, once known (the first labelled window or dataset frame).
    shape: Option<[usize; 4]>,
    /// Bad messages per input.
    dropped: BTreeMap<String, u64>,
    /// Target windows that came before the model's input shape was known.
    early_target: u64,
    announced_full: bool,
}

/// What an event means for the loop.
#[derive(PartialEq)]
enum Flow {
    Continue,
    /// Every input has closed: nothing more will come, training goes on from the buffers.
    Ended,
    /// The dataflow is stopping.
    Stop,
}

/// A message's metadata; a teacher's struct message has no tensor `shape`, so one row is
/// assumed for it.
fn meta_of(metadata: &Metadata) -> Result<wdp_tensor::TensorMeta> {
    let mut params = metadata.parameters.clone();
    params
        .entry("shape".into())
        .or_insert_with(|| Parameter::ListInt(vec![1]));
    Ok(wdp_tensor::dora::from_parameters(&params)?)
}

impl State {
    fn handle(&mut self, event: Event) -> Flow {
        match event {
            Event::Input { id, metadata, data } => {
                let id = id.as_str().to_owned();
                if let Err(e) = self.input(&id, &metadata, &data) {
                    self.drop_message(&id, &e);
                }
                self.collect();
                Flow::Continue
            }
            Event::InputClosed { id } => {
                self.closed(id.as_str());
                self.collect();
                Flow::Continue
            }
            Event::Stop(StopCause::AllInputsClosed) => {
                self.take_frames("labels_*", true);
                self.pairing.end_windows();
                if let Some(m) = self.features.as_mut() {
                    m.end();
                }
                self.collect();
                Flow::Ended
            }
            Event::Stop(_) => Flow::Stop,
            _ => Flow::Continue,
        }
    }

    fn input(
        &mut self,
        id: &str,
        metadata: &Metadata,
        data: &dora_node_api::DoraArray,
    ) -> Result<()> {
        match id {
            "window" => {
                let r = wdp_tensor::dora::receive::<f32>(metadata, data)?;
                let w = LiveWindow::new(r.data, &r.meta, self.shape)?;
                self.shape.get_or_insert(w.shape);
                self.pairing.push_window(w);
            }
            "target_window" => {
                let r = wdp_tensor::dora::receive::<f32>(metadata, data)?;
                // The labelled side decides the model's shape; target windows before it are
                // counted and passed over (more follow).
                let Some(shape) = self.shape else {
                    self.early_target += 1;
                    return Ok(());
                };
                let w = LiveWindow::new(r.data, &r.meta, Some(shape))?;
                if self.keep_target {
                    self.target.push(w);
                }
            }
            "teacher_features" => {
                let r = wdp_tensor::dora::receive::<f32>(metadata, data)?;
                r.meta.expect_dims(&["feature"])?;
                let matcher = self
                    .features
                    .as_mut()
                    .ok_or_else(|| eyre!("teacher features are not wired"))?;
                matcher.push_features(r.meta.t_ns, r.data.iter().copied().collect())?;
            }
            "labels" => {
                let meta = meta_of(metadata)?;
                let labels = Labels::from_teacher(data.as_array().as_ref(), &meta)?;
                self.pairing.push_frame(labels);
            }
            _ => {
                let output = id
                    .strip_prefix(POSE_PREFIX)
                    .ok_or_else(|| eyre!("unexpected input"))?;
                let message = wdp_pose::dora::receive(output, metadata, data)?;
                let assembler = self
                    .assembler
                    .as_mut()
                    .ok_or_else(|| eyre!("pose labels are not wired"))?;
                let pushed = assembler.push(message);
                self.take_frames(id, false);
                pushed?;
            }
        }
        Ok(())
    }

    /// The frames the assembler completed (all it holds when `flush`: the labels ended),
    /// checked and handed to the pairing; a frame that cannot train is dropped as `id`'s.
    fn take_frames(&mut self, id: &str, flush: bool) {
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
                Err(e) => self.drop_message(id, &e.wrap_err(format!("frame seq {}", frame.seq()))),
            }
        }
    }

    fn closed(&mut self, id: &str) {
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
                self.take_frames(id, true);
            }
        }
    }

    /// Paired frames (with their teacher's features, when those are wired) into the replay
    /// buffer.
    fn collect(&mut self) {
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
                announce(&format!(
                    "trainer: replay buffer full ({} frames); the newest now replace the oldest",
                    self.labelled.capacity()
                ));
            }
        }
    }

    fn drop_message(&mut self, id: &str, e: &eyre::Report) {
        let n = self.dropped.entry(id.to_owned()).or_default();
        *n += 1;
        tracing::warn!("dropping `{id}` message: {e:#}");
        if *n <= MAX_REPORTS {
            eprintln!("trainer: dropping `{id}` message: {e:#}");
            if *n == MAX_REPORTS {
                eprintln!("trainer: further bad `{id}` messages are only counted");
            }
        }
    }

    /// Whether a step can be taken: a batch of labelled frames and, with domain alignment, of
    /// target windows.
    fn ready(&self, batch: usize) -> bool {
        self.labelled.len() >= batch && (!self.keep_target || self.target.len() >= batch)
    }

    fn status(&self) -> String {
        let p = self.pairing.stats();
        let dropped: Vec<String> = self
            .dropped
            .iter()
            .map(|(id, n)| format!("{n} `{id}`"))
            .collect();
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
        if !dropped.is_empty() {
            line += &format!("; dropped bad messages: {}", dropped.join(", "));
        }
        line
    }
}

/// Trains from the live inputs (and any `DATASET`/`TARGET` frames seeding the buffers) until
/// `STEPS` or the dataflow's `Stop`.
pub fn train(
    node: &mut DoraNode,
    mut events: EventStream,
    settings: &Settings,
    inputs: &Inputs,
) -> Result<()> {
    let config = &settings.config;
    let batch = config.batch_size.max(1);
    let domain = config.domain.is_some();
    if config.sequence > 0 {
        // A replay buffer of single frames holds no sequences in order.
        return Err(eyre!(
            "sequence {}: sequence training (the temporal module) reads DATASET shards; live training is frame by frame",
            config.sequence
        ));
    }
    if domain && !inputs.target_window && settings.target.is_empty() {
        return Err(eyre!(
            "DOMAIN needs TARGET datasets or a `target_window` input"
        ));
    }
    if inputs.target_window && !domain {
        announce("trainer: `target_window` is wired but DOMAIN is not set: target windows are checked, not used");
    }
    if !inputs.window && settings.datasets.is_empty() {
        return Err(eyre!(
            "no labelled frames: wire `window` and labels, or set DATASET"
        ));
    }
    let samples = wdp_train::data::load_datasets(&settings.datasets, &settings.load_options())?;
    let targets = wdp_train::data::load_datasets(&settings.target, &settings.load_options())?;
    let features = if inputs.teacher_features {
        let preset = wdp_models::Preset::load(&config.preset)?;
        if samples.is_empty() {
            Some(FeatureMatch::new(
                preset.encoder.feature_dim as usize,
                settings.max_lag_ns,
            ))
        } else {
            // A batch mixing shard frames (no teacher features) and live ones would leave the
            // transfer term out of every mixed batch.
            return Err(eyre!(
                "teacher_features with DATASET: shard frames have no teacher features; train on live frames only"
            ));
        }
    } else {
        None
    };
    let mut state = State {
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
        labelled: ReplayBuffer::new(settings.buffer.max(samples.len())),
        target: ReplayBuffer::new(settings.buffer.max(targets.len())),
        live_labels: inputs.window,
        labels_open: match inputs.labeller {
            Labeller::Pose { uv } => 3 + usize::from(uv),
            _ => 0,
        },
        keep_target: domain,
        shape: samples.first().map(|s| s.window_shape),
        dropped: BTreeMap::new(),
        early_target: 0,
        announced_full: false,
    };
    for s in samples {
        state.labelled.push(s);
    }
    for s in targets {
        state.target.push(LiveWindow::from(s));
    }

    let metrics = settings.out.with_extension("metrics.jsonl");
    let options = run_options(settings, &metrics);
    let mut rng = XorShift::new(config.seed as u64);
    let mut trainer: Option<Trainer> = None;
    let mut run: Option<Run<'_>> = None;
    let mut ended = false;
    let mut send_error = None;
    let mut waiting_since = Instant::now();
    loop {
        if !state.ready(batch) {
            if ended {
                return Err(eyre!(
                    "the inputs ended before a batch of {batch} was ready: {}",
                    state.status()
                ));
            }
            if waiting_since.elapsed() >= WAITING_STATUS {
                waiting_since = Instant::now();
                announce(&format!(
                    "trainer: waiting for a batch of {batch}: {}",
                    state.status()
                ));
            }
            match events.recv().map(|event| state.handle(event)) {
                Some(Flow::Stop) => break,
                Some(Flow::Ended) | None => ended = true,
                Some(Flow::Continue) => {}
            }
            continue;
        }
        // Read what arrived during the last step, without waiting for more.
        let mut stop = false;
        for _ in 0..MAX_DRAIN {
            if ended {
                break;
            }
            match events.try_recv().map(|event| state.handle(event)) {
                Ok(Flow::Stop) => {
                    stop = true;
                    break;
                }
                Ok(Flow::Ended) | Err(TryRecvError::Closed) => ended = true,
                Ok(Flow::Continue) => {}
                Err(TryRecvError::Empty) => break,
            }
        }
        if stop {
            break;
        }
        if trainer.is_none() {
            let shape = state
                .shape
                .ok_or_else(|| eyre!("no window shape with frames in the buffer"))?;
            let t = build_trainer(settings, shape)?;
            let from = match (&settings.init, settings.resume) {
                (_, true) => format!(" (resuming {})", settings.out.display()),
                (Some(init), false) => format!(" (weights of {})", init.display()),
                (None, false) => String::new(),
            };
            announce(&format!(
                "trainer: live training on windows {shape:?}, batch {batch}, from step {}{from} to {}; {}",
                t.step,
                config.steps,
                state.status()
            ));
            run = Some(Run::start(&t, &options)?);
            trainer = Some(t);
        }
        let (Some(t), Some(r)) = (trainer.as_mut(), run.as_mut()) else {
            return Err(eyre!("the model was not built"));
        };
        if t.step >= config.steps {
            break;
        }
        let picked = state.labelled.pick(batch, &mut rng);
        let target = if domain {
            let windows = state.target.pick(batch, &mut rng);
            Some(stack_windows(
                windows.iter().map(|w| (w.values.as_slice(), w.shape)),
                t.vs.device(),
            )?)
        } else {
            None
        };
        let losses = r.step(t, &picked, target.as_ref())?;
        if let Err(e) = send_loss(node, &losses) {
            send_error.get_or_insert(e);
        }
        if r.steps(t).is_multiple_of(STATUS_EVERY) {
            announce(&format!(
                "trainer: step {} loss {:.4} domain {:.4}; {}",
                t.step,
                losses.total,
                losses.domain,
                state.status()
            ));
        }
    }
    if let Some(e) = send_error {
        tracing::warn!("sending `loss`: {e}");
    }
    match (trainer, run) {
        (Some(t), Some(r)) => {
            let summary = r.finish(&t).wrap_err("finishing the run")?;
            report(&summary, settings);
        }
        _ => announce("trainer: stopped before the first step; nothing saved"),
    }
    announce(&format!("trainer: live inputs: {}", state.status()));
    Ok(())
}
