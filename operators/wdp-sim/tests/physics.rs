//! Channel physics checked against hand computations.
#![allow(clippy::unwrap_used)]

mod common;
use common::{bare_scene, wrap};
use num_complex::Complex64;
use std::f64::consts::{PI, TAU};
use wdp_sim::channel::{image_sources, paths_from_images};
use wdp_sim::geom::Vec3;
use wdp_sim::layout::SUBCARRIER_SPACING_HZ;
use wdp_sim::scene::{Material, Motion, Person, SPEED_OF_LIGHT_MPS};
use wdp_sim::{Impairments, Simulator};

const C: f64 = SPEED_OF_LIGHT_MPS;

#[test]
fn line_of_sight_delay_amplitude_and_phase_slope_match_the_geometry() {
    let scene = bare_scene();
    let sim = Simulator::new(scene.clone()).unwrap();
    let h = sim.empty_room_csi();
    let d = Vec3::new(1.0, 2.0, 1.5).distance(Vec3::new(5.0, 3.0, 1.0));
    let lambda = C / scene.radio.carrier_hz;
    let subs = sim.subcarriers();
    for (k, &idx) in subs.iter().enumerate() {
        let f = scene.radio.carrier_hz + idx as f64 * SUBCARRIER_SPACING_HZ;
        let expected = Complex64::from_polar(lambda / (4.0 * PI * d), -TAU * f * d / C);
        let got = Complex64::new(h[k].re as f64, h[k].im as f64);
        assert!(
            (got.norm() / expected.norm() - 1.0).abs() < 1e-4,
            "amplitude at {idx}"
        );
        assert!(
            wrap(got.arg() - expected.arg()).abs() < 2e-3,
            "phase at {idx}"
        );
    }
    // delay from the least-squares phase slope over frequency: tau = -slope / 2π
    let mut unwrapped = vec![(h[0].arg() as f64, subs[0] as f64)];
    for k in 1..subs.len() {
        let step = wrap(h[k].arg() as f64 - h[k - 1].arg() as f64);
        let prev = unwrapped[k - 1].0;
        unwrapped.push((prev + step, subs[k] as f64));
    }
    let n = unwrapped.len() as f64;
    let mx = unwrapped.iter().map(|p| p.1).sum::<f64>() / n;
    let my = unwrapped.iter().map(|p| p.0).sum::<f64>() / n;
    let sxy: f64 = unwrapped.iter().map(|p| (p.1 - mx) * (p.0 - my)).sum();
    let sxx: f64 = unwrapped.iter().map(|p| (p.1 - mx).powi(2)).sum();
    let slope_per_hz = sxy / sxx / SUBCARRIER_SPACING_HZ;
    let tau = -slope_per_hz / TAU;
    assert!((tau - d / C).abs() < 0.05e-9, "tau {tau} vs {}", d / C);
}

#[test]
fn image_method_reflections_match_hand_computation() {
    let size = [6.0, 5.0, 3.0];
    let tx = Vec3::new(1.0, 2.0, 1.5);
    let rx = Vec3::new(4.0, 3.0, 1.0);
    let refl = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    let lambda = 0.0564;
    let paths = paths_from_images(&image_sources(size, refl, tx, 2), rx, lambda);
    let find = |len: f64| {
        paths
            .iter()
            .find(|p| (p.length_m - len).abs() < 1e-9)
            .unwrap_or_else(|| panic!("no path of length {len}"))
    };
    // line of sight
    let los = find((9.0f64 + 1.0 + 0.25).sqrt());
    assert_eq!(los.order, 0);
    // floor: image at z = -1.5
    let floor = find((9.0f64 + 1.0 + 6.25).sqrt());
    assert_eq!(floor.order, 1);
    let amp = -0.5 * lambda / (4.0 * PI * floor.length_m);
    assert!((floor.amplitude.re - amp).abs() < 1e-15);
    // the x = 6 wall: image at x = 11
    find((49.0f64 + 1.0 + 0.25).sqrt());
    // floor then ceiling: z 1.5 -> -1.5 -> 7.5; ceiling then floor: 1.5 -> 4.5 -> -4.5
    let fc = find((9.0f64 + 1.0 + 42.25).sqrt());
    assert_eq!(fc.order, 2);
    assert!((fc.amplitude.re - 0.5 * 0.6 * lambda / (4.0 * PI * fc.length_m)).abs() < 1e-15);
    find((9.0f64 + 1.0 + 30.25).sqrt());
    // x_min then y_min corner: image at (-1, -2, 1.5)
    find((25.0f64 + 25.0 + 0.25).sqrt());
    assert_eq!(paths.len(), 25);
    // delay = length / c
    assert!((floor.delay_s() - floor.length_m / C).abs() < 1e-20);
}

