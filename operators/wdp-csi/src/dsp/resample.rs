//! Resampling of irregular packet streams onto a uniform time grid.
//!
//! Packets arrive with jitter, some are lost and some are duplicated; the model wants one sample
//! every `1 / rate_hz`. Each grid time between two accepted packets is linearly interpolated
//! from them (complex values component-wise, which is linear interpolation of the complex
//! number; polar phase along the shorter arc). Duplicates (same timestamp) and packets older
//! than the previous one are dropped and counted; a gap longer than `max_gap_s` is not bridged:
//! the grid restarts at the next packet. A step back longer than `max_gap_s` is not a late
//! packet but the clock starting over (a radio rebooting, a counter wrapping, a wall clock
//! stepped back): the grid restarts there too, instead of every packet being "older than the
//! previous one" until the clock catches up. The loss figure compares the packets received with the
//! packets expected at the nominal packet rate (given, or the mean rate of the first packets:
//! real radios send in bursts, e.g. Intel 5300 captures at 0.4 ms within a burst and 100 ms
//! between bursts, so a median interval would overstate the rate many times).

use super::phase::wrap;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Settings of [`Resampler`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResampleConfig {
    /// Output rate; `None` uses the estimated packet rate (the grid then starts once it is
    /// estimated, after `estimate_packets` packets).
    pub rate_hz: Option<f64>,
    /// Nominal input packet rate, for the loss figure; `None` estimates it.
    pub packet_rate_hz: Option<f64>,
    /// Packet intervals used to estimate the packet rate (their mean; gaps longer than
    /// `max_gap_s` are left out).
    pub estimate_packets: usize,
    /// Longest interval that is interpolated over; longer gaps restart the grid.
    pub max_gap_s: f64,
}

impl Default for ResampleConfig {
    fn default() -> Self {
        Self {
            rate_hz: Some(100.0),
            packet_rate_hz: None,
            estimate_packets: 16,
            max_gap_s: 1.0,
        }
    }
}

/// What the resampler has seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResampleStats {
    /// Packets accepted (not duplicates, not out of order).
    pub received: u64,
    /// Packets with the same timestamp as the previous one, dropped.
    pub duplicates: u64,
    /// Packets older than the previous one, dropped.
    pub out_of_order: u64,
    /// Packets expected at the nominal rate but not received.
    pub missing: u64,
    /// Gaps longer than `max_gap_s` (grid restarted).
    pub gaps: u64,
    /// Steps back longer than `max_gap_s`: the clock started over (grid restarted).
    pub clock_jumps: u64,
    /// Packets consumed while estimating the rate, before the grid started.
    pub warmup: u64,
    /// Uniform samples produced.
    pub emitted: u64,
    /// Nominal packet interval in use, ns (0 until known).
    pub nominal_interval_ns: f64,
    /// Mean absolute deviation of regular packet intervals from the nominal one, ns.
    pub jitter_ns: f64,
    #[serde(skip)]
    jitter_sum_ns: f64,
    #[serde(skip)]
    jitter_n: u64,
}

impl ResampleStats {
    /// Adds another resampler's counts (after a reset) to these.
    pub fn absorb(&mut self, other: &ResampleStats) {
        self.received += other.received;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.missing += other.missing;
        self.gaps += other.gaps;
        self.clock_jumps += other.clock_jumps;
        self.warmup += other.warmup;
        self.emitted += other.emitted;
        self.jitter_sum_ns += other.jitter_sum_ns;
        self.jitter_n += other.jitter_n;
        if other.nominal_interval_ns > 0.0 {
            self.nominal_interval_ns = other.nominal_interval_ns;
        }
        if self.jitter_n > 0 {
            self.jitter_ns = self.jitter_sum_ns / self.jitter_n as f64;
        }
    }

    /// Fraction of expected packets that were missing: `missing / (received + missing)`.
    pub fn loss_fraction(&self) -> f64 {
        let expected = self.received + self.missing;
        if expected == 0 {
            0.0
        } else {
            self.missing as f64 / expected as f64
        }
    }
}

/// Streaming resampler over packets of `n_values` f32 each.
#[derive(Debug, Clone)]
pub struct Resampler {
    config: ResampleConfig,
    n_values: usize,
    period_ns: Option<f64>,
    nominal_ns: Option<f64>,
    intervals: Vec<i64>,
    prev_t_ns: Option<i64>,
    prev: Vec<f32>,
    grid_start_ns: i64,
    grid_n: u64,
    grid_on: bool,
    out_t_ns: Vec<i64>,
    out: Vec<f32>,
    stats: ResampleStats,
}

