//! Causal temporal filters over many parallel streams: moving average and Butterworth low-pass.
//!
//! The Butterworth filter is designed like `scipy.signal.butter(order, cutoff_hz, fs=rate_hz,
//! output="sos")`: analog prototype poles on the left half circle, cutoff prewarped
//! (`Ω = 2 fs tan(π fc / fs)`) so that the bilinear transform puts the -3 dB point exactly at the
//! cutoff, conjugate pole pairs as second-order sections (zeros at z = -1), unity gain at DC.
//! Sections run as transposed direct form II in f64, started in the steady state of the first
//! sample (as `sosfilt` with `sosfilt_zi(sos) * x[0]`), so a stream does not start with a step.

use super::Channels;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Settings of the moving-average step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovingAverageConfig {
    /// Samples averaged (the newest included).
    pub window: usize,
    /// Channels filtered (in polar form).
    pub channels: Channels,
}

impl Default for MovingAverageConfig {
    fn default() -> Self {
        Self {
            window: 5,
            channels: Channels::Both,
        }
    }
}

/// Causal moving average over `n_streams` streams: the mean of the last `window` samples (of
/// fewer at the start).
#[derive(Debug, Clone)]
pub struct MovingAverage {
    window: usize,
    n_streams: usize,
    history: Vec<f32>,
    sums: Vec<f64>,
    pos: usize,
    filled: usize,
}

impl MovingAverage {
    /// A moving average of `window` samples (at least 1).
    pub fn new(n_streams: usize, window: usize) -> Self {
        let window = window.max(1);
        Self {
            window,
            n_streams,
            history: vec![0.0; n_streams * window],
            sums: vec![0.0; n_streams],
            pos: 0,
            filled: 0,
        }
    }

    /// Forgets the history.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.filled = 0;
        self.sums.fill(0.0);
        self.history.fill(0.0);
    }

    /// Filters one sample of every stream in place.
    pub fn process(&mut self, x: &mut [f32]) {
        let w = self.window;
        let full = self.filled == w;
        for (i, v) in x.iter_mut().take(self.n_streams).enumerate() {
            let slot = &mut self.history[i * w + self.pos];
            if full {
                self.sums[i] -= f64::from(*slot);
            }
            *slot = *v;
            self.sums[i] += f64::from(*v);
        }
        self.pos = (self.pos + 1) % w;
        self.filled = (self.filled + 1).min(w);
        let n = self.filled as f64;
        for (v, s) in x.iter_mut().zip(&self.sums) {
            *v = (s / n) as f32;
        }
    }
}

/// Settings of the Butterworth low-pass step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LowpassConfig {
    /// -3 dB frequency in Hz.
    pub cutoff_hz: f64,
    /// Filter order (poles).
    pub order: usize,
    /// Channels filtered (in polar form).
    pub channels: Channels,
}

impl Default for LowpassConfig {
    fn default() -> Self {
        Self {
            cutoff_hz: 20.0,
            order: 4,
            channels: Channels::Both,
        }
    }
}

/// One second-order section `b0 + b1 z^-1 + b2 z^-2 / 1 + a1 z^-1 + a2 z^-2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sos {
    /// Numerator `[b0, b1, b2]`.
    pub b: [f64; 3],
    /// Denominator `[1, a1, a2]`.
    pub a: [f64; 3],
}

impl Sos {
    /// Complex response at `z`.
    fn response(&self, z: Complex64) -> Complex64 {
        let zi = z.inv();
        let num = self.b[0] + zi * (self.b[1] + zi * self.b[2]);
        let den = self.a[0] + zi * (self.a[1] + zi * self.a[2]);
        num / den
    }
}

/// Why a filter cannot be designed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// The order is 0.
    #[error("filter order must be at least 1")]
    ZeroOrder,
    /// The cutoff is not strictly between 0 and the Nyquist frequency.
    #[error("cutoff {cutoff_hz} Hz must be between 0 and half the sample rate {rate_hz} Hz")]
    BadCutoff {
        /// Requested cutoff.
        cutoff_hz: f64,
        /// Sample rate.
        rate_hz: f64,
    },
}

