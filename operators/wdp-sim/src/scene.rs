//! Scene description: room, radios, people, camera, impairments and seed.
//!
//! Coordinates are metres in the room frame: the room is the box `[0, size_m[0]] x [0, size_m[1]] x
//! [0, size_m[2]]`, z is up, the floor is z = 0. Angles are degrees, counter-clockwise from +x seen
//! from above.

use crate::error::SimError;
use crate::layout::SubcarrierLayout;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Speed of light in m/s.
pub const SPEED_OF_LIGHT_MPS: f64 = 299_792_458.0;

/// A whole simulation scene. Parse one with [`Scene::from_yaml_str`] / [`Scene::from_file`] or
/// start from a named room with [`Scene::preset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Room name, copied into frame metadata and datasets.
    #[serde(default)]
    pub name: String,
    /// The room box, its walls and furniture.
    pub room: Room,
    /// Carrier, subcarrier layout, packet rate and channel model settings.
    pub radio: Radio,
    /// Transmitter antenna array.
    pub tx: AntennaArray,
    /// Receiver antenna array.
    pub rx: AntennaArray,
    /// People in the room (0 to 5).
    #[serde(default)]
    pub people: Vec<Person>,
    /// The ground-truth camera; `None` places one on the `x = 0` wall looking at the room centre.
    #[serde(default)]
    pub camera: Option<Camera>,
    /// Radio impairments.
    #[serde(default)]
    pub impairments: Impairments,
    /// Stop after this many seconds of simulated time; `None` runs forever.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Seed of the sequence: motions, packet timing and loss, radio impairments and noise. Same
    /// seed, same output. The room's static multipath ([`Room::seed`]) and the bodies
    /// ([`Person::body_seed`]) do not depend on it.
    #[serde(default)]
    pub seed: u64,
}

/// The room box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RoomSpec")]
pub struct Room {
    /// Size `[x, y, z]` in metres.
    pub size_m: [f64; 3],
    /// The six surfaces.
    pub walls: Walls,
    /// Static scatterers.
    pub furniture: Vec<Furniture>,
    /// Seed of everything random but static about the room (the furniture's scattering phases):
    /// it belongs to the room, so every sequence (`Scene::seed`) of one room has the same static
    /// multipath. When absent from a scene file it is [`Room::derived_seed`] of the room's size,
    /// walls and furniture, so identical descriptions are identical rooms.
    pub seed: u64,
}

/// The room as written in a scene file: `seed` may be absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomSpec {
    size_m: [f64; 3],
    #[serde(default)]
    walls: Walls,
    #[serde(default)]
    furniture: Vec<Furniture>,
    #[serde(default)]
    seed: Option<u64>,
}

impl From<RoomSpec> for Room {
    fn from(r: RoomSpec) -> Self {
        let seed = r
            .seed
            .unwrap_or_else(|| Room::derived_seed(r.size_m, &r.walls, &r.furniture));
        Room {
            size_m: r.size_m,
            walls: r.walls,
            furniture: r.furniture,
            seed,
        }
    }
}

impl Room {
    /// A room from its description, its seed derived from it ([`Room::derived_seed`]).
    pub fn new(size_m: [f64; 3], walls: Walls, furniture: Vec<Furniture>) -> Self {
        let seed = Room::derived_seed(size_m, &walls, &furniture);
        Room {
            size_m,
            walls,
            furniture,
            seed,
        }
    }

