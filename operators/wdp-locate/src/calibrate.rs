//! The empty-room calibration of a simulated room: what a deployment records once with nobody
//! in the room, made by the simulator from the scene.

use crate::{Background, LocateError, Locator, LocatorSettings, RadioGeometry};
use wdp_csi::dsp::{CsiValues, Packet};
use wdp_csi::MetaValue;
use wdp_sim::{Scene, Simulator};

/// Seed offset of the calibration recording: its own noise, phases and gain steps, never the
/// sequence's (the room's static channel comes from `room.seed`, which is kept).
const CALIBRATION_SEED: u64 = 0x0ca1_1b7a_7e00;

/// Records `settings.empty_room_s` seconds of `scene`'s room with nobody in it (same radios,
/// furniture and impairments; other noise) through a locator of `settings`, and averages its
/// windows; `None` when `empty_room_s` is 0.
pub fn simulated_background(
    scene: &Scene,
    settings: &LocatorSettings,
) -> Result<Option<Background>, LocateError> {
    settings.validate()?;
    let seconds = settings.empty_room_s;
    if seconds == 0.0 {
        return Ok(None);
    }
    let mut empty = scene.clone();
    empty.people.clear();
    empty.duration_s = Some(seconds);
    empty.seed = scene.seed ^ CALIBRATION_SEED;
    let geometry = RadioGeometry::from_scene(&empty);
    let mut sim = Simulator::new(empty)
        .map_err(|e| LocateError::config("calibration scene", e.to_string()))?;
    let mut locator = Locator::new(&geometry, sim.subcarriers(), settings)?;
    let mut builder = locator.background_builder();
    while let Some(f) = sim.next_packet() {
        let agc_db = match f.meta.get("agc_db") {
            Some(MetaValue::Float(v)) => Some(*v as f32),
            _ => None,
        };
        let packet = Packet {
            n_tx: f.n_tx,
            n_rx: f.n_rx,
            subcarriers: &f.subcarriers,
            csi: CsiValues::Complex(&f.csi),
            t_ns: f.timestamp_ns,
            agc_db,
            rssi_dbm: None,
        };
        locator.calibrate(&packet, &mut builder)?;
    }
    builder.finish().map(Some).ok_or_else(|| {
        LocateError::config(
            "locator.empty_room_s",
            format!("{seconds} s gave no window"),
        )
    })
}
