//! Sliding windows over time: samples of `n_values` in, `[n_values, length]` windows out (time
//! last, as the wire contract `[2, tx*rx, subcarrier, time]` wants) every `hop` samples.

use super::normalize::{WindowNormalize, STD_FLOOR};
use serde::{Deserialize, Serialize};

/// Settings of [`Windower`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Samples per window.
    pub length: usize,
    /// Samples between the ends of consecutive windows.
    pub hop: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            length: 100,
            hop: 10,
        }
    }
}

/// Ring buffer of the last `length` samples of every value.
#[derive(Debug, Clone)]
pub struct Windower {
    length: usize,
    hop: usize,
    n_values: usize,
    /// `[value][length]`, circular along time.
    ring: Vec<f32>,
    pos: usize,
    filled: usize,
    since_last: usize,
    emitted: bool,
}

impl Windower {
    /// A windower over samples of `n_values`; length and hop are raised to at least 1.
    pub fn new(n_values: usize, config: &WindowConfig) -> Self {
        let length = config.length.max(1);
        Self {
            length,
            hop: config.hop.max(1),
            n_values,
            ring: vec![0.0; n_values * length],
            pos: 0,
            filled: 0,
            since_last: 0,
            emitted: false,
        }
    }

    /// Samples per window.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Forgets the samples.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.filled = 0;
        self.since_last = 0;
        self.emitted = false;
    }

    /// Adds one sample; returns true when a window is complete (read it with
    /// [`Windower::write_window`]).
    pub fn push(&mut self, sample: &[f32]) -> bool {
        let len = self.length;
        for (v, x) in sample.iter().take(self.n_values).enumerate() {
            self.ring[v * len + self.pos] = *x;
        }
        self.pos = (self.pos + 1) % len;
        self.filled = (self.filled + 1).min(len);
        self.since_last += 1;
        if self.filled == len && (self.since_last >= self.hop || !self.emitted) {
            // The first window comes as soon as the ring is full, then one every hop.
            self.since_last = 0;
            self.emitted = true;
            return true;
        }
        false
    }

    /// Writes the current window, oldest sample first, into `out` (`[n_values][length]`).
    pub fn write_window(&self, out: &mut [f32]) {
        let len = self.length;
        let (older, newer) = (len - self.pos, self.pos);
        for (v, dst) in out.chunks_exact_mut(len).take(self.n_values).enumerate() {
            let src = &self.ring[v * len..(v + 1) * len];
            dst[..older].copy_from_slice(&src[self.pos..]);
            dst[older..].copy_from_slice(&src[..newer]);
        }
    }

    /// Appends the current window to `out` (`[n_values][length]`, oldest sample first),
    /// z-scored as `mode` says over `n_channels` equal channels: statistics are taken from the
    /// ring itself (order does not matter for them), so the window is written once, already
    /// normalized.
    pub fn write_window_normalized(
        &self,
        out: &mut Vec<f32>,
        n_channels: usize,
        mode: WindowNormalize,
    ) {
        let len = self.length;
        let rows_per_block = match mode {
            WindowNormalize::Channel if n_channels > 0 => self.n_values / n_channels,
            _ => 1,
        }
        .max(1);
        out.reserve(self.n_values * len);
        for block in self.ring.chunks(rows_per_block * len) {
            let (mean, inv) = if mode == WindowNormalize::None {
                (0.0, 1.0)
            } else {
                let (sum, sum_sq) = sums(block);
                let n = block.len() as f64;
                let mean = sum / n;
                let std = (sum_sq / n - mean * mean).max(0.0).sqrt() as f32;
                (mean as f32, 1.0 / std.max(STD_FLOOR))
            };
            for src in block.chunks_exact(len) {
                out.extend(src[self.pos..].iter().map(|&v| (v - mean) * inv));
                out.extend(src[..self.pos].iter().map(|&v| (v - mean) * inv));
            }
        }
    }
}

/// Sum and sum of squares in f64, over 8 independent lanes: a single accumulator would
/// serialize every addition on its latency (float additions are not reassociated for us).
fn sums(values: &[f32]) -> (f64, f64) {
    let mut s = [0.0f64; 8];
    let mut q = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            let v = f64::from(c[i]);
            s[i] += v;
            q[i] += v * v;
        }
    }
    let (mut sum, mut sum_sq) = (s.iter().sum::<f64>(), q.iter().sum::<f64>());
    for &v in rest {
        sum += f64::from(v);
        sum_sq += f64::from(v) * f64::from(v);
    }
    (sum, sum_sq)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn windows_have_the_right_content_and_hop(length in 1usize..40, hop in 1usize..50, n in 0usize..200) {
            let mut w = Windower::new(2, &WindowConfig { length, hop });
            let mut ends = Vec::new();
            let mut out = vec![0.0; 2 * length];
            for t in 0..n {
                if w.push(&[t as f32, -(t as f32)]) {
                    w.write_window(&mut out);
                    let want: Vec<f32> = (t + 1 - length..=t).map(|x| x as f32).collect();
                    prop_assert_eq!(&out[..length], &want[..]);
                    let neg: Vec<f32> = want.iter().map(|x| -x).collect();
                    prop_assert_eq!(&out[length..], &neg[..]);
                    let mut plain = Vec::new();
                    w.write_window_normalized(&mut plain, 2, WindowNormalize::None);
                    prop_assert_eq!(&plain, &out);
                    let mut z = Vec::new();
                    w.write_window_normalized(&mut z, 2, WindowNormalize::Stream);
                    let mut want = out.clone();
                    crate::dsp::normalize::zscore_window(&mut want, 2, length, WindowNormalize::Stream);
                    for (a, b) in z.iter().zip(&want) { prop_assert!((a - b).abs() < 1e-3, "{} {}", a, b); }
                    let mut z = Vec::new();
                    w.write_window_normalized(&mut z, 2, WindowNormalize::Channel);
                    let mut want = out.clone();
                    crate::dsp::normalize::zscore_window(&mut want, 2, length, WindowNormalize::Channel);
                    for (a, b) in z.iter().zip(&want) { prop_assert!((a - b).abs() < 1e-3, "{} {}", a, b); }
                    ends.push(t);
                }
            }
            if n >= length {
                prop_assert_eq!(ends[0], length - 1);
                prop_assert_eq!(ends.len(), (n - length) / hop + 1);
                for e in ends.windows(2) { prop_assert_eq!(e[1] - e[0], hop); }
            } else {
                prop_assert!(ends.is_empty());
            }
        }
    }
}