    /// The seed of a room given without one: 64-bit FNV-1a of the JSON text of
    /// `[size_m, walls, furniture]` (stable across runs, platforms and versions of this crate as
    /// long as those fields keep their names).
    pub fn derived_seed(size_m: [f64; 3], walls: &Walls, furniture: &[Furniture]) -> u64 {
        let text = serde_json::to_string(&(size_m, walls, furniture)).unwrap_or_default();
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// Materials of the six room surfaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walls {
    /// The wall at x = 0.
    #[serde(default = "Material::concrete")]
    pub x_min: Material,
    /// The wall at x = `size_m[0]`.
    #[serde(default = "Material::concrete")]
    pub x_max: Material,
    /// The wall at y = 0.
    #[serde(default = "Material::drywall")]
    pub y_min: Material,
    /// The wall at y = `size_m[1]`.
    #[serde(default = "Material::drywall")]
    pub y_max: Material,
    /// The floor (z = 0).
    #[serde(default = "Material::concrete")]
    pub floor: Material,
    /// The ceiling (z = `size_m[2]`).
    #[serde(default = "Material::drywall")]
    pub ceiling: Material,
}

impl Default for Walls {
    fn default() -> Self {
        Self {
            x_min: Material::concrete(),
            x_max: Material::concrete(),
            y_min: Material::drywall(),
            y_max: Material::drywall(),
            floor: Material::concrete(),
            ceiling: Material::drywall(),
        }
    }
}

impl Walls {
    /// The six materials in the order x_min, x_max, y_min, y_max, floor, ceiling.
    pub fn all(&self) -> [(&'static str, &Material); 6] {
        [
            ("x_min", &self.x_min),
            ("x_max", &self.x_max),
            ("y_min", &self.y_min),
            ("y_max", &self.y_max),
            ("floor", &self.floor),
            ("ceiling", &self.ceiling),
        ]
    }
}

/// A surface material: a name or an amplitude reflection coefficient in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Material {
    /// A named material with a typical 5 GHz reflection coefficient.
    Named(MaterialName),
    /// An explicit amplitude reflection coefficient in [0, 1].
    Coefficient(f64),
}

/// Named materials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaterialName {
    /// Concrete, 0.55.
    Concrete,
    /// Brick, 0.45.
    Brick,
    /// Plasterboard, 0.35.
    Drywall,
    /// Glass, 0.25.
    Glass,
    /// Wood panels, 0.3.
    Wood,
    /// Metal, 0.95.
    Metal,
    /// Carpet on concrete, 0.2.
    Carpet,
    /// RF absorber, 0.
    Absorber,
}

impl Material {
    fn concrete() -> Self {
        Material::Named(MaterialName::Concrete)
    }
    fn drywall() -> Self {
        Material::Named(MaterialName::Drywall)
    }

    /// Amplitude reflection coefficient (magnitude; reflection adds a phase of pi).
    pub fn reflection_coefficient(&self) -> f64 {
        match self {
            Material::Coefficient(c) => *c,
            Material::Named(n) => match n {
                MaterialName::Concrete => 0.55,
                MaterialName::Brick => 0.45,
                MaterialName::Drywall => 0.35,
                MaterialName::Glass => 0.25,
                MaterialName::Wood => 0.3,
                MaterialName::Metal => 0.95,
                MaterialName::Carpet => 0.2,
                MaterialName::Absorber => 0.0,
            },
        }
    }
}

/// A static scatterer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Furniture {
    /// A point scatterer.
    Point {
        /// Position in metres.
        position_m: [f64; 3],
        /// Bistatic radar cross-section in m².
        rcs_m2: f64,
    },
    /// An axis-aligned box, scattering from points sampled on its surface.
    Box {
        /// Lower corner in metres.
        min_m: [f64; 3],
        /// Upper corner in metres.
        max_m: [f64; 3],
        /// Radar cross-section per m² of surface.
        rcs_per_m2: f64,
    },
}

/// Radio and channel-model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Radio {
    /// Carrier (centre) frequency in Hz, e.g. 5.32e9 (channel 64).
    pub carrier_hz: f64,
    /// Which subcarriers are reported; sets the bandwidth.
    pub layout: SubcarrierLayout,
    /// Packets per second.
    pub packet_rate_hz: f64,
    /// Transmit power in dBm (sets `rssi_dbm`).
    #[serde(default = "default_tx_power_dbm")]
    pub tx_power_dbm: f64,
    /// Highest wall-reflection order (0, 1 or 2).
    #[serde(default = "default_reflection_order")]
    pub max_reflection_order: u8,
    /// Scattering points sampled on each body surface.
    #[serde(default = "default_body_points")]
    pub body_points_per_person: usize,
}

fn default_tx_power_dbm() -> f64 {
    20.0
}
fn default_reflection_order() -> u8 {
    2
}
fn default_body_points() -> usize {
    128
}

impl Radio {
    /// Carrier wavelength in metres.
    pub fn wavelength_m(&self) -> f64 {
        SPEED_OF_LIGHT_MPS / self.carrier_hz
    }
}

