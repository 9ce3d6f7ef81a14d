//! Short-time Fourier transform spectrograms (seed 002) and the breathing-band power feature.
//!
//! Each segment of `segment` samples has its mean removed (the static channel would otherwise
//! fill the DC bin), is multiplied by the window function and transformed; the one-sided power
//! `|X_k|^2 / sum(w^2)` of bins `k = 0..=segment/2` at `k * rate_hz / segment` Hz is kept
//! (`scipy.signal.stft`-like, `detrend="constant"`, `scaling="psd"` without the 1/fs factor).
//! Segments advance by `hop`. FFTs are planned once and reuse their buffers.

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Window functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowFunction {
    /// Periodic Hann (scipy's default for spectrograms).
    #[default]
    Hann,
    /// Periodic Hamming.
    Hamming,
    /// No tapering.
    Rectangular,
}

impl WindowFunction {
    /// The `n` window coefficients (periodic, as `scipy.signal.get_window`).
    pub fn coefficients(self, n: usize) -> Vec<f32> {
        let tau = std::f64::consts::TAU;
        (0..n)
            .map(|i| {
                let x = tau * i as f64 / n as f64;
                (match self {
                    Self::Hann => 0.5 - 0.5 * x.cos(),
                    Self::Hamming => 0.54 - 0.46 * x.cos(),
                    Self::Rectangular => 1.0,
                }) as f32
            })
            .collect()
    }
}

/// Settings of the spectrogram output.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StftConfig {
    /// Samples per segment (seed 002: 600).
    pub segment: usize,
    /// Samples between segment starts (seed 002: 400).
    pub hop: usize,
    /// Window function.
    pub window: WindowFunction,
    /// Segments (time frames) per spectrogram message.
    pub frames: usize,
    /// Breathing band in Hz, `[low, high]`, for the band-power feature.
    pub breathing_band_hz: [f64; 2],
}

impl Default for StftConfig {
    fn default() -> Self {
        Self {
            segment: 600,
            hop: 400,
            window: WindowFunction::Hann,
            frames: 1,
            breathing_band_hz: [0.1, 0.5],
        }
    }
}