/// Designs a digital Butterworth low-pass as second-order sections.
pub fn butterworth_lowpass(
    order: usize,
    cutoff_hz: f64,
    rate_hz: f64,
) -> Result<Vec<Sos>, DesignError> {
    if order == 0 {
        return Err(DesignError::ZeroOrder);
    }
    if !(cutoff_hz > 0.0 && rate_hz > 0.0 && cutoff_hz < rate_hz / 2.0) {
        return Err(DesignError::BadCutoff { cutoff_hz, rate_hz });
    }
    let fs2 = 2.0 * rate_hz;
    // Prewarped analog cutoff in rad/s.
    let omega_c = fs2 * (PI * cutoff_hz / rate_hz).tan();
    let bilinear = |s: Complex64| (fs2 + s) / (fs2 - s);
    let mut sections = Vec::with_capacity(order.div_ceil(2));
    for k in 0..order / 2 {
        // Upper-half-plane pole of the k-th conjugate pair.
        let theta = PI * (2 * k + order + 1) as f64 / (2 * order) as f64;
        let p = bilinear(Complex64::from_polar(omega_c, theta));
        let a1 = -2.0 * p.re;
        let a2 = p.norm_sqr();
        // Unity DC gain: H(1) = g * 4 / (1 + a1 + a2).
        let g = (1.0 + a1 + a2) / 4.0;
        sections.push(Sos {
            b: [g, 2.0 * g, g],
            a: [1.0, a1, a2],
        });
    }
    if order % 2 == 1 {
        let p = bilinear(Complex64::new(-omega_c, 0.0)).re;
        let g = (1.0 - p) / 2.0;
        sections.push(Sos {
            b: [g, g, 0.0],
            a: [1.0, -p, 0.0],
        });
    }
    Ok(sections)
}

/// Magnitude of the digital filter's response at `f_hz`.
pub fn sos_gain(sections: &[Sos], f_hz: f64, rate_hz: f64) -> f64 {
    let z = Complex64::from_polar(1.0, 2.0 * PI * f_hz / rate_hz);
    sections
        .iter()
        .fold(Complex64::new(1.0, 0.0), |h, s| h * s.response(z))
        .norm()
}

/// Magnitude of the analog Butterworth prototype at the analog frequency that the bilinear
/// transform maps to `f_hz`: what the digital filter must match exactly.
pub fn analog_prototype_gain(order: usize, cutoff_hz: f64, f_hz: f64, rate_hz: f64) -> f64 {
    let warp = |f: f64| (PI * f / rate_hz).tan();
    let ratio = warp(f_hz) / warp(cutoff_hz);
    1.0 / (1.0 + ratio.powi(2 * order as i32)).sqrt()
}

/// A bank of identical SOS filters over `n_streams` streams, streaming.
#[derive(Debug, Clone)]
pub struct SosFilter {
    sections: Vec<Sos>,
    n_streams: usize,
    /// `[stream][section][2]`.
    state: Vec<[f64; 2]>,
    primed: bool,
}

impl SosFilter {
    /// A filter bank over `n_streams` streams.
    pub fn new(sections: Vec<Sos>, n_streams: usize) -> Self {
        Self {
            state: vec![[0.0; 2]; sections.len() * n_streams],
            sections,
            n_streams,
            primed: false,
        }
    }

    /// The sections.
    pub fn sections(&self) -> &[Sos] {
        &self.sections
    }

    /// Forgets the state: the next sample primes it again.
    pub fn reset(&mut self) {
        self.primed = false;
    }