/// A uniform linear antenna array, horizontal, centred on `position_m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AntennaArray {
    /// Array centre in metres.
    pub position_m: [f64; 3],
    /// Number of antennas (1 to 3).
    #[serde(default = "default_antennas")]
    pub antennas: usize,
    /// Element spacing in metres; `None` is half a wavelength.
    #[serde(default)]
    pub spacing_m: Option<f64>,
    /// Direction of the array axis in degrees from +x.
    #[serde(default)]
    pub axis_deg: f64,
}

fn default_antennas() -> usize {
    3
}

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
fn one() -> f64 {
    1.0
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
fn default_true() -> bool {
    true
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

/// Pinhole camera intrinsics in pixels of the RGB `resolution`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intrinsics {
    /// Focal length along x, pixels.
    pub fx: f64,
    /// Focal length along y, pixels.
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
}

/// The ground-truth camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// Optical centre in metres.
    pub position_m: [f64; 3],
    /// The point the optical axis goes through, in metres (the image is kept upright).
    pub look_at_m: [f64; 3],
    /// Horizontal field of view in degrees, used when `intrinsics` is not given.
    #[serde(default = "default_fov")]
    pub fov_deg: f64,
    /// Explicit intrinsics (pixels of `resolution`).
    #[serde(default)]
    pub intrinsics: Option<Intrinsics>,
    /// Image `[width, height]` in pixels: keypoints, boxes and the RGB frame use it.
    #[serde(default = "default_resolution")]
    pub resolution: [usize; 2],
    /// Part-mask and UV `[width, height]`; `None` is `resolution`.
    #[serde(default)]
    pub gt_resolution: Option<[usize; 2]>,
    /// Camera frames per second.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Render the RGB frame.
    #[serde(default = "default_true")]
    pub rgb: bool,
}

fn default_fov() -> f64 {
    70.0
}
fn default_resolution() -> [usize; 2] {
    [320, 240]
}
fn default_fps() -> f64 {
    20.0
}

/// Radio impairments. Zero (or `None`) turns an impairment off; [`Impairments::none`] turns all off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impairments {
    /// Signal-to-noise ratio of the thermal noise in dB (relative to the empty-room mean power
    /// per subcarrier); `None` adds no noise.
    #[serde(default = "default_snr")]
    pub snr_db: Option<f64>,
    /// Residual carrier frequency offset standard deviation in Hz (a per-run offset drifting as a
    /// random walk; its phase 2π·cfo·t is common to all antennas).
    #[serde(default = "default_cfo")]
    pub cfo_std_hz: f64,
    /// A uniformly random common phase on every packet (PLL / packet detection phase).
    #[serde(default = "default_true")]
    pub random_phase: bool,
    /// Sampling time offset standard deviation per packet, in ns (a linear phase slope over
    /// subcarrier index).
    #[serde(default = "default_sto")]
    pub sto_std_ns: f64,
    /// AGC gain step in dB; 0 disables AGC changes.
    #[serde(default = "one")]
    pub agc_step_db: f64,
    /// Probability per packet that the AGC steps up or down.
    #[serde(default = "default_agc_prob")]
    pub agc_step_probability: f64,
    /// The AGC gain stays within ±this many dB.
    #[serde(default = "default_agc_max")]
    pub agc_max_db: f64,
    /// Probability that a packet is lost.
    #[serde(default = "default_loss")]
    pub packet_loss: f64,
    /// Standard deviation of the packet send time around its nominal slot, in µs.
    #[serde(default = "default_jitter")]
    pub jitter_std_us: f64,
}

fn default_snr() -> Option<f64> {
    Some(30.0)
}
fn default_cfo() -> f64 {
    50.0
}
fn default_sto() -> f64 {
    10.0
}
fn default_agc_prob() -> f64 {
    0.01
}
fn default_agc_max() -> f64 {
    4.0
}
fn default_loss() -> f64 {
    0.01
}
fn default_jitter() -> f64 {
    300.0
}

