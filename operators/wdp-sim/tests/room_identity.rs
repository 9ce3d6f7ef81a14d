//! A room is a room: the sequence seed (`Scene::seed`) changes motions, timing, impairments and
//! noise, never the room's static multipath (`room.seed`) or a person's body (`body_seed`).
#![allow(clippy::unwrap_used)]

use num_complex::Complex32;
use wdp_sim::scene::Room;
use wdp_sim::{Impairments, Motion, Person, Scene, SimEvent, Simulator};

/// A furnished room without a `room.seed`: the seed comes from the description.
const FURNISHED: &str = r#"
name: furnished
room:
  size_m: [6.0, 5.0, 3.0]
  furniture:
    - { kind: box, min_m: [2.5, 4.0, 0.0], max_m: [4.0, 4.9, 0.9], rcs_per_m2: 0.6 }
    - { kind: box, min_m: [0.3, 0.3, 0.0], max_m: [1.5, 1.2, 1.1], rcs_per_m2: 0.6 }
    - { kind: point, position_m: [5.0, 1.0, 1.5], rcs_m2: 1.0 }
radio:
  carrier_hz: 5.32e9
  layout: intel5300
  packet_rate_hz: 100.0
  max_reflection_order: 1
tx: { position_m: [0.5, 2.5, 1.2], antennas: 2, axis_deg: 90.0 }
rx: { position_m: [5.5, 2.5, 1.2], antennas: 2, axis_deg: 90.0 }
camera:
  position_m: [0.2, 0.2, 2.5]
  look_at_m: [3.0, 2.5, 0.8]
  resolution: [32, 24]
  rgb: false
seed: 1
"#;

fn furnished(sequence_seed: u64) -> Scene {
    let mut s = Scene::from_yaml_str(FURNISHED).unwrap();
    s.seed = sequence_seed;
    s
}

/// `||a - b||² / ||a||²` in dB.
fn rel_diff_db(a: &[Complex32], b: &[Complex32]) -> f64 {
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm_sqr() as f64)
        .sum();
    let p: f64 = a.iter().map(|x| x.norm_sqr() as f64).sum();
    10.0 * (d.max(1e-300) / p).log10()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Mean `|H|` per antenna pair and subcarrier over the packets of `seconds` with the scene's
/// impairments, each packet's AGC gain undone (random phases, CFO and STO leave `|H|` alone; the
/// noise averages out).
fn mean_amplitude(scene: &Scene, seconds: f64) -> Vec<f64> {
    let mut scene = scene.clone();
    scene.duration_s = Some(seconds);
    let mut sim = Simulator::new(scene).unwrap();
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    while let Some(p) = sim.next_packet() {
        let wdp_csi::MetaValue::Float(agc_db) = p.meta["agc_db"] else {
            panic!("agc_db is not a float");
        };
        let gain = 10f64.powf(agc_db / 20.0);
        sum.resize(p.csi.len(), 0.0);
        for (s, h) in sum.iter_mut().zip(&p.csi) {
            *s += h.norm() as f64 / gain;
        }
        n += 1;
    }
    assert!(n > 50, "{n} packets");
    sum.iter().map(|s| s / n as f64).collect()
}

#[test]
fn sequences_of_one_empty_room_share_its_static_channel() {
    let (a, b) = (furnished(1), furnished(2));
    assert_eq!(a.room.seed, b.room.seed);
    assert_eq!(
        a.room.seed,
        Room::derived_seed(a.room.size_m, &a.room.walls, &a.room.furniture)
    );
    let empty = |s: &Scene| Simulator::new(s.clone()).unwrap().empty_room_csi();
    // the ideal channel is the same to the bit
    assert_eq!(empty(&a), empty(&b));

    // another room seed: the same walls, furniture at the same places, other scatter phases
    let mut other = furnished(1);
    other.room.seed ^= 0x5eed;
    let d_other = rel_diff_db(&empty(&a), &empty(&other));
    assert!(
        d_other > -20.0,
        "another room seed changes the room by only {d_other:.1} dB"
    );

    // with every impairment on (noise, AGC steps, random phase, CFO, STO, loss, jitter): the
    // packets' mean amplitudes agree across sequences, not across rooms
    assert!(a.impairments == Impairments::default());
    let (ma, mb, mo) = (
        mean_amplitude(&a, 2.0),
        mean_amplitude(&b, 2.0),
        mean_amplitude(&other, 2.0),
    );
    let (same, diff) = (correlation(&ma, &mb), correlation(&ma, &mo));
    assert!(
        same > 0.995,
        "two sequences of one room: correlation {same:.4}"
    );
    assert!(
        diff < same - 0.05,
        "two rooms {diff:.4} should correlate clearly less than two sequences {same:.4}"
    );
}

