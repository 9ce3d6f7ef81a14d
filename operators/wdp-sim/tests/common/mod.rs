//! Shared scene builders for the integration tests.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use wdp_sim::{Impairments, Scene};

/// An empty 6 x 5 x 3 m room, 1x1 link, no impairments, small camera.
pub fn bare_scene() -> Scene {
    let mut s = Scene::from_yaml_str(
        r#"
name: test
room:
  size_m: [6.0, 5.0, 3.0]
radio:
  carrier_hz: 5.32e9
  layout: intel5300
  packet_rate_hz: 100.0
  max_reflection_order: 0
tx: { position_m: [1.0, 2.0, 1.5], antennas: 1 }
rx: { position_m: [5.0, 3.0, 1.0], antennas: 1 }
camera:
  position_m: [0.1, 2.5, 1.5]
  look_at_m: [5.0, 2.5, 1.5]
  intrinsics: { fx: 200.0, fy: 200.0, cx: 160.0, cy: 120.0 }
  resolution: [320, 240]
  gt_resolution: [80, 60]
  rgb: false
seed: 11
"#,
    )
    .unwrap();
    s.impairments = Impairments::none();
    s
}

/// Wrapped phase difference a - b in (-pi, pi].
pub fn wrap(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    (a + std::f64::consts::PI).rem_euclid(t) - std::f64::consts::PI
}
