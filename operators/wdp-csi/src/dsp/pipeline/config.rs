//! The whole preprocessing configuration and its checks without data.

use crate::dsp::amplitude::AmplitudeConfig;
use crate::dsp::filter::LowpassConfig;
use crate::dsp::hampel::HampelConfig;
use crate::dsp::normalize::WindowNormalize;
use crate::dsp::phase::SanitizeConfig;
use crate::dsp::resample::ResampleConfig;
use crate::dsp::steps::unwrap::{UnwrapAxis, UnwrapConfig};
use crate::dsp::steps::{Need, StepConfig, Upstream};
use crate::dsp::stft::StftConfig;
use crate::dsp::window::WindowConfig;
use crate::dsp::ConfigError;
use serde::{Deserialize, Serialize};

/// What the pipeline emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Windows `[2, tx*rx, subcarrier, time]`.
    #[default]
    Window,
    /// Spectrograms `[tx*rx, subcarrier, freq, frames]` of the amplitude.
    Spectrogram,
    /// Both.
    Both,
}

/// What the two channels of a window hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowChannels {
    /// Amplitude and phase (radians).
    #[default]
    Polar,
    /// Real and imaginary parts. A phase that is only meaningful relative to another antenna
    /// (after `conjugate`) keeps no wrapping discontinuity this way, and a resampler or filter
    /// acting on it never averages angles.
    Complex,
}

/// The whole preprocessing configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Steps, in order.
    pub steps: Vec<StepConfig>,
    /// Window length and hop, in samples.
    pub window: WindowConfig,
    /// Z-scoring of each window.
    pub normalize: WindowNormalize,
    /// What the window's two channels hold.
    pub channels: WindowChannels,
    /// What to emit.
    pub output: OutputKind,
    /// Spectrogram settings (when emitted).
    pub spectrogram: StftConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            steps: vec![
                StepConfig::Amplitude(AmplitudeConfig::default()),
                StepConfig::Resample(ResampleConfig::default()),
                StepConfig::Sanitize(SanitizeConfig::default()),
                StepConfig::Unwrap(UnwrapConfig {
                    axis: UnwrapAxis::Time,
                }),
                StepConfig::Hampel(HampelConfig::default()),
                StepConfig::Lowpass(LowpassConfig::default()),
            ],
            window: WindowConfig::default(),
            normalize: WindowNormalize::Channel,
            channels: WindowChannels::Polar,
            output: OutputKind::Window,
            spectrogram: StftConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// Checks the configuration without data.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let resamples = self
            .steps
            .iter()
            .filter(|s| matches!(s, StepConfig::Resample(_)))
            .count();
        if resamples > 1 {
            return Err(ConfigError::new("steps", "at most one resample step"));
        }
        let mut polar_seen = false;
        let mut upstream = Upstream::default();
        for step in &self.steps {
            let spec = step.spec();
            match spec.need() {
                Need::Polar => polar_seen = true,
                Need::Complex if polar_seen => {
                    return Err(ConfigError::new(
                        "steps",
                        format!(
                            "{} works on complex CSI: put it before amplitude (dB), unwrap, \
                             sanitize and background steps",
                            step.name()
                        ),
                    ))
                }
                _ => {}
            }
            spec.validate(&mut upstream)?;
        }
        if self.window.length == 0 || self.window.hop == 0 {
            return Err(ConfigError::new(
                "window",
                "length and hop must be at least 1",
            ));
        }
        if self.channels == WindowChannels::Complex && self.output != OutputKind::Window {
            return Err(ConfigError::new(
                "channels",
                "complex windows go with `output: window` (spectrograms are of the amplitude)",
            ));
        }
        if self.output != OutputKind::Window {
            let s = &self.spectrogram;
            if s.segment < 2 || s.hop == 0 || s.frames == 0 {
                return Err(ConfigError::new(
                    "spectrogram",
                    "segment >= 2, hop >= 1 and frames >= 1",
                ));
            }
        }
        Ok(())
    }
}
