//! Per-packet, per-link features of one CSI frame, and their moving variance.

use std::collections::VecDeque;
use wdp_csi::CsiFrame;

/// Fewest non-zero subcarriers for a link's amplitude profile to count: with fewer, a spread
/// over subcarriers says nothing about frequency selectivity.
pub const MIN_SUBCARRIERS: usize = 4;

/// What one link (a tx/rx antenna pair) of one packet contributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkFeatures {
    /// Transmit antenna.
    pub tx: usize,
    /// Receive antenna.
    pub rx: usize,
    /// Subcarriers of the frame (a link whose count changes restarts its windows).
    pub n_subcarriers: usize,
    /// Mean amplitude over the used subcarriers, in the capture's raw units.
    pub mean_amplitude: f64,
    /// Standard deviation / mean of the used subcarrier amplitudes (gain-free).
    pub turbulence: f64,
    /// How many subcarriers were used (non-zero, finite).
    pub used: usize,
}

/// The features of every link of a frame with enough usable subcarriers. Null and guard
/// subcarriers (reported as exact zeros, e.g. the ESP32's DC and band-edge tones) and
/// non-finite values are skipped; dimensions come from the frame.
pub fn link_features(frame: &CsiFrame) -> Vec<LinkFeatures> {
    let n_sub = frame.n_subcarriers();
    if !frame.is_consistent() || n_sub == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(frame.n_tx * frame.n_rx);
    for tx in 0..frame.n_tx {
        for rx in 0..frame.n_rx {
            let start = (tx * frame.n_rx + rx) * n_sub;
            let (mut n, mut sum, mut sum_sq) = (0usize, 0.0f64, 0.0f64);
            for c in &frame.csi[start..start + n_sub] {
                let a = f64::from(c.norm());
                if a.is_finite() && a > 0.0 {
                    n += 1;
                    sum += a;
                    sum_sq += a * a;
                }
            }
            if n < MIN_SUBCARRIERS {
                continue;
            }
            let mean = sum / n as f64;
            let var = (sum_sq / n as f64 - mean * mean).max(0.0);
            out.push(LinkFeatures {
                tx,
                rx,
                n_subcarriers: n_sub,
                mean_amplitude: mean,
                turbulence: var.sqrt() / mean,
                used: n,
            });
        }
    }
    out
}

/// Variance of the samples of the last `window_ns` nanoseconds of capture time.
#[derive(Debug, Clone)]
pub struct MovingVariance {
    window_ns: i64,
    samples: VecDeque<(i64, f64)>,
}

impl MovingVariance {
    /// An empty window of this length.
    pub fn new(window_s: f64) -> Self {
        Self {
            window_ns: (window_s * 1e9).round() as i64,
            samples: VecDeque::new(),
        }
    }

    /// Adds a sample at `t_ns` and drops those older than the window.
    pub fn push(&mut self, t_ns: i64, value: f64) {
        self.samples.push_back((t_ns, value));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| t <= t_ns - self.window_ns)
        {
            self.samples.pop_front();
        }
    }

    /// Number of samples in the window.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when the window holds nothing.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Population variance of the window (two passes: the values are small offsets on a
    /// large mean, where a one-pass formula loses the digits that matter).
    pub fn variance(&self) -> Option<f64> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        let mean = self.samples.iter().map(|s| s.1).sum::<f64>() / n as f64;
        Some(
            self.samples
                .iter()
                .map(|s| (s.1 - mean).powi(2))
                .sum::<f64>()
                / n as f64,
        )
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.samples.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wdp_csi::{CaptureFormat, Complex32};

    fn frame(n_tx: usize, n_rx: usize, amps: &[f32]) -> CsiFrame {
        let csi: Vec<Complex32> = (0..n_tx * n_rx)
            .flat_map(|_| amps.iter().map(|&a| Complex32::new(0.6 * a, -0.8 * a)))
            .collect();
        CsiFrame {
            format: CaptureFormat::Simulated,
            n_tx,
            n_rx,
            subcarriers: (0..amps.len() as i32).collect(),
            csi,
            timestamp_ns: 0,
            rssi_dbm: None,
            noise_dbm: None,
            meta: Default::default(),
        }
    }

    #[test]
    fn turbulence_ignores_gain_and_zero_subcarriers() {
        let amps = [0.0, 10.0, 12.0, 8.0, 0.0, 11.0, 9.0, 0.0];
        let a = link_features(&frame(1, 1, &amps));
        let doubled: Vec<f32> = amps.iter().map(|x| 2.0 * x).collect();
        let b = link_features(&frame(1, 1, &doubled));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].used, 5);
        assert!((a[0].mean_amplitude - 10.0).abs() < 1e-5);
        assert!((b[0].mean_amplitude - 20.0).abs() < 1e-5);
        // std of [10, 12, 8, 11, 9] is sqrt(2); / 10
        assert!((a[0].turbulence - 2f64.sqrt() / 10.0).abs() < 1e-6);
        assert!((a[0].turbulence - b[0].turbulence).abs() < 1e-9);
    }

    #[test]
    fn every_link_of_a_mimo_frame_and_none_of_an_empty_one() {
        let f = link_features(&frame(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!(f.len(), 6);
        assert_eq!((f[5].tx, f[5].rx), (1, 2));
        assert!(link_features(&frame(1, 1, &[0.0; 64])).is_empty());
        assert!(link_features(&frame(1, 1, &[1.0, 2.0, 0.0])).is_empty());
    }

    #[test]
    fn moving_variance_forgets_what_left_the_window() {
        let mut w = MovingVariance::new(1.0);
        w.push(0, 1.0);
        assert_eq!(w.variance(), None);
        w.push(500_000_000, 3.0);
        assert_eq!(w.variance(), Some(1.0));
        // 1 s after the first sample it leaves: only 3 and 3 remain
        w.push(1_000_000_000, 3.0);
        assert_eq!(w.len(), 2);
        assert_eq!(w.variance(), Some(0.0));
    }
}