impl Default for Impairments {
    fn default() -> Self {
        Self {
            snr_db: default_snr(),
            cfo_std_hz: default_cfo(),
            random_phase: true,
            sto_std_ns: default_sto(),
            agc_step_db: 1.0,
            agc_step_probability: default_agc_prob(),
            agc_max_db: default_agc_max(),
            packet_loss: default_loss(),
            jitter_std_us: default_jitter(),
        }
    }
}

impl Impairments {
    /// No impairment at all: the ideal channel, every packet, on time.
    pub fn none() -> Self {
        Self {
            snr_db: None,
            cfo_std_hz: 0.0,
            random_phase: false,
            sto_std_ns: 0.0,
            agc_step_db: 0.0,
            agc_step_probability: 0.0,
            agc_max_db: 0.0,
            packet_loss: 0.0,
            jitter_std_us: 0.0,
        }
    }
}

/// Rooms used for training.
pub const TRAIN_PRESETS: [&str; 4] = ["lab", "office", "living-room", "kitchen"];
/// Rooms held out from training (different sizes, materials, radios and layouts).
pub const HELD_OUT_PRESETS: [&str; 2] = ["corridor", "bedroom"];

impl Scene {
    /// Parses a scene from YAML and validates it. Errors carry the line and the field path.
    pub fn from_yaml_str(text: &str) -> Result<Scene, SimError> {
        let scene: Scene = serde_yaml::from_str(text).map_err(|e| yaml_error(text, &e))?;
        scene.validate().map_err(|e| match e {
            SimError::Invalid { field, message, .. } => SimError::Invalid {
                line: locate_field(text, &field),
                field,
                message,
            },
            other => other,
        })?;
        Ok(scene)
    }