impl Resampler {
    /// A resampler for packets of `n_values` values.
    pub fn new(n_values: usize, config: ResampleConfig) -> Self {
        let period_ns = config.rate_hz.filter(|r| *r > 0.0).map(|r| 1e9 / r);
        let nominal_ns = config.packet_rate_hz.filter(|r| *r > 0.0).map(|r| 1e9 / r);
        Self {
            intervals: Vec::with_capacity(config.estimate_packets.max(1)),
            config,
            n_values,
            period_ns,
            nominal_ns,
            prev_t_ns: None,
            prev: vec![0.0; n_values],
            grid_start_ns: 0,
            grid_n: 0,
            grid_on: false,
            out_t_ns: Vec::new(),
            out: Vec::new(),
            stats: ResampleStats {
                nominal_interval_ns: nominal_ns.unwrap_or(0.0),
                ..Default::default()
            },
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &ResampleStats {
        &self.stats
    }

    /// The output rate, once known.
    pub fn rate_hz(&self) -> Option<f64> {
        self.period_ns.map(|p| 1e9 / p)
    }

    /// Samples produced by the last [`Resampler::push`].
    pub fn len(&self) -> usize {
        self.out_t_ns.len()
    }

    /// True when the last push produced nothing.
    pub fn is_empty(&self) -> bool {
        self.out_t_ns.is_empty()
    }

    /// The `i`-th sample produced by the last push: grid time and values.
    pub fn sample(&self, i: usize) -> Option<(i64, &[f32])> {
        let t = *self.out_t_ns.get(i)?;
        let v = self.out.get(i * self.n_values..(i + 1) * self.n_values)?;
        Some((t, v))
    }

    /// Consumes one packet. `phase` is the range of `values` holding wrapped phase (interpolated
    /// along the shorter arc), if any. Returns the number of uniform samples produced, read
    /// with [`Resampler::sample`].
    pub fn push(&mut self, t_ns: i64, values: &[f32], phase: Option<Range<usize>>) -> usize {
        self.out_t_ns.clear();
        self.out.clear();
        let values = &values[..values.len().min(self.n_values)];
        let Some(prev_t) = self.prev_t_ns else {
            self.accept_first(t_ns, values);
            return self.len();
        };
        if t_ns == prev_t {
            self.stats.duplicates += 1;
            return 0;
        }
        if t_ns < prev_t {
            if (prev_t - t_ns) as f64 > self.config.max_gap_s * 1e9 {
                self.stats.clock_jumps += 1;
                self.grid_on = false;
                self.accept_first(t_ns, values);
                return self.len();
            }
            self.stats.out_of_order += 1;
            return 0;
        }
        self.stats.received += 1;
        let dt = t_ns - prev_t;
        self.note_interval(dt);
        let max_gap_ns = self.config.max_gap_s * 1e9;
        if dt as f64 > max_gap_ns {
            self.stats.gaps += 1;
            self.grid_on = false;
        }
        if self.period_ns.is_none() {
            // Auto rate: the packet rate once estimated.
            if let Some(nominal) = self.nominal_ns {
                self.period_ns = Some(nominal);
            } else {
                self.stats.warmup += 1;
            }
        }
        match self.period_ns {
            Some(period) if self.grid_on => loop {
                let tg = self.grid_time(self.grid_n, period);
                if tg > t_ns {
                    break;
                }
                let w = ((tg - prev_t) as f64 / dt as f64) as f32;
                let start = self.out.len();
                self.out
                    .extend(self.prev.iter().zip(values).map(|(&a, &b)| a + w * (b - a)));
                if let Some(r) = phase.clone() {
                    let out = &mut self.out[start..start + self.n_values];
                    for i in r.filter(|&i| i < values.len()) {
                        out[i] = self.prev[i] + w * wrap(values[i] - self.prev[i]);
                    }
                }
                self.out_t_ns.push(tg);
                self.grid_n += 1;
            },
            Some(_) => self.start_grid(t_ns, values),
            None => {}
        }
        self.prev_t_ns = Some(t_ns);
        self.prev.copy_from_slice(values);
        self.stats.emitted += self.len() as u64;
        self.len()
    }

    fn accept_first(&mut self, t_ns: i64, values: &[f32]) {
        self.stats.received += 1;
        self.prev_t_ns = Some(t_ns);
        self.prev.copy_from_slice(values);
        if self.period_ns.is_some() {
            self.start_grid(t_ns, values);
            self.stats.emitted += self.len() as u64;
        } else {
            self.stats.warmup += 1;
        }
    }

    fn start_grid(&mut self, t_ns: i64, values: &[f32]) {
        self.grid_on = true;
        self.grid_start_ns = t_ns;
        self.grid_n = 1;
        self.out_t_ns.push(t_ns);
        self.out.extend_from_slice(values);
    }

    fn grid_time(&self, n: u64, period_ns: f64) -> i64 {
        // Integer start plus a rounded offset keeps ns precision on epoch timestamps.
        self.grid_start_ns + (n as f64 * period_ns).round() as i64
    }

    fn note_interval(&mut self, dt: i64) {
        match self.nominal_ns {
            Some(nominal) => self.count_interval(dt, nominal),
            None => {
                if dt as f64 > self.config.max_gap_s * 1e9 {
                    return;
                }
                self.intervals.push(dt);
                if self.intervals.len() >= self.config.estimate_packets.max(1) {
                    let sum: i64 = self.intervals.iter().sum();
                    let nominal = sum as f64 / self.intervals.len() as f64;
                    self.nominal_ns = Some(nominal);
                    self.stats.nominal_interval_ns = nominal;
                    for dt in std::mem::take(&mut self.intervals) {
                        self.count_interval(dt, nominal);
                    }
                }
            }
        }
    }

    fn count_interval(&mut self, dt: i64, nominal_ns: f64) {
        let periods = (dt as f64 / nominal_ns).round().max(1.0);
        self.stats.missing += periods as u64 - 1;
        if periods == 1.0 {
            self.stats.jitter_sum_ns += (dt as f64 - nominal_ns).abs();
            self.stats.jitter_n += 1;
            self.stats.jitter_ns = self.stats.jitter_sum_ns / self.stats.jitter_n as f64;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::SplitMix64;
    use proptest::prelude::*;

    /// Runs packets (t, value) through a 1-value resampler, collecting (t, value) outputs.
    fn run(r: &mut Resampler, packets: &[(i64, f32)]) -> Vec<(i64, f32)> {
        let mut out = Vec::new();
        for &(t, v) in packets {
            let n = r.push(t, &[v], None);
            for i in 0..n {
                let (t, s) = r.sample(i).unwrap();
                out.push((t, s[0]));
            }
        }
        out
    }

    #[test]
    fn uniform_grid_from_jittered_lossy_duplicated_packets() {
        // 1 kHz packets with ±200 µs jitter, 10% lost, some duplicated; a ramp signal v = t.
        let mut rng = SplitMix64::new(11);
        let mut packets = Vec::new();
        let mut lost = 0;
        let mut dups = 0;
        for n in 0..5000i64 {
            if n > 0 && rng.next_f64() < 0.1 {
                lost += 1;
                continue;
            }
            let t = n * 1_000_000 + (rng.next_f64() * 400_000.0) as i64 - 200_000 + 1_000_000_000;
            packets.push((t, t as f32 * 1e-9));
            if rng.next_f64() < 0.02 {
                packets.push((t, 0.0));
                dups += 1;
            }
        }
        let mut r = Resampler::new(
            1,
            ResampleConfig {
                rate_hz: Some(100.0),
                packet_rate_hz: Some(1000.0),
                ..Default::default()
            },
        );
        let out = run(&mut r, &packets);
        // Uniform 10 ms steps from the first packet, the value follows time.
        for w in out.windows(2) {
            assert_eq!(w[1].0 - w[0].0, 10_000_000);
        }
        for (t, v) in &out {
            assert!((v - *t as f32 * 1e-9).abs() < 1e-3);
        }
        let s = r.stats();
        assert_eq!(s.duplicates, dups);
        let span = (packets.last().unwrap().0 - packets[0].0) as f64;
        assert_eq!(out.len(), (span / 1e7) as usize + 1);
        // The loss figure estimates the true 10% (jitter blurs it a little).
        let true_loss = lost as f64 / 5000.0;
        assert!(
            (s.loss_fraction() - true_loss).abs() < 0.02,
            "{} vs {true_loss}",
            s.loss_fraction()
        );
        assert!(
            s.jitter_ns > 50_000.0 && s.jitter_ns < 150_000.0,
            "{}",
            s.jitter_ns
        );
    }

    #[test]
    fn estimates_rate_and_bridges_no_long_gap() {
        let mut r = Resampler::new(
            1,
            ResampleConfig {
                rate_hz: None,
                ..Default::default()
            },
        );
        let mut packets: Vec<(i64, f32)> = (0..100).map(|n| (n * 20_000_000, n as f32)).collect();
        packets.extend((0..50).map(|n| (10_000_000_000 + n * 20_000_000, 0.0)));
        packets.push((10_980_000_000 - 5_000_000, 0.0)); // out of order: 5 ms late
        let out = run(&mut r, &packets);
        assert_eq!(r.rate_hz().map(|r| r.round()), Some(50.0));
        let s = r.stats();
        assert_eq!(s.gaps, 1);
        assert_eq!(s.out_of_order, 1);
        assert_eq!(s.warmup, 16);
        // No sample inside the 8 s gap.
        assert!(out
            .iter()
            .all(|(t, _)| *t <= 1_980_000_000 || *t >= 10_000_000_000));
    }

    #[test]
    fn a_clock_starting_over_restarts_the_grid_instead_of_dropping_everything_after_it() {
        let mut r = Resampler::new(
            1,
            ResampleConfig {
                rate_hz: Some(50.0),
                packet_rate_hz: Some(50.0),
                ..Default::default()
            },
        );
        // 4 s of packets at 50 Hz, then the radio reboots: its clock starts again near 0.
        let mut packets: Vec<(i64, f32)> = (0..200)
            .map(|n| (3_600_000_000_000 + n * 20_000_000, 1.0))
            .collect();
        packets.extend((0..100).map(|n| (1_000_000 + n * 20_000_000, 2.0)));
        let out = run(&mut r, &packets);
        let s = r.stats();
        assert_eq!((s.clock_jumps, s.out_of_order), (1, 0));
        // Every packet after the jump is used: 100 samples on the new clock.
        let after: Vec<_> = out.iter().filter(|(t, _)| *t < 1_000_000_000_000).collect();
        assert_eq!(after.len(), 100);
        assert!(after.iter().all(|(_, v)| *v == 2.0));
        for w in after.windows(2) {
            assert_eq!(w[1].0 - w[0].0, 20_000_000);
        }
    }

    #[test]
    fn polar_phase_interpolates_along_the_short_arc() {
        let mut r = Resampler::new(
            2,
            ResampleConfig {
                rate_hz: Some(2.0),
                ..Default::default()
            },
        );
        r.push(0, &[1.0, 3.0], Some(1..2));
        let n = r.push(1_000_000_000, &[3.0, -3.0], Some(1..2));
        assert_eq!(n, 2);
        let (t, v) = r.sample(0).unwrap();
        assert_eq!(t, 500_000_000);
        assert!((v[0] - 2.0).abs() < 1e-6);
        // Halfway from 3 to -3 across ±π, not through 0.
        assert!(wrap(v[1]).abs() > 3.0, "{}", v[1]);
    }

    proptest! {
        #[test]
        fn keeps_timing_of_any_increasing_stream(
            gaps in prop::collection::vec(1i64..30_000_000, 2..300),
            rate in 10.0f64..500.0,
        ) {
            let mut t = 123_456_789i64;
            let packets: Vec<(i64, f32)> = gaps.iter().map(|g| { t += g; (t, (t % 1000) as f32) }).collect();
            let mut r = Resampler::new(1, ResampleConfig { rate_hz: Some(rate), ..Default::default() });
            let out = run(&mut r, &packets);
            let period = 1e9 / rate;
            prop_assert_eq!(out[0].0, packets[0].0);
            for (i, (t, _)) in out.iter().enumerate() {
                let want = packets[0].0 + (i as f64 * period).round() as i64;
                prop_assert_eq!(*t, want);
                prop_assert!(*t <= packets.last().unwrap().0);
            }
            let span = packets.last().unwrap().0 - packets[0].0;
            let expected = (0u64..).take_while(|n| (*n as f64 * period).round() as i64 <= span).count();
            prop_assert_eq!(out.len(), expected);
        }
    }
}
