//! Breathing rate of a still person from the CSI's breathing band, without a model.
//!
//! A breathing chest moves by a few millimetres at 0.1-0.5 Hz (6-30 breaths per minute). The
//! paths it reflects change length by twice that, a sizeable fraction of a wavelength at 2.4
//! and 5 GHz, so the subcarriers whose channel the chest's path shapes carry a slow periodic
//! modulation. This module finds it:
//!
//! 1. **Series**: per packet and link, every subcarrier's amplitude divided by the link's mean
//!    amplitude (the receiver's gain cancels, as in the motion feature) and, where the
//!    receiver has two or more antennas, every subcarrier's **relative phase** between each
//!    receive antenna and the first (the carrier and timing offsets, common to the antennas of
//!    one receiver, cancel). A single-antenna ESP32 has the amplitude series only.
//! 2. **Resampling** onto a regular grid of [`BreathingConfig::sample_hz`] (the mean of each
//!    bin's packets; packets come with jitter and loss), over the last
//!    [`BreathingConfig::window_s`] of capture time.
//! 3. Per series: remove the mean and linear trend, Hann window, scale to unit variance, and
//!    measure the **share of its power in the breathing band** ([`BreathingConfig::band_hz`]).
//!    The [`BreathingConfig::series`] series with the largest share are the ones the chest
//!    modulates; their power spectra are summed (incoherently: each subcarrier sees the chest
//!    at its own phase).
//! 4. The **spectral peak** of that sum inside the band, refined on a zero-padded grid and by a
//!    parabola through its neighbours, is the rate. It is reported only when **clear**: at
//!    least [`BreathingConfig::min_peak_share`] of the band's power lies within the main lobe
//!    of the window around it.
//!
//! Whether the scene is still is decided by the caller ([`crate::Sensor`] asks for an estimate
//! only after a whole window without motion): under motion the band fills with the movement
//! and no rate is meaningful.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::f64::consts::{PI, TAU};
use wdp_csi::CsiFrame;

/// Configuration of the breathing estimator. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreathingConfig {
    /// Estimate breathing at all. Default true: the cost is a few spectra per second, only
    /// while the room is still.
    pub enabled: bool,
    /// Seconds of capture time one estimate looks at, and the stillness it needs. Default 30 s:
    /// 3 to 15 breaths at 6-30 per minute, a spectral resolution of 1/30 Hz (2 bpm) that the
    /// peak interpolation refines well below 1 bpm, and what clinical counts use (30-60 s).
    pub window_s: f64,
    /// Rate of the regular grid the packets are resampled onto, Hz. Default 10 Hz: 20 times
    /// the fastest breathing of the band, and ten packets or more per bin at the 100+ packets
    /// per second of CSI captures, so each bin averages out noise.
    pub sample_hz: f64,
    /// The breathing band, Hz. Default 0.1-0.5 Hz (6-30 breaths per minute): adults at rest
    /// breathe 12-20 times a minute, sleeping or calm people down to 6-8, and above 30 is no
    /// longer rest.
    pub band_hz: [f64; 2],
    /// Number of series (subcarrier amplitudes, relative phases) whose spectra are combined:
    /// those with the largest share of their power in the band. Default 8: the chest's path
    /// shapes a handful of subcarriers of a link strongly (those near a fade of the static
    /// channel), most others barely; combining a few of the best averages their noise without
    /// drowning them in the rest.
    pub series: usize,
    /// A rate is reported when at least this share of the combined power in the band (widened
    /// by the lobe) lies within the window's main lobe (±2 / `window_s` Hz) of the peak.
    /// Default 0.6: white noise puts about a quarter of the band there (the lobe's width over
    /// the band's), but the series picked for their band power are the noise that happened to
    /// fall in the band, and on the tests' synthetic empty rooms their share reached 0.5; a
    /// single breathing rate puts nearly all of it there (0.95 or more in the same tests), so
    /// 0.6 leaves room for the harmonics and rate wander of real breathing.
    pub min_peak_share: f64,
    /// A rate is reported only once this many consecutive seconds' estimates were all clear
    /// and agree within `stable_bpm`; the reported rate is their median. Default 5: a
    /// person's breathing rate holds for tens of seconds, while a peak that noise makes wanders
    /// by about half a breath per minute each second as the window slides (the tests' empty
    /// rooms and a simulated ESP32 link too weak for the chest); 5 s delays the first answer
    /// by only 4 s after the 30 s window.
    pub stable_s: u32,
    /// How far those estimates may spread (max - min), breaths per minute. Default 1, the
    /// accuracy asked of the rate.
    pub stable_bpm: f64,
    /// Fewest share of the window's grid bins that hold at least one packet. Default 0.8: with
    /// more gaps the interpolated series invents the signal.
    pub min_coverage: f64,
}

