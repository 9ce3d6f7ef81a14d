//! A person standing still in the simulator, breathing at a known rate (the scene's
//! `breathing_hz`), with the simulator's default impairments: the sensor finds the rate.
#![allow(clippy::unwrap_used)]

mod common;
use common::sense;
use wdp_sense::SenseConfig;
use wdp_sim::{Scene, Simulator};

fn scene(layout: &str, antennas: usize, carrier_hz: f64, breathing_hz: f64) -> Scene {
    let yaml = format!(
        r#"
name: breathing-test
room:
  seed: 3
  size_m: [5.0, 4.0, 2.7]
  walls: {{ x_min: concrete, x_max: drywall, y_min: drywall, y_max: glass, floor: concrete, ceiling: drywall }}
radio:
  carrier_hz: {carrier_hz}
  layout: {layout}
  packet_rate_hz: 100.0
  max_reflection_order: 1
tx: {{ position_m: [0.4, 2.0, 1.2], antennas: {antennas} }}
rx: {{ position_m: [4.6, 2.0, 1.2], antennas: {antennas} }}
people:
  - height_m: 1.75
    motion: {{ kind: stand, position_m: [2.5, 2.6], facing_deg: -90, breathing_hz: {breathing_hz} }}
seed: 5
"#
    );
    let mut s = Scene::from_yaml_str(&yaml).unwrap();
    s.duration_s = Some(44.0);
    s.camera = None;
    s
}

fn rates(layout: &str, antennas: usize, carrier_hz: f64, breathing_hz: f64) -> (usize, Vec<f64>) {
    let mut sim = Simulator::new(scene(layout, antennas, carrier_hz, breathing_hz)).unwrap();
    let frames: Vec<_> = std::iter::from_fn(|| sim.next_packet()).collect();
    let states = sense(SenseConfig::default(), &frames);
    let made = states.iter().filter(|s| s.breathing.is_some()).count();
    (
        made,
        states.iter().filter_map(|s| s.breathing_bpm).collect(),
    )
}

#[test]
fn a_still_simulated_person_breathing_on_a_3x3_intel5300() {
    // Still from the start: estimates from the end of calibration plus a window (35 s), rates
    // once five of them agree.
    let (made, rates) = rates("intel5300", 3, 5.32e9, 0.3);
    assert!(made >= 6, "{made} estimates");
    assert!(rates.len() >= 2, "{made} estimates, rates {rates:?}");
    for r in rates {
        assert!((r - 18.0).abs() <= 1.0, "{r} vs 18");
    }
}

#[test]
fn a_simulated_single_antenna_esp32_reports_no_wrong_rate() {
    // At 2.4 GHz on one antenna the simulated chest is below the noise: whatever is reported
    // must be the truth, and nothing is the expected answer.
    let (made, rates) = rates("esp32", 1, 2.437e9, 0.22);
    assert!(made >= 6, "{made} estimates");
    for r in rates {
        assert!((r - 13.2).abs() <= 1.0, "{r} vs 13.2");
    }
}
