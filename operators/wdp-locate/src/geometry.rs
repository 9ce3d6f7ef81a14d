//! The radio's antennas in the room frame.

use crate::LocateError;
use serde::{Deserialize, Serialize};
use wdp_sim::channel::antenna_positions;
use wdp_sim::geom::Vec3;
use wdp_sim::scene::{AntennaArray, SPEED_OF_LIGHT_MPS};

/// The antenna arrays of one transmitter and one receiver, in metres in the room frame (the
/// room is `[0, room_m[0]] x [0, room_m[1]]` on the floor, z up), written as a simulator scene
/// writes them (`position_m`, `antennas`, `spacing_m`, `axis_deg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioGeometry {
    /// The transmitter's array.
    pub tx: AntennaArray,
    /// The receiver's array.
    pub rx: AntennaArray,
    /// Carrier (centre) frequency, Hz; subcarrier k is at `carrier_hz + k * subcarrier_spacing_hz`.
    pub carrier_hz: f64,
    /// Subcarrier spacing, Hz (312.5 kHz for 802.11n/ac).
    #[serde(default = "default_spacing")]
    pub subcarrier_spacing_hz: f64,
    /// The room's floor extent `[x, y]`, m: candidate points outside it are left out.
    pub room_m: [f64; 2],
}

fn default_spacing() -> f64 {
    312.5e3
}

impl RadioGeometry {
    /// The geometry of a simulator scene.
    pub fn from_scene(scene: &wdp_sim::Scene) -> Self {
        Self {
            tx: scene.tx.clone(),
            rx: scene.rx.clone(),
            carrier_hz: scene.radio.carrier_hz,
            subcarrier_spacing_hz: wdp_sim::layout::SUBCARRIER_SPACING_HZ,
            room_m: [scene.room.size_m[0], scene.room.size_m[1]],
        }
    }

    /// Reads a geometry from YAML, checked.
    pub fn from_yaml_str(text: &str) -> Result<Self, LocateError> {
        let g: Self = serde_yaml::from_str(text)
            .map_err(|e| LocateError::config("radio geometry", e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), LocateError> {
        if !(self.carrier_hz > 0.0 && self.carrier_hz.is_finite()) {
            return Err(LocateError::config("carrier_hz", "must be positive"));
        }
        if !(self.subcarrier_spacing_hz > 0.0 && self.subcarrier_spacing_hz.is_finite()) {
            return Err(LocateError::config(
                "subcarrier_spacing_hz",
                "must be positive",
            ));
        }
        if !self.room_m.iter().all(|v| *v > 0.0 && v.is_finite()) {
            return Err(LocateError::config("room_m", "must be two positive sizes"));
        }
        for (name, a) in [("tx", &self.tx), ("rx", &self.rx)] {
            if a.antennas == 0 || !a.position_m.iter().all(|v| v.is_finite()) {
                return Err(LocateError::config(
                    name,
                    "needs at least one antenna at a finite position",
                ));
            }
            if a.spacing_m.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
                return Err(LocateError::config(
                    &format!("{name}.spacing_m"),
                    "must be positive",
                ));
            }
        }
        Ok(())
    }

    /// Antenna pairs, transmit-major (link `i * n_rx + j` is tx antenna i to rx antenna j, the
    /// order of a capture's `[tx, rx, subcarrier]` layout).
    pub fn links(&self) -> Vec<(Vec3, Vec3)> {
        let wavelength = SPEED_OF_LIGHT_MPS / self.carrier_hz;
        let tx = antenna_positions(&self.tx, wavelength);
        let rx = antenna_positions(&self.rx, wavelength);
        tx.iter()
            .flat_map(|t| rx.iter().map(move |r| (*t, *r)))
            .collect()
    }
}
