//! Shared helpers of the integration tests: the shared captures, running a sensor.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use wdp_csi::CsiFrame;
use wdp_sense::{read_capture, SecondState, SenseConfig, Sensor};

/// The shared captures folder (beside the repository).
pub fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/captures")
}

/// The frames of a capture; no record of the shared captures is corrupt.
pub fn frames(relative: &str) -> Vec<CsiFrame> {
    let (frames, stats) = read_capture(&captures().join(relative), &Default::default()).unwrap();
    assert!(!frames.is_empty(), "{relative}");
    assert_eq!(stats.skipped_total(), 0, "{relative}: {stats:?}");
    frames
}

/// The ESPectre quiet-room recording (ESP32-S3, 64 subcarriers, 10 s).
pub const QUIET: &str = "espectre/baseline_s3_64sc_20260117_222606.csv";
/// The ESPectre recording of a person moving in the same room (10 s).
pub const MOVEMENT: &str = "espectre/movement_s3_64sc_20260117_222626.csv";

/// Every second the sensor reports for these frames, the last partial one included.
pub fn sense(config: SenseConfig, frames: &[CsiFrame]) -> Vec<SecondState> {
    let mut sensor = Sensor::new(config).unwrap();
    let mut out: Vec<SecondState> = frames.iter().flat_map(|f| sensor.push(f)).collect();
    out.extend(sensor.finish());
    out
}

/// Index of the second (from the first frame) at capture time `t_ns`.
pub fn second_of(frames: &[CsiFrame], t_ns: i64) -> u64 {
    ((t_ns - frames[0].timestamp_ns) / 1_000_000_000) as u64
}

/// A receiver without gain lock: every packet's CSI scaled by a gain that random-walks in
/// `step_db` steps (probability `p` per packet, within ±`max_db`), from a fixed seed.
pub fn with_gain_walk(frames: &mut [CsiFrame], step_db: f32, p: f64, max_db: f32, seed: u64) {
    let mut state = seed;
    let mut gain_db = 0.0f32;
    for f in frames {
        // splitmix64: a uniform draw in [0, 1) and a sign
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64;
        if u < p {
            let up = z & 1 == 1;
            gain_db = (gain_db + if up { step_db } else { -step_db }).clamp(-max_db, max_db);
        }
        let g = 10f32.powf(gain_db / 20.0);
        for c in &mut f.csi {
            *c *= g;
        }
    }
}
