//! Phase operators: unwrapping along subcarriers and along time, linear sanitization over the
//! real subcarrier indices, and conjugate multiplication between receive antennas.
//!
//! Raw CSI phase is `φ_k = θ_k + 2π k δ / N + β + noise`: the sampling-time offset δ adds a slope
//! over the subcarrier index `k` and the carrier-frequency offset and random packet phase add a
//! constant β, both different in every packet. [`Sanitizer`] removes both by a least-squares line
//! over the real indices (Intel's 30 grouped subcarriers are not evenly spaced and every layout
//! has a gap at DC, so `0..N` would fit the wrong line).

use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::f32::consts::PI;

const TAU: f32 = 2.0 * PI;

/// Wraps an angle into `[-π, π)`.
pub fn wrap(x: f32) -> f32 {
    let v = (x + PI) * (1.0 / TAU);
    // floor by truncation: f32::floor is a libm call without SSE4.1. Angles here are far
    // below 2^31 turns.
    let t = v as i32 as f32;
    let floor = if t > v { t - 1.0 } else { t };
    let y = x - TAU * floor;
    // Rounding can land exactly on an edge.
    if y >= PI {
        y - TAU
    } else if y < -PI {
        y + TAU
    } else {
        y
    }
}

/// `atan2(y, x)` to within 2e-7 rad, branch-free so that loops over many values vectorize;
/// libm's `atan2f` is a call per value and the largest single cost of the pipeline otherwise.
///
/// atan on `[0, 1]` is `z * P(z^2)` with a degree-7 polynomial fitted (near minimax) for this
/// purpose; the octant is restored from the signs and the order of `|x|` and `|y|`.
/// `atan2_fast(0, 0)` is 0.
pub fn atan2_fast(y: f32, x: f32) -> f32 {
    const C: [f32; 8] = [
        0.999_999_34,
        -0.333_298_6,
        0.199_465_66,
        -0.139_086_3,
        0.096_421_97,
        -0.055_912_31,
        0.021_862_94,
        -0.004_054_561,
    ];
    let (ax, ay) = (x.abs(), y.abs());
    let (lo, hi) = (ax.min(ay), ax.max(ay));
    let z = if hi > 0.0 { lo / hi } else { 0.0 };
    let s = z * z;
    let p = C[7];
    let p = p * s + C[6];
    let p = p * s + C[5];
    let p = p * s + C[4];
    let p = p * s + C[3];
    let p = p * s + C[2];
    let p = p * s + C[1];
    let p = p * s + C[0];
    let a = p * z;
    let a = if ay > ax {
        std::f32::consts::FRAC_PI_2 - a
    } else {
        a
    };
    let a = if x < 0.0 { PI - a } else { a };
    if y < 0.0 {
        -a
    } else {
        a
    }
}

/// The correction numpy's `unwrap` applies for one difference `d` (discontinuity π).
fn unwrap_correction(d: f32) -> f32 {
    if d.abs() < PI {
        return 0.0;
    }
    let mut dmod = (d + PI).rem_euclid(TAU) - PI;
    if dmod == -PI && d > 0.0 {
        dmod = PI;
    }
    dmod - d
}

/// Unwraps a phase sequence in place, like `numpy.unwrap`: adds multiples of 2π so that no step
/// between neighbours exceeds π. The first value is kept.
pub fn unwrap_in_place(phase: &mut [f32]) {
    let Some(&first) = phase.first() else {
        return;
    };
    let mut prev_raw = first;
    let mut correction = 0.0f64;
    for p in phase.iter_mut().skip(1) {
        let raw = *p;
        correction += f64::from(unwrap_correction(raw - prev_raw));
        prev_raw = raw;
        *p = (f64::from(raw) + correction) as f32;
    }
}

/// Unwraps each stream of a multi-stream signal along time, one sample (all streams) at a time.
///
/// Streaming counterpart of `numpy.unwrap(x, axis=time)`: the result over a whole recording is
/// the same as unwrapping it at once.
#[derive(Debug, Clone)]
pub struct TimeUnwrap {
    prev_raw: Vec<f32>,
    correction: Vec<f64>,
    started: bool,
}

impl TimeUnwrap {
    /// An unwrapper for `n_streams` parallel phase streams.
    pub fn new(n_streams: usize) -> Self {
        Self {
            prev_raw: vec![0.0; n_streams],
            correction: vec![0.0; n_streams],
            started: false,
        }
    }

    /// Forgets the history: the next sample starts afresh.
    pub fn reset(&mut self) {
        self.started = false;
        self.correction.fill(0.0);
    }

