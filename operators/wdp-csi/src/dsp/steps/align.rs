//! `align`: one phase offset and slope per packet, common to every antenna pair, fitted against
//! a running estimate of the room's static channel (complex data: before any polar step).
//!
//! The packet's random phase, CFO and STO are common to all links of a card: removing one
//! offset and one slope per packet cancels them and keeps what per-link sanitization and
//! conjugate multiplication lose, the phase differences between antennas on both ends (angle of
//! arrival and of departure) and the moving person's own phase. The reference is the running
//! mean of the aligned packets, started from the first packet with its link-0 linear phase removed,
//! so that every stream starts from the same phase (a model sees the same channel for the same
//! room).

use super::{Flow, Layout, Need, Run, Sample, Step, StepSpec, Upstream};
use crate::dsp::phase::phase_line;
use crate::dsp::{ConfigError, Shape};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// Settings of the `align` step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlignConfig {
    /// Weight of a new packet in the running static reference (1/packets of its memory).
    pub reference_rate: f32,
}

impl Default for AlignConfig {
    fn default() -> Self {
        Self {
            reference_rate: 0.02,
        }
    }
}

impl StepSpec for AlignConfig {
    fn need(&self) -> Need {
        Need::Complex
    }

    fn validate(&self, _: &mut Upstream) -> Result<(), ConfigError> {
        if !(self.reference_rate > 0.0 && self.reference_rate <= 1.0) {
            return Err(ConfigError::new(
                "align.reference_rate",
                format!("must be in (0, 1], got {}", self.reference_rate),
            ));
        }
        Ok(())
    }

    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step> {
        Box::new(Align::new(layout.shape, self.reference_rate))
    }
}

/// The running alignment of one stream.
struct Align {
    /// Subcarrier indices, the abscissa of the slope.
    sub: Vec<f32>,
    n_links: usize,
    rate: f32,
    /// The running static reference, interleaved like the sample; empty before the first packet.
    reference: Vec<f32>,
    /// Per subcarrier: the packet against the reference, summed over links (interleaved).
    sum: Vec<f32>,
}

impl Align {
    fn new(shape: &Shape, rate: f32) -> Self {
        let sub: Vec<f32> = shape.subcarriers.iter().map(|&k| k as f32).collect();
        let n_sub = sub.len();
        Self {
            n_links: shape.n_values() / n_sub.max(1),
            sub,
            rate,
            reference: Vec::new(),
            sum: vec![0.0; 2 * n_sub],
        }
    }
}

/// [`phase_line`] of interleaved complex values `z` against `x`: `(offset, slope)`.
fn phase_line_of(z: &[f32], x: &[f32]) -> (f32, f32) {
    phase_line(
        z.chunks_exact(2)
            .zip(x)
            .map(|(c, &xi)| (Complex32::new(c[0], c[1]), xi)),
    )
}

/// Rotates every link of `values` by `-(offset + slope * x)` per subcarrier.
fn rotate(values: &mut [f32], n_sub: usize, x: &[f32], (offset, slope): (f32, f32)) {
    for link in values.chunks_exact_mut(2 * n_sub) {
        for (c, &xi) in link.chunks_exact_mut(2).zip(x) {
            let (s, co) = (-(offset + slope * xi)).sin_cos();
            let (re, im) = (c[0], c[1]);
            c[0] = re * co - im * s;
            c[1] = re * s + im * co;
        }
    }
}

