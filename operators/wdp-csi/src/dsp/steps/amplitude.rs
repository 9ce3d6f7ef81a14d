//! `amplitude`: AGC/RSSI compensation, linear or dB scale.

use super::{Domain, Flow, Layout, Need, Run, Sample, Step, StepSpec};
use crate::dsp::amplitude::{self, AmplitudeConfig, AmplitudeScale};

impl StepSpec for AmplitudeConfig {
    fn need(&self) -> Need {
        // dB is of the amplitude alone; a linear gain scales complex values as well.
        match self.scale {
            AmplitudeScale::Db => Need::Polar,
            AmplitudeScale::Linear => Need::Any,
        }
    }

    fn build(&self, _: &mut Layout<'_>) -> Box<dyn Step> {
        Box::new(Amplitude(self.clone()))
    }
}

struct Amplitude(AmplitudeConfig);

impl Step for Amplitude {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        let c = &self.0;
        let n = s.n_values();
        let power = match s.domain {
            Domain::Complex => amplitude::mean_power_interleaved(&s.values),
            Domain::Polar => amplitude::mean_power(&s.values[..n]),
        };
        let g = c.gain_factor(s.agc_db, s.rssi_dbm, power);
        let scaled = match s.domain {
            Domain::Complex => &mut s.values[..],
            Domain::Polar => &mut s.values[..n],
        };
        if g != 1.0 {
            scaled.iter_mut().for_each(|v| *v *= g);
        }
        if c.scale == AmplitudeScale::Db {
            amplitude::to_db(&mut s.values[..n], c.floor_db);
            s.amp_db = true;
        }
        Flow::Continue
    }
}