    /// Unwraps one sample of every stream in place (`phase.len()` must be `n_streams`).
    pub fn process(&mut self, phase: &mut [f32]) {
        if !self.started {
            self.prev_raw.copy_from_slice(phase);
            self.started = true;
            return;
        }
        for ((p, prev), corr) in phase
            .iter_mut()
            .zip(self.prev_raw.iter_mut())
            .zip(self.correction.iter_mut())
        {
            let raw = *p;
            *corr += f64::from(unwrap_correction(raw - *prev));
            *prev = raw;
            *p = (f64::from(raw) + *corr) as f32;
        }
    }
}

/// Settings of [`Sanitizer`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SanitizeConfig {
    /// Unwrap along subcarriers first (index-aware, see [`Sanitizer::unwrap`]). Turn off only
    /// when the phase given is already unwrapped.
    pub unwrap: bool,
    /// Remove the fitted slope (sampling-time offset).
    pub remove_slope: bool,
    /// Remove the fitted constant (carrier-frequency offset, packet phase).
    pub remove_offset: bool,
}

impl Default for SanitizeConfig {
    fn default() -> Self {
        Self {
            unwrap: true,
            remove_slope: true,
            remove_offset: true,
        }
    }
}

/// The line fitted to one antenna pair's phase: `phase ≈ slope_rad * k + offset_rad`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinearFit {
    /// Radians per subcarrier index.
    pub slope_rad: f32,
    /// Radians at index 0.
    pub offset_rad: f32,
}

/// Linear phase sanitization over a fixed subcarrier layout.
#[derive(Debug, Clone)]
pub struct Sanitizer {
    config: SanitizeConfig,
    index: Vec<f32>,
    /// Largest index spacing trusted for the slope estimate (the layout's typical spacing).
    spacing_max: f32,
}

impl Sanitizer {
    /// A sanitizer for the real subcarrier indices of a stream.
    pub fn new(subcarriers: &[i32], config: SanitizeConfig) -> Self {
        let mut spacings: Vec<i32> = subcarriers
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .collect();
        spacings.sort_unstable();
        let spacing_max = spacings
            .get(spacings.len() / 2)
            .copied()
            .unwrap_or(1)
            .max(1) as f32;
        Self {
            config,
            index: subcarriers.iter().map(|&k| k as f32).collect(),
            spacing_max,
        }
    }

    /// The subcarrier count this sanitizer expects.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True for an empty layout.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Unwraps one antenna pair's wrapped phase along its real subcarrier indices, in place.
    ///
    /// A plain unwrap assumes the phase changes by less than π between neighbours; across the
    /// DC gap or Intel's 2-index grouping a steep sampling-time slope breaks that. This first
    /// estimates the slope per index unit from the wrapped differences of closely spaced
    /// neighbours, then unwraps every step relative to `slope * Δk`. Entries with `valid ==
    /// false` (null subcarriers, zero amplitude) are skipped and left as they are.
    pub fn unwrap(&self, phase: &mut [f32], valid: &[bool]) {
        let n = phase.len().min(self.index.len()).min(valid.len());
        // Slope estimate: total wrapped change over the total index span of trusted steps.
        let (mut sum_d, mut sum_dk) = (0.0f64, 0.0f64);
        let mut prev: Option<usize> = None;
        for i in 0..n {
            if !valid[i] {
                continue;
            }
            if let Some(j) = prev {
                let dk = self.index[i] - self.index[j];
                if dk.abs() <= self.spacing_max {
                    sum_d += f64::from(wrap(phase[i] - phase[j]));
                    sum_dk += f64::from(dk);
                }
            }
            prev = Some(i);
        }
        let slope = if sum_dk != 0.0 {
            (sum_d / sum_dk) as f32
        } else {
            0.0
        };
        let mut prev: Option<(usize, f32)> = None; // (index, raw phase)
        for i in 0..n {
            if !valid[i] {
                continue;
            }
            let raw = phase[i];
            if let Some((j, prev_raw)) = prev {
                let predicted = slope * (self.index[i] - self.index[j]);
                let step = predicted + wrap(raw - prev_raw - predicted);
                phase[i] = phase[j] + step;
            }
            prev = Some((i, raw));
        }
    }