impl Step for Align {
    fn process(&mut self, s: &mut Sample, _: &mut Run<'_>) -> Flow {
        let n_sub = self.sub.len();
        if n_sub == 0 || s.values.len() != 2 * n_sub * self.n_links {
            return Flow::Continue;
        }
        if self.reference.is_empty() {
            // Every stream starts where its first packet's first link has no linear phase. Only
            // once: a rotation that followed the reference would move the static channel in time.
            self.reference = s.values.clone();
            let line = phase_line_of(&self.reference[..2 * n_sub], &self.sub);
            rotate(&mut self.reference, n_sub, &self.sub, line);
        }
        // The packet against the reference, summed over links: its phase is the packet's own
        // offset and slope (the static channel dominates both).
        self.sum.iter_mut().for_each(|v| *v = 0.0);
        for (link, rlink) in s
            .values
            .chunks_exact(2 * n_sub)
            .zip(self.reference.chunks_exact(2 * n_sub))
        {
            for ((a, r), acc) in link
                .chunks_exact(2)
                .zip(rlink.chunks_exact(2))
                .zip(self.sum.chunks_exact_mut(2))
            {
                acc[0] += a[0] * r[0] + a[1] * r[1];
                acc[1] += a[1] * r[0] - a[0] * r[1];
            }
        }
        let line = phase_line_of(&self.sum, &self.sub);
        rotate(&mut s.values, n_sub, &self.sub, line);
        let a = self.rate;
        for (r, v) in self.reference.iter_mut().zip(&s.values) {
            *r += a * (v - *r);
        }
        Flow::Continue
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::normalize::WindowNormalize;
    use crate::dsp::phase::{layouts, ConjugateConfig};
    use crate::dsp::testing::Sim;
    use crate::dsp::window::WindowConfig;
    use crate::dsp::{Output, Pipeline, PipelineConfig, StepConfig, WindowChannels};

    #[test]
    fn a_line_through_wrapped_phases_is_found() {
        let x: Vec<f32> = (-28..=28).filter(|k| *k != 0).map(|k| k as f32).collect();
        let z: Vec<f32> = x
            .iter()
            .flat_map(|xi| {
                let p = 2.5 + 0.3 * xi;
                [2.0 * p.cos(), 2.0 * p.sin()]
            })
            .collect();
        let (o, s) = phase_line_of(&z, &x);
        assert!((s - 0.3).abs() < 1e-4, "slope {s}");
        let o = (o - 2.5 + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU)
            - std::f32::consts::PI;
        assert!(o.abs() < 1e-3, "offset {o}");
        assert_eq!(phase_line_of(&[0.0; 8], &x[..4]), (0.0, 0.0));
    }

    /// Complex windows of a simulated 1x3 link with a moving reflector and a random phase, CFO
    /// and STO per packet.
    fn window(step: StepConfig) -> ndarray::Array4<f32> {
        let config = PipelineConfig {
            steps: vec![step],
            window: WindowConfig {
                length: 60,
                hop: 60,
            },
            normalize: WindowNormalize::None,
            channels: WindowChannels::Complex,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(1, 3, layouts::ht20(), 7);
        // Past the reference's warm-up.
        let mut n = 0;
        loop {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            if let Some(Output::Window(w)) = p.pop() {
                n += 1;
                if n == 3 {
                    return w.data;
                }
            }
        }
    }

    /// Per link and subcarrier, the spread of the complex value over time relative to its mean
    /// magnitude: the random packet phase makes it ~1, a coherent stream keeps it small.
    fn spread(w: &ndarray::Array4<f32>, link: usize) -> f32 {
        let (re, im) = (
            w.index_axis(ndarray::Axis(0), 0),
            w.index_axis(ndarray::Axis(0), 1),
        );
        let n_sub = w.shape()[2];
        let mut worst = 0.0f32;
        for s in 0..n_sub {
            let r = re.slice(ndarray::s![link, s, ..]);
            let i = im.slice(ndarray::s![link, s, ..]);
            let (mr, mi) = (r.mean().unwrap(), i.mean().unwrap());
            let mag = r.iter().zip(i).map(|(a, b)| a.hypot(*b)).sum::<f32>() / r.len() as f32;
            let var = r
                .iter()
                .zip(i)
                .map(|(a, b)| (a - mr).powi(2) + (b - mi).powi(2))
                .sum::<f32>()
                / r.len() as f32;
            worst = worst.max(var.sqrt() / mag);
        }
        worst
    }

    #[test]
    fn aligned_packets_are_coherent_on_every_link_including_the_reference() {
        let aligned = window(StepConfig::Align(AlignConfig::default()));
        let relative = window(StepConfig::Conjugate(ConjugateConfig {
            reference_rx: Some(0),
            keep_amplitude: true,
        }));
        assert_eq!(aligned.shape(), &[2, 3, 56, 60]);
        for link in 0..3 {
            let s = spread(&aligned, link);
            assert!(s < 0.35, "link {link}: spread {s}");
        }
        // The same packets relative to receive antenna 0: the aligned stream keeps those phase
        // differences between antennas exactly (the common rotation cancels in them).
        let (re, im) = (
            aligned.index_axis(ndarray::Axis(0), 0),
            aligned.index_axis(ndarray::Axis(0), 1),
        );
        let (rre, rim) = (
            relative.index_axis(ndarray::Axis(0), 0),
            relative.index_axis(ndarray::Axis(0), 1),
        );
        let mut err = 0.0f32;
        let mut norm = 0.0f32;
        for link in 1..3 {
            for s in 0..56 {
                for t in 0..60 {
                    let (a0r, a0i) = (re[[0, s, t]], im[[0, s, t]]);
                    let (ar, ai) = (re[[link, s, t]], im[[link, s, t]]);
                    let m = a0r.hypot(a0i);
                    let (pr, pi) = ((ar * a0r + ai * a0i) / m, (ai * a0r - ar * a0i) / m);
                    err += (pr - rre[[link, s, t]]).hypot(pi - rim[[link, s, t]]);
                    norm += rre[[link, s, t]].hypot(rim[[link, s, t]]);
                }
            }
        }
        assert!(err / norm < 1e-3, "relative error {}", err / norm);
    }

    #[test]
    fn a_rate_outside_zero_to_one_is_named() {
        for rate in [0.0, -1.0, 1.5, f32::NAN] {
            let config = PipelineConfig {
                steps: vec![StepConfig::Align(AlignConfig {
                    reference_rate: rate,
                })],
                ..Default::default()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("align.reference_rate"), "{err}");
        }
    }
}
