//! The one CSI frame type every reader produces.

use num_complex::Complex32;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The capture format a frame was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureFormat {
    /// Intel 5300 Linux 802.11n CSI Tool: netlink `bfee` records (.dat).
    Intel5300,
    /// Atheros CSI Tool (ath9k), either byte order.
    Atheros,
    /// nexmon_csi UDP payloads inside a pcap file.
    Nexmon,
    /// ESP32-CSI-Tool `CSI_DATA` CSV lines.
    Esp32,
    /// PicoScenes `.csi` RXS frames.
    PicoScenes,
    /// Frames produced by the wifi-densepose simulator.
    Simulated,
}

impl CaptureFormat {
    /// The format with this [`CaptureFormat::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Intel5300,
            Self::Atheros,
            Self::Nexmon,
            Self::Esp32,
            Self::PicoScenes,
            Self::Simulated,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    /// Stable short name, as used in metadata and JSON (`intel5300`, `atheros`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Intel5300 => "intel5300",
            Self::Atheros => "atheros",
            Self::Nexmon => "nexmon",
            Self::Esp32 => "esp32",
            Self::PicoScenes => "picoscenes",
            Self::Simulated => "simulated",
        }
    }
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format-specific metadata value (RSSI, noise, AGC, permutation, rate, MAC, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MetaValue {
    /// An integer field.
    Int(i64),
    /// A real-valued field.
    Float(f64),
    /// A text field (MAC addresses, roles, hex words).
    Text(String),
    /// A list of integers (antenna permutation, per-chain RSSI, ...).
    Ints(Vec<i64>),
}

/// One CSI measurement: the channel of every transmit/receive antenna pair on every reported
/// subcarrier for one received packet.
///
/// `csi` is row-major `[tx, rx, subcarrier]`, holding the values as the file holds them (raw
/// integers for fixed-point formats) after the reader's documented axis mapping, e.g. the Intel
/// receive-antenna permutation applied as the tool's MATLAB reader does.
#[derive(Debug, Clone, PartialEq)]
pub struct CsiFrame {
    /// Where the frame came from.
    pub format: CaptureFormat,
    /// Number of transmit antennas (spatial streams) in `csi`.
    pub n_tx: usize,
    /// Number of receive antennas (RF chains) in `csi`.
    pub n_rx: usize,
    /// Signed subcarrier indices, one per subcarrier column of `csi`.
    pub subcarriers: Vec<i32>,
    /// Complex channel values, row-major `[tx, rx, subcarrier]`.
    pub csi: Vec<Complex32>,
    /// Best available capture time in nanoseconds on the source's own clock.
    pub timestamp_ns: i64,
    /// Received signal strength in dBm where the format gives it (combined over chains).
    pub rssi_dbm: Option<f32>,
    /// Noise floor in dBm where the format gives it.
    pub noise_dbm: Option<f32>,
    /// Every other field the format carries, under the name the tool's own reader uses.
    pub meta: BTreeMap<&'static str, MetaValue>,
}

impl CsiFrame {
    /// Number of subcarriers per antenna pair.
    pub fn n_subcarriers(&self) -> usize {
        self.subcarriers.len()
    }

    /// The value for one antenna pair and subcarrier column.
    pub fn get(&self, tx: usize, rx: usize, sub: usize) -> Option<Complex32> {
        if tx >= self.n_tx || rx >= self.n_rx || sub >= self.n_subcarriers() {
            return None;
        }
        self.csi
            .get((tx * self.n_rx + rx) * self.n_subcarriers() + sub)
            .copied()
    }

    /// Checks that `csi` holds exactly `n_tx * n_rx * subcarriers` values.
    pub fn is_consistent(&self) -> bool {
        self.csi.len() == self.n_tx * self.n_rx * self.n_subcarriers()
    }

    /// An integer metadata field, if present.
    pub fn meta_int(&self, key: &str) -> Option<i64> {
        match self.meta.get(key)? {
            MetaValue::Int(v) => Some(*v),
            _ => None,
        }
    }
}
