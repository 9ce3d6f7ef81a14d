//! Spectrograms of the amplitude plane: STFT frames of each stream, kept in a ring until a
//! spectrogram of `frames` frames is due.

use super::Spectrogram;
use crate::dsp::stft::{band_power, Stft, StftConfig};
use crate::dsp::window::{WindowConfig, Windower};
use crate::dsp::Shape;
use ndarray::{Array2, Array4};

pub(super) struct Spectrograms {
    stft: Stft,
    ring: Windower,
    segment_buf: Vec<f32>,
    column: Vec<f32>,
    /// `[frames][stream][freq]`, circular over frames.
    frames: Vec<f32>,
    breathing: Vec<f32>,
    frame_pos: usize,
    frames_filled: usize,
    /// Frames per spectrogram (at least 1).
    n_frames: usize,
    breathing_band_hz: [f64; 2],
}

impl Spectrograms {
    /// For `n` streams.
    pub fn new(n: usize, c: &StftConfig) -> Self {
        let stft = Stft::new(c.segment, c.hop, c.window);
        let n_freq = stft.n_freq();
        let n_frames = c.frames.max(1);
        Self {
            ring: Windower::new(
                n,
                &WindowConfig {
                    length: stft.segment(),
                    hop: c.hop,
                },
            ),
            segment_buf: vec![0.0; n * stft.segment()],
            column: vec![0.0; n_freq],
            frames: vec![0.0; n_frames * n * n_freq],
            breathing: vec![0.0; n],
            frame_pos: 0,
            frames_filled: 0,
            n_frames,
            breathing_band_hz: c.breathing_band_hz,
            stft,
        }
    }

    /// Takes one sample's amplitude plane; returns the spectrogram it completes, if any.
    pub fn push(
        &mut self,
        amplitude: &[f32],
        shape: &Shape,
        rate_hz: Option<f64>,
        t_ns: i64,
        seq: u64,
    ) -> Option<Spectrogram> {
        let n = amplitude.len();
        if !self.ring.push(amplitude) {
            return None;
        }
        let seg = self.stft.segment();
        let n_freq = self.stft.n_freq();
        let frames = self.n_frames;
        self.ring.write_window(&mut self.segment_buf);
        let [lo_hz, hi_hz] = self.breathing_band_hz;
        let base = self.frame_pos * n * n_freq;
        for v in 0..n {
            self.stft
                .power_spectrum(&self.segment_buf[v * seg..(v + 1) * seg], &mut self.column);
            self.frames[base + v * n_freq..base + (v + 1) * n_freq].copy_from_slice(&self.column);
            self.breathing[v] =
                rate_hz.map_or(0.0, |r| band_power(&self.column, seg, r, lo_hz, hi_hz));
        }
        self.frame_pos = (self.frame_pos + 1) % frames;
        self.frames_filled = (self.frames_filled + 1).min(frames);
        if self.frames_filled < frames {
            return None;
        }
        // [stream][freq][frame], frames oldest first (the oldest is at frame_pos).
        let mut power = vec![0.0f32; n * n_freq * frames];
        for f in 0..frames {
            let src = ((self.frame_pos + f) % frames) * n * n_freq;
            for v in 0..n {
                for k in 0..n_freq {
                    power[(v * n_freq + k) * frames + f] = self.frames[src + v * n_freq + k];
                }
            }
        }
        let (l, s) = (shape.n_links(), shape.n_subcarriers());
        let (Ok(power), Ok(breathing_power)) = (
            Array4::from_shape_vec((l, s, n_freq, frames), power),
            Array2::from_shape_vec((l, s), self.breathing.clone()),
        ) else {
            return None;
        };
        Some(Spectrogram {
            power,
            breathing_power,
            bin_hz: rate_hz.map_or(0.0, |r| r / seg as f64),
            t_ns,
            seq,
        })
    }
}
