//! `lowpass`: causal Butterworth low-pass (second-order sections), designed for the resampled
//! rate — the configured one at once, an estimated one as soon as the resampler knows it.

use super::{Flow, Layout, Run, Sample, Step, StepSpec, Upstream};
use crate::dsp::filter::{butterworth_lowpass, DesignError, LowpassConfig, Sos, SosFilter};
use crate::dsp::ConfigError;
use std::ops::Range;

/// A low-pass cutoff must stay below this fraction of Nyquist: nearer, the filter does nothing
/// useful and its sections are badly conditioned.
const NYQUIST_MARGIN: f64 = 0.95;

/// The second-order sections of `config` at `rate_hz`. A cutoff at or above
/// [`NYQUIST_MARGIN`] of Nyquist (only possible with an estimated rate: validation refuses it
/// for a configured one) is lowered to 90% of Nyquist, said.
fn design(config: &LowpassConfig, rate_hz: f64) -> Result<Vec<Sos>, DesignError> {
    let nyquist_hz = rate_hz / 2.0;
    let mut cutoff_hz = config.cutoff_hz;
    if cutoff_hz >= nyquist_hz * NYQUIST_MARGIN {
        let clamped = nyquist_hz * 0.9;
        tracing::warn!(
            cutoff_hz,
            rate_hz,
            clamped,
            "lowpass cutoff at or above Nyquist: lowered"
        );
        cutoff_hz = clamped;
    }
    butterworth_lowpass(config.order, cutoff_hz, rate_hz)
}

impl StepSpec for LowpassConfig {
    fn validate(&self, upstream: &mut Upstream) -> Result<(), ConfigError> {
        if !upstream.rate_known {
            return Err(ConfigError::new(
                "lowpass",
                "needs a sample rate: put a resample step before it",
            ));
        }
        if self.order == 0 || self.cutoff_hz.is_nan() || self.cutoff_hz <= 0.0 {
            return Err(ConfigError::new(
                "lowpass",
                format!("order {} cutoff {} Hz", self.order, self.cutoff_hz),
            ));
        }
        // A configured rate: a cutoff the rate cannot carry is the configuration's mistake (an
        // estimated rate only lowers it, said, at run time). The filter is designed here, so a
        // design that cannot work fails the configuration, not the stream.
        if let Some(rate_hz) = upstream.rate_hz {
            if self.cutoff_hz >= rate_hz / 2.0 * NYQUIST_MARGIN {
                return Err(ConfigError::new(
                    "lowpass.cutoff_hz",
                    format!(
                        "{} Hz is at or above {}% of Nyquist of the {} Hz resample rate",
                        self.cutoff_hz,
                        NYQUIST_MARGIN * 100.0,
                        rate_hz
                    ),
                ));
            }
            design(self, rate_hz).map_err(|e| ConfigError::new("lowpass", e.to_string()))?;
        }
        Ok(())
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        Box::new(Lowpass {
            config: self.clone(),
            filter: None,
            rate_hz: layout.rate_hz,
            range: layout.range(self.channels),
            design_failed: false,
        })
    }
}

struct Lowpass {
    config: LowpassConfig,
    /// Designed at the first sample whose rate is known.
    filter: Option<SosFilter>,
    /// The configured rate, if any (else the resampler's estimate is waited for).
    rate_hz: Option<f64>,
    range: Range<usize>,
    /// The design failed and was said (once).
    design_failed: bool,
}

impl Step for Lowpass {
    fn process(&mut self, s: &mut Sample, run: &mut Run<'_>) -> Flow {
        if self.filter.is_none() {
            if let Flow::Drop(reason) = self.design(run.rate_hz) {
                return Flow::Drop(reason);
            }
        }
        if let Some(f) = self.filter.as_mut() {
            f.process(&mut s.values[self.range.clone()]);
        }
        Flow::Continue
    }
}

impl Lowpass {
    /// Designs the filter once its rate is known. A design that fails (an estimated rate the
    /// configured cutoff cannot work with) drops the samples, counted as `lowpass_design` and
    /// said once, rather than passing them through unfiltered.
    fn design(&mut self, resample_rate: Option<f64>) -> Flow {
        let Some(rate_hz) = self.rate_hz.or(resample_rate) else {
            return Flow::Continue;
        };
        match design(&self.config, rate_hz) {
            Ok(sos) => {
                self.filter = Some(SosFilter::new(sos, self.range.len()));
                Flow::Continue
            }
            Err(e) => {
                if !self.design_failed {
                    self.design_failed = true;
                    tracing::error!(error = %e, rate_hz, "lowpass cannot be designed: dropping samples");
                }
                Flow::Drop("lowpass_design")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dsp::filter::LowpassConfig;
    use crate::dsp::resample::ResampleConfig;
    use crate::dsp::{Pipeline, PipelineConfig, StepConfig};

    #[test]
    fn lowpass_needs_a_rate_and_a_cutoff_the_rate_can_carry() {
        let lowpass_first = PipelineConfig {
            steps: vec![StepConfig::Lowpass(LowpassConfig::default())],
            ..Default::default()
        };
        assert!(Pipeline::new(lowpass_first).is_err());
        // A cutoff the configured rate cannot carry fails the configuration, naming the field.
        let lowpass_above_nyquist = |cutoff_hz| PipelineConfig {
            steps: vec![
                StepConfig::Resample(ResampleConfig {
                    rate_hz: Some(20.0),
                    ..Default::default()
                }),
                StepConfig::Lowpass(LowpassConfig {
                    cutoff_hz,
                    ..Default::default()
                }),
            ],
            ..Default::default()
        };
        let Err(err) = Pipeline::new(lowpass_above_nyquist(10.0)) else {
            panic!("a 10 Hz cutoff at 20 Hz is refused");
        };
        assert!(err.to_string().contains("lowpass.cutoff_hz"), "{err}");
        assert!(Pipeline::new(lowpass_above_nyquist(4.0)).is_ok());
    }
}
