//! The simulator's empty room, then the same room with a person walking: on a single-antenna
//! ESP32 link and on a 3x3 Intel 5300 link, with the simulator's default impairments (noise,
//! AGC steps, packet loss, jitter).
#![allow(clippy::unwrap_used)]

mod common;
use common::{second_of, sense};
use wdp_csi::CsiFrame;
use wdp_sense::{append_capture, SenseConfig};
use wdp_sim::{Scene, Simulator};

fn scene(layout: &str, antennas: usize, walking: bool, seconds: f64) -> Scene {
    let people = if walking {
        r#"
people:
  - height_m: 1.75
    motion: { kind: walk, waypoints_m: [[1.5, 1.5], [4.5, 3.5]], speed_mps: 1.0 }"#
    } else {
        "people: []"
    };
    let yaml = format!(
        r#"
name: sense-test
room:
  seed: 3
  size_m: [5.0, 4.0, 2.7]
  walls: {{ x_min: concrete, x_max: drywall, y_min: drywall, y_max: glass, floor: concrete, ceiling: drywall }}
radio:
  carrier_hz: 2.437e9
  layout: {layout}
  packet_rate_hz: 100.0
  max_reflection_order: 1
tx: {{ position_m: [0.4, 2.0, 1.2], antennas: {antennas} }}
rx: {{ position_m: [4.6, 2.0, 1.2], antennas: {antennas} }}
{people}
seed: 5
"#
    );
    let mut s = Scene::from_yaml_str(&yaml).unwrap();
    s.duration_s = Some(seconds);
    s.camera = None;
    s
}

fn packets(scene: Scene) -> Vec<CsiFrame> {
    let mut sim = Simulator::new(scene).unwrap();
    std::iter::from_fn(|| sim.next_packet()).collect()
}

fn empty_then_walking(layout: &str, antennas: usize) {
    let mut frames = packets(scene(layout, antennas, false, 8.0));
    let (tx, rx, _) = (frames[0].n_tx, frames[0].n_rx, frames[0].n_subcarriers());
    assert_eq!((tx, rx), (antennas, antennas));
    let start = append_capture(&mut frames, packets(scene(layout, antennas, true, 6.0)));
    let first_walking = second_of(&frames, start);
    let states = sense(SenseConfig::default(), &frames);
    let log: Vec<String> = states
        .iter()
        .map(|s| format!("{}:{} {:?}/{:?}", s.t_s, s.motion, s.score, s.level))
        .collect();
    let empty: Vec<_> = states
        .iter()
        .filter(|s| !s.calibrating && s.t_s < first_walking)
        .collect();
    assert!(empty.len() >= 2, "{log:?}");
    assert!(empty.iter().all(|s| !s.motion && !s.presence), "{log:?}");
    let walking: Vec<_> = states.iter().filter(|s| s.t_s >= first_walking).collect();
    assert!(walking.len() >= 5, "{log:?}");
    let detected = walking.iter().filter(|s| s.motion).count();
    assert!(detected + 1 >= walking.len(), "{log:?}");
}

#[test]
fn esp32_single_antenna_empty_room_then_a_person_walking() {
    empty_then_walking("esp32", 1);
}

#[test]
fn intel5300_3x3_empty_room_then_a_person_walking() {
    empty_then_walking("intel5300", 3);
}