    /// Sanitizes one antenna pair's phase in place: unwraps it (when configured), fits
    /// `slope * k + offset` by least squares over the valid entries' real indices and subtracts
    /// it. Invalid entries are set to 0. Returns the fitted line.
    pub fn sanitize(&self, phase: &mut [f32], valid: &[bool]) -> LinearFit {
        if self.config.unwrap {
            self.unwrap(phase, valid);
        }
        let n = phase.len().min(self.index.len()).min(valid.len());
        let (mut sw, mut sk, mut sp) = (0.0f64, 0.0f64, 0.0f64);
        for i in (0..n).filter(|&i| valid[i]) {
            sw += 1.0;
            sk += f64::from(self.index[i]);
            sp += f64::from(phase[i]);
        }
        if sw == 0.0 {
            phase.fill(0.0);
            return LinearFit::default();
        }
        let (mean_k, mean_p) = (sk / sw, sp / sw);
        let (mut skk, mut skp) = (0.0f64, 0.0f64);
        for i in (0..n).filter(|&i| valid[i]) {
            let dk = f64::from(self.index[i]) - mean_k;
            skk += dk * dk;
            skp += dk * (f64::from(phase[i]) - mean_p);
        }
        let slope = if skk > 0.0 { skp / skk } else { 0.0 };
        let offset = mean_p - slope * mean_k;
        let slope_used = if self.config.remove_slope { slope } else { 0.0 };
        let offset_used = if self.config.remove_offset {
            offset
        } else {
            0.0
        };
        for i in 0..n {
            phase[i] = if valid[i] {
                (f64::from(phase[i]) - slope_used * f64::from(self.index[i]) - offset_used) as f32
            } else {
                0.0
            };
        }
        LinearFit {
            slope_rad: slope as f32,
            offset_rad: offset as f32,
        }
    }
}

/// Settings of [`conjugate_multiply`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConjugateConfig {
    /// The receive antenna every antenna is multiplied with (conjugated); `None` pairs each
    /// antenna with the next one cyclically, so that no antenna pair loses its phase.
    pub reference_rx: Option<usize>,
    /// Keep each value's own amplitude (only the phase becomes the phase difference); otherwise
    /// the amplitude is the product of both amplitudes.
    pub keep_amplitude: bool,
}

impl Default for ConjugateConfig {
    fn default() -> Self {
        Self {
            reference_rx: None,
            keep_amplitude: true,
        }
    }
}

