//! Latency figures a node prints when it stops.

use std::time::Duration;

/// Per-message latencies of one node, summarised as percentiles at the end.
#[derive(Debug, Default, Clone)]
pub struct LatencyStats {
    samples: Vec<Duration>,
    dropped: u64,
    batches: u64,
}

impl LatencyStats {
    /// Records one processed message.
    pub fn record(&mut self, d: Duration) {
        self.samples.push(d);
    }

    /// Counts one processed batch.
    pub fn batch(&mut self) {
        self.batches += 1;
    }

    /// Counts one dropped message.
    pub fn drop_one(&mut self) {
        self.dropped += 1;
    }

    /// Messages processed.
    pub fn count(&self) -> usize {
        self.samples.len()
    }

    /// Messages dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The `q` quantile (0..=1) in milliseconds, nearest rank; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort();
        s.get(((s.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    /// One line: counts, batches, p50/p99/max.
    pub fn summary(&self, stage: &str, untrained: bool) -> String {
        let mean_batch = if self.batches == 0 {
            0.0
        } else {
            self.samples.len() as f64 / self.batches as f64
        };
        format!(
            "{stage}: {} messages{}, {} dropped, {} batches (mean {mean_batch:.2}); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.samples.len(),
            if untrained { " (UNTRAINED weights)" } else { "" },
            self.dropped,
            self.batches,
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(1.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut s = LatencyStats::default();
        for ms in [5u64, 1, 3, 2, 4] {
            s.record(Duration::from_millis(ms));
        }
        assert_eq!(s.quantile_ms(0.5), 3.0);
        assert_eq!(s.quantile_ms(1.0), 5.0);
        assert_eq!(s.quantile_ms(0.0), 1.0);
    }
}
