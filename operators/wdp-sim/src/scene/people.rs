//! The people: a person's height, reflectivity and body seed, and the procedural motion they
//! perform, with its defaults.

use super::types::{default_true, one};
use serde::{Deserialize, Serialize};

/// One person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Standing height in metres (the body is scaled from a 1.75 m template).
    #[serde(default = "default_height")]
    pub height_m: f64,
    /// Scale of the body's radar reflectivity (1 = a typical adult).
    #[serde(default = "one")]
    pub reflectivity: f64,
    /// What the person does.
    pub motion: Motion,
    /// Seed of the person's body (its surface scattering points): the same seed is the same body
    /// in any room and any sequence. `None` is the person's index in `people`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_seed: Option<u64>,
}

impl Person {
    /// The body seed in use for the person at `index` of the scene's `people`.
    pub fn body_seed_or_index(&self, index: usize) -> u64 {
        self.body_seed.unwrap_or(index as u64)
    }
}

fn default_height() -> f64 {
    1.75
}
fn default_breathing_hz() -> f64 {
    0.25
}
fn default_breathing_m() -> f64 {
    0.004
}
fn default_speed() -> f64 {
    1.0
}

/// A procedural motion. Every motion also breathes (chest displacement of a few mm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Motion {
    /// Stand still, breathing.
    Stand {
        /// Floor position `[x, y]` in metres.
        position_m: [f64; 2],
        /// Facing direction in degrees.
        #[serde(default)]
        facing_deg: f64,
        /// Breathing rate in Hz (0.2-0.3 typical).
        #[serde(default = "default_breathing_hz")]
        breathing_hz: f64,
        /// Chest displacement amplitude in metres.
        #[serde(default = "default_breathing_m")]
        breathing_amplitude_m: f64,
    },
    /// Walk along waypoints at a constant speed, turning smoothly at corners.
    Walk {
        /// Floor waypoints `[x, y]` in metres (at least 2).
        waypoints_m: Vec<[f64; 2]>,
        /// Walking speed in m/s.
        #[serde(default = "default_speed")]
        speed_mps: f64,
        /// Return to the first waypoint and repeat (otherwise walk back and forth).
        #[serde(default = "default_true")]
        closed: bool,
    },
    /// Walk between random waypoints drawn from the seed, pausing at each.
    Wander {
        /// Walking speed in m/s.
        #[serde(default = "default_speed")]
        speed_mps: f64,
        /// Pause at each waypoint in seconds.
        #[serde(default = "one")]
        pause_s: f64,
        /// Keep this far from the walls, in metres.
        #[serde(default = "default_margin")]
        margin_m: f64,
    },
    /// Turn on the spot.
    Turn {
        /// Floor position in metres.
        position_m: [f64; 2],
        /// Seconds per full turn.
        #[serde(default = "default_turn_period")]
        period_s: f64,
    },
    /// Wave the right arm.
    Wave {
        /// Floor position in metres.
        position_m: [f64; 2],
        /// Facing direction in degrees.
        #[serde(default)]
        facing_deg: f64,
        /// Seconds per wave.
        #[serde(default = "default_wave_period")]
        period_s: f64,
    },
    /// Squat down and stand up, repeatedly.
    Squat {
        /// Floor position in metres.
        position_m: [f64; 2],
        /// Facing direction in degrees.
        #[serde(default)]
        facing_deg: f64,
        /// Seconds per squat.
        #[serde(default = "default_squat_period")]
        period_s: f64,
    },
    /// Sit down (on a chair-height seat), stay, stand up, stay, repeatedly.
    Sit {
        /// Floor position in metres.
        position_m: [f64; 2],
        /// Facing direction in degrees.
        #[serde(default)]
        facing_deg: f64,
        /// Seconds per sit-stand cycle.
        #[serde(default = "default_sit_period")]
        period_s: f64,
    },
    /// Stand, fall forward at `at_s`, lie on the floor.
    Fall {
        /// Floor position in metres.
        position_m: [f64; 2],
        /// Facing direction (the fall direction) in degrees.
        #[serde(default)]
        facing_deg: f64,
        /// When the fall starts, in seconds.
        #[serde(default = "default_fall_at")]
        at_s: f64,
        /// How long the fall takes, in seconds.
        #[serde(default = "default_fall_duration")]
        duration_s: f64,
    },
}

fn default_margin() -> f64 {
    0.6
}
fn default_turn_period() -> f64 {
    6.0
}
fn default_wave_period() -> f64 {
    1.2
}
fn default_squat_period() -> f64 {
    4.0
}
fn default_sit_period() -> f64 {
    8.0
}
fn default_fall_at() -> f64 {
    2.0
}
fn default_fall_duration() -> f64 {
    0.8
}
