//! `iforest`: drops whole packets an isolation forest, fitted on the stream's first packets,
//! isolates quickly. Its features are the mean log-amplitude per subcarrier.

use super::{Domain, Flow, Layout, Run, Sample, Step, StepSpec};
use crate::dsp::iforest::{packet_features, IforestConfig, IforestFilter, Verdict};

impl StepSpec for IforestConfig {
    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        let n_sub = layout.shape.n_subcarriers();
        Box::new(Iforest {
            filter: IforestFilter::new(n_sub, self.clone()),
            n_links: layout.shape.n_links(),
            n_sub,
            features: Vec::with_capacity(n_sub),
        })
    }
}

struct Iforest {
    filter: IforestFilter,
    n_links: usize,
    n_sub: usize,
    features: Vec<f32>,
}

impl Step for Iforest {
    fn process(&mut self, s: &mut Sample, run: &mut Run<'_>) -> Flow {
        let (n_links, n_sub) = (self.n_links, self.n_sub);
        let n = s.n_values();
        match s.domain {
            Domain::Complex => {
                s.scratch.clear();
                s.scratch
                    .extend(s.values.chunks_exact(2).map(|c| c[0].hypot(c[1])));
                packet_features(&s.scratch, n_links, n_sub, &mut self.features);
            }
            Domain::Polar if s.amp_db => {
                // Already logarithmic: average the dB values per subcarrier.
                self.features.clear();
                self.features.resize(n_sub, 0.0);
                for l in 0..n_links {
                    for (k, f) in self.features.iter_mut().enumerate() {
                        *f += s.values[l * n_sub + k] / n_links as f32;
                    }
                }
            }
            Domain::Polar => packet_features(&s.values[..n], n_links, n_sub, &mut self.features),
        }
        if let Verdict::Outlier(_) = self.filter.judge_features(&self.features) {
            run.stats.outliers += 1;
            return Flow::Drop("outlier");
        }
        Flow::Continue
    }
}
