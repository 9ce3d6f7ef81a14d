//! Scene files with errors name the line and the field.
#![allow(clippy::unwrap_used)]

use wdp_sim::{Scene, SimError};

const GOOD: &str = r#"name: t
room:
  size_m: [6.0, 5.0, 3.0]
radio:
  carrier_hz: 5.32e9
  layout: intel5300
  packet_rate_hz: 100.0
tx: { position_m: [1.0, 2.0, 1.5] }
rx: { position_m: [5.0, 3.0, 1.0] }
people:
  - height_m: 1.7
    motion:
      kind: wander
  - height_m: 1.8
    motion:
      kind: walk
      waypoints_m: [[1.0, 1.0], [2.0, 2.0]]
      speed_mps: 1.0
seed: 3
"#;

#[test]
fn the_good_scene_parses() {
    let s = Scene::from_yaml_str(GOOD).unwrap();
    assert_eq!(s.people.len(), 2);
    assert_eq!(s.tx.antennas, 3);
}

#[test]
fn out_of_range_values_name_the_field_path_and_line() {
    let bad = GOOD.replace("speed_mps: 1.0", "speed_mps: -2.0");
    let err = Scene::from_yaml_str(&bad).unwrap_err();
    match &err {
        SimError::Invalid { field, line, .. } => {
            assert_eq!(field, "people[1].motion.speed_mps");
            assert_eq!(*line, Some(18));
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("line 18") && msg.contains("people[1].motion.speed_mps: must be > 0"),
        "{msg}"
    );

    let bad = GOOD.replace("size_m: [6.0, 5.0, 3.0]", "size_m: [6.0, 0.0, 3.0]");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("room.size_m[1]: must be > 0") && msg.contains("line 3"),
        "{msg}"
    );

    let bad = GOOD.replace("[5.0, 3.0, 1.0]", "[9.0, 3.0, 1.0]");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("rx.position_m[0]") && msg.contains("line 9"),
        "{msg}"
    );
}

#[test]
fn unknown_fields_and_wrong_types_give_line_and_field() {
    let bad = GOOD.replace("  - height_m: 1.7\n", "  - height_m: 1.7\n    hieght: 2\n");
    let err = Scene::from_yaml_str(&bad).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SimError::Yaml { line: Some(12), .. }),
        "{msg}"
    );
    assert!(msg.contains("hieght") && msg.contains("people[0]"), "{msg}");

    let bad = GOOD.replace("kind: wander\n", "kind: wander\n      sped_mps: 2.0\n");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("sped_mps") && msg.contains("people[0]") && msg.contains("line 14"),
        "{msg}"
    );

    let bad = GOOD.replace("kind: wander", "kind: moonwalk");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(msg.contains("moonwalk") && msg.contains("line"), "{msg}");

    let bad = GOOD.replace("packet_rate_hz: 100.0", "packet_rate_hz: fast");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("line 7") && msg.contains("radio.packet_rate_hz"),
        "{msg}"
    );

    let bad = GOOD.replace("layout: intel5300", "layout: intel9999");
    let msg = Scene::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(msg.contains("line 6") && msg.contains("intel9999"), "{msg}");
}
