//! The input of the pipeline: one packet's CSI, borrowed.

use crate::{Complex32, CsiFrame};

/// Complex CSI values, row-major `[tx, rx, subcarrier]`, either as complex numbers (from a
/// [`CsiFrame`]) or as interleaved `re, im` f32 pairs (the wire tensor `[tx, rx, subcarrier, 2]`).
#[derive(Debug, Clone, Copy)]
pub enum CsiValues<'a> {
    /// Complex values.
    Complex(&'a [Complex32]),
    /// `re, im` pairs, twice as many f32 as complex values.
    Interleaved(&'a [f32]),
}

impl CsiValues<'_> {
    /// Number of complex values.
    pub fn len(&self) -> usize {
        match self {
            Self::Complex(v) => v.len(),
            Self::Interleaved(v) => v.len() / 2,
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the values into `out` as interleaved `re, im` (resizing it).
    pub(crate) fn copy_interleaved(&self, out: &mut Vec<f32>) {
        out.clear();
        match self {
            Self::Complex(v) => out.extend(v.iter().flat_map(|c| [c.re, c.im])),
            Self::Interleaved(v) => out.extend_from_slice(&v[..v.len() / 2 * 2]),
        }
    }
}

/// One received packet, as the pipeline consumes it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Transmit antennas (spatial streams).
    pub n_tx: usize,
    /// Receive antennas.
    pub n_rx: usize,
    /// Real (signed) subcarrier indices, one per subcarrier column.
    pub subcarriers: &'a [i32],
    /// Values, row-major `[tx, rx, subcarrier]`.
    pub csi: CsiValues<'a>,
    /// Capture time in nanoseconds.
    pub t_ns: i64,
    /// Receiver AGC gain in dB where the radio reports it (Intel 5300 `agc`).
    pub agc_db: Option<f32>,
    /// Received signal strength in dBm where the radio reports it.
    pub rssi_dbm: Option<f32>,
}

impl<'a> From<&'a CsiFrame> for Packet<'a> {
    fn from(frame: &'a CsiFrame) -> Self {
        Self {
            n_tx: frame.n_tx,
            n_rx: frame.n_rx,
            subcarriers: &frame.subcarriers,
            csi: CsiValues::Complex(&frame.csi),
            t_ns: frame.timestamp_ns,
            agc_db: frame.meta_int("agc").map(|v| v as f32),
            rssi_dbm: frame.rssi_dbm,
        }
    }
}

/// The dimensions of a stream of packets; a change resets the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Transmit antennas.
    pub n_tx: usize,
    /// Receive antennas.
    pub n_rx: usize,
    /// Real subcarrier indices.
    pub subcarriers: Vec<i32>,
}

impl Shape {
    /// Antenna pairs (`tx * rx`).
    pub fn n_links(&self) -> usize {
        self.n_tx * self.n_rx
    }

    /// Subcarriers per antenna pair.
    pub fn n_subcarriers(&self) -> usize {
        self.subcarriers.len()
    }

    /// Complex values per packet.
    pub fn n_values(&self) -> usize {
        self.n_links() * self.n_subcarriers()
    }

    pub(crate) fn matches(&self, p: &Packet<'_>) -> bool {
        self.n_tx == p.n_tx && self.n_rx == p.n_rx && self.subcarriers == p.subcarriers
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.n_tx, self.n_rx, self.subcarriers.len())
    }
}