#[test]
fn csi_with_a_floor_reflection_is_the_two_path_sum() {
    let mut scene = bare_scene();
    scene.radio.max_reflection_order = 1;
    let w = &mut scene.room.walls;
    for m in [
        &mut w.x_min,
        &mut w.x_max,
        &mut w.y_min,
        &mut w.y_max,
        &mut w.ceiling,
    ] {
        *m = Material::Coefficient(0.0);
    }
    w.floor = Material::Coefficient(0.7);
    let sim = Simulator::new(scene.clone()).unwrap();
    let h = sim.empty_room_csi();
    let lambda = C / scene.radio.carrier_hz;
    let d0 = (16.0f64 + 1.0 + 0.25).sqrt();
    let d1 = (16.0f64 + 1.0 + 6.25).sqrt(); // tx image at z = -1.5, rx at z = 1
    for (k, &idx) in sim.subcarriers().iter().enumerate() {
        let f = scene.radio.carrier_hz + idx as f64 * SUBCARRIER_SPACING_HZ;
        let e = Complex64::from_polar(lambda / (4.0 * PI * d0), -TAU * f * d0 / C)
            - Complex64::from_polar(0.7 * lambda / (4.0 * PI * d1), -TAU * f * d1 / C);
        let got = Complex64::new(h[k].re as f64, h[k].im as f64);
        assert!((got - e).norm() / e.norm() < 2e-3, "subcarrier {idx}");
    }
}

#[test]
fn static_room_is_constant_without_impairments_and_noise_matches_the_snr() {
    let mut scene = bare_scene();
    scene.radio.max_reflection_order = 2;
    scene.duration_s = Some(2.0);
    let mut sim = Simulator::new(scene.clone()).unwrap();
    let first = sim.next_packet().unwrap();
    let mut n = 1;
    while let Some(p) = sim.next_packet() {
        assert_eq!(p.csi, first.csi);
        n += 1;
    }
    assert_eq!(n, 200);

    scene.impairments = Impairments {
        snr_db: Some(20.0),
        ..Impairments::none()
    };
    let mut sim = Simulator::new(scene).unwrap();
    let clean = sim.empty_room_csi();
    let signal: f64 = clean.iter().map(|h| h.norm_sqr() as f64).sum::<f64>() / clean.len() as f64;
    let (mut err, mut count) = (0.0f64, 0usize);
    while let Some(p) = sim.next_packet() {
        for (a, b) in p.csi.iter().zip(clean.iter()) {
            err += (a - b).norm_sqr() as f64;
            count += 1;
        }
    }
    let snr_db = 10.0 * (signal / (err / count as f64)).log10();
    eprintln!("measured SNR {snr_db:.2} dB");
    assert!((snr_db - 20.0).abs() < 0.3, "measured SNR {snr_db} dB");
}

