//! A whole training run: shuffled batches, periodic metrics and atomic checkpoints. Shared by
//! the `wdp-train` tool and the trainer node; [`Run`] is one step's bookkeeping, used by
//! [`train`] over loaded datasets and by the trainer node's live loop over its replay buffer.

use crate::data::Sample;
use crate::sequence::{make_sequence_batch, sequence_starts};
pub use crate::targets::stack_windows;
use crate::targets::{make_batch, sample_windows};
use crate::trainer::{StepLosses, Trainer};
use eyre::{eyre, Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tch::Tensor;

/// Where a run writes and how often.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    /// Checkpoint path (`.safetensors`).
    pub checkpoint: &'a Path,
    /// Metrics as JSON lines (one per logged step), appended.
    pub metrics: Option<&'a Path>,
    /// Log and write metrics every this many steps.
    pub log_every: usize,
    /// Save a checkpoint every this many steps (and at the end).
    pub save_every: usize,
}

/// Summary of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// Steps taken in this run.
    pub steps: usize,
    /// Mean total loss over the first logged window of steps.
    pub first_loss: f64,
    /// Mean total loss over the last logged window of steps.
    pub last_loss: f64,
    /// Training throughput.
    pub samples_per_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// xorshift64: deterministic shuffles and minibatch picks, so runs repeat from the config's seed.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `0..n` shuffled (Fisher-Yates).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = XorShift::new(seed);
    for i in (1..n).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    idx
}

/// One run's bookkeeping around [`Trainer::step`]: batches, the metrics line every
/// `log_every` steps, the checkpoint every `save_every` steps and at `config.steps`, and what a
/// run cut short still owes ([`Run::finish`]).
pub struct Run<'a> {
    options: &'a RunOptions<'a>,
    started: Instant,
    start_step: usize,
    window_losses: Vec<f64>,
    first_loss: f64,
    last_loss: f64,
    metrics: Option<std::fs::File>,
    last: Option<StepLosses>,
    saved_at: Option<usize>,
    frames: usize,
}

