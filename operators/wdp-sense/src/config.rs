//! Every threshold and time of the detector, with the reason for its default.

use crate::breathing::BreathingConfig;
use serde::{Deserialize, Serialize};

/// The per-packet quantity whose moving variance is the motion score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Normalised spatial turbulence: the coefficient of variation (std / mean) of one link's
    /// subcarrier amplitudes. Dividing by the mean makes it blind to the receiver's gain (AGC
    /// steps, gain lock or not); what is left is the frequency selectivity of the channel, which
    /// moving bodies change and noise barely does.
    Turbulence,
    /// The mean amplitude over subcarriers, as ESP32 motion detectors use it (gain steps move
    /// it as much as a person does). Kept so that the same calibration can be tried on it.
    MeanAmplitude,
}

/// Configuration of [`crate::Sensor`]. Every field has a default (`#[serde(default)]`), so a
/// YAML file only names what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SenseConfig {
    /// What the motion score is the moving variance of. Default `turbulence`.
    pub feature: Feature,
    /// Length of the moving-variance window in seconds of capture time. Default 1 s: a walking
    /// or gesturing body changes the multipath at 0.5-5 Hz, so a second holds at least half a
    /// period of the slowest movement while still answering within the second.
    pub window_s: f64,
    /// Fewest packets of a link in the window for its variance to count. Default 5: a variance
    /// of fewer samples is mostly chance, and sparse captures (a few packets per second) should
    /// report "no score" rather than a noisy one.
    pub min_window_packets: usize,
    /// Seconds at the start of the capture assumed quiet (nobody moving), from which the quiet
    /// level of the score is measured. Default 5 s: enough seconds that the median of the
    /// per-packet scores is stable, short enough to fit the quiet minutes after an installation.
    /// The median keeps the level right while less than half of these seconds are disturbed
    /// (the installer walking away). Motion and presence are not reported during calibration.
    pub calibration_s: u32,
    /// Motion starts when a second's score reaches `enter_ratio` x the quiet level. Default 4
    /// (+6 dB). The score is a variance estimate: in a quiet room it wanders by about a factor
    /// of 1.5-2 second to second (a variance of a correlated series has few effective degrees of
    /// freedom), and the level tracks the lower side of that wander; 4x stays above it, while a
    /// moving body changes a sizeable share of the received power and raises the variance by
    /// ten times or more.
    pub enter_ratio: f64,
    /// Motion stops once the score stays below `exit_ratio` x the quiet level (hysteresis).
    /// Default 2 (+3 dB): half the entry threshold in the log domain, above the quiet wander,
    /// so a slowing movement does not flicker across a single threshold.
    pub exit_ratio: f64,
    /// A second whose score reaches `presence_ratio` x the quiet level keeps presence alive
    /// (small movements of a person who sits or stands). Default 2, the exit threshold: what is
    /// too weak to be called motion but above the quiet wander. Presence never starts from it:
    /// only motion starts presence (someone has to come in), so a quiet room stays empty.
    pub presence_ratio: f64,
    /// Lower bound of the quiet level. Default 1e-6: the order of the variance that 8-bit
    /// quantisation alone puts on the turbulence of 50 subcarriers (ESP32 int8 CSI); below it
    /// a "level" is numerical noise and ratios of it mean nothing (a noise-free simulation).
    pub min_level: f64,
    /// Consecutive seconds at or above the entry threshold before motion is reported. Default
    /// 1: the window already averages over a second, so one second is already a sustained
    /// change, and an occupancy sensor should answer fast.
    pub motion_enter_s: u32,
    /// Consecutive seconds below the exit threshold before motion ends. Default 2: a walking
    /// person pauses (turning, reaching) for about a second; motion should not blink off then.
    pub motion_hold_s: u32,
    /// Seconds without motion and without presence evidence before presence ends. Default 60:
    /// a person sitting still (reading, at a desk) may not move measurably for tens of seconds;
    /// one minute is also the usual occupancy timeout of PIR sensors in home automation.
    pub presence_hold_s: u32,
    /// After calibration, in seconds with nobody present, the quiet level moves toward a
    /// lower second's score by this fraction (in the log domain) per second. Default 0.2 (a
    /// 5-second time constant): a calibration spoiled by a disturbed start recovers within
    /// seconds once the room is really quiet.
    pub level_down_rate: f64,
    /// The same toward a higher score. Default 0.005 (a time constant of about 3 minutes): slow
    /// changes of an empty room (temperature, humidity, a door left open) are followed, but a
    /// few seconds of anything are not learnt as "quiet".
    pub level_up_rate: f64,
    /// A jump of the capture clock forward by more than this many seconds, or any step
    /// backwards, is a discontinuity (a new capture appended, a clock reset): the time axis
    /// continues at the next second and the windows restart. Default 10 s, so that a capture
    /// with a corrupt timestamp does not print millions of empty seconds.
    pub max_gap_s: f64,
    /// Ending a held presence early when the room looks empty again ([`crate::empty`]).
    pub empty: EmptyConfig,
    /// The baseline detector computed beside ours in the same run.
    pub baseline: BaselineConfig,
    /// The breathing rate of a still person ([`crate::breathing`]).
    pub breathing: BreathingConfig,
}

