//! The streaming detector: frames in, one room state per second of capture time out.

use crate::breathing::{BreathingEstimate, BreathingEstimator};
use crate::config::{Feature, SenseConfig};
use crate::empty::EmptyRoom;
use crate::feature::{link_features, LinkFeatures, MovingVariance};
use serde::Serialize;
use std::collections::HashMap;
use wdp_csi::CsiFrame;

const NS_PER_S: i64 = 1_000_000_000;

/// The signal-level room state of one second of capture time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecondState {
    /// Start of the second, in seconds since the first packet (a discontinuity of the capture
    /// clock continues the count, see [`SenseConfig::max_gap_s`]).
    pub t_s: u64,
    /// Packets read in this second.
    pub packets: u32,
    /// True while the quiet level is being measured; motion and presence are then false and
    /// the confidences null.
    pub calibrating: bool,
    /// Someone is moving.
    pub motion: bool,
    /// Someone is in the room (moved, and has not been still for longer than the hold).
    pub presence: bool,
    /// Confidence in the reported `motion` value (0.5: undecided, 1: sure).
    pub confidence: Option<f64>,
    /// How much this second's score looks like motion, 0..1: 0.5 in the middle of the
    /// hysteresis band (log scale), 0.9 at the entry threshold, 0.1 at the exit threshold.
    pub motion_confidence: Option<f64>,
    /// Confidence that someone is present, 0..1: 1 when motion was just seen, falling to 0.5
    /// at the end of the presence hold; when nobody is present, `motion_confidence`.
    pub presence_confidence: Option<f64>,
    /// The motion score: median over this second's packets of the moving variance of the
    /// feature (mean over links). Null without enough packets.
    pub score: Option<f64>,
    /// The quiet level the thresholds are ratios of (null while calibrating).
    pub level: Option<f64>,
    /// Score at which motion starts.
    pub enter_threshold: Option<f64>,
    /// Score below which motion stops.
    pub exit_threshold: Option<f64>,
    /// Score that keeps presence alive.
    pub presence_threshold: Option<f64>,
    /// How far the static channel is from the empty room's, in units of the calibration's
    /// own spread (about 1 for the empty room; null while calibrating or without a common
    /// link). `empty.release_s` seconds at or below `empty.release_ratio` end a held presence.
    pub empty_ratio: Option<f64>,
    /// The baseline detector of the same second.
    pub baseline: BaselineState,
    /// Breathing rate in breaths per minute: reported only after a whole breathing window
    /// (`breathing.window_s`, 30 s) without motion, when the breathing band's spectral peak has
    /// been clear and steady for `breathing.stable_s` seconds; null otherwise.
    pub breathing_bpm: Option<f64>,
    /// The breathing estimate behind it (peak, share of the band in its lobe), whenever one
    /// was made this second (the scene still for a window), clear or not.
    pub breathing: Option<BreathingEstimate>,
}

/// The baseline detector's answer for one second: moving variance of the mean amplitude
/// against a fixed threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineState {
    /// Median over the second's packets of the moving variance of the mean amplitude.
    pub score: Option<f64>,
    /// The fixed threshold.
    pub threshold: f64,
    /// Score at or above the threshold.
    pub motion: bool,
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SenseSummary {
    /// Frames given to the sensor.
    pub packets: u64,
    /// Frames with no link of enough non-zero subcarriers (nothing to measure).
    pub unusable_packets: u64,
    /// Steps of the capture clock backwards or forward by more than `max_gap_s`.
    pub discontinuities: u64,
    /// Seconds reported.
    pub seconds: u64,
    /// Seconds reported with motion / presence / baseline motion.
    pub motion_seconds: u64,
    /// Seconds reported with presence.
    pub presence_seconds: u64,
    /// Seconds the baseline called motion.
    pub baseline_motion_seconds: u64,
    /// The quiet level measured by calibration (null if it never finished).
    pub calibrated_level: Option<f64>,
}

struct LinkState {
    n_subcarriers: usize,
    feature: MovingVariance,
    mean_amplitude: MovingVariance,
}

