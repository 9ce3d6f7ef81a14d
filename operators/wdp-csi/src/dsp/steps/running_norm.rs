//! `running_norm`: running z-score of every stream (amplitude and phase, or complex parts).

use super::{Flow, Layout, Run, Sample, Step, StepSpec};
use crate::dsp::normalize::{RunningNorm, RunningNormConfig};

impl StepSpec for RunningNormConfig {
    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        Box::new(RunningNormStep(RunningNorm::new(
            2 * layout.n_values(),
            self,
        )))
    }
}

struct RunningNormStep(RunningNorm);

impl Step for RunningNormStep {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        self.0.process(&mut s.values);
        Flow::Continue
    }
}
