//! Normalization: z-scores per window, or from running (exponential) statistics per stream.

use serde::{Deserialize, Serialize};

/// Over which values a window's mean and standard deviation are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowNormalize {
    /// Leave windows as they are.
    None,
    /// One mean/std per feature channel (amplitude, phase) over the whole window: keeps the
    /// relative levels of antennas and subcarriers.
    #[default]
    Channel,
    /// One mean/std per (channel, antenna pair, subcarrier) stream over time.
    Stream,
}

/// The floor of a standard deviation, so constant data normalizes to 0 and not to infinity.
pub const STD_FLOOR: f32 = 1e-6;

/// Z-scores a window `[channels, streams_per_channel, time]` (flat, row-major) in place.
pub fn zscore_window(data: &mut [f32], n_channels: usize, n_time: usize, mode: WindowNormalize) {
    if n_channels == 0 || n_time == 0 {
        return;
    }
    let chunk = match mode {
        WindowNormalize::None => return,
        WindowNormalize::Channel => data.len() / n_channels,
        WindowNormalize::Stream => n_time,
    };
    if chunk == 0 {
        return;
    }
    for block in data.chunks_mut(chunk) {
        let n = block.len() as f64;
        let mean = block.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = block
            .iter()
            .map(|&v| {
                let d = f64::from(v) - mean;
                d * d
            })
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var.sqrt() as f32).max(STD_FLOOR);
        let mean = mean as f32;
        for v in block.iter_mut() {
            *v = (*v - mean) * inv;
        }
    }
}

/// Settings of [`RunningNorm`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunningNormConfig {
    /// Exponential forgetting rate per sample (about `1 / alpha` samples of memory).
    pub alpha: f32,
}

impl Default for RunningNormConfig {
    fn default() -> Self {
        Self { alpha: 0.01 }
    }
}

/// Z-scores each stream by its exponentially weighted running mean and variance.
#[derive(Debug, Clone)]
pub struct RunningNorm {
    alpha: f64,
    mean: Vec<f64>,
    var: Vec<f64>,
    started: bool,
}

impl RunningNorm {
    /// A normalizer over `n` streams.
    pub fn new(n: usize, config: &RunningNormConfig) -> Self {
        Self {
            alpha: f64::from(config.alpha.clamp(1e-6, 1.0)),
            mean: vec![0.0; n],
            var: vec![0.0; n],
            started: false,
        }
    }

    /// Forgets the statistics.
    pub fn reset(&mut self) {
        self.started = false;
    }

    /// Normalizes one sample in place (statistics updated first, so the first sample gives 0).
    pub fn process(&mut self, x: &mut [f32]) {
        if !self.started {
            for (m, v) in self.mean.iter_mut().zip(x.iter()) {
                *m = f64::from(*v);
            }
            self.var.fill(0.0);
            self.started = true;
        }
        let a = self.alpha;
        for ((v, m), var) in x
            .iter_mut()
            .zip(self.mean.iter_mut())
            .zip(self.var.iter_mut())
        {
            let d = f64::from(*v) - *m;
            *m += a * d;
            *var = (1.0 - a) * (*var + a * d * d);
            let std = (var.sqrt() as f32).max(STD_FLOOR);
            *v = (f64::from(*v) - *m) as f32 / std;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn channel_zscore() {
        // 2 channels x 2 streams x 3 times.
        let mut d = vec![
            1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0,
        ];
        zscore_window(&mut d, 2, 3, WindowNormalize::Channel);
        let first = &d[..6];
        let mean: f32 = first.iter().sum::<f32>() / 6.0;
        let var: f32 = first.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 6.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        assert!(d[6..].iter().all(|v| *v == 0.0), "constant channel gives 0");
    }

    #[test]
    fn stream_zscore() {
        let mut d = vec![1.0, 2.0, 3.0, 100.0, 200.0, 300.0];
        zscore_window(&mut d, 1, 3, WindowNormalize::Stream);
        assert!((d[0] - d[3]).abs() < 1e-5 && (d[2] - d[5]).abs() < 1e-5);
    }

    #[test]
    fn running_norm_converges() {
        let mut r = RunningNorm::new(1, &RunningNormConfig { alpha: 0.01 });
        let mut last = 0.0;
        for t in 0..20000 {
            let mut x = [50.0 + if t % 2 == 0 { 2.0 } else { -2.0 }];
            r.process(&mut x);
            last = x[0];
        }
        assert!((last.abs() - 1.0).abs() < 0.05, "{last}");
    }
}
