//! Errors of the signal-processing stage.

/// Why a packet was refused. The stream goes on: the packet is dropped and counted in
/// [`crate::dsp::PipelineStats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The number of values does not match `n_tx * n_rx * subcarriers`.
    #[error("packet holds {got} complex values but its shape {n_tx}x{n_rx}x{n_subcarriers} needs {expected}")]
    Malformed {
        /// Transmit antennas claimed.
        n_tx: usize,
        /// Receive antennas claimed.
        n_rx: usize,
        /// Subcarrier indices given.
        n_subcarriers: usize,
        /// Complex values needed.
        expected: usize,
        /// Complex values present.
        got: usize,
    },
    /// Some values are NaN or infinite.
    #[error("packet has {count} non-finite values (NaN or infinity)")]
    NonFinite {
        /// How many real components were not finite.
        count: usize,
    },
    /// Every value is zero: no channel was measured.
    #[error("every CSI value of the packet is zero")]
    ZeroAmplitude,
}

impl PacketError {
    /// Short, stable reason (for counters and logs).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::NonFinite { .. } => "non_finite",
            Self::ZeroAmplitude => "zero_amplitude",
        }
    }
}

/// A pipeline or operator configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {detail}")]
pub struct ConfigError {
    /// Which setting.
    pub what: &'static str,
    /// Why, with the value.
    pub detail: String,
}

impl ConfigError {
    /// A configuration error about one setting.
    pub fn new(what: &'static str, detail: impl Into<String>) -> Self {
        Self {
            what,
            detail: detail.into(),
        }
    }
}
