//! Hampel outlier filter over time, streaming and causal.
//!
//! For each stream the newest value is compared with the median of the last `window` values
//! (itself included): if it is further than `n_sigma * 1.4826 * MAD` from that median (1.4826
//! makes the median absolute deviation estimate the standard deviation of Gaussian data) it is
//! replaced by the median. The classic filter centres its window on the value; this trailing
//! window adds no delay, which a live pipeline needs, and still rejects isolated spikes since
//! the median ignores the newest value when it is an outlier.

use super::Channels;
use serde::{Deserialize, Serialize};

/// The factor that turns a MAD into a standard deviation estimate for Gaussian data.
pub const MAD_SCALE: f32 = 1.4826;

/// Settings of [`Hampel`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HampelConfig {
    /// Samples in the trailing window (the newest included).
    pub window: usize,
    /// Threshold in estimated standard deviations.
    pub n_sigma: f32,
    /// MAD to standard deviation factor ([`MAD_SCALE`] for Gaussian noise).
    pub mad_scale: f32,
    /// Channels filtered (in polar form).
    pub channels: Channels,
}

impl Default for HampelConfig {
    fn default() -> Self {
        Self {
            window: 7,
            n_sigma: 3.0,
            mad_scale: MAD_SCALE,
            channels: Channels::Both,
        }
    }
}

/// Streaming Hampel filter over `n_streams` parallel streams.
///
/// The window is kept time-major (`[window][stream]`), and sorted each sample by a
/// compare-exchange network applied to whole rows: every step is a lane-wise min/max over all
/// streams, which the compiler vectorizes, with no data-dependent branch. The MAD then comes
/// from the sorted rows by a min/max scan.
#[derive(Debug, Clone)]
pub struct Hampel {
    window: usize,
    n_sigma: f32,
    mad_scale: f32,
    n_streams: usize,
    /// Ring of raw (unfiltered) samples, `[window][stream]`.
    history: Vec<f32>,
    /// Scratch: the window sorted per stream, `[window][stream]`.
    sorted: Vec<f32>,
    median: Vec<f32>,
    mad: Vec<f32>,
    lower: Vec<f32>,
    pos: usize,
    filled: usize,
    replaced: u64,
}

impl Hampel {
    /// A filter for `n_streams` streams; a window below 3 is raised to 3.
    pub fn new(n_streams: usize, config: &HampelConfig) -> Self {
        let window = config.window.max(3);
        Self {
            window,
            n_sigma: config.n_sigma,
            mad_scale: config.mad_scale,
            n_streams,
            history: vec![0.0; n_streams * window],
            sorted: vec![0.0; n_streams * window],
            median: vec![0.0; n_streams],
            mad: vec![0.0; n_streams],
            lower: vec![0.0; n_streams],
            pos: 0,
            filled: 0,
            replaced: 0,
        }
    }

    /// Forgets the history.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.filled = 0;
    }

    /// Values replaced so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Filters one sample of every stream in place (`x.len()` must be `n_streams`); returns how
    /// many values were replaced. Until 3 samples have been seen values pass unchanged.
    pub fn process(&mut self, x: &mut [f32]) -> usize {
        let ns = self.n_streams;
        if x.len() != ns || ns == 0 {
            return 0;
        }
        self.history[self.pos * ns..(self.pos + 1) * ns].copy_from_slice(x);
        self.pos = (self.pos + 1) % self.window;
        self.filled = (self.filled + 1).min(self.window);
        let f = self.filled;
        if f < 3 {
            return 0;
        }
        // Before the ring is full the valid rows are the first `f` (the order does not matter).
        let sorted = &mut self.sorted[..f * ns];
        sorted.copy_from_slice(&self.history[..f * ns]);
        // Insertion-sort network: f(f-1)/2 lane-wise compare-exchanges.
        for i in 1..f {
            for j in (1..=i).rev() {
                let (lo, hi) = sorted[(j - 1) * ns..(j + 1) * ns].split_at_mut(ns);
                for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (mn, mx) = (a.min(*b), a.max(*b));
                    *a = mn;
                    *b = mx;
                }
            }
        }
        let row = |k: usize| &self.sorted[k * ns..(k + 1) * ns];
        if f % 2 == 1 {
            self.median.copy_from_slice(row(f / 2));
        } else {
            for ((m, a), b) in self.median.iter_mut().zip(row(f / 2 - 1)).zip(row(f / 2)) {
                *m = 0.5 * (a + b);
            }
        }
        mad_of_sorted(
            &self.sorted[..f * ns],
            ns,
            &self.median,
            &mut self.mad,
            &mut self.lower,
        );
        let threshold = self.n_sigma * self.mad_scale;
        let mut count = 0;
        for ((v, m), mad) in x.iter_mut().zip(&self.median).zip(&self.mad) {
            let outlier = (*v - m).abs() > threshold * mad;
            count += usize::from(outlier);
            *v = if outlier { *m } else { *v };
        }
        self.replaced += count as u64;
        count
    }
}

