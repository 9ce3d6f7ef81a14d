//! Breathing rate on synthetic CSI: a static multipath channel plus the path of a breathing
//! chest (its length swinging by twice the chest's displacement), thermal noise, packet jitter
//! and loss, and AGC gain steps; the sensor with its default configuration.
#![allow(clippy::unwrap_used)]

use std::f64::consts::TAU;
use wdp_csi::{CaptureFormat, Complex32, CsiFrame};
use wdp_sense::{SecondState, SenseConfig, Sensor};

/// splitmix64: uniform draws and normal draws (Box-Muller) from a fixed seed.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-12);
        (-2.0 * u.ln()).sqrt() * (TAU * self.uniform()).cos()
    }
}

/// What is in the room.
#[derive(Clone, Copy)]
enum Scene {
    /// Nobody: the static channel and noise.
    Empty,
    /// A still person breathing at this rate (Hz).
    Breathing(f64),
    /// A person walking (and breathing at this rate).
    Walking(f64),
}

/// The synthetic radio: `n_rx` receive antennas of one transmitter, 64 subcarriers (the
/// ESP32's null and guard tones zero) at 2.4 GHz, 100 packets/s.
struct Radio {
    n_rx: usize,
    rng: Rng,
    /// Static paths: (gain, delay ns, angle phase per antenna).
    paths: Vec<(f64, f64, f64)>,
    seq: u64,
    gain_db: f64,
}

const WAVELENGTH_M: f64 = 0.125;
const CHEST_M: f64 = 0.004;

impl Radio {
    fn new(n_rx: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let paths = (0..8)
            .map(|i| {
                (
                    if i == 0 { 1.0 } else { 0.6 * rng.uniform() },
                    5.0 + 60.0 * rng.uniform(),
                    TAU * rng.uniform(),
                )
            })
            .collect();
        Self {
            n_rx,
            rng,
            paths,
            seq: 0,
            gain_db: 0.0,
        }
    }

    /// The next received packet (1% lost), or the time of a lost one.
    fn packet(&mut self, scene: Scene) -> Option<CsiFrame> {
        let seq = self.seq;
        self.seq += 1;
        let t = seq as f64 / 100.0 + 0.002 * self.rng.normal();
        if self.rng.uniform() < 0.01 {
            return None;
        }
        if self.rng.uniform() < 0.02 {
            // AGC: 3 dB steps within ±9 dB.
            let step = if self.rng.uniform() < 0.5 { 3.0 } else { -3.0 };
            self.gain_db = (self.gain_db + step).clamp(-9.0, 9.0);
        }
        let gain = 10f64.powf(self.gain_db / 20.0);
        // The person's path: (gain, delay ns, extra length m, angle phase).
        let person = match scene {
            Scene::Empty => None,
            Scene::Breathing(hz) => Some((0.08, 30.0, 2.0 * CHEST_M * (TAU * hz * t).sin(), 1.1)),
            Scene::Walking(hz) => {
                // Walking 1 m/s back and forth across the room: the path changes by metres.
                let x = 1.5 * (TAU * t / 6.0).sin();
                let d = 2.0 * x + 2.0 * CHEST_M * (TAU * hz * t).sin();
                Some((
                    0.35 + 0.15 * (TAU * t / 3.0).sin(),
                    30.0 + 5.0 * x,
                    d,
                    1.1 + x,
                ))
            }
        };
        let mut csi = Vec::with_capacity(self.n_rx * 64);
        for rx in 0..self.n_rx {
            for k in 0..64usize {
                if k == 0 || (27..38).contains(&k) {
                    csi.push(Complex32::new(0.0, 0.0));
                    continue;
                }
                let f_off = (k as f64 - 32.0) * 312_500.0;
                let mut h = (0.0f64, 0.0f64);
                let mut add = |g: f64, delay_ns: f64, extra_m: f64, angle: f64| {
                    let ph = -TAU * f_off * delay_ns * 1e-9 - TAU * extra_m / WAVELENGTH_M
                        + angle * rx as f64;
                    h.0 += g * ph.cos();
                    h.1 += g * ph.sin();
                };
                for &(g, d, a) in &self.paths {
                    add(g, d, 0.0, a);
                }
                if let Some((g, d, extra, a)) = person {
                    add(g, d, extra, a);
                }
                let noise = 0.02;
                let re = gain * (h.0 + noise * self.rng.normal());
                let im = gain * (h.1 + noise * self.rng.normal());
                // Quantised to int8-like steps of an ESP32.
                let q = |v: f64| (v * 30.0).round() as f32 / 30.0;
                csi.push(Complex32::new(q(re), q(im)));
            }
        }
        Some(CsiFrame {
            format: CaptureFormat::Simulated,
            n_tx: 1,
            n_rx: self.n_rx,
            subcarriers: (0..64).collect(),
            csi,
            timestamp_ns: (t.max(0.0) * 1e9).round() as i64,
            rssi_dbm: None,
            noise_dbm: None,
            meta: Default::default(),
        })
    }
}

