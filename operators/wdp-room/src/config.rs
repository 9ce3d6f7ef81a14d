//! Every threshold and time of the room state, with the reason for its default.

pub use crate::fall::FallConfig;
use serde::{Deserialize, Serialize};

/// How presence is decided when both the poses and the signal are fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fusion {
    /// Present when either source says so. For occupancy a missed person (lights off on
    /// someone reading) costs more than a late `left`, and each source misses what the other
    /// sees: the signal misses a person who never moved since the start, a pose model misses
    /// people it was not trained for.
    Either,
    /// The poses decide while they are fresh; the signal only when they are stale.
    Pose,
    /// The signal decides while it is fresh; the poses only when it is stale.
    Signal,
}

/// Configuration of a [`crate::Room`]. Every field has a default (`#[serde(default)]`), so a
/// YAML document only names what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// A person whose box score is below this is not counted. Default 0: the pose pipeline
    /// already decided who is a person (the densepose node's score threshold, its count head);
    /// a second threshold here would count differently from the model.
    pub min_score: f32,
    /// Seconds of pose frames summarised by their most frequent count (mode) and by the share
    /// of frames with somebody. Default 1 s: 20 frames at the pipeline's 20 fps, enough that a
    /// frame or two of a wrong count cannot change the mode, short enough to follow a person
    /// coming in.
    pub count_window_s: f64,
    /// A new count (the window's mode) must hold this long before it replaces the reported one.
    /// Default 2 s: people enter and leave over seconds, while a count that flickers between
    /// neighbours for less than that is the model's noise, not people.
    pub count_hold_s: f64,
    /// Pose presence starts once at least half of the window's frames have had somebody for
    /// this long. Default 1 s: on top of the window, fast enough to switch a light on as
    /// someone walks in.
    pub presence_enter_s: f64,
    /// Pose presence ends once fewer than half of the window's frames have had somebody for
    /// this long. Default 5 s: a person briefly missed (standing in a blind spot, behind
    /// furniture) must not make the room empty; longer holds are the integrator's business
    /// (Home Assistant's `off_delay`).
    pub presence_exit_s: f64,
    /// A source not heard from for this long (in capture time of the room's newest input) is
    /// stale and no longer used. Default 3 s: the signal-level sensor answers once a second and
    /// the pose pipeline 20 times a second; three missed seconds is a source that stopped.
    pub source_timeout_s: f64,
    /// How presence is decided when both sources are fresh. Default `either` (see [`Fusion`]).
    pub fusion: Fusion,
    /// Send `entered` / `left` for each confirmed track too (with its `track_id`), besides the
    /// room-level ones. Default false: the room-level events are what automations use; per-track
    /// events are as reliable as the floor positions, which come from a model.
    pub track_events: bool,
    /// The tracker of floor positions.
    pub tracker: TrackerConfig,
    /// The fall detector (poses' heights in the picture, optionally the signal's motion).
    pub fall: FallConfig,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            min_score: 0.0,
            count_window_s: 1.0,
            count_hold_s: 2.0,
            presence_enter_s: 1.0,
            presence_exit_s: 5.0,
            source_timeout_s: 3.0,
            fusion: Fusion::Either,
            track_events: false,
            tracker: TrackerConfig::default(),
            fall: FallConfig::default(),
        }
    }
}