/// Median absolute deviation per stream, from rows sorted per stream (`[n][streams]`) and their
/// medians.
///
/// The `k` values nearest to the median are a contiguous run of the sorted values, so the
/// `k`-th smallest deviation is the smallest, over runs `i..i + k`, of the run's largest
/// deviation `max(med - s[i], s[i + k - 1] - med)`: a branch-free min/max scan, no sort.
fn mad_of_sorted(
    sorted: &[f32],
    n_streams: usize,
    median: &[f32],
    mad: &mut [f32],
    lower: &mut [f32],
) {
    let ns = n_streams;
    let n = sorted.len().checked_div(ns).unwrap_or(0);
    if n == 0 {
        mad.fill(0.0);
        return;
    }
    let row = |k: usize| &sorted[k * ns..(k + 1) * ns];
    // k-th smallest deviation into `out`.
    let kth = |k: usize, out: &mut [f32]| {
        out.fill(f32::INFINITY);
        for i in 0..=n - k {
            for (((o, lo), hi), m) in out.iter_mut().zip(row(i)).zip(row(i + k - 1)).zip(median) {
                *o = o.min((m - lo).max(hi - m));
            }
        }
    };
    if n % 2 == 1 {
        kth(n / 2 + 1, mad);
    } else {
        kth(n / 2 + 1, mad);
        kth(n / 2, lower);
        for (m, l) in mad.iter_mut().zip(lower.iter()) {
            *m = 0.5 * (*m + l);
        }
    }
}

/// Median of a slice (reorders it); the mean of the two middle values for an even length, as
/// numpy does. 0 for an empty slice.
pub fn median_in_place(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let mid = n / 2;
    let (left, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        upper
    } else {
        let lower = left.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (lower + upper)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::SplitMix64;
    use proptest::prelude::*;

    #[test]
    fn median_matches_definition() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_in_place(&mut []), 0.0);
    }

    fn noisy(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|t| 10.0 + (t as f32 * 0.05).sin() + 0.1 * rng.normal() as f32)
            .collect()
    }

    #[test]
    fn removes_injected_spikes() {
        let clean = noisy(500, 1);
        let mut dirty = clean.clone();
        let spikes = [50usize, 123, 260, 261, 400];
        for &t in &spikes {
            dirty[t] += if t % 2 == 0 { 8.0 } else { -8.0 };
        }
        let mut h = Hampel::new(1, &HampelConfig::default());
        let out: Vec<f32> = dirty
            .iter()
            .map(|&v| {
                let mut s = [v];
                h.process(&mut s);
                s[0]
            })
            .collect();
        for &t in &spikes {
            assert!(
                (out[t] - clean[t]).abs() < 1.0,
                "spike at {t} left: {}",
                out[t]
            );
        }
    }

    #[test]
    fn leaves_clean_data_alone() {
        // Replacements on clean data move a value to the local median: never far, and the
        // result stays about as close to the noiseless signal as the input was (a trailing
        // window lags a trend a little, which the centred classic filter would not).
        let truth: Vec<f32> = (0..2000).map(|t| 10.0 + (t as f32 * 0.05).sin()).collect();
        let clean = noisy(2000, 2);
        let mut h = Hampel::new(1, &HampelConfig::default());
        let (mut max_change, mut err_in, mut err_out) = (0.0f32, 0.0f32, 0.0f32);
        for (&v, &x) in clean.iter().zip(&truth) {
            let mut s = [v];
            h.process(&mut s);
            max_change = max_change.max((s[0] - v).abs());
            err_in += (v - x).powi(2);
            err_out += (s[0] - x).powi(2);
        }
        assert!(max_change < 0.6, "{max_change}");
        assert!(err_out <= 1.1 * err_in, "{err_out} > {err_in}");
        assert!(h.replaced() < 2000 / 10, "{}", h.replaced());
        // Constant data: nothing replaced.
        let mut h = Hampel::new(1, &HampelConfig::default());
        for _ in 0..100 {
            let mut s = [3.5f32];
            h.process(&mut s);
            assert_eq!(s[0], 3.5);
        }
        assert_eq!(h.replaced(), 0);
    }

    /// The textbook filter: sort copies of the window.
    fn reference(x: &[f32], w: usize, n_sigma: f32) -> Vec<f32> {
        (0..x.len())
            .map(|t| {
                if t < 2 {
                    return x[t];
                }
                let mut win = x[t.saturating_sub(w - 1)..=t].to_vec();
                let med = median_in_place(&mut win);
                let mut dev: Vec<f32> = win.iter().map(|v| (v - med).abs()).collect();
                let mad = median_in_place(&mut dev);
                if (x[t] - med).abs() > n_sigma * MAD_SCALE * mad {
                    med
                } else {
                    x[t]
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn matches_the_textbook_filter(
            x in prop::collection::vec(prop_oneof![-5.0f32..5.0, Just(1.0f32), Just(100.0f32)], 1..200),
            w in 3usize..12,
            n_sigma in 0.5f32..4.0,
        ) {
            let mut h = Hampel::new(1, &HampelConfig { window: w, n_sigma, ..Default::default() });
            let out: Vec<f32> = x.iter().map(|&v| { let mut s = [v]; h.process(&mut s); s[0] }).collect();
            prop_assert_eq!(out, reference(&x, w, n_sigma));
        }

        #[test]
        fn single_spike_is_removed(level in -100.0f32..100.0, t in 10usize..90, spike in 5.0f32..1000.0) {
            let mut h = Hampel::new(2, &HampelConfig::default());
            let mut rng = SplitMix64::new(t as u64);
            for i in 0..100 {
                let base = level + 0.1 * rng.normal() as f32;
                let mut s = [base, -base];
                if i == t { s[0] += spike; s[1] -= spike; }
                h.process(&mut s);
                prop_assert!((s[0] - level).abs() < 1.0 && (s[1] + level).abs() < 1.0);
            }
        }
    }
}