impl<'a> Run<'a> {
    /// Starts a run of `trainer` from its current step, opening the metrics file (appended).
    pub fn start(trainer: &Trainer, options: &'a RunOptions<'a>) -> Result<Self> {
        let metrics = match options.metrics {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .wrap_err_with(|| format!("creating {}", dir.display()))?;
                }
                Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .wrap_err_with(|| format!("opening {}", p.display()))?,
                )
            }
            None => None,
        };
        Ok(Self {
            options,
            started: Instant::now(),
            start_step: trainer.step,
            window_losses: Vec::new(),
            first_loss: f64::NAN,
            last_loss: f64::NAN,
            metrics,
            last: None,
            saved_at: None,
            frames: 0,
        })
    }

    /// Steps taken in this run so far.
    pub fn steps(&self, trainer: &Trainer) -> usize {
        trainer.step - self.start_step
    }

    /// One optimiser step on the labelled frames `picked`, with `target_window` (a
    /// `[B, 2, A, S, T]` batch of unlabelled target-room windows) when domain alignment is on;
    /// then the metrics line and the checkpoint when they are due.
    pub fn step(
        &mut self,
        trainer: &mut Trainer,
        picked: &[&Sample],
        target_window: Option<&Tensor>,
    ) -> Result<StepLosses> {
        let batch = make_batch(picked, &trainer.geometry, trainer.vs.device())?;
        let losses = trainer.step(&batch, target_window)?;
        self.record(trainer, losses, picked.len())
    }

    /// [`Run::step`] on the sequences of `config.sequence` frames of `samples` starting at
    /// `starts` (see [`crate::sequence`]): trains the temporal module too.
    pub fn step_sequences(
        &mut self,
        trainer: &mut Trainer,
        samples: &[Sample],
        starts: &[usize],
        target_window: Option<&Tensor>,
    ) -> Result<StepLosses> {
        let batch = make_sequence_batch(
            samples,
            starts,
            trainer.config.sequence,
            &trainer.geometry,
            trainer.vs.device(),
        )?;
        let losses = trainer.step_sequence(&batch, target_window)?;
        self.record(trainer, losses, starts.len())
    }

    /// Bookkeeping of a step on `frames` supervised frames.
    fn record(
        &mut self,
        trainer: &Trainer,
        losses: StepLosses,
        frames: usize,
    ) -> Result<StepLosses> {
        self.frames += frames;
        self.window_losses.push(losses.total);
        self.last = Some(losses.clone());
        let steps = trainer.config.steps;
        let done = self.steps(trainer);
        if done.is_multiple_of(self.options.log_every.max(1)) || trainer.step == steps {
            self.log(trainer.step)?;
        }
        if trainer.step.is_multiple_of(self.options.save_every.max(1)) || trainer.step == steps {
            self.save(trainer)?;
        }
        Ok(losses)
    }

    /// Ends the run: a run cut short (stopped before `config.steps`) writes the metrics line of
    /// its last steps and saves the checkpoint it has; then the summary.
    pub fn finish(mut self, trainer: &Trainer) -> Result<RunSummary> {
        if !self.window_losses.is_empty() {
            self.log(trainer.step)?;
        }
        if self.steps(trainer) > 0 && self.saved_at != Some(trainer.step) {
            self.save(trainer)?;
        }
        let wall_s = self.started.elapsed().as_secs_f64();
        Ok(RunSummary {
            steps: self.steps(trainer),
            first_loss: self.first_loss,
            last_loss: self.last_loss,
            samples_per_s: self.frames as f64 / wall_s.max(1e-9),
            wall_s,
        })
    }

    fn save(&mut self, trainer: &Trainer) -> Result<()> {
        trainer
            .save(self.options.checkpoint)
            .wrap_err_with(|| format!("saving {}", self.options.checkpoint.display()))?;
        self.saved_at = Some(trainer.step);
        Ok(())
    }

    /// The log line and metrics line of the steps since the last one.
    fn log(&mut self, step: usize) -> Result<()> {
        let Some(losses) = &self.last else {
            return Ok(());
        };
        let mean = self.window_losses.iter().sum::<f64>() / self.window_losses.len() as f64;
        if self.first_loss.is_nan() {
            self.first_loss = mean;
        }
        self.last_loss = mean;
        self.window_losses.clear();
        let rate = self.frames as f64 / self.started.elapsed().as_secs_f64();
        tracing::info!(
            "step {step} loss {mean:.4} (translation {:.4} mask {:.3} uv {:.3} kp {:.5} centre {:.3} locator {:.3} count {:.3} floor {:.3} reg {:.3} distill {:.3} domain {:.3} temporal {:.4}) lr {:.2e} |g| {:.2} {rate:.1} samples/s",
            losses.translation,
            losses.mask,
            losses.uv,
            losses.keypoint,
            losses.center,
            losses.locator,
            losses.count,
            losses.floor,
            losses.center_regression,
            losses.distill,
            losses.domain,
            losses.temporal,
            losses.lr,
            losses.grad_norm
        );
        if let Some(f) = self.metrics.as_mut() {
            let mut line = serde_json::to_value(losses)?;
            line["mean_total"] = mean.into();
            line["samples_per_s"] = rate.into();
            line["wall_s"] = self.started.elapsed().as_secs_f64().into();
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Trains until `trainer.config.steps`, on `samples` (and, with domain alignment, unlabelled
/// `target` frames); on sequences of consecutive samples when `config.sequence` > 0. `on_step`
/// sees every step's losses (a node publishes them).
pub fn train(
    trainer: &mut Trainer,
    samples: &[Sample],
    target: &[Sample],
    options: &RunOptions<'_>,
    mut on_step: impl FnMut(&StepLosses),
) -> Result<RunSummary> {
    let device = trainer.vs.device();
    let bs = trainer.config.batch_size.max(1);
    let mut run = Run::start(trainer, options)?;
    let sequence = trainer.config.sequence;
    // What a batch draws from: frames, or the first frames of whole sequences.
    let pool: Vec<usize> = if sequence > 0 {
        let starts = sequence_starts(samples, sequence);
        if starts.is_empty() {
            return Err(eyre!(
                "no run of {sequence} consecutive frames in the datasets for sequence training"
            ));
        }
        starts
    } else {
        (0..samples.len()).collect()
    };
    let mut order = Vec::new();
    let mut epoch = 0u64;
    let mut cursor = 0usize;
    let mut target_cursor = 0usize;
    while trainer.step < trainer.config.steps {
        if cursor + bs > order.len() {
            order = shuffled(pool.len(), trainer.config.seed as u64 + epoch);
            epoch += 1;
            cursor = 0;
        }
        let picked: Vec<usize> = order[cursor..(cursor + bs).min(order.len())]
            .iter()
            .map(|&i| pool[i])
            .collect();
        cursor += bs;
        let target_window = if target.is_empty() {
            None
        } else {
            let first = target_cursor;
            target_cursor += 1;
            let picked: Vec<&Sample> = (0..bs)
                .map(|k| &target[(first + k * 7919) % target.len()])
                .collect();
            Some(sample_windows(&picked, device)?)
        };
        let losses = if sequence > 0 {
            run.step_sequences(trainer, samples, &picked, target_window.as_ref())?
        } else {
            let frames: Vec<&Sample> = picked.iter().map(|&i| &samples[i]).collect();
            run.step(trainer, &frames, target_window.as_ref())?
        };
        on_step(&losses);
    }
    run.finish(trainer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn shuffles_are_permutations_and_repeat_from_the_seed() {
        let a = shuffled(50, 3);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, shuffled(50, 3));
        assert_ne!(a, shuffled(50, 4));
    }

    #[test]
    fn windows_stack_into_a_batch_and_mixed_shapes_are_refused() {
        let (a, b) = (vec![1f32; 2 * 3 * 4 * 5], vec![2f32; 2 * 3 * 4 * 5]);
        let t = stack_windows(
            [(&a[..], [2, 3, 4, 5]), (&b[..], [2, 3, 4, 5])],
            Device::Cpu,
        )
        .expect("stacks");
        assert_eq!(t.size(), [2, 2, 3, 4, 5]);
        assert_eq!(t.double_value(&[1, 1, 2, 3, 4]), 2.0);
        let c = vec![0f32; 2 * 3 * 4 * 6];
        let err = stack_windows(
            [(&a[..], [2, 3, 4, 5]), (&c[..], [2, 3, 4, 6])],
            Device::Cpu,
        )
        .expect_err("two shapes");
        assert!(err.to_string().contains("[2, 3, 4, 6]"), "{err}");
        assert!(stack_windows([], Device::Cpu).is_err());
    }
}