impl Default for BreathingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_s: 30.0,
            sample_hz: 10.0,
            band_hz: [0.1, 0.5],
            series: 8,
            min_peak_share: 0.6,
            min_coverage: 0.8,
            stable_s: 5,
            stable_bpm: 1.0,
        }
    }
}

impl BreathingConfig {
    /// Checks every field's range; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.window_s) || !positive(self.sample_hz) {
            return Err("breathing.window_s and breathing.sample_hz must be > 0".into());
        }
        let [lo, hi] = self.band_hz;
        if !(positive(lo) && hi > lo && hi < self.sample_hz / 2.0) {
            return Err("breathing.band_hz must be 0 < low < high < sample_hz / 2".into());
        }
        if self.window_s * lo < 2.0 {
            return Err("breathing.window_s must hold at least two periods of band_hz[0]".into());
        }
        if self.stable_s == 0 || !(self.stable_bpm.is_finite() && self.stable_bpm >= 0.0) {
            return Err("breathing.stable_s must be >= 1 and breathing.stable_bpm >= 0".into());
        }
        if self.series == 0 {
            return Err("breathing.series must be >= 1".into());
        }
        if !(0.0..=1.0).contains(&self.min_peak_share) || !(0.0..=1.0).contains(&self.min_coverage)
        {
            return Err(
                "breathing.min_peak_share and breathing.min_coverage must be in [0, 1]".into(),
            );
        }
        Ok(())
    }

    fn bins(&self) -> usize {
        (self.window_s * self.sample_hz).round() as usize
    }
}

/// One estimate of the breathing rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreathingEstimate {
    /// The spectral peak in breaths per minute (whether or not it is clear).
    pub bpm: f64,
    /// Share of the band's power within the main lobe of the peak, 0..1.
    pub peak_share: f64,
    /// Share of the chosen series' band power that their first principal component holds,
    /// 0..1: near 1 when one source (a chest) modulates them all, about 2.5 / `series` for
    /// independent noise.
    pub coherence: f64,
    /// The peak is clear: the highest point of the band widened by the lobe lies inside the
    /// band, the power falls to half of it on both sides within the widened band (a peak, not
    /// the slope of slow drift below the band), and `peak_share >= min_peak_share`. Only then
    /// is the rate reported.
    pub clear: bool,
    /// Series compared (subcarrier amplitudes and relative phases of every link).
    pub series: usize,
}

/// The accumulated packets of one grid bin: per series, the sum of the amplitude ratios or
/// of the unit phasors, and the packets.
#[derive(Debug, Clone)]
struct Bin {
    index: i64,
    packets: u32,
    amplitude: Vec<f64>,
    phasor: Vec<(f64, f64)>,
}

/// The streaming estimator: push every frame, ask for an estimate when the scene has been
/// still for a window.
#[derive(Debug, Clone)]
pub struct BreathingEstimator {
    config: BreathingConfig,
    origin_ns: Option<i64>,
    /// The layout the series come from: (tx, rx, subcarriers); another resets.
    layout: (usize, usize, usize),
    bins: VecDeque<Bin>,
}

