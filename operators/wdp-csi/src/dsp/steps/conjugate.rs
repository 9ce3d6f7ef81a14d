//! `conjugate`: conjugate multiplication between receive antennas, on complex values (before
//! any polar step): the packet's random phase, CFO and STO cancel.

use super::{Flow, Layout, Need, Run, Sample, Step, StepSpec};
use crate::dsp::phase::{conjugate_multiply, ConjugateConfig};

impl StepSpec for ConjugateConfig {
    fn need(&self) -> Need {
        Need::Complex
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        let shape = layout.shape;
        Box::new(Conjugate {
            config: self.clone(),
            n_tx: shape.n_tx,
            n_rx: shape.n_rx,
            n_sub: shape.n_subcarriers(),
        })
    }
}

struct Conjugate {
    config: ConjugateConfig,
    n_tx: usize,
    n_rx: usize,
    n_sub: usize,
}

impl Step for Conjugate {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        conjugate_multiply(
            &mut s.values,
            self.n_tx,
            self.n_rx,
            self.n_sub,
            &self.config,
            &mut s.scratch,
        );
        Flow::Continue
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::dsp::normalize::WindowNormalize;
    use crate::dsp::phase::{layouts, ConjugateConfig};
    use crate::dsp::pipeline::OutputKind;
    use crate::dsp::resample::ResampleConfig;
    use crate::dsp::testing::Sim;
    use crate::dsp::window::WindowConfig;
    use crate::dsp::{Output, Pipeline, PipelineConfig, StepConfig, WindowChannels};

    /// Relative std over time of each stream of a complex window's real part, for links `links`.
    fn complex_window_spread(conjugate: bool) -> f32 {
        let mut steps = vec![StepConfig::Resample(ResampleConfig::default())];
        if conjugate {
            steps.insert(
                0,
                StepConfig::Conjugate(ConjugateConfig {
                    reference_rx: Some(0),
                    keep_amplitude: true,
                }),
            );
        }
        let config = PipelineConfig {
            steps,
            window: WindowConfig {
                length: 50,
                hop: 50,
            },
            normalize: WindowNormalize::None,
            channels: WindowChannels::Complex,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(1, 3, layouts::ht20(), 4);
        let window = loop {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            if let Some(Output::Window(w)) = p.pop() {
                break w;
            }
        };
        assert_eq!(window.data.shape(), &[2, 3, 56, 50]);
        // Links 1 and 2 (receive antennas other than the reference): spread of the real part
        // over time relative to the magnitude.
        let re = window.data.index_axis(ndarray::Axis(0), 0);
        let im = window.data.index_axis(ndarray::Axis(0), 1);
        let mut worst = 0.0f32;
        for link in 1..3 {
            for s in 0..56 {
                let r = re.slice(ndarray::s![link, s, ..]);
                let i = im.slice(ndarray::s![link, s, ..]);
                let mag = r.iter().zip(i).map(|(a, b)| a.hypot(*b)).sum::<f32>() / 50.0;
                let m = r.mean().unwrap();
                let sd = (r.iter().map(|v| (v - m).powi(2)).sum::<f32>() / 50.0).sqrt();
                worst = worst.max(sd / mag);
            }
        }
        worst
    }

    #[test]
    fn complex_windows_relative_to_a_reference_antenna_cancel_the_random_phase() {
        // Raw complex CSI turns with the packet's random phase: its real part spreads like the
        // magnitude. Relative to receive antenna 0 only the moving reflector is left.
        let raw = complex_window_spread(false);
        let relative = complex_window_spread(true);
        assert!(raw > 0.5, "raw {raw}");
        assert!(relative < 0.35, "relative {relative}");
        let bad = PipelineConfig {
            channels: WindowChannels::Complex,
            output: OutputKind::Both,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