/// Configuration of the nearest-neighbour tracker of floor positions (metres).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// A detection further than this from a track's predicted position does not continue it.
    /// Default 0.75 m: a walking person (1-1.5 m/s) moves 5-8 cm between frames at 20 fps, so
    /// the gate leaves room for a model's floor error (median 0.5 m) and frames lost in
    /// between, and is still under the usual distance between two people (about a metre).
    pub gate_m: f32,
    /// Matched frames before a track is reported. Default 3 (0.15 s at 20 fps): one false
    /// detection does not become a person.
    pub confirm_hits: u32,
    /// A track without a match for this long ends. Default 1.5 s: covers a model missing a
    /// person for a few frames, short enough that a track does not stand where nobody is.
    pub hold_s: f64,
    /// Each detection moves the track's position this fraction of the way (exponential
    /// smoothing). Default 0.5: halves the jitter of the floor positions at a lag of one frame
    /// (5 cm for a walking person at 20 fps).
    pub position_smoothing: f32,
    /// The speed is the displacement of the smoothed position over this many seconds. Default
    /// 1 s: long enough that position jitter does not read as speed, short enough to notice
    /// a person stopping within a second or two.
    pub speed_window_s: f64,
    /// A track becomes `moving` above this speed. Default 0.3 m/s: slow walking is 0.5-1 m/s,
    /// a seated or standing person's sway and a model's smoothed jitter stay under 0.2 m/s.
    pub moving_enter_m_s: f32,
    /// A moving track becomes still below this speed (hysteresis). Default 0.15 m/s, half the
    /// entry speed, so a slowing walk does not flicker between moving and still.
    pub moving_exit_m_s: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            gate_m: 0.75,
            confirm_hits: 3,
            hold_s: 1.5,
            position_smoothing: 0.5,
            speed_window_s: 1.0,
            moving_enter_m_s: 0.3,
            moving_exit_m_s: 0.15,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML does not parse or names unknown fields.
    #[error("room configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A field is out of its range.
    #[error("room configuration: {0}")]
    Invalid(String),
}

impl RoomConfig {
    /// Reads a YAML configuration (missing fields keep their defaults) and checks it.
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigError> {
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
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !(self.min_score.is_finite() && (0.0..=1.0).contains(&self.min_score)) {
            return bad("min_score must be in [0, 1]");
        }
        if !(non_negative(self.count_window_s) && self.count_window_s > 0.0) {
            return bad("count_window_s must be > 0");
        }
        for (name, v) in [
            ("count_hold_s", self.count_hold_s),
            ("presence_enter_s", self.presence_enter_s),
            ("presence_exit_s", self.presence_exit_s),
        ] {
            if !non_negative(v) {
                return Err(ConfigError::Invalid(format!("{name} must be >= 0")));
            }
        }
        if !(non_negative(self.source_timeout_s) && self.source_timeout_s > 0.0) {
            return bad("source_timeout_s must be > 0");
        }
        let t = &self.tracker;
        if !(t.gate_m.is_finite() && t.gate_m > 0.0) {
            return bad("tracker.gate_m must be > 0");
        }
        if t.confirm_hits == 0 {
            return bad("tracker.confirm_hits must be >= 1");
        }
        if !(non_negative(t.hold_s) && non_negative(t.speed_window_s) && t.speed_window_s > 0.0) {
            return bad("tracker.hold_s must be >= 0 and tracker.speed_window_s > 0");
        }
        if !(t.position_smoothing > 0.0 && t.position_smoothing <= 1.0) {
            return bad("tracker.position_smoothing must be in (0, 1]");
        }
        if !(t.moving_exit_m_s.is_finite()
            && t.moving_exit_m_s >= 0.0
            && t.moving_enter_m_s >= t.moving_exit_m_s)
        {
            return bad("need 0 <= tracker.moving_exit_m_s <= tracker.moving_enter_m_s");
        }
        self.fall.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn yaml_names_only_what_changes_and_is_checked() {
        let c = RoomConfig::from_yaml_str("count_hold_s: 3\ntracker: { gate_m: 0.5 }").unwrap();
        assert_eq!(c.count_hold_s, 3.0);
        assert_eq!(c.tracker.gate_m, 0.5);
        assert_eq!(c.tracker.confirm_hits, 3);
        assert_eq!(
            RoomConfig::from_yaml_str("").unwrap(),
            RoomConfig::default()
        );
        assert!(RoomConfig::from_yaml_str("count_hold: 3").is_err());
        let e = RoomConfig::from_yaml_str("tracker: { moving_enter_m_s: 0.1 }").unwrap_err();
        assert!(e.to_string().contains("moving_exit_m_s"), "{e}");
        assert!(RoomConfig::from_yaml_str("fusion: signal").is_ok());
    }
}
