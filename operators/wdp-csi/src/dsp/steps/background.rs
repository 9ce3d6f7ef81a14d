//! `background`: subtracts an empty-room background model (learnt at the start of the stream,
//! or calibrated beforehand from an empty-room capture by `Pipeline::calibrate_background`).

use super::{Flow, Layout, Need, Run, Sample, Step, StepSpec};
use crate::dsp::background::{Background, BackgroundConfig};
use std::ops::Range;

impl StepSpec for BackgroundConfig {
    fn need(&self) -> Need {
        Need::Polar
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        let range = layout.range(self.channels);
        let calibrated = layout
            .calibrated_background
            .filter(|b| b.background().len() == range.len())
            .cloned();
        Box::new(BackgroundStep {
            model: calibrated.unwrap_or_else(|| Background::new(range.len(), self.clone())),
            range,
        })
    }
}

/// The running step (its model is taken out by `Pipeline::calibrate_background`).
pub(crate) struct BackgroundStep {
    pub model: Background,
    range: Range<usize>,
}

impl Step for BackgroundStep {
    fn process(&mut self, s: &mut Sample, run: &mut Run<'_>) -> Flow {
        if run.calibrating {
            self.model.calibrate(&s.values[self.range.clone()]);
            run.stats.samples += 1;
            return Flow::Drop("calibration");
        }
        self.model
            .process(s.t_ns, &mut s.values[self.range.clone()]);
        Flow::Continue
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::dsp::background::BackgroundConfig;
    use crate::dsp::normalize::WindowNormalize;
    use crate::dsp::phase::layouts;
    use crate::dsp::resample::ResampleConfig;
    use crate::dsp::testing::Sim;
    use crate::dsp::window::WindowConfig;
    use crate::dsp::{CsiValues, Output, Packet, Pipeline, PipelineConfig, StepConfig};
    use crate::Complex32;

    #[test]
    fn background_calibrated_from_an_empty_room_capture() {
        let config = PipelineConfig {
            steps: vec![
                StepConfig::Resample(ResampleConfig::default()),
                StepConfig::Background(BackgroundConfig::default()),
            ],
            window: WindowConfig {
                length: 10,
                hop: 10,
            },
            normalize: WindowNormalize::None,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let sim = Sim::new(1, 1, layouts::ht20(), 6);
        let mut empty = sim.csi.clone();
        empty
            .iter_mut()
            .enumerate()
            .for_each(|(i, c)| *c = Complex32::from_polar(5.0 + i as f32 * 0.1, 0.0));
        let packets: Vec<Packet> = (0..50)
            .map(|n| Packet {
                n_tx: 1,
                n_rx: 1,
                subcarriers: &sim.subcarriers,
                csi: CsiValues::Complex(&empty),
                t_ns: n * 10_000_000,
                agc_db: None,
                rssi_dbm: None,
            })
            .collect();
        assert_eq!(p.calibrate_background(packets.iter().copied()).unwrap(), 50);
        // The same empty room, live: amplitude minus background is 0 from the first sample.
        for pk in packets.iter().take(10) {
            p.push(pk).unwrap();
        }
        let Some(Output::Window(w)) = p.pop() else {
            panic!("no window")
        };
        let amp = w.data.index_axis(ndarray::Axis(0), 0);
        assert!(amp.iter().all(|v| v.abs() < 1e-4), "{amp:?}");
    }
}
