//! `moving_average`: causal moving average over time, per stream.

use super::{Flow, Layout, Run, Sample, Step, StepSpec};
use crate::dsp::filter::{MovingAverage, MovingAverageConfig};
use std::ops::Range;

impl StepSpec for MovingAverageConfig {
    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        let range = layout.range(self.channels);
        Box::new(MovingAverageStep {
            filter: MovingAverage::new(range.len(), self.window),
            range,
        })
    }
}

struct MovingAverageStep {
    filter: MovingAverage,
    range: Range<usize>,
}

impl Step for MovingAverageStep {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        self.filter.process(&mut s.values[self.range.clone()]);
        Flow::Continue
    }
}
