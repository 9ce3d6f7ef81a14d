//! `sanitize`: linear phase sanitization over the real subcarrier indices, per antenna pair.

use super::{Flow, Layout, Need, Run, Sample, Step, StepSpec};
use crate::dsp::phase::{SanitizeConfig, Sanitizer};

impl StepSpec for SanitizeConfig {
    fn need(&self) -> Need {
        Need::Polar
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        Box::new(Sanitize(Sanitizer::new(
            &layout.shape.subcarriers,
            self.clone(),
        )))
    }
}

struct Sanitize(Sanitizer);

impl Step for Sanitize {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        for (ph, valid) in s.phase_links(self.0.len()) {
            self.0.sanitize(ph, valid);
        }
        Flow::Continue
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::dsp::normalize::WindowNormalize;
    use crate::dsp::phase::{layouts, SanitizeConfig};
    use crate::dsp::testing::Sim;
    use crate::dsp::window::WindowConfig;
    use crate::dsp::{Output, Pipeline, PipelineConfig, StepConfig};

    #[test]
    fn sanitized_phase_is_stable_despite_random_sto_and_cfo() {
        let config = PipelineConfig {
            steps: vec![StepConfig::Sanitize(SanitizeConfig::default())],
            window: WindowConfig {
                length: 50,
                hop: 50,
            },
            normalize: WindowNormalize::None,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(1, 2, layouts::ht20(), 2);
        for _ in 0..50 {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
        }
        let Some(Output::Window(w)) = p.pop() else {
            panic!("no window")
        };
        // Raw phase is uniformly random per packet; sanitized phase varies only by the
        // moving reflector and noise (std well below 1 rad).
        let phase = w.data.index_axis(ndarray::Axis(0), 1);
        for stream in phase.rows() {
            let m = stream.mean().unwrap();
            let sd = (stream.iter().map(|v| (v - m).powi(2)).sum::<f32>() / 50.0).sqrt();
            assert!(sd < 0.5, "{sd}");
        }
    }
}
