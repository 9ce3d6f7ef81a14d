//! `resample`: uniform samples from packet timestamps. The pipeline drives it itself — it is
//! where one packet becomes zero or more samples — so its `process` does nothing: the steps
//! before it run once per packet, the steps after it once per uniform sample.

use super::{Flow, Layout, Run, Sample, Step, StepSpec, Upstream};
use crate::dsp::resample::{ResampleConfig, Resampler};
use crate::dsp::ConfigError;

impl StepSpec for ResampleConfig {
    fn validate(&self, upstream: &mut Upstream) -> Result<(), ConfigError> {
        if self.rate_hz.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(ConfigError::new("resample.rate_hz", "must be positive"));
        }
        upstream.rate_known = true;
        upstream.rate_hz = self.rate_hz;
        Ok(())
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        layout.rate_hz = self.rate_hz;
        Box::new(Resample(Resampler::new(
            2 * layout.n_values(),
            self.clone(),
        )))
    }
}

/// The running resampler (reached by the pipeline through `Any`).
pub(crate) struct Resample(pub Resampler);

impl Step for Resample {
    fn process(&mut self, _: &mut Sample, _: &mut Run<'_>) -> Flow {
        Flow::Continue
    }
}
