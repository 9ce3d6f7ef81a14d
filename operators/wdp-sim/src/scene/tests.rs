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

/// Generated rooms are valid scenes, fit the 8 x 6 m floor grid, differ from seed to seed and
/// are the same for one seed; their radios are on two walls and apart.
#[test]
fn generated_rooms_are_valid_and_reproducible() {
    let mut sizes = std::collections::HashSet::new();
    for seed in 0..300u64 {
        let name = format!("generated-{seed}");
        let s = Scene::preset(&name).unwrap();
        s.validate()
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", s.to_yaml_string()));
        assert_eq!(s.name, name);
        assert_eq!(s, Scene::generated(seed));
        let [x, y, _] = s.room.size_m;
        assert!(x <= 8.0 && y <= 6.0, "{name}: {x} x {y} m");
        let (t, r) = (s.tx.position_m, s.rx.position_m);
        assert!(
            (t[0] - r[0]).hypot(t[1] - r[1]) > 1.99,
            "{name}: radios {t:?} {r:?}"
        );
        sizes.insert(((x * 10.0) as i64, (y * 10.0) as i64));
        // A file written from it reads back as the same room.
        let back = Scene::from_yaml_str(&s.to_yaml_string()).unwrap();
        assert_eq!(back.room, s.room);
    }
    assert!(sizes.len() > 200, "only {} distinct sizes", sizes.len());
    assert!(Scene::generated_seed("generated-x").is_none());
    assert!(Scene::preset("generated-").is_err());
}