#[test]
fn a_person_near_one_link_changes_that_link_more() {
    let mut scene = bare_scene();
    scene.radio.max_reflection_order = 1;
    scene.tx.position_m = [1.0, 2.5, 1.2];
    scene.rx.position_m = [5.0, 2.5, 1.2];
    scene.rx.antennas = 3;
    scene.rx.spacing_m = Some(1.5);
    scene.rx.axis_deg = 90.0; // rx antennas at y = 1.0, 2.5, 4.0
    scene.people = vec![Person {
        height_m: 1.75,
        reflectivity: 1.0,
        motion: Motion::Squat {
            position_m: [3.0, 1.6],
            facing_deg: 0.0,
            period_s: 2.0,
        },
        body_seed: None,
    }];
    let sim = Simulator::new(scene).unwrap();
    let n_sub = sim.subcarriers().len();
    let snaps: Vec<Vec<num_complex::Complex32>> = (0..100)
        .map(|i| sim.clean_csi_at(i as f64 * 0.02))
        .collect();
    let variation = |link: usize| {
        let mut v = 0.0f64;
        let mut m = 0.0f64;
        for k in 0..n_sub {
            let i = link * n_sub + k;
            let mean: num_complex::Complex32 =
                snaps.iter().map(|s| s[i]).sum::<num_complex::Complex32>() / snaps.len() as f32;
            v += snaps
                .iter()
                .map(|s| (s[i] - mean).norm_sqr() as f64)
                .sum::<f64>();
            m += mean.norm_sqr() as f64 * snaps.len() as f64;
        }
        v / m
    };
    let near = variation(0);
    let far = variation(2);
    eprintln!("relative CSI variation: near link {near:.3e}, far link {far:.3e}");
    assert!(near > 3.0 * far, "near link {near:.3e}, far link {far:.3e}");
}

#[test]
fn doppler_of_a_radially_walking_person_matches_the_bistatic_geometry() {
    let mut scene = bare_scene();
    scene.radio.packet_rate_hz = 200.0;
    scene.tx.position_m = [0.4, 2.6, 1.2];
    scene.rx.position_m = [0.4, 2.2, 1.2];
    let speed = 1.0;
    scene.people = vec![Person {
        height_m: 1.75,
        reflectivity: 1.0,
        motion: Motion::Walk {
            waypoints_m: vec![[1.2, 2.4], [5.6, 2.4]],
            speed_mps: speed,
            closed: false,
        },
        body_seed: None,
    }];
    let sim = Simulator::new(scene.clone()).unwrap();
    let fs = 200.0;
    let (t0, n) = (0.5, 512usize);
    let n_sub = sim.subcarriers().len();
    let snaps: Vec<Vec<num_complex::Complex32>> = (0..n)
        .map(|i| sim.clean_csi_at(t0 + i as f64 / fs))
        .collect();
    // expected: -(1/λ) d/dt (|p - tx| + |p - rx|) for the torso centre at mid-window
    let lambda = C / scene.radio.carrier_hz;
    let tx = Vec3::from_array(scene.tx.position_m);
    let rx = Vec3::from_array(scene.rx.position_m);
    let torso = |t: f64| {
        let b = &sim.people_at(t)[0];
        (b.joints[5] + b.joints[6] + b.joints[11] + b.joints[12]) * 0.25
    };
    let tm = t0 + n as f64 / fs / 2.0;
    let path = |t: f64| torso(t).distance(tx) + torso(t).distance(rx);
    let expected = -(path(tm + 0.05) - path(tm - 0.05)) / 0.1 / lambda;
    assert!(expected < -30.0 && expected > -40.0, "{expected}");
    // power spectrum of the dynamic part, summed over subcarriers
    let mut best = (0.0f64, 0.0f64);
    let mut f = -90.0;
    while f <= 90.0 {
        let mut p = 0.0f64;
        for k in 0..n_sub {
            let mean: num_complex::Complex32 =
                snaps.iter().map(|s| s[k]).sum::<num_complex::Complex32>() / n as f32;
            let mut acc = Complex64::new(0.0, 0.0);
            for (i, s) in snaps.iter().enumerate() {
                let x = s[k] - mean;
                let w = 0.5 - 0.5 * (TAU * i as f64 / n as f64).cos(); // Hann window
                acc += Complex64::new(x.re as f64, x.im as f64)
                    * Complex64::from_polar(w, -TAU * f * i as f64 / fs);
            }
            p += acc.norm_sqr();
        }
        if p > best.1 {
            best = (f, p);
        }
        f += 0.5;
    }
    eprintln!("Doppler peak {} Hz, expected {expected:.2} Hz", best.0);
    assert!(
        (best.0 - expected).abs() < 0.15 * expected.abs(),
        "peak {} Hz, expected {expected:.1} Hz",
        best.0
    );
}
