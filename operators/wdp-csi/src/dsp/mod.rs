//! Signal processing of CSI, from raw packets to model-ready windows.
//!
//! Every step is an operator of its own, configurable, tested alone and streaming: state is
//! carried from packet to packet and everything that filters in time is causal.
//!
//! | step | module | domain |
//! | --- | --- | --- |
//! | unwrap along subcarriers / time, linear sanitization, conjugate multiplication | [`phase`] | phase / complex |
//! | linear or dB amplitude, AGC and RSSI compensation | [`amplitude`] | amplitude |
//! | Hampel outlier filter over time | [`hampel`] | any |
//! | isolation forest over whole packets (seed 001) | [`iforest`] | packet |
//! | moving average, Butterworth low-pass (SOS) | [`filter`] | any |
//! | resampling to a uniform rate, loss figures | [`resample`] | any |
//! | empty-room background model | [`background`] | amplitude (and phase) |
//! | z-score normalization (per window or running) | [`normalize`] | any |
//! | windows `[2, tx*rx, subcarrier, time]` | [`window`] | amplitude + phase |
//! | STFT spectrograms, breathing-band power (seed 002) | [`stft`] | amplitude |
//!
//! [`Pipeline`] chains them from a serde config and consumes one [`Packet`] at a time. What
//! makes an operator a pipeline step (its settings' checks, its construction for a stream's
//! layout, its work on one sample) is one module of `dsp/steps/` per step, and a row of the
//! step table there.
//!
//!
//! ```
//! use wdp_csi::dsp::{CsiValues, Packet, Pipeline, PipelineConfig};
//! use wdp_csi::Complex32;
//!
//! let mut config = PipelineConfig::default();
//! config.window.length = 20;
//! config.window.hop = 10;
//! let mut pipeline = Pipeline::new(config)?;
//! let subcarriers: Vec<i32> = (-28..=28).filter(|k| *k != 0).collect();
//! let mut csi = vec![Complex32::new(0.0, 0.0); 2 * 2 * subcarriers.len()];
//! for n in 0..100i64 {
//!     for (i, v) in csi.iter_mut().enumerate() {
//!         *v = Complex32::from_polar(10.0 + (n as f32 * 0.1).sin(), 0.05 * i as f32);
//!     }
//!     let packet = Packet {
//!         n_tx: 2,
//!         n_rx: 2,
//!         subcarriers: &subcarriers,
//!         csi: CsiValues::Complex(&csi),
//!         t_ns: n * 10_000_000,
//!         agc_db: None,
//!         rssi_dbm: None,
//!     };
//!     pipeline.push(&packet)?;
//!     while let Some(out) = pipeline.pop() {
//!         if let wdp_csi::dsp::Output::Window(w) = out {
//!             assert_eq!(w.data.shape(), &[2, 4, 56, 20]);
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod amplitude;
pub mod background;
mod error;
pub mod filter;
pub mod hampel;
pub mod iforest;
pub mod normalize;
mod packet;
pub mod phase;
pub mod pipeline;
pub mod resample;
mod rng;
mod steps;
pub mod stft;
#[cfg(test)]
mod testing;
pub mod window;

pub use error::{ConfigError, PacketError};
pub use packet::{CsiValues, Packet, Shape};
pub use pipeline::{
    AlignConfig, Output, Pipeline, PipelineConfig, PipelineStats, PushReport, Spectrogram,
    StepConfig, Window, WindowChannels,
};
pub use rng::SplitMix64;

/// Which of the amplitude/phase channels an operator applies to when the data is in polar form.
/// In complex form (before any polar step) it applies to the real and imaginary parts alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channels {
    /// Amplitude and phase.
    #[default]
    Both,
    /// Amplitude only.
    Amplitude,
    /// Phase only.
    Phase,
}