    /// Reads and parses a scene file.
    pub fn from_file(path: &Path) -> Result<Scene, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::io(format!("reading scene {}", path.display()), e))?;
        Scene::from_yaml_str(&text)
    }

    /// The scene as YAML text.
    pub fn to_yaml_string(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// All preset names: training rooms then held-out rooms.
    pub fn preset_names() -> Vec<&'static str> {
        TRAIN_PRESETS
            .iter()
            .chain(HELD_OUT_PRESETS.iter())
            .copied()
            .collect()
    }

    /// A named room preset. `lab` is the default room: 6 x 5 x 3 m, one person wandering,
    /// Intel 5300 3x3 at 5.32 GHz, 100 packets/s, camera at 20 fps.
    pub fn preset(name: &str) -> Result<Scene, SimError> {
        let text = match name {
            "lab" => include_str!("../presets/lab.yaml"),
            "office" => include_str!("../presets/office.yaml"),
            "living-room" => include_str!("../presets/living-room.yaml"),
            "kitchen" => include_str!("../presets/kitchen.yaml"),
            "corridor" => include_str!("../presets/corridor.yaml"),
            "bedroom" => include_str!("../presets/bedroom.yaml"),
            _ => {
                return Err(SimError::UnknownPreset(
                    name.to_string(),
                    Scene::preset_names().join(", "),
                ))
            }
        };
        let mut scene = Scene::from_yaml_str(text)?;
        if scene.name.is_empty() {
            scene.name = name.to_string();
        }
        Ok(scene)
    }

    /// Checks every value's range; errors name the field path.
    pub fn validate(&self) -> Result<(), SimError> {
        let [sx, sy, sz] = self.room.size_m;
        for (i, s) in self.room.size_m.iter().enumerate() {
            positive(&format!("room.size_m[{i}]"), *s)?;
        }
        for (name, m) in self.room.walls.all() {
            if let Material::Coefficient(c) = m {
                if !(0.0..=1.0).contains(c) {
                    return Err(SimError::invalid(
                        format!("room.walls.{name}"),
                        "reflection coefficient must be in [0, 1]",
                    ));
                }
            }
        }
        let inside = |field: String, p: [f64; 3]| -> Result<(), SimError> {
            for (k, (v, lim)) in p.iter().zip([sx, sy, sz]).enumerate() {
                if !v.is_finite() || *v < 0.0 || *v > lim {
                    return Err(SimError::invalid(
                        format!("{field}[{k}]"),
                        format!("must be inside the room (0 to {lim} m)"),
                    ));
                }
            }
            Ok(())
        };
        for (i, f) in self.room.furniture.iter().enumerate() {
            match f {
                Furniture::Point { position_m, rcs_m2 } => {
                    inside(format!("room.furniture[{i}].position_m"), *position_m)?;
                    non_negative(&format!("room.furniture[{i}].rcs_m2"), *rcs_m2)?;
                }
                Furniture::Box {
                    min_m,
                    max_m,
                    rcs_per_m2,
                } => {
                    inside(format!("room.furniture[{i}].min_m"), *min_m)?;
                    inside(format!("room.furniture[{i}].max_m"), *max_m)?;
                    for k in 0..3 {
                        if max_m[k] <= min_m[k] {
                            return Err(SimError::invalid(
                                format!("room.furniture[{i}].max_m[{k}]"),
                                "must be > min_m",
                            ));
                        }
                    }
                    non_negative(&format!("room.furniture[{i}].rcs_per_m2"), *rcs_per_m2)?;
                }
            }
        }
        positive("radio.carrier_hz", self.radio.carrier_hz)?;
        if !(1e9..=100e9).contains(&self.radio.carrier_hz) {
            return Err(SimError::invalid(
                "radio.carrier_hz",
                "must be between 1 GHz and 100 GHz",
            ));
        }
        positive("radio.packet_rate_hz", self.radio.packet_rate_hz)?;
        if self.radio.max_reflection_order > 2 {
            return Err(SimError::invalid(
                "radio.max_reflection_order",
                "must be 0, 1 or 2",
            ));
        }
        if self.radio.body_points_per_person == 0 {
            return Err(SimError::invalid(
                "radio.body_points_per_person",
                "must be > 0",
            ));
        }
        for (name, arr) in [("tx", &self.tx), ("rx", &self.rx)] {
            inside(format!("{name}.position_m"), arr.position_m)?;
            if !(1..=3).contains(&arr.antennas) {
                return Err(SimError::invalid(
                    format!("{name}.antennas"),
                    "must be 1, 2 or 3",
                ));
            }
            if let Some(s) = arr.spacing_m {
                positive(&format!("{name}.spacing_m"), s)?;
            }
        }
        if self.people.len() > 5 {
            return Err(SimError::invalid("people", "at most 5 people"));
        }
        for (i, p) in self.people.iter().enumerate() {
            let f = format!("people[{i}]");
            if !(1.0..=2.2).contains(&p.height_m) {
                return Err(SimError::invalid(
                    format!("{f}.height_m"),
                    "must be between 1.0 and 2.2 m",
                ));
            }
            non_negative(&format!("{f}.reflectivity"), p.reflectivity)?;
            let on_floor = |field: String, xy: [f64; 2]| -> Result<(), SimError> {
                for (k, (v, lim)) in xy.iter().zip([sx, sy]).enumerate() {
                    if !v.is_finite() || *v < 0.0 || *v > lim {
                        return Err(SimError::invalid(
                            format!("{field}[{k}]"),
                            format!("must be inside the room (0 to {lim} m)"),
                        ));
                    }
                }
                Ok(())
            };
            let m = format!("{f}.motion");
            match &p.motion {
                Motion::Stand {
                    position_m,
                    breathing_hz,
                    breathing_amplitude_m,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    non_negative(&format!("{m}.breathing_hz"), *breathing_hz)?;
                    non_negative(
                        &format!("{m}.breathing_amplitude_m"),
                        *breathing_amplitude_m,
                    )?;
                }
                Motion::Walk {
                    waypoints_m,
                    speed_mps,
                    ..
                } => {
                    if waypoints_m.len() < 2 {
                        return Err(SimError::invalid(
                            format!("{m}.waypoints_m"),
                            "needs at least 2 waypoints",
                        ));
                    }
                    for (k, w) in waypoints_m.iter().enumerate() {
                        on_floor(format!("{m}.waypoints_m[{k}]"), *w)?;
                    }
                    positive(&format!("{m}.speed_mps"), *speed_mps)?;
                }
                Motion::Wander {
                    speed_mps,
                    pause_s,
                    margin_m,
                } => {
                    positive(&format!("{m}.speed_mps"), *speed_mps)?;
                    non_negative(&format!("{m}.pause_s"), *pause_s)?;
                    non_negative(&format!("{m}.margin_m"), *margin_m)?;
                    if 2.0 * margin_m >= sx.min(sy) {
                        return Err(SimError::invalid(
                            format!("{m}.margin_m"),
                            "leaves no room to walk",
                        ));
                    }
                }
                Motion::Turn {
                    position_m,
                    period_s,
                }
                | Motion::Wave {
                    position_m,
                    period_s,
                    ..
                }
                | Motion::Squat {
                    position_m,
                    period_s,
                    ..
                }
                | Motion::Sit {
                    position_m,
                    period_s,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    positive(&format!("{m}.period_s"), *period_s)?;
                }
                Motion::Fall {
                    position_m,
                    at_s,
                    duration_s,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    non_negative(&format!("{m}.at_s"), *at_s)?;
                    positive(&format!("{m}.duration_s"), *duration_s)?;
                }
            }
        }
        if let Some(c) = &self.camera {
            inside("camera.position_m".into(), c.position_m)?;
            let d: f64 = (0..3)
                .map(|k| (c.look_at_m[k] - c.position_m[k]).powi(2))
                .sum();
            if d < 1e-6 {
                return Err(SimError::invalid(
                    "camera.look_at_m",
                    "must differ from position_m",
                ));
            }
            if !(1.0..179.0).contains(&c.fov_deg) {
                return Err(SimError::invalid("camera.fov_deg", "must be in (1, 179)"));
            }
            for (k, v) in c.resolution.iter().enumerate() {
                if !(8..=4096).contains(v) {
                    return Err(SimError::invalid(
                        format!("camera.resolution[{k}]"),
                        "must be 8 to 4096 pixels",
                    ));
                }
            }
            if let Some(g) = c.gt_resolution {
                for (k, v) in g.iter().enumerate() {
                    if !(4..=4096).contains(v) {
                        return Err(SimError::invalid(
                            format!("camera.gt_resolution[{k}]"),
                            "must be 4 to 4096 pixels",
                        ));
                    }
                }
            }
            positive("camera.fps", c.fps)?;
            if let Some(k) = c.intrinsics {
                positive("camera.intrinsics.fx", k.fx)?;
                positive("camera.intrinsics.fy", k.fy)?;
            }
        }
        let imp = &self.impairments;
        if let Some(s) = imp.snr_db {
            if !s.is_finite() {
                return Err(SimError::invalid("impairments.snr_db", "must be finite"));
            }
        }
        non_negative("impairments.cfo_std_hz", imp.cfo_std_hz)?;
        non_negative("impairments.sto_std_ns", imp.sto_std_ns)?;
        non_negative("impairments.agc_step_db", imp.agc_step_db)?;
        non_negative("impairments.agc_max_db", imp.agc_max_db)?;
        non_negative("impairments.jitter_std_us", imp.jitter_std_us)?;
        for (name, p) in [
            ("impairments.agc_step_probability", imp.agc_step_probability),
            ("impairments.packet_loss", imp.packet_loss),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(SimError::invalid(name, "must be in [0, 1)"));
            }
        }
        if let Some(d) = self.duration_s {
            positive("duration_s", d)?;
        }
        Ok(())
    }
}

