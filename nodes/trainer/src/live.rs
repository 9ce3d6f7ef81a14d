//! Live mode: the node's handler. Messages go into the [`Feed`]; between them
//! ([`Handler::on_idle`]) the handler moves through its phases:
//!
//! - **waiting**: the buffers do not hold a batch yet; the loop waits for messages (a status
//!   line every [`WAITING_STATUS`]). Inputs that end now are an error, a `Stop` ends the node
//!   with nothing saved;
//! - **training**: the model is built for the first window's shape, and every call takes one
//!   optimiser step on a random minibatch ([`Work::Pending`]: the runtime reads what arrived
//!   meanwhile, at most [`MAX_DRAIN`] messages, without waiting for more). Inputs that end go
//!   on training from the buffers;
//! - **done**: `STEPS` reached or the dataflow stopped: the run is saved (checkpoint, state,
//!   metrics) and the node finishes.

use crate::config::Settings;
use crate::feed::Feed;
use crate::inputs::Inputs;
use crate::model::{build_trainer, report, send_loss};
use dora_node_api::{NodeError, StopCause};
use eyre::{eyre, Context as _, Result};
use std::time::{Duration, Instant};
use wdp_node::{Context, Handler, HandlerError, Input, Work};
use wdp_train::live::FeatureMatch;
use wdp_train::run::{stack_windows, Run, XorShift};
use wdp_train::{RunOptions, Trainer};

/// Most messages read between two steps, so a flood of input cannot starve the optimiser
/// (dora's queues bound what waits).
pub const MAX_DRAIN: usize = 2000;

/// Reports of bad messages printed per input before they are only counted.
const MAX_REPORTS: u64 = 5;

/// Status line every this many steps.
const STATUS_EVERY: usize = 10;

/// Status line this often while waiting for a first batch.
pub const WAITING_STATUS: Duration = Duration::from_secs(10);

/// Where the node is.
pub enum Phase<'a> {
    /// Filling the buffers until they hold a batch; since the last status line.
    Waiting(Instant),
    /// Taking optimiser steps.
    Training(Box<Training<'a>>),
    /// Saved (or stopped before the first step): nothing more to do.
    Done,
}

/// The model and its run.
pub struct Training<'a> {
    trainer: Trainer,
    run: Run<'a>,
}

/// The live trainer: the feed, the model once built, and where it is.
pub struct LiveTrainer<'a> {
    settings: &'a Settings,
    options: &'a RunOptions<'a>,
    inputs: Inputs,
    feed: Feed,
    batch: usize,
    rng: XorShift,
    phase: Phase<'a>,
    /// The dataflow asked the node to stop.
    stopped: bool,
    /// Every input has closed (dora's `AllInputsClosed`).
    ended: bool,
    /// Steps taken by this run.
    pub steps: usize,
    send_error: Option<NodeError>,
}