/// When a held presence ends early because the static channel is back to the empty room's
/// ([`crate::empty`]). Only ends presence, never starts it: a quiet room stays empty whatever
/// its static channel does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmptyConfig {
    /// Use the empty room's fingerprint. Default true.
    pub enabled: bool,
    /// A second looks empty when its amplitude profile is within `release_ratio` x the
    /// calibration's own spread of the empty room's profile. Default 3: the spread is the
    /// median second-to-second difference of the quiet start, so an empty room reads about 1
    /// and wanders by a factor of about 2; a person standing or sitting in the room changes a
    /// share of the paths and reads tens of times more.
    pub release_ratio: f64,
    /// Consecutive seconds that look empty, without motion, that end a held presence. Default
    /// 5: one second could be chance; five are a room that stayed the way it was without anybody.
    pub release_s: u32,
    /// Fewest links (antenna pairs) the fingerprint needs. Default 3: with one link it cannot
    /// tell a still person from the empty room. Measured: on the simulator's ESP32 (one link,
    /// 2.4 GHz) still people were released as absent (70 missed seconds against 15 without
    /// it), and on the real ESP32-S3 recordings even a moving person's profile stays within
    /// 1-3 spreads of the empty room's; on the simulated 3x3 NIC (9 links) a still person reads
    /// far above and the empty room again below 3 (presence F1 0.664 -> 0.952).
    pub min_links: usize,
    /// While the room is empty and quiet, the fingerprint moves toward each second's profile by
    /// this fraction. Default 0.01 (a time constant of about 100 s): slow changes of the empty
    /// room are followed, a few seconds of anything are not learnt.
    pub follow_rate: f64,
}

impl Default for EmptyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            release_ratio: 3.0,
            release_s: 5,
            min_links: 3,
            follow_rate: 0.01,
        }
    }
}

/// The baseline a user would otherwise run: moving variance (same window) of the mean
/// amplitude, with a fixed threshold and no calibration, hysteresis or hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Threshold on the moving variance of the mean amplitude, in the capture's raw amplitude
    /// units squared. Default 10: a standard deviation of about 3 units, 5-10% of a typical
    /// ESP32 int8 mean amplitude (30-60), about 0.5-1 dB. Fixed thresholds in raw units are
    /// what this baseline is: they mean something else on every chip, gain and format.
    pub threshold: f64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self { threshold: 10.0 }
    }
}