#[test]
fn the_room_seed_follows_the_description_and_survives_a_round_trip() {
    let a = furnished(1);
    // an explicit seed is kept
    let explicit = Scene::from_yaml_str(&FURNISHED.replace("room:\n", "room:\n  seed: 42\n"));
    assert_eq!(explicit.unwrap().room.seed, 42);
    // a moved box is another room, the same description the same room
    let moved =
        Scene::from_yaml_str(&FURNISHED.replace("[2.5, 4.0, 0.0]", "[2.4, 4.0, 0.0]")).unwrap();
    assert_ne!(moved.room.seed, a.room.seed);
    assert_eq!(Scene::from_yaml_str(FURNISHED).unwrap().room, a.room);
    // the written scene names its room seed, so reading it back is the same room
    let text = a.to_yaml_string();
    assert!(text.contains(&format!("seed: {}", a.room.seed)), "{text}");
    assert_eq!(Scene::from_yaml_str(&text).unwrap(), a);
    // unknown room fields are still errors
    assert!(Scene::from_yaml_str(&FURNISHED.replace("room:\n", "room:\n  sead: 42\n")).is_err());
}

fn stand(body_seed: Option<u64>) -> Person {
    Person {
        height_m: 1.8,
        reflectivity: 1.0,
        motion: Motion::Stand {
            position_m: [3.2, 1.6],
            facing_deg: 30.0,
            breathing_hz: 0.25,
            // no breathing: its phase is the sequence's
            breathing_amplitude_m: 0.0,
        },
        body_seed,
    }
}

/// The ideal channel at `t_s` minus the empty room's: the body's contribution.
fn body_contribution(scene: &Scene, t_s: f64) -> Vec<Complex32> {
    let sim = Simulator::new(scene.clone()).unwrap();
    let empty = sim.empty_room_csi();
    sim.clean_csi_at(t_s)
        .iter()
        .zip(&empty)
        .map(|(h, e)| h - e)
        .collect()
}

#[test]
fn the_same_pose_at_the_same_place_scatters_the_same_across_sequences() {
    let with = |seq: u64, person: Person| {
        let mut s = furnished(seq);
        s.people = vec![person];
        s
    };
    let a = body_contribution(&with(1, stand(None)), 0.5);
    let b = body_contribution(&with(2, stand(None)), 0.5);
    let power: f64 = a.iter().map(|h| h.norm_sqr() as f64).sum();
    assert!(power > 0.0);
    let d_seq = rel_diff_db(&a, &b);
    assert!(
        d_seq < -100.0,
        "one body, two sequences: {d_seq:.1} dB apart"
    );
    // the default body is the person's index: the same as asking for body seed 0
    let explicit = body_contribution(&with(2, stand(Some(0))), 0.5);
    assert!(rel_diff_db(&a, &explicit) < -100.0);
    // another body at the same place scatters differently
    let other = body_contribution(&with(1, stand(Some(7))), 0.5);
    let d_body = rel_diff_db(&a, &other);
    assert!(
        d_body > -10.0,
        "another body differs by only {d_body:.1} dB"
    );
}

#[test]
fn every_preset_loads_simulates_and_keeps_its_room_across_seeds() {
    for name in Scene::preset_names() {
        let mut scene = Scene::preset(name).unwrap();
        scene.duration_s = Some(0.3);
        if let Some(c) = scene.camera.as_mut() {
            c.resolution = [32, 24];
            c.gt_resolution = None;
            c.rgb = false;
        }
        let mut other = scene.clone();
        other.seed += 1000;
        let (mut packets, mut frames) = (0, 0);
        let mut sim = Simulator::new(scene.clone()).unwrap();
        for ev in sim.by_ref() {
            match ev {
                SimEvent::Packet(p) => {
                    assert!(p.csi.iter().all(|h| h.re.is_finite() && h.im.is_finite()));
                    packets += 1;
                }
                SimEvent::Frame(g) => {
                    assert_eq!(g.people.len(), scene.people.len());
                    frames += 1;
                }
            }
        }
        assert!(
            packets > 10 && frames > 2,
            "{name}: {packets} packets, {frames} frames"
        );
        let other = Simulator::new(other).unwrap();
        assert_eq!(
            sim.empty_room_csi(),
            other.empty_room_csi(),
            "{name}: the room changed with the sequence seed"
        );
    }
}