struct Bin {
    index: u64,
    packets: u32,
    scores: Vec<f64>,
    baseline: Vec<f64>,
}

impl Bin {
    fn new(index: u64) -> Self {
        Self {
            index,
            packets: 0,
            scores: Vec::new(),
            baseline: Vec::new(),
        }
    }
}

/// Median of the values (sorted in place); `None` for none.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    })
}

/// Signal-level motion and presence from a stream of CSI frames of one receiver.
///
/// Feed frames in capture order with [`Sensor::push`]; each call returns the seconds it
/// completed (none, one, or several when the capture has a gap). [`Sensor::finish`] returns the
/// last, partial second.
pub struct Sensor {
    config: SenseConfig,
    links: HashMap<(usize, usize), LinkState>,
    /// Capture time of second 0 of the current segment, and that second's index.
    origin: Option<(i64, u64)>,
    last_ns: i64,
    bin: Option<Bin>,
    calibration: Vec<f64>,
    level: Option<f64>,
    motion: bool,
    presence: bool,
    seconds_above: u32,
    seconds_below: u32,
    seconds_since_evidence: u32,
    /// Consecutive seconds after calibration without motion.
    still_seconds: u32,
    /// The empty room's fingerprint and the running second's profiles.
    empty: EmptyRoom,
    /// Consecutive seconds without motion that looked like the empty room.
    empty_seconds: u32,
    breathing: Option<BreathingEstimator>,
    /// The estimates of the last consecutive still seconds (newest last).
    recent_breaths: std::collections::VecDeque<BreathingEstimate>,
    summary: SenseSummary,
}

