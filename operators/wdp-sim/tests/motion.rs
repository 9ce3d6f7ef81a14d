//! Motions: breathing shows in the CSI at its rate, people never overlap, every motion gives
//! sane bodies.

#![allow(clippy::unwrap_used)]

mod common;
use common::bare_scene;
use num_complex::Complex64;
use std::f64::consts::TAU;
use wdp_sim::scene::{Motion, Person};
use wdp_sim::{Scene, Simulator};

#[test]
fn breathing_shows_in_the_csi_at_the_breathing_rate() {
    let mut scene = bare_scene();
    scene.people = vec![Person {
        height_m: 1.75,
        reflectivity: 1.0,
        motion: Motion::Stand {
            position_m: [3.0, 2.9],
            facing_deg: -90.0,
            breathing_hz: 0.25,
            breathing_amplitude_m: 0.005,
        },
        body_seed: None,
    }];
    let sim = Simulator::new(scene).unwrap();
    let fs = 10.0;
    let n = 400; // 40 s
    let snaps: Vec<_> = (0..n).map(|i| sim.clean_csi_at(i as f64 / fs)).collect();
    let n_sub = snaps[0].len();
    let power_at = |f: f64| {
        let mut p = 0.0;
        for k in 0..n_sub {
            let mean = snaps.iter().map(|s| s[k]).sum::<num_complex::Complex32>() / n as f32;
            let mut acc = Complex64::new(0.0, 0.0);
            for (i, s) in snaps.iter().enumerate() {
                let x = s[k] - mean;
                acc += Complex64::new(x.re as f64, x.im as f64)
                    * Complex64::from_polar(1.0, -TAU * f * i as f64 / fs);
            }
            p += acc.norm_sqr();
        }
        p
    };
    let (mut best_f, mut best_p) = (0.0, 0.0);
    for i in 1..=40 {
        let f = i as f64 * 0.025; // 0.025 .. 1 Hz
        for sign in [-1.0, 1.0] {
            let p = power_at(sign * f);
            if p > best_p {
                (best_f, best_p) = (f, p);
            }
        }
    }
    assert!(
        (best_f - 0.25).abs() < 0.03,
        "breathing peak at {best_f} Hz"
    );
    // a breath moves the chest by millimetres: the channel changes, but only a little
    let h0 = &snaps[0];
    let change: f64 = snaps
        .iter()
        .map(|s| {
            s.iter()
                .zip(h0)
                .map(|(a, b)| (a - b).norm_sqr() as f64)
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let power: f64 = h0.iter().map(|h| h.norm_sqr() as f64).sum();
    assert!(
        change > 0.0 && change < 0.01 * power,
        "{change:e} vs {power:e}"
    );
}

#[test]
fn wandering_people_never_overlap_and_stay_in_the_room() {
    let mut scene = Scene::preset("lab").unwrap();
    let wander = scene.people[0].clone();
    scene.people = vec![
        wander.clone(),
        wander.clone(),
        wander.clone(),
        wander.clone(),
        wander,
    ];
    scene.room.size_m = [4.0, 3.5, 3.0];
    scene.tx.position_m = [0.5, 1.5, 1.2];
    scene.rx.position_m = [3.5, 1.5, 1.2];
    scene.camera = None;
    scene.room.furniture.clear();
    let sim = Simulator::new(scene).unwrap();
    for i in 0..1200 {
        let bodies = sim.people_at(i as f64 * 0.1);
        for (a, ba) in bodies.iter().enumerate() {
            let pa = ba.joints[11] + ba.joints[12];
            assert!(pa.x > 0.0 && pa.x < 8.0 && pa.y > 0.0 && pa.y < 7.0);
            for bb in bodies.iter().skip(a + 1) {
                let pb = bb.joints[11] + bb.joints[12];
                let d = ((pa.x - pb.x).powi(2) + (pa.y - pb.y).powi(2)).sqrt() / 2.0;
                assert!(d > 0.55, "people {d:.2} m apart at t = {}", i as f64 * 0.1);
            }
        }
    }
}

#[test]
fn every_motion_gives_grounded_finite_bodies() {
    let motions = [
        Motion::Turn {
            position_m: [3.0, 2.5],
            period_s: 4.0,
        },
        Motion::Wave {
            position_m: [3.0, 2.5],
            facing_deg: 10.0,
            period_s: 1.0,
        },
        Motion::Squat {
            position_m: [3.0, 2.5],
            facing_deg: 0.0,
            period_s: 3.0,
        },
        Motion::Sit {
            position_m: [3.0, 2.5],
            facing_deg: 0.0,
            period_s: 6.0,
        },
        Motion::Fall {
            position_m: [3.0, 2.5],
            facing_deg: 0.0,
            at_s: 1.0,
            duration_s: 0.8,
        },
        Motion::Walk {
            waypoints_m: vec![[1.0, 1.0], [4.0, 4.0], [5.0, 1.0]],
            speed_mps: 1.3,
            closed: true,
        },
    ];
    for m in motions {
        let mut scene = bare_scene();
        scene.people = vec![Person {
            height_m: 1.8,
            reflectivity: 1.0,
            motion: m.clone(),
            body_seed: None,
        }];
        let sim = Simulator::new(scene).unwrap();
        let mut lowest_head = f64::MAX;
        for i in 0..100 {
            let b = &sim.people_at(i as f64 * 0.05)[0];
            assert!(b
                .joints
                .iter()
                .all(|j| j.x.is_finite() && j.y.is_finite() && j.z.is_finite()));
            let min_z = b.joints.iter().map(|j| j.z).fold(f64::MAX, f64::min);
            assert!(
                min_z > -0.05 && min_z < 0.2,
                "{m:?} floats or sinks: {min_z}"
            );
            lowest_head = lowest_head.min(b.joints[0].z);
        }
        if matches!(m, Motion::Fall { .. }) {
            assert!(lowest_head < 0.4, "fallen head at {lowest_head}");
        }
        if matches!(m, Motion::Squat { .. } | Motion::Sit { .. }) {
            assert!(
                lowest_head < 1.4,
                "{m:?} head never lower than {lowest_head}"
            );
        }
    }
}