/// Multiplies each receive antenna's CSI by the conjugate of a reference antenna on the same
/// card, in place, over interleaved `[tx, rx, subcarrier, (re, im)]` values. The carrier
/// frequency offset and the random packet phase are common to all antennas of a card, so they
/// cancel; what remains is the phase difference between antennas, which motion modulates.
///
/// `scratch` keeps a copy of the input (reused, no allocation once grown). With one receive
/// antenna, every value becomes `|h|` with zero phase.
pub fn conjugate_multiply(
    values: &mut [f32],
    n_tx: usize,
    n_rx: usize,
    n_sub: usize,
    config: &ConjugateConfig,
    scratch: &mut Vec<f32>,
) {
    if n_rx == 0 || values.len() != n_tx * n_rx * n_sub * 2 {
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(values);
    for tx in 0..n_tx {
        for rx in 0..n_rx {
            let ref_rx = match config.reference_rx {
                Some(r) => r.min(n_rx - 1),
                None => (rx + 1) % n_rx,
            };
            let base = (tx * n_rx + rx) * n_sub * 2;
            let ref_base = (tx * n_rx + ref_rx) * n_sub * 2;
            for s in 0..n_sub {
                let (a_re, a_im) = (scratch[base + 2 * s], scratch[base + 2 * s + 1]);
                let (r_re, r_im) = (scratch[ref_base + 2 * s], scratch[ref_base + 2 * s + 1]);
                // a * conj(r)
                let mut re = a_re * r_re + a_im * r_im;
                let mut im = a_im * r_re - a_re * r_im;
                if config.keep_amplitude {
                    let r_abs = r_re.hypot(r_im);
                    if r_abs > 0.0 {
                        re /= r_abs;
                        im /= r_abs;
                    }
                }
                values[base + 2 * s] = re;
                values[base + 2 * s + 1] = im;
            }
        }
    }
}

/// Real subcarrier index layouts of common radios, for tests and simulations.
pub mod layouts {
    /// Intel 5300, 20 MHz: the 30 grouped subcarriers the CSI Tool reports.
    pub fn intel5300_20mhz() -> Vec<i32> {
        let mut k: Vec<i32> = (-28..=-2).step_by(2).collect();
        k.push(-1);
        k.extend((1..=27).step_by(2));
        k.push(28);
        k
    }

    /// 802.11n HT20: 56 subcarriers, -28..=28 without DC.
    pub fn ht20() -> Vec<i32> {
        (-28..=28).filter(|&k| k != 0).collect()
    }

    /// 802.11n HT40: 114 subcarriers, -58..=58 without the 3 around DC.
    pub fn ht40() -> Vec<i32> {
        (-58..=58).filter(|k: &i32| k.abs() > 1).collect()
    }

    /// ESP32 (HT20 LLTF): 64 FFT bins -32..=31, guards and DC included.
    pub fn esp32_64() -> Vec<i32> {
        (-32..=31).collect()
    }
}

/// Weighted least-squares line `offset + slope * x` through the phase of complex values,
/// unwrapped in the order given, each point weighted by its magnitude; points of zero or
/// non-finite magnitude are skipped. `(0, 0)` when nothing is left. The `align` step fits a
/// packet against the room's reference with it, and the locator an empty room's channel
/// against a window's.
pub fn phase_line(points: impl IntoIterator<Item = (Complex32, f32)>) -> (f32, f32) {
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    let mut prev: Option<f32> = None;
    let mut unwrapped = 0.0f32;
    for (c, xi) in points {
        let w = c.norm();
        if !(w > 0.0 && w.is_finite()) {
            continue;
        }
        let p = c.im.atan2(c.re);
        unwrapped = match prev {
            None => p,
            Some(q) => unwrapped + wrap(p - q),
        };
        prev = Some(p);
        let (w, xi, yi) = (w as f64, xi as f64, unwrapped as f64);
        sw += w;
        sx += w * xi;
        sy += w * yi;
        sxx += w * xi * xi;
        sxy += w * xi * yi;
    }
    if sw <= 0.0 {
        return (0.0, 0.0);
    }
    let den = sw * sxx - sx * sx;
    let slope = if den.abs() > 1e-12 {
        (sw * sxy - sx * sy) / den
    } else {
        0.0
    };
    (((sy - slope * sx) / sw) as f32, slope as f32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layouts() -> Vec<Vec<i32>> {
        vec![
            layouts::intel5300_20mhz(),
            layouts::ht20(),
            layouts::ht40(),
            layouts::esp32_64(),
        ]
    }

    #[test]
    fn layouts_have_expected_sizes() {
        assert_eq!(layouts::intel5300_20mhz().len(), 30);
        assert_eq!(layouts::ht20().len(), 56);
        assert_eq!(layouts::ht40().len(), 114);
        assert_eq!(layouts::esp32_64().len(), 64);
    }

    #[test]
    fn atan2_fast_matches_libm() {
        let mut worst = 0.0f32;
        for i in 0..20_000 {
            let th = -PI + TAU * i as f32 / 20_000.0;
            for r in [1e-3f32, 1.0, 37.0, 1e5] {
                let (y, x) = (r * th.sin(), r * th.cos());
                let d = wrap(atan2_fast(y, x) - y.atan2(x)).abs();
                worst = worst.max(d);
            }
        }
        assert!(worst < 5e-7, "{worst}");
        assert_eq!(atan2_fast(0.0, 0.0), 0.0);
        assert!((atan2_fast(0.0, -1.0) - PI).abs() < 1e-6);
        assert!((atan2_fast(-1.0, 0.0) + PI / 2.0).abs() < 1e-6);
    }

    #[test]
    fn wrap_range() {
        for i in -1000..1000 {
            let w = wrap(i as f32 * 0.0731);
            assert!((-PI..PI).contains(&w), "{w}");
        }
    }

    #[test]
    fn unwrap_matches_numpy_semantics_on_a_ramp() {
        let truth: Vec<f32> = (0..200).map(|i| i as f32 * 0.9 - 40.0).collect();
        let mut p: Vec<f32> = truth.iter().map(|&x| wrap(x)).collect();
        unwrap_in_place(&mut p);
        let k = ((truth[0] - p[0]) / TAU).round();
        for (a, b) in p.iter().zip(&truth) {
            assert!((a + k * TAU - b).abs() < 1e-3, "{a} {b}");
        }
    }

    #[test]
    fn sanitize_removes_slope_across_dc_gap_too_wide_for_plain_unwrap() {
        // HT40: DC gap of 4 indices. A slope of 0.9 rad/index is unwrappable step by step but
        // jumps 3.6 rad across the gap.
        let k = layouts::ht40();
        let valid = vec![true; k.len()];
        let s = Sanitizer::new(&k, SanitizeConfig::default());
        let mut p: Vec<f32> = k.iter().map(|&k| wrap(0.9 * k as f32 + 1.0)).collect();
        let fit = s.sanitize(&mut p, &valid);
        assert!((fit.slope_rad - 0.9).abs() < 1e-4, "{fit:?}");
        assert!(p.iter().all(|v| v.abs() < 1e-3), "{p:?}");
    }

    #[test]
    fn sanitize_skips_invalid_entries() {
        let k = layouts::esp32_64();
        let valid: Vec<bool> = k.iter().map(|&k| k != 0 && k.abs() <= 28).collect();
        let s = Sanitizer::new(&k, SanitizeConfig::default());
        let mut p: Vec<f32> = k
            .iter()
            .zip(&valid)
            .map(|(&k, &v)| if v { wrap(-0.4 * k as f32 + 2.5) } else { 0.0 })
            .collect();
        s.sanitize(&mut p, &valid);
        assert!(p.iter().all(|v| v.abs() < 1e-3), "{p:?}");
    }

    #[test]
    fn conjugate_cancels_common_phase() {
        // 1 tx, 2 rx, 3 subcarriers; both antennas share a random packet phase.
        let common = 1.234f32;
        let h0 = [(1.0f32, 0.1f32), (2.0, 0.2), (3.0, 0.3)];
        let h1 = [(0.5f32, -0.4f32), (0.7, 0.5), (0.9, 1.0)];
        let mut v = Vec::new();
        for (a, ph) in h0.iter().chain(h1.iter()) {
            v.push(a * (ph + common).cos());
            v.push(a * (ph + common).sin());
        }
        let mut scratch = Vec::new();
        conjugate_multiply(&mut v, 1, 2, 3, &ConjugateConfig::default(), &mut scratch);
        for s in 0..3 {
            let ph = v[2 * s + 1].atan2(v[2 * s]);
            assert!((wrap(ph - (h0[s].1 - h1[s].1))).abs() < 1e-5);
            let amp = v[2 * s].hypot(v[2 * s + 1]);
            assert!((amp - h0[s].0).abs() < 1e-5);
        }
    }

    proptest! {
        #[test]
        fn unwrap_inverts_wrapping(start in -50.0f32..50.0, steps in prop::collection::vec(-3.0f32..3.0, 1..300)) {
            let mut truth = vec![start];
            for d in &steps { let last = *truth.last().unwrap(); truth.push(last + d); }
            let mut p: Vec<f32> = truth.iter().map(|&x| wrap(x)).collect();
            unwrap_in_place(&mut p);
            let k = ((truth[0] - p[0]) / TAU).round();
            for (a, b) in p.iter().zip(&truth) {
                prop_assert!((a + k * TAU - b).abs() < 2e-3, "{} {}", a + k * TAU, b);
            }
        }

        #[test]
        fn time_unwrap_equals_batch_unwrap(steps in prop::collection::vec(-3.0f32..3.0, 2..100)) {
            // Two streams: the ramp and its negative.
            let mut truth = vec![0.3f32];
            for d in &steps { let last = *truth.last().unwrap(); truth.push(last + d); }
            let mut batch: Vec<f32> = truth.iter().map(|&x| wrap(x)).collect();
            let wrapped = batch.clone();
            unwrap_in_place(&mut batch);
            let mut tu = TimeUnwrap::new(2);
            for (t, &w) in wrapped.iter().enumerate() {
                let mut s = [w, -w];
                tu.process(&mut s);
                prop_assert!((s[0] - batch[t]).abs() < 1e-3);
                prop_assert!((s[1] + batch[t]).abs() < 1e-3);
            }
        }

        #[test]
        fn sanitization_removes_any_injected_slope_and_offset(
            layout in 0usize..4,
            slope_frac in -0.7f32..0.7,
            offset in -20.0f32..20.0,
            profile in prop::collection::vec(-0.3f32..0.3, 114),
        ) {
            let k = &layouts()[layout];
            let s = Sanitizer::new(k, SanitizeConfig::default());
            let valid = vec![true; k.len()];
            // Slope up to 0.7π per typical spacing (plus the profile's 0.6 rad steps stays below π): every step is unwrappable from the slope.
            let spacing = if layout == 0 { 2.0 } else { 1.0 };
            let slope = slope_frac * PI / spacing;
            let theta: Vec<f32> = profile[..k.len()].to_vec();
            let mut clean = theta.clone();
            s.sanitize(&mut clean, &valid);
            let mut dirty: Vec<f32> = k.iter().zip(&theta)
                .map(|(&k, &t)| wrap(t + slope * k as f32 + offset)).collect();
            s.sanitize(&mut dirty, &valid);
            for (a, b) in dirty.iter().zip(&clean) {
                prop_assert!((a - b).abs() < 5e-3, "{} vs {} (layout {}, slope {})", a, b, layout, slope);
            }
        }
    }
}
