//! The one latency summary of the project: samples in milliseconds, nearest-rank percentiles,
//! in memory that does not grow with the run.

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

/// Samples kept exactly; past this many a summary holds them in log-spaced buckets.
const EXACT_SAMPLES: usize = 4096;
/// Bucket width: each bucket spans this ratio, so a percentile read from the buckets is within
/// half of it (0.5 %) of the exact one.
const BUCKET_RATIO: f64 = 1.01;
/// Magnitudes below this many milliseconds (100 ns) count as zero.
const SMALLEST_MS: f64 = 1e-4;
/// Buckets per sign: up to 10^6 ms (about 17 minutes); anything longer lands in the last one.
fn buckets_per_sign() -> usize {
    ((1e6 / SMALLEST_MS).ln() / BUCKET_RATIO.ln()).ceil() as usize + 1
}

/// Per-message latencies of one node (or one of its paths), in bounded memory: the first
/// [`EXACT_SAMPLES`] exactly, then log-spaced buckets (about 37 KB) whatever the run's length,
/// so a node that runs for days does not grow. Count, mean and max stay exact.
#[derive(Debug, Default, Clone)]
pub struct Latency {
    exact: Vec<f64>,
    /// Counts by magnitude, negative values (clock offsets between machines) apart.
    buckets: Option<Buckets>,
    count: usize,
    sum_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Clone)]
struct Buckets {
    negative: Vec<u64>,
    zero: u64,
    positive: Vec<u64>,
}

impl Buckets {
    fn new() -> Self {
        let n = buckets_per_sign();
        Self {
            negative: vec![0; n],
            zero: 0,
            positive: vec![0; n],
        }
    }

    /// The bucket of `magnitude` among `n` (the last one holds everything beyond).
    fn index(magnitude: f64, n: usize) -> usize {
        let i = ((magnitude / SMALLEST_MS).ln() / BUCKET_RATIO.ln()).floor();
        (i.max(0.0) as usize).min(n - 1)
    }

    /// The geometric middle of bucket `i`.
    fn middle(i: usize) -> f64 {
        SMALLEST_MS * BUCKET_RATIO.powf(i as f64 + 0.5)
    }

    fn add(&mut self, ms: f64) {
        if ms.abs() < SMALLEST_MS {
            self.zero += 1;
        } else if ms < 0.0 {
            let i = Self::index(-ms, self.negative.len());
            self.negative[i] += 1;
        } else {
            let i = Self::index(ms, self.positive.len());
            self.positive[i] += 1;
        }
    }

    /// The value of the `rank`-th smallest sample (0-based), to the bucket's precision.
    fn at_rank(&self, rank: u64) -> f64 {
        let mut seen = 0;
        for (i, n) in self.negative.iter().enumerate().rev() {
            seen += n;
            if seen > rank {
                return -Self::middle(i);
            }
        }
        seen += self.zero;
        if seen > rank {
            return 0.0;
        }
        for (i, n) in self.positive.iter().enumerate() {
            seen += n;
            if seen > rank {
                return Self::middle(i);
            }
        }
        0.0
    }
}

impl Latency {
    /// Records one message's latency.
    pub fn record(&mut self, d: Duration) {
        self.record_ms(d.as_secs_f64() * 1e3);
    }

    /// Records one latency given in milliseconds (non-finite values are not latencies: skipped).
    pub fn record_ms(&mut self, ms: f64) {
        if !ms.is_finite() {
            return;
        }
        self.max_ms = if self.count == 0 {
            ms
        } else {
            self.max_ms.max(ms)
        };
        self.count += 1;
        self.sum_ms += ms;
        match &mut self.buckets {
            Some(b) => b.add(ms),
            None if self.exact.len() < EXACT_SAMPLES => self.exact.push(ms),
            None => {
                let mut b = Buckets::new();
                for v in self.exact.drain(..).chain([ms]) {
                    b.add(v);
                }
                self.exact = Vec::new();
                self.buckets = Some(b);
            }
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The `q` quantile in milliseconds, nearest rank (within 0.5 % once past
    /// [`EXACT_SAMPLES`]); 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        match &self.buckets {
            None => {
                let mut s = self.exact.clone();
                s.sort_by(f64::total_cmp);
                quantile(&s, q)
            }
            Some(_) if q >= 1.0 => self.max_ms,
            Some(b) => {
                let rank = ((self.count - 1) as f64 * q.clamp(0.0, 1.0)).round() as u64;
                b.at_rank(rank).min(self.max_ms)
            }
        }
    }

    /// The figures.
    pub fn figures(&self) -> Figures {
        if self.buckets.is_none() {
            return Figures::of(&self.exact);
        }
        Figures {
            count: self.count,
            p50_ms: self.quantile_ms(0.5),
            p99_ms: self.quantile_ms(0.99),
            mean_ms: self.sum_ms / self.count as f64,
            max_ms: self.max_ms,
        }
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

    #[test]
    fn a_long_run_keeps_bounded_memory_and_close_percentiles() {
        // A skewed spread with negative values (clocks of two machines) and zeros among them.
        let values: Vec<f64> = (0..200_000u64)
            .map(|i| {
                let u = (i.wrapping_mul(2_654_435_761) % 100_000) as f64 / 100_000.0;
                match i % 50 {
                    0 => -3.0 * u,
                    1 => 0.0,
                    _ => 0.05 + 40.0 * u * u * u,
                }
            })
            .collect();
        let mut l = Latency::default();
        for &v in &values {
            l.record_ms(v);
        }
        l.record_ms(f64::NAN);
        assert!(l.exact.capacity() == 0 && l.buckets.is_some());
        let exact = Figures::of(&values);
        let f = l.figures();
        assert_eq!(f.count, values.len());
        assert_eq!(f.max_ms, exact.max_ms);
        assert!((f.mean_ms - exact.mean_ms).abs() < 1e-9 * exact.mean_ms.abs().max(1.0));
        for q in [0.0, 0.01, 0.02, 0.03, 0.1, 0.5, 0.9, 0.99, 0.999] {
            let mut s = values.clone();
            s.sort_by(f64::total_cmp);
            let (want, got) = (quantile(&s, q), l.quantile_ms(q));
            assert!(
                (got - want).abs() <= 0.005 * want.abs() + 1e-4,
                "q {q}: {got} against {want}"
            );
        }
    }
}