impl BreathingEstimator {
    /// An empty estimator; the configuration is checked.
    pub fn new(config: BreathingConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Self {
            config,
            origin_ns: None,
            layout: (0, 0, 0),
            bins: VecDeque::new(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &BreathingConfig {
        &self.config
    }

    /// Forgets everything (a discontinuity of the capture clock).
    pub fn reset(&mut self) {
        self.origin_ns = None;
        self.bins.clear();
    }

    /// Adds one frame (in capture order).
    pub fn push(&mut self, frame: &CsiFrame) {
        let n_sub = frame.n_subcarriers();
        if !frame.is_consistent() || n_sub == 0 {
            return;
        }
        let layout = (frame.n_tx, frame.n_rx, n_sub);
        if layout != self.layout {
            self.reset();
            self.layout = layout;
        }
        let origin = *self.origin_ns.get_or_insert(frame.timestamp_ns);
        let dt_ns = 1e9 / self.config.sample_hz;
        let index = ((frame.timestamp_ns - origin) as f64 / dt_ns).floor() as i64;
        if self.bins.back().is_some_and(|b| index < b.index) {
            // Out of order: a clock step backwards. Start again.
            self.reset();
            self.layout = layout;
            return self.push(frame);
        }
        let (n_amp, n_phase) = series_counts(layout);
        if self.bins.back().is_none_or(|b| b.index != index) {
            self.bins.push_back(Bin {
                index,
                packets: 0,
                amplitude: vec![0.0; n_amp],
                phasor: vec![(0.0, 0.0); n_phase],
            });
        }
        let keep = self.config.bins() as i64;
        while self.bins.front().is_some_and(|b| b.index <= index - keep) {
            self.bins.pop_front();
        }
        let Some(bin) = self.bins.back_mut() else {
            return;
        };
        let (n_tx, n_rx) = (frame.n_tx, frame.n_rx);
        let at = |tx: usize, rx: usize, k: usize| frame.csi[(tx * n_rx + rx) * n_sub + k];
        let mut counted = false;
        for tx in 0..n_tx {
            for rx in 0..n_rx {
                let (mut sum, mut n) = (0.0f64, 0usize);
                for k in 0..n_sub {
                    let a = f64::from(at(tx, rx, k).norm());
                    if a.is_finite() && a > 0.0 {
                        sum += a;
                        n += 1;
                    }
                }
                if n == 0 {
                    continue;
                }
                counted = true;
                let mean = sum / n as f64;
                let base = (tx * n_rx + rx) * n_sub;
                for k in 0..n_sub {
                    let a = f64::from(at(tx, rx, k).norm());
                    if a.is_finite() {
                        bin.amplitude[base + k] += a / mean;
                    }
                }
                if rx > 0 {
                    let base = (tx * (n_rx - 1) + rx - 1) * n_sub;
                    for k in 0..n_sub {
                        let z = at(tx, rx, k) * at(tx, 0, k).conj();
                        let m = f64::from(z.norm());
                        if m.is_finite() && m > 0.0 {
                            let p = &mut bin.phasor[base + k];
                            p.0 += f64::from(z.re) / m;
                            p.1 += f64::from(z.im) / m;
                        }
                    }
                }
            }
        }
        if counted {
            bin.packets += 1;
        }
    }

    /// The breathing-band spectral peak of the last window, or `None` when the window is not
    /// full or has too many empty bins. Whether the scene was still is the caller's question.
    pub fn estimate(&self) -> Option<BreathingEstimate> {
        let c = &self.config;
        let n = c.bins();
        let last = self.bins.back()?.index;
        let first = last - n as i64 + 1;
        // The window must have started: its first bin at or after the first packet.
        if self.bins.front()?.index > first + (n as i64) / 20 {
            return None;
        }
        let mut grid: Vec<Option<&Bin>> = vec![None; n];
        for b in &self.bins {
            if b.index >= first && b.packets > 0 {
                grid[(b.index - first) as usize] = Some(b);
            }
        }
        let filled = grid.iter().filter(|b| b.is_some()).count();
        if (filled as f64) < c.min_coverage * n as f64 {
            return None;
        }
        let (n_amp, n_phase) = series_counts(self.layout);
        let mut series: Vec<Vec<f64>> = Vec::with_capacity(n_amp + n_phase);
        for s in 0..n_amp {
            let raw: Vec<Option<f64>> = grid
                .iter()
                .map(|b| b.map(|b| b.amplitude[s] / f64::from(b.packets)))
                .collect();
            series.extend(fill_gaps(&raw));
        }
        for s in 0..n_phase {
            let raw: Vec<Option<f64>> = grid
                .iter()
                .map(|b| {
                    b.and_then(|b| {
                        let (re, im) = b.phasor[s];
                        (re != 0.0 || im != 0.0).then(|| im.atan2(re))
                    })
                })
                .collect();
            if let Some(mut x) = fill_gaps(&raw) {
                unwrap(&mut x);
                series.push(x);
            }
        }
        let fs = c.sample_hz;
        let window = hann(n);
        let [lo, hi] = c.band_hz;
        // The DFT's own bins in the band (2x zero-padded): each series' share of its power
        // there (Parseval: a unit-variance series of n samples has n^2 / 2 of one-sided power
        // over all bins) and its coefficients for the combination below.
        let band_bins: Vec<f64> = (1..n)
            .map(|j| j as f64 * fs / (2 * n) as f64)
            .filter(|f| (lo..=hi).contains(f))
            .collect();
        let mut ranked: Vec<Ranked> = Vec::new();
        for x in &series {
            let Some(y) = prepare(x, &window) else {
                continue;
            };
            let coefficients = dft(&y, fs, &band_bins);
            let band: f64 = coefficients.iter().map(|(re, im)| re * re + im * im).sum();
            // Zero padding doubles the bins: half of them carry the series' own power.
            let share = band / 2.0 / (n as f64 * n as f64 / 2.0);
            ranked.push((share, y, coefficients));
        }
        if ranked.is_empty() {
            return None;
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.truncate(c.series);
        // The chest modulates the chosen series together (each with its own sign and scale):
        // their first principal component in the band adds them coherently, so the breathing
        // grows with every series added while their independent noise only averages.
        let m = ranked.len();
        let mut cov = vec![0.0; m * m];
        for a in 0..m {
            for b in a..m {
                let v: f64 = ranked[a]
                    .2
                    .iter()
                    .zip(&ranked[b].2)
                    .map(|(x, y)| x.0 * y.0 + x.1 * y.1)
                    .sum();
                cov[a * m + b] = v;
                cov[b * m + a] = v;
            }
        }
        let weights = principal_component(&cov, m);
        let trace: f64 = (0..m).map(|i| cov[i * m + i]).sum();
        let top: f64 = (0..m)
            .map(|i| weights[i] * (0..m).map(|j| cov[i * m + j] * weights[j]).sum::<f64>())
            .sum();
        let coherence = if trace > 0.0 { top / trace } else { 0.0 };
        let mut z = vec![0.0; n];
        for ((_, y, _), w) in ranked.iter().zip(&weights) {
            for (acc, v) in z.iter_mut().zip(y) {
                *acc += w * v;
            }
        }
        // Fine grid over the band widened by the main lobe, 8x zero-padded.
        let lobe = 2.0 / c.window_s;
        let df = fs / (8 * n) as f64;
        let f0 = (lo - lobe).max(df);
        let fine: Vec<f64> = (0..)
            .map(|j| f0 + j as f64 * df)
            .take_while(|&f| f <= hi + lobe)
            .collect();
        let combined = spectrum(&z, fs, &fine);
        // The highest point of the widened band; a maximum on its edges (power rising out of
        // the band, e.g. slow drift below it) is no breathing peak.
        let peak = combined
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)?;
        // And a peak, not a slope: the power falls to half of it on both sides within the
        // widened band.
        let half = 0.5 * combined[peak];
        let inside = (lo..=hi).contains(&fine[peak])
            && combined[..peak].iter().any(|&p| p < half)
            && combined[peak + 1..].iter().any(|&p| p < half);
        // Parabola through the peak and its neighbours.
        let mut f_peak = fine[peak];
        if peak > 0 && peak + 1 < fine.len() {
            let (a, b, g) = (combined[peak - 1], combined[peak], combined[peak + 1]);
            let denom = a - 2.0 * b + g;
            if denom < 0.0 {
                f_peak += 0.5 * (a - g) / denom * df;
            }
        }
        let total: f64 = combined.iter().sum();
        let near: f64 = fine
            .iter()
            .zip(&combined)
            .filter(|(f, _)| (**f - f_peak).abs() <= lobe)
            .map(|(_, p)| p)
            .sum();
        let share = if total > 0.0 { near / total } else { 0.0 };
        Some(BreathingEstimate {
            bpm: 60.0 * f_peak,
            peak_share: share,
            coherence,
            clear: inside && share >= c.min_peak_share,
            series: series.len(),
        })
    }
}

/// A series prepared for the spectrum: its share of power in the band, its samples and its
/// band DFT coefficients.
type Ranked = (f64, Vec<f64>, Vec<(f64, f64)>);

/// (amplitude series, relative-phase series) of a `(tx, rx, subcarriers)` layout.
fn series_counts((n_tx, n_rx, n_sub): (usize, usize, usize)) -> (usize, usize) {
    (n_tx * n_rx * n_sub, n_tx * n_rx.saturating_sub(1) * n_sub)
}

/// Linear interpolation over empty bins (the ends hold the nearest value); `None` when the
/// series is empty everywhere.
fn fill_gaps(raw: &[Option<f64>]) -> Option<Vec<f64>> {
    let known: Vec<(usize, f64)> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)))
        .collect();
    let (&(i0, v0), &(i1, v1)) = (known.first()?, known.last()?);
    let mut out = vec![0.0; raw.len()];
    out[..=i0].fill(v0);
    out[i1..].fill(v1);
    for w in known.windows(2) {
        let ((a, va), (b, vb)) = (w[0], w[1]);
        for (k, o) in out.iter_mut().enumerate().take(b + 1).skip(a) {
            let u = (k - a) as f64 / (b - a).max(1) as f64;
            *o = va + u * (vb - va);
        }
    }
    Some(out)
}

