//! The one latency summary of the project: samples in milliseconds, nearest-rank percentiles.

use serde::Serialize;
use std::time::Duration;

/// Percentiles of one quantity, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Figures {
    /// The figures of `samples_ms` (any order); all zero when empty.
    pub fn of(samples_ms: &[f64]) -> Self {
        let mut s = samples_ms.to_vec();
        s.sort_by(f64::total_cmp);
        Self {
            count: s.len(),
            p50_ms: quantile(&s, 0.5),
            p99_ms: quantile(&s, 0.99),
            mean_ms: if s.is_empty() {
                0.0
            } else {
                s.iter().sum::<f64>() / s.len() as f64
            },
            max_ms: quantile(&s, 1.0),
        }
    }

    /// `p50 X ms, p99 Y ms, max Z ms` with `decimals` digits.
    pub fn line(&self, decimals: usize) -> String {
        format!(
            "p50 {:.d$} ms, p99 {:.d$} ms, max {:.d$} ms",
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            d = decimals
        )
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Per-message latencies of one node (or one of its paths).
#[derive(Debug, Default, Clone)]
pub struct Latency {
    samples_ms: Vec<f64>,
}

impl Latency {
    /// Records one message's latency.
    pub fn record(&mut self, d: Duration) {
        self.samples_ms.push(d.as_secs_f64() * 1e3);
    }

    /// Records one latency given in milliseconds.
    pub fn record_ms(&mut self, ms: f64) {
        self.samples_ms.push(ms);
    }

    /// Samples recorded.
    pub fn count(&self) -> usize {
        self.samples_ms.len()
    }

    /// The `q` quantile in milliseconds, nearest rank; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.figures_at(q)
    }

    fn figures_at(&self, q: f64) -> f64 {
        let mut s = self.samples_ms.clone();
        s.sort_by(f64::total_cmp);
        quantile(&s, q)
    }

    /// The figures.
    pub fn figures(&self) -> Figures {
        Figures::of(&self.samples_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut l = Latency::default();
        for ms in [5u64, 1, 3, 2, 4] {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.quantile_ms(0.5), 3.0);
        assert_eq!(l.quantile_ms(1.0), 5.0);
        assert_eq!(l.quantile_ms(0.0), 1.0);
        let f = l.figures();
        assert_eq!((f.count, f.p50_ms, f.max_ms, f.mean_ms), (5, 3.0, 5.0, 3.0));
        assert_eq!(Figures::of(&[]).p99_ms, 0.0);
        assert_eq!(f.line(1), "p50 3.0 ms, p99 5.0 ms, max 5.0 ms");
    }
}
