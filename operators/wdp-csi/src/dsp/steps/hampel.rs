//! `hampel`: Hampel outlier filter over time, per stream; replacements are counted.

use super::{Flow, Layout, Run, Sample, Step, StepSpec, Upstream};
use crate::dsp::hampel::{Hampel, HampelConfig};
use crate::dsp::ConfigError;
use std::ops::Range;

impl StepSpec for HampelConfig {
    fn validate(&self, _: &mut Upstream) -> Result<(), ConfigError> {
        if self.n_sigma.is_nan() || self.n_sigma < 0.0 {
            return Err(ConfigError::new("hampel.n_sigma", "must be >= 0"));
        }
        Ok(())
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        let range = layout.range(self.channels);
        Box::new(HampelStep {
            filter: Hampel::new(range.len(), self),
            range,
        })
    }
}

struct HampelStep {
    filter: Hampel,
    range: Range<usize>,
}

impl Step for HampelStep {
    fn process(&mut self, s: &mut Sample, run: &mut Run<'_>) -> Flow {
        run.stats.hampel_replaced += self.filter.process(&mut s.values[self.range.clone()]) as u64;
        Flow::Continue
    }
}
