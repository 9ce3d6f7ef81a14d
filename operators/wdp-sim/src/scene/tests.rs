//! Unit tests of the scene module: every preset parses and validates, field paths are found in
//! YAML text.

use super::location::locate_field;
use super::Scene;
use crate::error::SimError;

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
