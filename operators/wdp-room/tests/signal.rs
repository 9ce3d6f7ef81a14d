//! Signal-level sensing alone, no pose model: synthetic single-antenna ESP32-like CSI through
//! the real `wdp_sense::Sensor` into a room. The room must calibrate, stay empty while quiet,
//! report `entered` once when someone moves, and report no count.
#![allow(clippy::unwrap_used)]

use wdp_csi::{CaptureFormat, Complex32, CsiFrame};
use wdp_room::{EventKind, Room, RoomConfig, Source};
use wdp_sense::{SenseConfig, Sensor};

/// 64 subcarriers (DC and band edges zero); the amplitude profile's depth and phase say how
/// the multipath is, the gain steps like an AGC without gain lock.
fn frame(t_ns: i64, depth: f32, phase: f32, gain: f32) -> CsiFrame {
    let csi = (0..64)
        .map(|k| {
            if k == 0 || (27..38).contains(&k) {
                Complex32::new(0.0, 0.0)
            } else {
                Complex32::new(gain * (1.0 + depth * (0.3 * k as f32 + phase).sin()), 0.0)
            }
        })
        .collect();
    CsiFrame {
        format: CaptureFormat::Simulated,
        n_tx: 1,
        n_rx: 1,
        subcarriers: (0..64).collect(),
        csi,
        timestamp_ns: t_ns,
        rssi_dbm: None,
        noise_dbm: None,
        meta: Default::default(),
    }
}

#[test]
fn signal_alone_enters_once_and_never_counts() {
    let mut sensor = Sensor::new(SenseConfig::default()).unwrap();
    let mut room = Room::new("hall", RoomConfig::default()).unwrap();
    let mut events = Vec::new();
    let mut states = Vec::new();
    // 100 packets/s: 12 s quiet, then 10 s of somebody moving.
    for i in 0..2200i64 {
        let t = i as f32 / 100.0;
        let moving = i >= 1200;
        let (depth, phase) = if moving {
            (0.3 + 0.2 * (6.0 * t).sin(), 2.0 * t)
        } else {
            (0.3 + 0.002 * (37.0 * t).sin(), 0.0)
        };
        let gain = if ((t / 0.37) as u32) & 1 == 0 {
            20.0
        } else {
            40.0
        };
        let t_ns = i * 10_000_000;
        for second in sensor.push(&frame(t_ns, depth, phase, gain)) {
            events.extend(room.push_signal(t_ns, "esp32-0", (&second).into()));
            states.push((second.t_s, room.state()));
        }
    }
    // Calibration (5 s): no source yet.
    assert!(states[..5]
        .iter()
        .all(|(_, s)| s.source == Source::None && !s.presence));
    // Quiet: a decided empty room.
    assert!(states[5..12]
        .iter()
        .all(|(_, s)| s.source == Source::Signal && !s.presence && !s.motion));
    // Moving: present and moving from the first full second of motion on.
    assert!(
        states[13..].iter().all(|(_, s)| s.presence && s.motion),
        "{states:?}"
    );
    assert!(states
        .iter()
        .all(|(_, s)| s.people.is_none() && s.tracks.is_empty()));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, EventKind::Entered);
    assert!(events[0].t_ns >= 12_000_000_000);
}