impl<'a> LiveTrainer<'a> {
    /// Checks the configuration against the wired `inputs` and loads the `DATASET`/`TARGET`
    /// frames seeding the buffers; the run writes where `options` say.
    pub fn new(
        settings: &'a Settings,
        options: &'a RunOptions<'a>,
        inputs: Inputs,
    ) -> Result<Self> {
        let config = &settings.config;
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
            wdp_node::announce("trainer: `target_window` is wired but DOMAIN is not set: target windows are checked, not used");
        }
        if !inputs.window && settings.datasets.is_empty() {
            return Err(eyre!(
                "no labelled frames: wire `window` and labels, or set DATASET"
            ));
        }
        let samples = wdp_train::data::load_datasets(&settings.datasets, &settings.load_options())?;
        let targets = wdp_train::data::load_datasets(&settings.target, &settings.load_options())?;
        let features = if inputs.teacher_features {
            if !samples.is_empty() {
                // A batch mixing shard frames (no teacher features) and live ones would leave
                // the transfer term out of every mixed batch.
                return Err(eyre!(
                    "teacher_features with DATASET: shard frames have no teacher features; train on live frames only"
                ));
            }
            let preset = wdp_models::Preset::load(&config.preset)?;
            Some(FeatureMatch::new(
                preset.encoder.feature_dim as usize,
                settings.max_lag_ns,
            ))
        } else {
            None
        };
        Ok(Self {
            feed: Feed::new(&inputs, settings, samples, targets, features),
            settings,
            options,
            inputs,
            batch: config.batch_size.max(1),
            rng: XorShift::new(config.seed as u64),
            phase: Phase::Waiting(Instant::now()),
            stopped: false,
            ended: false,
            steps: 0,
            send_error: None,
        })
    }

    /// Where the node is.
    #[cfg(test)]
    pub fn phase(&self) -> &Phase<'a> {
        &self.phase
    }

    /// The feed (buffers and pairing counts).
    #[cfg(test)]
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The model, built for the buffers' window shape, and its run started.
    fn start(&mut self, ctx: &Context) -> Result<Phase<'a>> {
        let shape = self
            .feed
            .shape
            .ok_or_else(|| eyre!("no window shape with frames in the buffer"))?;
        let trainer = build_trainer(self.settings, shape)?;
        let from = match (&self.settings.init, self.settings.resume) {
            (_, true) => format!(" (resuming {})", self.settings.out.display()),
            (Some(init), false) => format!(" (weights of {})", init.display()),
            (None, false) => String::new(),
        };
        ctx.announce(&format!(
            "live training on windows {shape:?}, batch {}, from step {}{from} to {}; {}",
            self.batch,
            trainer.step,
            self.settings.config.steps,
            self.feed.status(ctx.counts())
        ));
        let run = Run::start(&trainer, self.options)?;
        Ok(Phase::Training(Box::new(Training { trainer, run })))
    }

    /// One optimiser step on a random minibatch.
    fn step(&mut self, ctx: &mut Context) -> Result<()> {
        let Phase::Training(training) = &mut self.phase else {
            return Err(eyre!("a step before the model was built"));
        };
        let Training { trainer, run } = &mut **training;
        let picked = self.feed.labelled.pick(self.batch, &mut self.rng);
        let target = if self.feed.keeps_target() {
            let windows = self.feed.target.pick(self.batch, &mut self.rng);
            Some(stack_windows(
                windows.iter().map(|w| (w.values.as_slice(), w.shape)),
                trainer.vs.device(),
            )?)
        } else {
            None
        };
        let losses = run.step(trainer, &picked, target.as_ref())?;
        self.steps += 1;
        if let Err(e) = send_loss(&mut ctx.node, &losses) {
            self.send_error.get_or_insert(e);
        }
        if run.steps(trainer).is_multiple_of(STATUS_EVERY) {
            ctx.announce(&format!(
                "step {} loss {:.4} domain {:.4}; {}",
                trainer.step,
                losses.total,
                losses.domain,
                self.feed.status(ctx.counts())
            ));
        }
        Ok(())
    }

    /// Saves the run (when a model was built) and moves to [`Phase::Done`].
    fn save(&mut self, ctx: &Context) -> Result<()> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Training(training) => {
                let Training { trainer, run } = *training;
                let summary = run.finish(&trainer).wrap_err("finishing the run")?;
                ctx.announce(&report(&summary, self.settings));
            }
            _ => ctx.announce("stopped before the first step; nothing saved"),
        }
        Ok(())
    }
}

impl Handler for LiveTrainer<'_> {
    fn accepts(&self, id: &str) -> bool {
        self.inputs.declared.contains(id)
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        self.feed.input(ctx, &input)
    }

    fn on_close(&mut self, ctx: &mut Context, id: &str) -> Result<(), HandlerError> {
        self.feed.closed(ctx, id);
        Ok(())
    }

    fn on_stop(&mut self, ctx: &mut Context, cause: &StopCause) -> Result<(), HandlerError> {
        match cause {
            // Nothing more will come: training goes on from the buffers.
            StopCause::AllInputsClosed => {
                self.feed.end(ctx);
                self.ended = true;
            }
            _ => self.stopped = true,
        }
        Ok(())
    }

    fn on_idle(&mut self, ctx: &mut Context) -> Result<Work> {
        if let Phase::Waiting(since) = self.phase {
            if self.stopped {
                self.save(ctx)?;
            } else if self.feed.ready(self.batch) {
                self.phase = self.start(ctx)?;
            } else if self.ended || ctx.inputs_ended() {
                return Err(eyre!(
                    "the inputs ended before a batch of {} was ready: {}",
                    self.batch,
                    self.feed.status(ctx.counts())
                ));
            } else {
                if since.elapsed() >= WAITING_STATUS {
                    self.phase = Phase::Waiting(Instant::now());
                    ctx.announce(&format!(
                        "waiting for a batch of {}: {}",
                        self.batch,
                        self.feed.status(ctx.counts())
                    ));
                }
                return Ok(Work::Idle);
            }
        }
        if let Phase::Training(training) = &self.phase {
            if self.stopped || training.trainer.step >= self.settings.config.steps {
                self.save(ctx)?;
            } else {
                self.step(ctx)?;
                return Ok(Work::Pending);
            }
        }
        Ok(Work::Done)
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        if let Some(e) = self.send_error.take() {
            tracing::warn!("sending `loss`: {e}");
        }
        ctx.announce(&format!("live inputs: {}", self.feed.status(ctx.counts())));
        Ok(())
    }

    fn max_batch(&self) -> usize {
        MAX_DRAIN
    }

    fn max_drop_reports(&self) -> Option<u64> {
        Some(MAX_REPORTS)
    }
}