/// Removes jumps of more than pi between neighbours (a phase series).
fn unwrap(x: &mut [f64]) {
    let mut offset = 0.0;
    for i in 1..x.len() {
        let d = x[i] + offset - x[i - 1];
        if d > PI {
            offset -= TAU * ((d + PI) / TAU).floor();
        } else if d < -PI {
            offset += TAU * ((-d + PI) / TAU).floor();
        }
        x[i] += offset;
    }
}

fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (TAU * i as f64 / (n.max(2) - 1) as f64).cos())
        .collect()
}

/// Mean and linear trend removed, windowed, unit variance; `None` for a flat series.
fn prepare(x: &[f64], window: &[f64]) -> Option<Vec<f64>> {
    let n = x.len() as f64;
    let tm = (n - 1.0) / 2.0;
    let xm = x.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let t = i as f64 - tm;
        sxy += t * (v - xm);
        sxx += t * t;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let mut y: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| (v - xm - slope * (i as f64 - tm)) * window[i])
        .collect();
    let var = y.iter().map(|v| v * v).sum::<f64>() / n;
    if !(var.is_finite() && var > 1e-24) {
        return None;
    }
    let s = var.sqrt();
    y.iter_mut().for_each(|v| *v /= s);
    Some(y)
}

/// Power of `y` (sampled at `fs`) at each frequency.
fn spectrum(y: &[f64], fs: f64, freqs: &[f64]) -> Vec<f64> {
    dft(y, fs, freqs)
        .into_iter()
        .map(|(re, im)| re * re + im * im)
        .collect()
}