/// Runs `phases` of (scene, seconds) through a default sensor; every second it reports.
fn run(n_rx: usize, seed: u64, phases: &[(Scene, u32)]) -> Vec<(SecondState, Scene)> {
    let mut radio = Radio::new(n_rx, seed);
    let mut sensor = Sensor::new(SenseConfig::default()).unwrap();
    let mut out = Vec::new();
    let mut scene_of_second = Vec::new();
    for &(scene, seconds) in phases {
        for _ in 0..seconds * 100 {
            if let Some(f) = radio.packet(scene) {
                out.extend(sensor.push(&f));
            }
        }
        scene_of_second.extend(std::iter::repeat_n(scene, seconds as usize));
    }
    out.extend(sensor.finish());
    out.into_iter()
        .map(|s| {
            let scene = scene_of_second[(s.t_s as usize).min(scene_of_second.len() - 1)];
            (s, scene)
        })
        .collect()
}

fn rates(states: &[(SecondState, Scene)]) -> Vec<(u64, f64)> {
    states
        .iter()
        .filter_map(|(s, _)| s.breathing_bpm.map(|b| (s.t_s, b)))
        .collect()
}

fn breathing_rate_within_one_bpm(n_rx: usize, hz: f64, seed: u64) {
    // 5 s calibration on the empty room, then the person breathes still for 60 s.
    let states = run(n_rx, seed, &[(Scene::Empty, 5), (Scene::Breathing(hz), 60)]);
    let found = rates(&states);
    let truth = 60.0 * hz;
    // Once a whole window (30 s) has passed without motion, a rate for most seconds.
    let made = states.iter().filter(|(s, _)| s.breathing.is_some()).count();
    assert!(made >= 10, "{made} estimates");
    assert!(
        found.len() * 4 >= made * 3,
        "{} of {made} seconds: {found:?}",
        found.len()
    );
    for (t, bpm) in &found {
        assert!((bpm - truth).abs() <= 1.0, "second {t}: {bpm} vs {truth}");
    }
}

#[test]
fn single_antenna_breathing_rate_within_one_bpm() {
    breathing_rate_within_one_bpm(1, 0.23, 1);
    breathing_rate_within_one_bpm(1, 0.37, 2);
}

#[test]
fn three_antenna_breathing_rate_within_one_bpm() {
    breathing_rate_within_one_bpm(3, 0.17, 3);
    breathing_rate_within_one_bpm(3, 0.31, 4);
}

#[test]
fn no_rate_under_motion_nor_in_an_empty_room() {
    // Calibration, a walk of 20 s, then still breathing: nothing during the walk nor before
    // a whole window of stillness has passed after it.
    let states = run(
        1,
        5,
        &[
            (Scene::Empty, 5),
            (Scene::Walking(0.25), 20),
            (Scene::Breathing(0.25), 45),
        ],
    );
    let motion_seconds = states.iter().filter(|(s, _)| s.motion).count();
    assert!(motion_seconds >= 18, "{motion_seconds} seconds of motion");
    let last_motion = states
        .iter()
        .filter(|(s, _)| s.motion)
        .map(|(s, _)| s.t_s)
        .max()
        .unwrap();
    for (t, bpm) in rates(&states) {
        assert!(
            t >= last_motion + 30,
            "a rate {bpm} at {t}, motion until {last_motion}"
        );
        assert!((bpm - 15.0).abs() <= 1.0, "second {t}: {bpm}");
    }
    assert!(
        !rates(&states).is_empty(),
        "the still person after the walk"
    );
    // An empty room: estimates are made (it is still) but no rate is reported.
    let empty = run(1, 6, &[(Scene::Empty, 70)]);
    let made = empty.iter().filter(|(s, _)| s.breathing.is_some()).count();
    assert!(made >= 30, "{made} estimates");
    assert_eq!(rates(&empty), vec![], "a rate in an empty room");
    let empty3 = run(3, 7, &[(Scene::Empty, 70)]);
    assert_eq!(
        rates(&empty3),
        vec![],
        "a rate in an empty room (3 antennas)"
    );
}
