//! `unwrap`: phase unwrapping along subcarriers (within a packet) or along time.

use super::{Flow, Layout, Need, Run, Sample, Step, StepSpec};
use crate::dsp::phase::{SanitizeConfig, Sanitizer, TimeUnwrap};
use serde::{Deserialize, Serialize};

/// Axis of the `unwrap` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnwrapAxis {
    /// Along subcarriers within a packet, over their real indices (see
    /// [`Sanitizer::unwrap`](crate::dsp::phase::Sanitizer::unwrap)).
    #[default]
    Subcarrier,
    /// Along time, per antenna pair and subcarrier.
    Time,
}

/// Settings of the `unwrap` step.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnwrapConfig {
    /// Which axis.
    pub axis: UnwrapAxis,
}

impl StepSpec for UnwrapConfig {
    fn need(&self) -> Need {
        Need::Polar
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        match self.axis {
            UnwrapAxis::Subcarrier => Box::new(AlongSubcarriers(Sanitizer::new(
                &layout.shape.subcarriers,
                SanitizeConfig::default(),
            ))),
            UnwrapAxis::Time => Box::new(AlongTime(TimeUnwrap::new(layout.n_values()))),
        }
    }
}

struct AlongSubcarriers(Sanitizer);

impl Step for AlongSubcarriers {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        for (ph, valid) in s.phase_links(self.0.len()) {
            self.0.unwrap(ph, valid);
        }
        Flow::Continue
    }
}

struct AlongTime(TimeUnwrap);

impl Step for AlongTime {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        let n = s.n_values();
        self.0.process(&mut s.values[n..]);
        Flow::Continue
    }
}