/// The first principal component (unit vector) of a symmetric `m x m` matrix, by power
/// iteration from the all-ones vector.
fn principal_component(cov: &[f64], m: usize) -> Vec<f64> {
    let mut v = vec![1.0 / (m as f64).sqrt(); m];
    for _ in 0..100 {
        let mut next: Vec<f64> = (0..m)
            .map(|i| (0..m).map(|j| cov[i * m + j] * v[j]).sum())
            .collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            break;
        }
        next.iter_mut().for_each(|x| *x /= norm);
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = next;
        if change < 1e-9 {
            break;
        }
    }
    v
}

/// DFT coefficients `(re, im)` of `y` (sampled at `fs`) at each frequency, by a rotating
/// phasor.
fn dft(y: &[f64], fs: f64, freqs: &[f64]) -> Vec<(f64, f64)> {
    freqs
        .iter()
        .map(|&f| {
            let w = TAU * f / fs;
            let (step_re, step_im) = (w.cos(), -w.sin());
            let (mut re, mut im) = (1.0f64, 0.0f64);
            let (mut acc_re, mut acc_im) = (0.0, 0.0);
            for &v in y {
                acc_re += v * re;
                acc_im += v * im;
                let nr = re * step_re - im * step_im;
                im = re * step_im + im * step_re;
                re = nr;
            }
            (acc_re, acc_im)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn helpers() {
        let mut x = vec![3.0, -3.0, 3.1];
        unwrap(&mut x);
        assert!((x[1] - (TAU - 3.0)).abs() < 1e-12, "{x:?}");
        let f = fill_gaps(&[None, Some(1.0), None, Some(3.0), None]).unwrap();
        assert_eq!(f, vec![1.0, 1.0, 2.0, 3.0, 3.0]);
        assert!(fill_gaps(&[None, None]).is_none());
        // A pure tone's spectrum peaks at its frequency.
        let y: Vec<f64> = (0..100).map(|i| (TAU * 0.2 * i as f64).sin()).collect();
        let p = spectrum(&y, 1.0, &[0.1, 0.2, 0.3]);
        assert!(p[1] > 100.0 * p[0] && p[1] > 100.0 * p[2], "{p:?}");
        assert!(BreathingConfig::default().validate().is_ok());
        let bad = BreathingConfig {
            band_hz: [0.1, 6.0],
            ..BreathingConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("band_hz"));
    }
}
