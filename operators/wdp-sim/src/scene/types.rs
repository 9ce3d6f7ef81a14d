//! The scene itself and its camera: the top-level [`Scene`] as a scene file writes it, the
//! ground-truth [`Camera`] with its [`Intrinsics`], and the serde defaults the other description
//! files share.

use super::{AntennaArray, Impairments, Person, Radio, Room};
use serde::{Deserialize, Serialize};

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

pub(super) fn default_true() -> bool {
    true
}
pub(super) fn one() -> f64 {
    1.0
}