/// Converts a serde_yaml error. Errors inside tagged enums (motions, furniture) are reported by
/// serde_yaml at the enclosing item; for unknown fields the line of the field itself is found.
fn yaml_error(text: &str, e: &serde_yaml::Error) -> SimError {
    let loc = e.location();
    let mut line = loc.as_ref().map(|l| l.line());
    let mut column = loc.as_ref().map(|l| l.column());
    let mut message = e.to_string();
    if let Some((path, rest)) = message.split_once(": unknown field `") {
        if let Some((key, _)) = rest.split_once('`') {
            if let Some(l) = locate_key_within(text, path, key) {
                if Some(l) != line {
                    line = Some(l);
                    column = None;
                }
            }
        }
    }
    // the location is reported once, in the error's own format
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    SimError::Yaml {
        line,
        column,
        message,
    }
}

/// 1-based line of `key:` anywhere inside the block of `path` (or the whole text for an empty
/// or unknown path).
fn locate_key_within(text: &str, path: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = if path.is_empty() || path.contains(' ') {
        0
    } else {
        locate_field(text, path).map(|l| l - 1).unwrap_or(0)
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = lines.get(start).map(|l| indent(l)).unwrap_or(0);
    let pattern = format!("{key}:");
    for (i, l) in lines.iter().enumerate().skip(start) {
        if i > start
            && !l.trim().is_empty()
            && indent(l) <= base
            && !l.trim_start().starts_with('#')
        {
            // a sibling item (`- `) at the same indentation ends the block
            if indent(l) < base || l.trim_start().starts_with("- ") {
                break;
            }
        }
        let t = l.trim_start().trim_start_matches("- ");
        if t.starts_with(&pattern)
            || l.contains(&format!("{{ {pattern}"))
            || l.contains(&format!(", {pattern}"))
        {
            return Some(i + 1);
        }
    }
    None
}

fn positive(field: &str, v: f64) -> Result<(), SimError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SimError::invalid(field, "must be > 0"))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), SimError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SimError::invalid(field, "must be >= 0"))
    }
}

