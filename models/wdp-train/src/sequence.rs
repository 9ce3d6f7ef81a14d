//! Sequences of consecutive frames for training the temporal module: which frames may start a
//! sequence, and the batch of windows plus the newest frame's targets.

use crate::data::Sample;
use crate::targets::{make_batch, sample_windows, Batch, TargetGeometry};
use eyre::{eyre, Result};
use tch::{Device, Tensor};

/// Longest gap between two frames of one sequence; a longer one is a break in the recording.
pub const MAX_GAP_NS: i64 = 1_000_000_000;

/// `B` sequences of `length` consecutive frames.
#[derive(Debug)]
pub struct SequenceBatch {
    /// Frames per sequence `T`.
    pub length: i64,
    /// `[B * T, 2, A, S, W]`, sequence-major (the frames of sequence 0, then 1, ...).
    pub windows: Tensor,
    /// The newest frame of each sequence with its targets (what the model is supervised on).
    pub last: Batch,
}

/// Indices `i` such that `samples[i..i + length]` are consecutive frames of one recording (same
/// room, increasing time, no gap over [`MAX_GAP_NS`]). Samples are in recording order as
/// [`crate::data::load_datasets`] returns them.
pub fn sequence_starts(samples: &[Sample], length: usize) -> Vec<usize> {
    if length == 0 || samples.len() < length {
        return Vec::new();
    }
    // run[i]: how many frames from i on continue one recording.
    let mut run = vec![1usize; samples.len()];
    for i in (0..samples.len() - 1).rev() {
        if same_recording(&samples[i], &samples[i + 1]) {
            run[i] = run[i + 1] + 1;
        }
    }
    (0..samples.len()).filter(|&i| run[i] >= length).collect()
}

/// Whether `b` is the frame after `a` in one recording (same room, later, no break).
pub fn same_recording(a: &Sample, b: &Sample) -> bool {
    a.room == b.room && b.t_ns > a.t_ns && b.t_ns - a.t_ns <= MAX_GAP_NS
}

/// The batch of the sequences starting at `starts`.
pub fn make_sequence_batch(
    samples: &[Sample],
    starts: &[usize],
    length: usize,
    geo: &TargetGeometry,
    device: Device,
) -> Result<SequenceBatch> {
    if length == 0 {
        return Err(eyre!("sequence length 0"));
    }
    let mut frames = Vec::with_capacity(starts.len() * length);
    let mut newest = Vec::with_capacity(starts.len());
    for &s in starts {
        let seq = samples
            .get(s..s + length)
            .ok_or_else(|| eyre!("sequence at {s} runs past {} frames", samples.len()))?;
        frames.extend(seq.iter());
        newest.push(&seq[length - 1]);
    }
    Ok(SequenceBatch {
        length: length as i64,
        windows: sample_windows(&frames, device)?,
        last: make_batch(&newest, geo, device)?,
    })
}