    /// Filters one sample of every stream in place.
    pub fn process(&mut self, x: &mut [f32]) {
        let n_sec = self.sections.len();
        if !self.primed {
            for (i, v) in x.iter().take(self.n_streams).enumerate() {
                let mut u = f64::from(*v);
                for (j, s) in self.sections.iter().enumerate() {
                    // Steady state for a constant input u: output y = dc * u.
                    let dc = (s.b[0] + s.b[1] + s.b[2]) / (s.a[0] + s.a[1] + s.a[2]);
                    let y = dc * u;
                    let z2 = s.b[2] * u - s.a[2] * y;
                    let z1 = s.b[1] * u - s.a[1] * y + z2;
                    self.state[i * n_sec + j] = [z1, z2];
                    u = y;
                }
            }
            self.primed = true;
        }
        for (i, v) in x.iter_mut().take(self.n_streams).enumerate() {
            let mut u = f64::from(*v);
            let states = &mut self.state[i * n_sec..(i + 1) * n_sec];
            for (s, z) in self.sections.iter().zip(states.iter_mut()) {
                let y = s.b[0] * u + z[0];
                z[0] = s.b[1] * u - s.a[1] * y + z[1];
                z[1] = s.b[2] * u - s.a[2] * y;
                u = y;
            }
            *v = u as f32;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn second_order_matches_scipy() {
        // scipy.signal.butter(2, 20, fs=100, output="sos"):
        // [[0.20657208, 0.41314417, 0.20657208, 1., -0.36952738, 0.19581571]]
        let s = butterworth_lowpass(2, 20.0, 100.0).unwrap();
        let want = [
            0.206_572_08,
            0.413_144_17,
            0.206_572_08,
            -0.369_527_38,
            0.195_815_71,
        ];
        let got = [s[0].b[0], s[0].b[1], s[0].b[2], s[0].a[1], s[0].a[2]];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{got:?}");
        }
    }

    #[test]
    fn minus_3_db_at_cutoff_and_matches_analog_prototype() {
        for order in 1..=8 {
            for &(fc, fs) in &[(20.0, 100.0), (0.5, 100.0), (5.0, 30.0), (100.0, 1000.0)] {
                let s = butterworth_lowpass(order, fc, fs).unwrap();
                let at_cut = 20.0 * sos_gain(&s, fc, fs).log10();
                assert!((at_cut + 3.0103).abs() < 1e-3, "order {order}: {at_cut} dB");
                assert!((sos_gain(&s, 0.0, fs) - 1.0).abs() < 1e-9);
                for frac in [0.01, 0.1, 0.3, 0.45, 0.6, 0.8, 0.95, 0.99] {
                    let f = frac * fs / 2.0;
                    let d = sos_gain(&s, f, fs);
                    let a = analog_prototype_gain(order, fc, f, fs);
                    assert!((d - a).abs() < 1e-6, "order {order} f {f}: {d} vs {a}");
                }
            }
        }
    }

    /// Measures the gain of the running filter on a sinusoid: amplitude of the output's
    /// component at `f` (correlation with sin and cos) over the second half, after the transient.
    fn measured_gain(order: usize, fc: f64, fs: f64, f: f64) -> f64 {
        let mut filt = SosFilter::new(butterworth_lowpass(order, fc, fs).unwrap(), 1);
        let n = 20_000;
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for t in 0..n {
            let w = 2.0 * PI * f * t as f64 / fs;
            let mut x = [w.sin() as f32];
            filt.process(&mut x);
            if t >= n / 2 {
                s += f64::from(x[0]) * w.sin();
                c += f64::from(x[0]) * w.cos();
            }
        }
        2.0 * s.hypot(c) / (n / 2) as f64
    }

    #[test]
    fn running_filter_has_the_designed_gain() {
        let (fc, fs) = (20.0, 100.0);
        for order in [2, 3, 4, 6] {
            let s = butterworth_lowpass(order, fc, fs).unwrap();
            for f in [2.0, 10.0, 20.0, 30.0, 40.0] {
                let want = sos_gain(&s, f, fs);
                let got = measured_gain(order, fc, fs, f);
                assert!(
                    (got - want).abs() < 0.02,
                    "order {order} f {f}: {got} vs {want}"
                );
            }
        }
        // -3 dB at the cutoff, measured.
        let g = measured_gain(4, fc, fs, fc);
        assert!((20.0 * g.log10() + 3.0).abs() < 0.1, "{g}");
    }

    #[test]
    fn steady_state_start_has_no_transient() {
        let mut f = SosFilter::new(butterworth_lowpass(4, 5.0, 100.0).unwrap(), 2);
        for _ in 0..50 {
            let mut x = [7.0f32, -3.0];
            f.process(&mut x);
            assert!(
                (x[0] - 7.0).abs() < 1e-4 && (x[1] + 3.0).abs() < 1e-4,
                "{x:?}"
            );
        }
    }

    #[test]
    fn bad_designs_are_refused() {
        assert!(butterworth_lowpass(0, 10.0, 100.0).is_err());
        assert!(butterworth_lowpass(4, 50.0, 100.0).is_err());
        assert!(butterworth_lowpass(4, 0.0, 100.0).is_err());
    }

    #[test]
    fn moving_average_is_causal_mean() {
        let mut m = MovingAverage::new(1, 3);
        let out: Vec<f32> = [3.0f32, 6.0, 9.0, 12.0, 0.0]
            .iter()
            .map(|&v| {
                let mut x = [v];
                m.process(&mut x);
                x[0]
            })
            .collect();
        assert_eq!(out, [3.0, 4.5, 6.0, 9.0, 7.0]);
    }

    proptest! {
        #[test]
        fn gain_never_exceeds_one_and_falls_monotonically(order in 1usize..9, fc_frac in 0.01f64..0.45) {
            let fs = 100.0;
            let s = butterworth_lowpass(order, fc_frac * fs, fs).unwrap();
            let mut prev = 1.0 + 1e-9;
            for i in 0..100 {
                let g = sos_gain(&s, i as f64 * 0.499 * fs / 100.0, fs);
                prop_assert!(g <= prev + 1e-9);
                prev = g;
            }
        }
    }
}
