//! The empty-room calibration of a simulated room: what a deployment records once with nobody
//! in the room, made by the simulator from the scene.

use crate::{Background, LocateError, Locator, LocatorSettings, RadioGeometry};
use wdp_csi::dsp::Packet;
use wdp_csi::{CsiFrame, MetaValue};
use wdp_sim::{Scene, Simulator};

/// A frame as the locator's preprocessing reads it, with its AGC gain whether the radio reports
/// it as an integer (`agc`, Intel 5300) or the simulator as a float (`agc_db`).
pub fn packet_of(frame: &CsiFrame) -> Packet<'_> {
    let mut packet = Packet::from(frame);
    if packet.agc_db.is_none() {
        if let Some(MetaValue::Float(v)) = frame.meta.get("agc_db") {
            packet.agc_db = Some(*v as f32);
        }
    }
    packet
}

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
        let packet = packet_of(&f);
        locator.calibrate(&packet, &mut builder)?;
    }
    builder.finish().map(Some).ok_or_else(|| {
        LocateError::config(
            "locator.empty_room_s",
            format!("{seconds} s gave no window"),
        )
    })
}
