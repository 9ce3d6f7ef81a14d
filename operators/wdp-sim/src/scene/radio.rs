//! The radios: carrier, subcarrier layout, packet rate and channel-model settings, the transmit
//! and receive antenna arrays, and the radio impairments with their defaults.

use super::types::{default_true, one};
use crate::layout::SubcarrierLayout;
use serde::{Deserialize, Serialize};

/// Speed of light in m/s.
pub const SPEED_OF_LIGHT_MPS: f64 = 299_792_458.0;

/// Radio and channel-model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Radio {
    /// Carrier (centre) frequency in Hz, e.g. 5.32e9 (channel 64).
    pub carrier_hz: f64,
    /// Which subcarriers are reported; sets the bandwidth.
    pub layout: SubcarrierLayout,
    /// Packets per second.
    pub packet_rate_hz: f64,
    /// Transmit power in dBm (sets `rssi_dbm`).
    #[serde(default = "default_tx_power_dbm")]
    pub tx_power_dbm: f64,
    /// Highest wall-reflection order (0, 1 or 2).
    #[serde(default = "default_reflection_order")]
    pub max_reflection_order: u8,
    /// Scattering points sampled on each body surface.
    #[serde(default = "default_body_points")]
    pub body_points_per_person: usize,
}

fn default_tx_power_dbm() -> f64 {
    20.0
}
fn default_reflection_order() -> u8 {
    2
}
fn default_body_points() -> usize {
    128
}

impl Radio {
    /// Carrier wavelength in metres.
    pub fn wavelength_m(&self) -> f64 {
        SPEED_OF_LIGHT_MPS / self.carrier_hz
    }
}

/// A uniform linear antenna array, horizontal, centred on `position_m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AntennaArray {
    /// Array centre in metres.
    pub position_m: [f64; 3],
    /// Number of antennas (1 to 3).
    #[serde(default = "default_antennas")]
    pub antennas: usize,
    /// Element spacing in metres; `None` is half a wavelength.
    #[serde(default)]
    pub spacing_m: Option<f64>,
    /// Direction of the array axis in degrees from +x.
    #[serde(default)]
    pub axis_deg: f64,
}

fn default_antennas() -> usize {
    3
}

/// Radio impairments. Zero (or `None`) turns an impairment off; [`Impairments::none`] turns all off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impairments {
    /// Signal-to-noise ratio of the thermal noise in dB (relative to the empty-room mean power
    /// per subcarrier); `None` adds no noise.
    #[serde(default = "default_snr")]
    pub snr_db: Option<f64>,
    /// Residual carrier frequency offset standard deviation in Hz (a per-run offset drifting as a
    /// random walk; its phase 2π·cfo·t is common to all antennas).
    #[serde(default = "default_cfo")]
    pub cfo_std_hz: f64,
    /// A uniformly random common phase on every packet (PLL / packet detection phase).
    #[serde(default = "default_true")]
    pub random_phase: bool,
    /// Sampling time offset standard deviation per packet, in ns (a linear phase slope over
    /// subcarrier index).
    #[serde(default = "default_sto")]
    pub sto_std_ns: f64,
    /// AGC gain step in dB; 0 disables AGC changes.
    #[serde(default = "one")]
    pub agc_step_db: f64,
    /// Probability per packet that the AGC steps up or down.
    #[serde(default = "default_agc_prob")]
    pub agc_step_probability: f64,
    /// The AGC gain stays within ±this many dB.
    #[serde(default = "default_agc_max")]
    pub agc_max_db: f64,
    /// Probability that a packet is lost.
    #[serde(default = "default_loss")]
    pub packet_loss: f64,
    /// Standard deviation of the packet send time around its nominal slot, in µs.
    #[serde(default = "default_jitter")]
    pub jitter_std_us: f64,
}

fn default_snr() -> Option<f64> {
    Some(30.0)
}
fn default_cfo() -> f64 {
    50.0
}
fn default_sto() -> f64 {
    10.0
}
fn default_agc_prob() -> f64 {
    0.01
}
fn default_agc_max() -> f64 {
    4.0
}
fn default_loss() -> f64 {
    0.01
}
fn default_jitter() -> f64 {
    300.0
}

impl Default for Impairments {
    fn default() -> Self {
        Self {
            snr_db: default_snr(),
            cfo_std_hz: default_cfo(),
            random_phase: true,
            sto_std_ns: default_sto(),
            agc_step_db: 1.0,
            agc_step_probability: default_agc_prob(),
            agc_max_db: default_agc_max(),
            packet_loss: default_loss(),
            jitter_std_us: default_jitter(),
        }
    }
}

impl Impairments {
    /// No impairment at all: the ideal channel, every packet, on time.
    pub fn none() -> Self {
        Self {
            snr_db: None,
            cfo_std_hz: 0.0,
            random_phase: false,
            sto_std_ns: 0.0,
            agc_step_db: 0.0,
            agc_step_probability: 0.0,
            agc_max_db: 0.0,
            packet_loss: 0.0,
            jitter_std_us: 0.0,
        }
    }
}
