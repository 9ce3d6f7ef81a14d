//! People drawn per sequence: deterministic for a seed, counts in range, on the floor, outside
//! the furniture, different per seed, and a scene that simulates.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use wdp_sim::scene::Furniture;
use wdp_sim::{random_people, Motion, PeopleRange, Person, Scene, Simulator};

fn floor_position(p: &Person) -> Option<[f64; 2]> {
    match &p.motion {
        Motion::Stand { position_m, .. }
        | Motion::Turn { position_m, .. }
        | Motion::Wave { position_m, .. }
        | Motion::Squat { position_m, .. }
        | Motion::Sit { position_m, .. }
        | Motion::Fall { position_m, .. } => Some(*position_m),
        Motion::Wander { .. } | Motion::Walk { .. } => None,
    }
}

#[test]
fn people_are_deterministic_in_range_on_the_floor_and_differ_by_seed() {
    let scene = Scene::preset("living-room").unwrap();
    let [sx, sy, _] = scene.room.size_m;
    assert_eq!(
        random_people(&scene, 7, 0, 3).unwrap(),
        random_people(&scene, 7, 0, 3).unwrap()
    );
    let mut counts = HashSet::new();
    let (mut wander, mut placed, mut total) = (0, 0, 0);
    let mut kinds = HashSet::new();
    let mut bodies = HashSet::new();
    let mut previous: Option<Vec<Person>> = None;
    let mut changed = 0;
    for seed in 0..200u64 {
        let people = random_people(&scene, seed, 1, 4).unwrap();
        assert!((1..=4).contains(&people.len()), "{}", people.len());
        counts.insert(people.len());
        for p in &people {
            total += 1;
            assert!((1.50..=1.95).contains(&p.height_m), "{}", p.height_m);
            assert!((0.8..=1.2).contains(&p.reflectivity), "{}", p.reflectivity);
            assert!(bodies.insert(p.body_seed.unwrap()), "a body drawn twice");
            kinds.insert(std::mem::discriminant(&p.motion));
            match (&p.motion, floor_position(p)) {
                (
                    Motion::Wander {
                        speed_mps,
                        pause_s,
                        margin_m,
                    },
                    _,
                ) => {
                    wander += 1;
                    assert!((0.4..=1.3).contains(speed_mps));
                    assert!((0.5..=3.0).contains(pause_s));
                    assert!((*margin_m - 0.5).abs() < 1e-9);
                }
                (_, Some([x, y])) => {
                    placed += 1;
                    assert!((0.5..=sx - 0.5).contains(&x) && (0.5..=sy - 0.5).contains(&y));
                    for f in &scene.room.furniture {
                        if let Furniture::Box { min_m, max_m, .. } = f {
                            let inside = (min_m[0]..=max_m[0]).contains(&x)
                                && (min_m[1]..=max_m[1]).contains(&y);
                            assert!(!inside, "({x}, {y}) inside furniture {f:?}");
                        }
                    }
                }
                (m, None) => panic!("unexpected motion {m:?}"),
            }
        }
        let mut scene = scene.clone();
        scene.people = people.clone();
        scene.validate().unwrap();
        if previous.as_ref().is_some_and(|q| *q != people) {
            changed += 1;
        }
        previous = Some(people);
    }
    assert_eq!(counts, (1..=4).collect::<HashSet<_>>());
    assert_eq!(changed, 199, "consecutive seeds gave the same people");
    // mostly wandering, all six kinds present
    let share = wander as f64 / total as f64;
    assert!((0.5..0.7).contains(&share), "wander share {share:.2}");
    assert!(placed > 0);
    assert_eq!(kinds.len(), 6);
    assert!(random_people(&scene, 1, 0, 0).unwrap().is_empty());
    assert!(random_people(&scene, 1, 3, 2).is_err());
    assert!(random_people(&scene, 1, 0, 6).is_err());
}

#[test]
fn wanderers_cover_the_whole_floor() {
    let mut scene = Scene::preset("lab").unwrap();
    let [sx, sy, _] = scene.room.size_m;
    // 4 x 4 cells of the floor, each visited by some wanderer of some sequence
    let mut visited = [[false; 4]; 4];
    for seed in 0..12u64 {
        scene.people = random_people(&scene, seed, 3, 3).unwrap();
        scene.seed = seed;
        let sim = Simulator::new(scene.clone()).unwrap();
        for step in 0..300 {
            let bodies = sim.people_at(step as f64 * 0.1);
            for (body, _) in bodies
                .iter()
                .zip(&scene.people)
                .filter(|(_, p)| matches!(p.motion, Motion::Wander { .. }))
            {
                let pelvis = body.joints[18];
                let cx = ((pelvis.x / sx * 4.0) as usize).min(3);
                let cy = ((pelvis.y / sy * 4.0) as usize).min(3);
                visited[cx][cy] = true;
            }
        }
    }
    assert!(visited.iter().flatten().all(|v| *v), "{visited:?}");
}

#[test]
fn the_count_range_parses_with_clear_errors() {
    let r = |s: &str| s.parse::<PeopleRange>();
    assert_eq!(r("0..3"), Ok(PeopleRange { min: 0, max: 3 }));
    assert_eq!(r("2..=5"), Ok(PeopleRange { min: 2, max: 5 }));
    assert_eq!(r("4"), Ok(PeopleRange { min: 4, max: 4 }));
    for bad in ["3..1", "0..6", "a..2", "", "1..", "-1..2"] {
        let e = r(bad).unwrap_err();
        assert!(e.contains("MIN..MAX") && e.contains(bad), "{bad}: {e}");
    }
    assert_eq!(PeopleRange { min: 1, max: 2 }.to_string(), "1..2");
}