impl Default for SenseConfig {
    fn default() -> Self {
        Self {
            feature: Feature::Turbulence,
            window_s: 1.0,
            min_window_packets: 5,
            calibration_s: 5,
            enter_ratio: 4.0,
            exit_ratio: 2.0,
            presence_ratio: 2.0,
            min_level: 1e-6,
            motion_enter_s: 1,
            motion_hold_s: 2,
            presence_hold_s: 60,
            level_down_rate: 0.2,
            level_up_rate: 0.005,
            max_gap_s: 10.0,
            empty: EmptyConfig::default(),
            baseline: BaselineConfig::default(),
            breathing: BreathingConfig::default(),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML does not parse or names unknown fields.
    #[error("sense configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A field is out of its range.
    #[error("sense configuration: {0}")]
    Invalid(String),
}

impl SenseConfig {
    /// Reads a YAML configuration (missing fields keep their defaults) and checks it.
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigError> {
        // An empty file is the default configuration, not an error.
        let config: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            serde_yaml::from_str(text)?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks that every field is in its range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError::Invalid(what.to_owned()));
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.window_s) {
            return bad("window_s must be > 0");
        }
        if self.min_window_packets < 2 {
            return bad("min_window_packets must be >= 2 (a variance needs two samples)");
        }
        if self.calibration_s == 0 {
            return bad("calibration_s must be >= 1: the thresholds come from the quiet start");
        }
        if !(positive(self.enter_ratio) && positive(self.exit_ratio))
            || self.exit_ratio > self.enter_ratio
        {
            return bad("need 0 < exit_ratio <= enter_ratio");
        }
        if !positive(self.presence_ratio) {
            return bad("presence_ratio must be > 0");
        }
        if !positive(self.min_level) {
            return bad("min_level must be > 0");
        }
        if self.motion_enter_s == 0 || self.motion_hold_s == 0 || self.presence_hold_s == 0 {
            return bad("motion_enter_s, motion_hold_s and presence_hold_s must be >= 1");
        }
        for (name, rate) in [
            ("level_down_rate", self.level_down_rate),
            ("level_up_rate", self.level_up_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Invalid(format!("{name} must be in [0, 1]")));
            }
        }
        if !positive(self.max_gap_s) {
            return bad("max_gap_s must be > 0");
        }
        if !positive(self.empty.release_ratio) || self.empty.release_s == 0 {
            return bad("empty.release_ratio must be > 0 and empty.release_s >= 1");
        }
        if !(0.0..=1.0).contains(&self.empty.follow_rate) {
            return bad("empty.follow_rate must be in [0, 1]");
        }
        if !(self.baseline.threshold.is_finite() && self.baseline.threshold >= 0.0) {
            return bad("baseline.threshold must be >= 0");
        }
        self.breathing.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn yaml_keeps_defaults_for_missing_fields_and_rejects_unknown_ones() {
        let c = SenseConfig::from_yaml_str("enter_ratio: 6\nbaseline: { threshold: 3 }\n").unwrap();
        assert_eq!(c.enter_ratio, 6.0);
        assert_eq!(c.baseline.threshold, 3.0);
        assert_eq!(c.window_s, SenseConfig::default().window_s);
        assert_eq!(
            SenseConfig::from_yaml_str("").unwrap(),
            SenseConfig::default()
        );
        assert!(SenseConfig::from_yaml_str("enter_ration: 6").is_err());
        assert!(SenseConfig::from_yaml_str("feature: mean-amplitude").is_ok());
    }

    #[test]
    fn out_of_range_fields_are_named() {
        for (yaml, field) in [
            ("exit_ratio: 5", "exit_ratio"),
            ("window_s: 0", "window_s"),
            ("calibration_s: 0", "calibration_s"),
            ("level_up_rate: 2", "level_up_rate"),
            ("min_window_packets: 1", "min_window_packets"),
        ] {
            let e = SenseConfig::from_yaml_str(yaml).unwrap_err().to_string();
            assert!(e.contains(field), "{yaml}: {e}");
        }
    }
}