/// An STFT of fixed segment length, planned once.
pub struct Stft {
    segment: usize,
    hop: usize,
    window: Vec<f32>,
    window_power: f32,
    fft: Arc<dyn Fft<f32>>,
    buffer: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("segment", &self.segment)
            .field("hop", &self.hop)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// Plans an STFT (segment at least 2, hop at least 1).
    pub fn new(segment: usize, hop: usize, window: WindowFunction) -> Self {
        let segment = segment.max(2);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(segment);
        let window = window.coefficients(segment);
        let window_power = window
            .iter()
            .map(|w| w * w)
            .sum::<f32>()
            .max(f32::MIN_POSITIVE);
        Self {
            scratch: vec![Complex32::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            buffer: vec![Complex32::new(0.0, 0.0); segment],
            segment,
            hop: hop.max(1),
            window,
            window_power,
            fft,
        }
    }

    /// Samples per segment.
    pub fn segment(&self) -> usize {
        self.segment
    }

    /// Bins of the one-sided spectrum.
    pub fn n_freq(&self) -> usize {
        self.segment / 2 + 1
    }

    /// Frequency of bin `k` at sample rate `rate_hz`.
    pub fn bin_hz(&self, k: usize, rate_hz: f64) -> f64 {
        k as f64 * rate_hz / self.segment as f64
    }

    /// Power spectrum of one segment (`segment.len()` must be the segment length) into `out`
    /// (`n_freq` values).
    pub fn power_spectrum(&mut self, segment: &[f32], out: &mut [f32]) {
        let n = self.segment.min(segment.len());
        let mean = segment[..n].iter().sum::<f32>() / n.max(1) as f32;
        for (i, b) in self.buffer.iter_mut().enumerate() {
            let x = segment.get(i).map_or(0.0, |v| v - mean);
            *b = Complex32::new(x * self.window[i], 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let scale = 1.0 / self.window_power;
        let nyquist = self.segment / 2;
        for (k, o) in out.iter_mut().enumerate().take(self.n_freq()) {
            let p = self.buffer[k].norm_sqr() * scale;
            // One-sided: double every bin that has a negative-frequency twin.
            *o = if k == 0 || (self.segment.is_multiple_of(2) && k == nyquist) {
                p
            } else {
                2.0 * p
            };
        }
    }

    /// Spectrogram of a whole signal: `[n_freq][n_frames]` flat, with its frame count.
    pub fn spectrogram(&mut self, signal: &[f32]) -> (Vec<f32>, usize) {
        if signal.len() < self.segment {
            return (Vec::new(), 0);
        }
        let n_frames = (signal.len() - self.segment) / self.hop + 1;
        let n_freq = self.n_freq();
        let mut out = vec![0.0; n_freq * n_frames];
        let mut column = vec![0.0; n_freq];
        for f in 0..n_frames {
            let start = f * self.hop;
            self.power_spectrum(&signal[start..start + self.segment], &mut column);
            for (k, p) in column.iter().enumerate() {
                out[k * n_frames + f] = *p;
            }
        }
        (out, n_frames)
    }
}

/// Sum of a power spectrum over the bins whose frequency lies in `[low_hz, high_hz]`.
pub fn band_power(power: &[f32], segment: usize, rate_hz: f64, low_hz: f64, high_hz: f64) -> f32 {
    power
        .iter()
        .enumerate()
        .filter(|(k, _)| {
            let f = *k as f64 * rate_hz / segment as f64;
            f >= low_hz - 1e-9 && f <= high_hz + 1e-9
        })
        .map(|(_, p)| *p)
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sinusoid(f_hz: f64, rate_hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|t| (3.0 + (std::f64::consts::TAU * f_hz * t as f64 / rate_hz).sin()) as f32)
            .collect()
    }

    #[test]
    fn window_coefficients_match_scipy() {
        // scipy.signal.get_window("hann", 4) = [0, 0.5, 1, 0.5]
        assert_eq!(
            WindowFunction::Hann.coefficients(4),
            vec![0.0, 0.5, 1.0, 0.5]
        );
        let h = WindowFunction::Hamming.coefficients(4);
        assert!((h[0] - 0.08).abs() < 1e-6 && (h[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn parseval_for_rectangular_window() {
        // Sum of one-sided power = sum x^2 (mean removed) for a rectangular window.
        let x = sinusoid(7.0, 100.0, 600);
        let mut s = Stft::new(600, 400, WindowFunction::Rectangular);
        let mut p = vec![0.0; s.n_freq()];
        s.power_spectrum(&x, &mut p);
        let energy: f32 = x.iter().map(|v| (v - 3.0).powi(2)).sum();
        let total: f32 = p.iter().sum::<f32>();
        assert!((total / energy - 1.0).abs() < 1e-3, "{total} vs {energy}");
    }

    #[test]
    fn breathing_band_power_catches_breathing() {
        let rate = 100.0;
        let mut s = Stft::new(600, 400, WindowFunction::Hann);
        let mut p = vec![0.0; s.n_freq()];
        let breathing = sinusoid(0.33, rate, 600);
        s.power_spectrum(&breathing, &mut p);
        let in_band = band_power(&p, 600, rate, 0.1, 0.5);
        let total: f32 = p.iter().sum();
        assert!(in_band / total > 0.9, "{in_band} of {total}");
        let walking = sinusoid(2.0, rate, 600);
        s.power_spectrum(&walking, &mut p);
        assert!(band_power(&p, 600, rate, 0.1, 0.5) / p.iter().sum::<f32>() < 0.01);
    }

    proptest! {
        #[test]
        fn sinusoid_peaks_at_its_frequency(bin in 2usize..290, segment_half in 32usize..300, window in 0usize..3) {
            let segment = 2 * segment_half;
            let bin = bin.min(segment_half - 1);
            let rate = 100.0;
            let f = bin as f64 * rate / segment as f64;
            let w = [WindowFunction::Hann, WindowFunction::Hamming, WindowFunction::Rectangular][window];
            let mut s = Stft::new(segment, segment * 2 / 3, w);
            let x = sinusoid(f, rate, segment * 3);
            let (spec, frames) = s.spectrogram(&x);
            prop_assert_eq!(frames, (3 * segment - segment) / (segment * 2 / 3) + 1);
            for fr in 0..frames {
                let peak = (0..s.n_freq()).max_by(|&a, &b| spec[a * frames + fr].total_cmp(&spec[b * frames + fr])).unwrap();
                prop_assert_eq!(peak, bin);
                prop_assert!((s.bin_hz(peak, rate) - f).abs() < 1e-9);
            }
        }
    }
}