impl Sensor {
    /// A sensor in calibration. The configuration is checked.
    pub fn new(config: SenseConfig) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        let breathing = if config.breathing.enabled {
            Some(
                BreathingEstimator::new(config.breathing.clone())
                    .map_err(crate::ConfigError::Invalid)?,
            )
        } else {
            None
        };
        Ok(Self {
            still_seconds: 0,
            empty: EmptyRoom::default(),
            empty_seconds: 0,
            breathing,
            recent_breaths: std::collections::VecDeque::new(),
            config,
            links: HashMap::new(),
            origin: None,
            last_ns: 0,
            bin: None,
            calibration: Vec::new(),
            level: None,
            motion: false,
            presence: false,
            seconds_above: 0,
            seconds_below: 0,
            seconds_since_evidence: 0,
            summary: SenseSummary::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SenseConfig {
        &self.config
    }

    /// Counts so far.
    pub fn summary(&self) -> &SenseSummary {
        &self.summary
    }

    /// Takes one frame; returns the seconds completed before it.
    pub fn push(&mut self, frame: &CsiFrame) -> Vec<SecondState> {
        let t = frame.timestamp_ns;
        self.summary.packets += 1;
        let mut done = Vec::new();
        let (origin_ns, origin_index) = match self.origin {
            None => {
                self.origin = Some((t, 0));
                (t, 0)
            }
            Some(o) => {
                let gap_ns = t.saturating_sub(self.last_ns);
                let max_gap_ns = (self.config.max_gap_s * 1e9) as i64;
                if gap_ns < 0 || gap_ns > max_gap_ns {
                    // A new time axis from here, one second after the current one.
                    self.summary.discontinuities += 1;
                    let next = self.bin.as_ref().map_or(o.1, |b| b.index + 1);
                    self.origin = Some((t, next));
                    self.links.clear();
                    if let Some(b) = self.breathing.as_mut() {
                        b.reset();
                    }
                    self.still_seconds = 0;
                    (t, next)
                } else {
                    o
                }
            }
        };
        self.last_ns = t;
        let index = origin_index + ((t - origin_ns) / NS_PER_S) as u64;
        loop {
            match self.bin.take() {
                Some(b) if b.index < index => {
                    let next = b.index + 1;
                    done.push(self.close(b));
                    self.bin = Some(Bin::new(next));
                }
                Some(b) => {
                    self.bin = Some(b);
                    break;
                }
                None => {
                    self.bin = Some(Bin::new(index));
                    break;
                }
            }
        }
        let features = link_features(frame);
        let (score, baseline) = self.measure(frame.timestamp_ns, &features);
        if self.config.empty.enabled {
            self.empty.push(frame, &features);
        }
        if let Some(b) = self.breathing.as_mut() {
            b.push(frame);
        }
        if let Some(bin) = self.bin.as_mut() {
            bin.packets += 1;
            bin.scores.extend(score);
            bin.baseline.extend(baseline);
        }
        done
    }

    /// Ends the stream: the last (partial) second, if any packet came.
    pub fn finish(&mut self) -> Option<SecondState> {
        let b = self.bin.take()?;
        Some(self.close(b))
    }

    /// Updates the links' windows with one frame's link features; its motion and baseline
    /// scores.
    fn measure(&mut self, t_ns: i64, features: &[LinkFeatures]) -> (Option<f64>, Option<f64>) {
        if features.is_empty() {
            self.summary.unusable_packets += 1;
            return (None, None);
        }
        let (mut sum, mut n, mut base_sum, mut base_n) = (0.0, 0usize, 0.0, 0usize);
        for f in features {
            let window_s = self.config.window_s;
            let link = self.links.entry((f.tx, f.rx)).or_insert_with(|| LinkState {
                n_subcarriers: f.n_subcarriers,
                feature: MovingVariance::new(window_s),
                mean_amplitude: MovingVariance::new(window_s),
            });
            if link.n_subcarriers != f.n_subcarriers {
                // Another kind of packet: its amplitudes are not comparable with the window's.
                link.n_subcarriers = f.n_subcarriers;
                link.feature.clear();
                link.mean_amplitude.clear();
            }
            let value = match self.config.feature {
                Feature::Turbulence => f.turbulence,
                Feature::MeanAmplitude => f.mean_amplitude,
            };
            link.feature.push(t_ns, value);
            link.mean_amplitude.push(t_ns, f.mean_amplitude);
            if link.feature.len() >= self.config.min_window_packets {
                if let Some(v) = link.feature.variance() {
                    sum += v;
                    n += 1;
                }
                if let Some(v) = link.mean_amplitude.variance() {
                    base_sum += v;
                    base_n += 1;
                }
            }
        }
        let mean = |s: f64, n: usize| (n > 0).then(|| s / n as f64);
        (mean(sum, n), mean(base_sum, base_n))
    }

    /// Decides one finished second.
    fn close(&mut self, mut bin: Bin) -> SecondState {
        let score = median(&mut bin.scores);
        let baseline_score = median(&mut bin.baseline);
        let threshold = self.config.baseline.threshold;
        let baseline = BaselineState {
            score: baseline_score,
            threshold,
            motion: baseline_score.is_some_and(|s| s >= threshold),
        };
        self.summary.seconds += 1;
        self.summary.baseline_motion_seconds += u64::from(baseline.motion);
        let profiles = self.empty.close_second();
        let Some(level) = self.level else {
            self.calibration.extend_from_slice(&bin.scores);
            self.empty.calibrate(profiles);
            // Calibration lasts its seconds, and until some packet had a score.
            if bin.index + 1 >= u64::from(self.config.calibration_s) {
                if let Some(m) = median(&mut self.calibration) {
                    let level = m.max(self.config.min_level);
                    self.level = Some(level);
                    self.summary.calibrated_level = Some(level);
                    self.calibration = Vec::new();
                    self.empty.finish_calibration();
                }
            }
            return SecondState {
                t_s: bin.index,
                packets: bin.packets,
                calibrating: true,
                motion: false,
                presence: false,
                confidence: None,
                motion_confidence: None,
                presence_confidence: None,
                score,
                level: None,
                enter_threshold: None,
                exit_threshold: None,
                presence_threshold: None,
                empty_ratio: None,
                baseline,
                breathing_bpm: None,
                breathing: None,
            };
        };
        let c = &self.config;
        let (enter, exit, keep) = (
            level * c.enter_ratio,
            level * c.exit_ratio,
            level * c.presence_ratio,
        );
        let empty_ratio = self.empty.ratio(&profiles, c.empty.min_links);
        let looks_empty = empty_ratio.is_some_and(|r| r <= c.empty.release_ratio);
        if let Some(s) = score {
            if self.motion {
                self.seconds_below = if s < exit { self.seconds_below + 1 } else { 0 };
                if self.seconds_below >= c.motion_hold_s {
                    self.motion = false;
                    self.seconds_below = 0;
                }
            } else {
                self.seconds_above = if s >= enter {
                    self.seconds_above + 1
                } else {
                    0
                };
                if self.seconds_above >= c.motion_enter_s {
                    self.motion = true;
                    self.seconds_above = 0;
                }
            }
            if self.motion || (self.presence && s >= keep) {
                self.presence = true;
                self.seconds_since_evidence = 0;
            } else if self.presence {
                self.seconds_since_evidence += 1;
                self.empty_seconds = if looks_empty {
                    self.empty_seconds + 1
                } else {
                    0
                };
                if self.seconds_since_evidence >= c.presence_hold_s
                    || (c.empty.enabled && self.empty_seconds >= c.empty.release_s)
                {
                    self.presence = false;
                }
            }
            if self.presence && self.seconds_since_evidence == 0 {
                self.empty_seconds = 0;
            }
            if !self.presence && !self.motion {
                // Follow the empty room: fast down (a disturbed calibration), slow up.
                let s = s.max(c.min_level);
                let rate = if s < level {
                    c.level_down_rate
                } else {
                    c.level_up_rate
                };
                let next = (level.ln() + rate * (s.ln() - level.ln())).exp();
                self.level = Some(next.max(c.min_level));
                self.empty.follow(&profiles, c.empty.follow_rate);
            }
        }
        let motion_confidence = score.map(|s| logistic_confidence(s, enter, exit));
        let presence_confidence = motion_confidence.map(|m| {
            if self.presence {
                let held = f64::from(self.seconds_since_evidence) / f64::from(c.presence_hold_s);
                m.max(1.0 - 0.5 * held)
            } else {
                m
            }
        });
        // Breathing: only after a whole window of seconds without motion.
        self.still_seconds = if self.motion || score.is_none() {
            0
        } else {
            self.still_seconds.saturating_add(1)
        };
        let breathing = match self.breathing.as_ref() {
            Some(b) if f64::from(self.still_seconds) >= b.config().window_s.ceil() => b.estimate(),
            _ => None,
        };
        let breathing_bpm = self.stable_breathing(breathing);
        self.summary.motion_seconds += u64::from(self.motion);
        self.summary.presence_seconds += u64::from(self.presence);
        SecondState {
            t_s: bin.index,
            packets: bin.packets,
            calibrating: false,
            motion: self.motion,
            presence: self.presence,
            confidence: motion_confidence.map(|m| if self.motion { m } else { 1.0 - m }),
            motion_confidence,
            presence_confidence,
            score,
            level: Some(level),
            enter_threshold: Some(enter),
            exit_threshold: Some(exit),
            presence_threshold: Some(keep),
            empty_ratio,
            baseline,
            breathing_bpm,
            breathing,
        }
    }
}

impl Sensor {
    /// The rate to report after this second's estimate: the median of the last `stable_s`
    /// estimates when they were all clear and agree within `stable_bpm`.
    fn stable_breathing(&mut self, estimate: Option<BreathingEstimate>) -> Option<f64> {
        let config = &self.config.breathing;
        match estimate {
            Some(e) if e.clear => self.recent_breaths.push_back(e),
            _ => {
                self.recent_breaths.clear();
                return None;
            }
        }
        let keep = config.stable_s as usize;
        while self.recent_breaths.len() > keep {
            self.recent_breaths.pop_front();
        }
        if self.recent_breaths.len() < keep {
            return None;
        }
        let mut rates: Vec<f64> = self.recent_breaths.iter().map(|e| e.bpm).collect();
        let spread = rates.iter().copied().fold(f64::MIN, f64::max)
            - rates.iter().copied().fold(f64::MAX, f64::min);
        if spread > config.stable_bpm {
            return None;
        }
        median(&mut rates)
    }
}

/// 0.5 at the geometric middle of the hysteresis band, 0.9 at `enter`, 0.1 at `exit`.
fn logistic_confidence(score: f64, enter: f64, exit: f64) -> f64 {
    if score <= 0.0 {
        return 0.0;
    }
    let half_band = 0.5 * (enter / exit).ln();
    // A band of (almost) zero width is a plain threshold: a steep step.
    let k = if half_band > 1e-3 {
        9f64.ln() / half_band
    } else {
        50.0
    };
    let z = k * (score.ln() - 0.5 * (enter.ln() + exit.ln()));
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wdp_csi::{CaptureFormat, Complex32};

    /// A 64-subcarrier single-link frame (DC and band edges zero, like an ESP32) whose
    /// amplitude profile is `1 + depth * sin(...)`, scaled by `gain`.
    fn frame(t_ns: i64, depth: f32, phase: f32, gain: f32) -> CsiFrame {
        let csi = (0..64)
            .map(|k| {
                if k == 0 || (27..38).contains(&k) {
                    Complex32::new(0.0, 0.0)
                } else {
                    let a = gain * (1.0 + depth * (0.3 * k as f32 + phase).sin());
                    Complex32::new(a, 0.0)
                }
            })
            .collect();
        CsiFrame {
            format: CaptureFormat::Simulated,
            n_tx: 1,
            n_rx: 1,
            subcarriers: (0..64).collect(),
            csi,
            timestamp_ns: t_ns,
            rssi_dbm: None,
            noise_dbm: None,
            meta: Default::default(),
        }
    }

    /// 100 packets/s; quiet = the profile barely breathes, moving = its shape swings.
    fn run(sensor: &mut Sensor, from_s: u32, to_s: u32, moving: bool) -> Vec<SecondState> {
        let mut out = Vec::new();
        for i in from_s * 100..to_s * 100 {
            let t = i as f32 / 100.0;
            let (depth, phase) = if moving {
                (0.3 + 0.2 * (6.0 * t).sin(), 2.0 * t)
            } else {
                (0.3 + 0.002 * (37.0 * t).sin(), 0.0)
            };
            // The gain steps by 6 dB every 0.37 s: the turbulence must not see it.
            let gain = if ((t / 0.37) as u32) & 1 == 0 {
                20.0
            } else {
                40.0
            };
            out.extend(sensor.push(&frame(i as i64 * 10_000_000, depth, phase, gain)));
        }
        out
    }

    #[test]
    fn quiet_then_moving_then_quiet_with_gain_steps() {
        let config = SenseConfig {
            presence_hold_s: 5,
            ..SenseConfig::default()
        };
        let mut s = Sensor::new(config).unwrap();
        let mut states = run(&mut s, 0, 10, false);
        states.extend(run(&mut s, 10, 20, true));
        states.extend(run(&mut s, 20, 40, false));
        states.extend(s.finish());
        assert_eq!(states.len(), 40);
        assert!(states[..5].iter().all(|st| st.calibrating && !st.motion));
        assert!(states[5..10].iter().all(|st| !st.motion && !st.presence));
        // The gain steps alone fool the fixed-threshold baseline.
        assert!(states[5..10].iter().any(|st| st.baseline.motion));
        assert!(states[11..20].iter().all(|st| st.motion && st.presence));
        let motion_ends = (20..40).find(|&i| !states[i].motion).unwrap();
        assert!(
            (21..=24).contains(&motion_ends),
            "motion ended at {motion_ends}"
        );
        // Presence holds 5 s after the last evidence, then the room is empty again.
        assert!(states[motion_ends].presence);
        assert!(!states[39].presence);
        let c = states[15].confidence.unwrap();
        assert!(c > 0.9, "{c}");
        assert_eq!(s.summary().seconds, 40);
    }

    /// 100 packets/s on `n_rx` links from `from_s` to `to_s`: each link a fixed multipath shape
    /// with 0.5% of noise, plus a person's path of strength `body` when one is in the room,
    /// swinging when `moving`.
    fn room(
        s: &mut Sensor,
        n_rx: usize,
        from_s: u32,
        to_s: u32,
        body: f32,
        moving: bool,
    ) -> Vec<SecondState> {
        let mut out = Vec::new();
        for i in from_s * 100..to_s * 100 {
            let t = i as f32 / 100.0;
            let swing = if moving {
                2.0 * t + (6.0 * t).sin()
            } else {
                0.0
            };
            let csi = (0..n_rx * 30)
                .map(|j| {
                    let (r, k) = ((j / 30) as f32, (j % 30) as f32);
                    let noise = ((i as usize * 7919 + j * 104_729) % 1009) as f32 / 1009.0 - 0.5;
                    let a = 1.0
                        + 0.3 * (0.3 * k + r).sin()
                        + body * (0.7 * k + 1.3 * r + swing).cos()
                        + 0.01 * noise;
                    Complex32::new(a, 0.0)
                })
                .collect();
            let f = CsiFrame {
                format: CaptureFormat::Simulated,
                n_tx: 1,
                n_rx,
                subcarriers: (0..30).collect(),
                csi,
                timestamp_ns: i as i64 * 10_000_000,
                rssi_dbm: None,
                noise_dbm: None,
                meta: Default::default(),
            };
            out.extend(s.push(&f));
        }
        out
    }

    #[test]
    fn a_room_back_to_its_empty_fingerprint_ends_presence_before_the_hold() {
        for n_rx in [3, 1] {
            let mut s = Sensor::new(SenseConfig::default()).unwrap();
            let mut states = room(&mut s, n_rx, 0, 10, 0.0, false);
            states.extend(room(&mut s, n_rx, 10, 20, 0.2, true));
            // Still for 30 s: motion stops, the person is still there.
            states.extend(room(&mut s, n_rx, 20, 50, 0.2, false));
            states.extend(room(&mut s, n_rx, 50, 75, 0.0, false));
            states.extend(s.finish());
            let presence: Vec<bool> = states.iter().map(|st| st.presence).collect();
            assert!(
                presence[11..50].iter().all(|&p| p),
                "{n_rx} links: {presence:?}"
            );
            assert!(states[25..50].iter().all(|st| !st.motion), "{n_rx} links");
            if n_rx == 3 {
                // The still person is far from the empty room; the empty room is back near 1.
                assert!(states[30].empty_ratio.unwrap() > 10.0, "{:?}", states[30]);
                assert!(states[60].empty_ratio.unwrap() < 3.0, "{:?}", states[60]);
                let left = (50..75).find(|&i| !presence[i]).unwrap();
                assert!(left <= 50 + 7, "presence ended at {left}");
            } else {
                // One link: no fingerprint, the hold decides (60 s after the last evidence).
                assert!(states[60].empty_ratio.is_none());
                assert!(presence[50..75].iter().all(|&p| p), "{presence:?}");
            }
        }
    }

    #[test]
    fn gaps_emit_empty_seconds_and_clock_steps_restart_the_axis() {
        let mut s = Sensor::new(SenseConfig::default()).unwrap();
        let mut states = Vec::new();
        for (i, t) in [0, 100, 3_200, 3_300, 100, 200].into_iter().enumerate() {
            states.extend(s.push(&frame(t * 1_000_000, 0.3, i as f32, 10.0)));
        }
        states.extend(s.finish());
        let t: Vec<u64> = states.iter().map(|st| st.t_s).collect();
        let packets: Vec<u32> = states.iter().map(|st| st.packets).collect();
        assert_eq!(t, [0, 1, 2, 3, 4]);
        assert_eq!(packets, [2, 0, 0, 2, 2]);
        assert_eq!(s.summary().discontinuities, 1);
    }

    #[test]
    fn confidence_is_a_hysteresis_centred_logistic() {
        assert!((logistic_confidence(4.0, 4.0, 2.0) - 0.9).abs() < 1e-9);
        assert!((logistic_confidence(2.0, 4.0, 2.0) - 0.1).abs() < 1e-9);
        assert!((logistic_confidence(8f64.sqrt(), 4.0, 2.0) - 0.5).abs() < 1e-9);
        assert_eq!(logistic_confidence(0.0, 4.0, 2.0), 0.0);
    }
}