/// Best-effort 1-based line of a dotted field path (`people[1].motion.speed_mps`) in block-style
/// YAML: follows keys by indentation and list items by their `- ` markers.
fn locate_field(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    // (first line, last line exclusive, minimum indentation) of the current block
    let (mut start, mut end, mut min_indent) = (0usize, lines.len(), 0usize);
    let mut found = None;
    for seg in field.split('.') {
        let (key, index) = match seg.find('[') {
            Some(b) => (
                &seg[..b],
                seg[b + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (seg, None),
        };
        // find `key:` at the shallowest indentation of the block
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().take(end).skip(start) {
            let t = l.trim_start().trim_start_matches("- ");
            if indent(l) >= min_indent && (t.starts_with(&format!("{key}:"))) {
                hit = Some(i);
                break;
            }
        }
        let i = hit?;
        found = Some(i + 1);
        // an inline value (`key: { ... }`, `key: [..]`) holds the rest of the path on this line
        let rest = lines[i]
            .split_once(':')
            .map(|(_, r)| r.trim())
            .unwrap_or("");
        if !rest.is_empty() && !rest.starts_with('#') {
            return found;
        }
        let key_indent = indent(lines[i]);
        let block_end = (i + 1..end)
            .find(|&j| {
                let l = lines[j];
                !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent(l) <= key_indent
            })
            .unwrap_or(end);
        start = i + 1;
        end = block_end;
        min_indent = key_indent + 1;
        if let Some(n) = index {
            // the n-th `- ` item inside the block; flow lists stay on the key line
            let items: Vec<usize> = (start..end)
                .filter(|&j| lines[j].trim_start().starts_with("- ") || lines[j].trim() == "-")
                .collect();
            let item_indent = items.first().map(|&j| indent(lines[j]));
            let items: Vec<usize> = items
                .into_iter()
                .filter(|&j| Some(indent(lines[j])) == item_indent)
                .collect();
            if let Some(&j) = items.get(n) {
                found = Some(j + 1);
                let next = items.get(n + 1).copied().unwrap_or(end);
                start = j;
                end = next;
                min_indent = indent(lines[j]);
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_validates() {
        for name in Scene::preset_names() {
            let s = Scene::preset(name).unwrap();
            s.validate().unwrap();
            assert_eq!(s.name, name);
        }
        assert!(matches!(
            Scene::preset("nope"),
            Err(SimError::UnknownPreset(..))
        ));
    }

    #[test]
    fn locate_field_follows_lists() {
        let y = "a: 1\npeople:\n  - height_m: 1.7\n    motion:\n      kind: walk\n  - height_m: 1.8\n    motion:\n      kind: wander\n      speed_mps: -1\n";
        assert_eq!(locate_field(y, "people[1].motion.speed_mps"), Some(9));
        assert_eq!(locate_field(y, "people[0].height_m"), Some(3));
        assert_eq!(locate_field(y, "a"), Some(1));
        let y = "tx: { position_m: [1, 2, 3] }\nrx:\n  position_m: [1, 2, 3]\n";
        assert_eq!(locate_field(y, "tx.position_m[0]"), Some(1));
        assert_eq!(locate_field(y, "rx.position_m[2]"), Some(3));
    }
}
