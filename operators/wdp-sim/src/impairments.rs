//! Impairments of real radios applied to the ideal channel of one packet: carrier frequency
//! offset and random packet phase (a common phase), sampling time offset (a phase slope over
//! subcarrier index), thermal noise at a set SNR and AGC gain steps. Packet loss and timing jitter
//! are applied by the simulator's clock.

use crate::layout::SUBCARRIER_SPACING_HZ;
use crate::rng::{SimRng, Stream};
use crate::scene::Impairments;
use num_complex::Complex32;
use std::f64::consts::TAU;

/// Per-run impairment state.
#[derive(Debug, Clone)]
pub(crate) struct RadioImpairments {
    cfg: Impairments,
    rng: SimRng,
    /// Noise standard deviation per real component.
    noise_sigma: f32,
    cfo_hz: f64,
    cfo_phase_rad: f64,
    last_t_s: f64,
    agc_db: f64,
}

/// What was applied to one packet (reported in frame metadata).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Applied {
    pub agc_db: f64,
    pub sto_ns: f64,
    pub phase_rad: f64,
}

impl RadioImpairments {
    /// `signal_power` is the empty-room mean power per subcarrier the SNR refers to.
    pub fn new(cfg: &Impairments, seed: u64, signal_power: f64) -> Self {
        let mut rng = SimRng::new(seed, Stream::Radio, 0);
        let noise_power = match cfg.snr_db {
            Some(snr) => signal_power / 10f64.powf(snr / 10.0),
            None => 0.0,
        };
        let cfo_hz = cfg.cfo_std_hz * rng.normal();
        RadioImpairments {
            cfg: cfg.clone(),
            rng,
            noise_sigma: (noise_power / 2.0).sqrt() as f32,
            cfo_hz,
            cfo_phase_rad: 0.0,
            last_t_s: 0.0,
            agc_db: 0.0,
        }
    }

    /// Noise power per subcarrier (complex), linear.
    pub fn noise_power(&self) -> f64 {
        2.0 * (self.noise_sigma as f64).powi(2)
    }

    /// Applies the impairments in place to `h` (`[tx, rx, sub]` with `n_sub` subcarriers).
    pub fn apply(&mut self, t_s: f64, h: &mut [Complex32], subcarriers: &[i32]) -> Applied {
        let n_sub = subcarriers.len();
        // residual CFO drifts slowly; its phase accumulates
        let dt = (t_s - self.last_t_s).max(0.0);
        self.last_t_s = t_s;
        if self.cfg.cfo_std_hz > 0.0 {
            self.cfo_hz += 0.01 * self.cfg.cfo_std_hz * self.rng.normal();
            self.cfo_phase_rad = (self.cfo_phase_rad + TAU * self.cfo_hz * dt).rem_euclid(TAU);
        }
        let mut phase = self.cfo_phase_rad;
        if self.cfg.random_phase {
            phase += self.rng.range(0.0, TAU);
        }
        let sto_ns = self.cfg.sto_std_ns * self.rng.normal();
        if self.cfg.agc_step_db > 0.0 && self.rng.chance(self.cfg.agc_step_probability) {
            let step = if self.rng.chance(0.5) {
                self.cfg.agc_step_db
            } else {
                -self.cfg.agc_step_db
            };
            let next = self.agc_db + step;
            self.agc_db = if next.abs() <= self.cfg.agc_max_db + 1e-9 {
                next
            } else {
                self.agc_db - step
            };
        }
        let gain = 10f64.powf(self.agc_db / 20.0) as f32;
        if phase != 0.0 || sto_ns != 0.0 {
            // e^{j phase} e^{-j 2π k Δf δ}: start phasor and per-index rotation
            let slope = -TAU * SUBCARRIER_SPACING_HZ * sto_ns * 1e-9;
            let per_sub: Vec<Complex32> = subcarriers
                .iter()
                .map(|&k| {
                    let a = phase + slope * k as f64;
                    Complex32::new(a.cos() as f32, a.sin() as f32)
                })
                .collect();
            for row in h.chunks_mut(n_sub) {
                for (v, r) in row.iter_mut().zip(per_sub.iter()) {
                    *v *= r;
                }
            }
        }
        if self.noise_sigma > 0.0 {
            for v in h.iter_mut() {
                *v += Complex32::new(
                    self.noise_sigma * self.rng.normal() as f32,
                    self.noise_sigma * self.rng.normal() as f32,
                );
            }
        }
        if gain != 1.0 {
            for v in h.iter_mut() {
                *v *= gain;
            }
        }
        Applied {
            agc_db: self.agc_db,
            sto_ns,
            phase_rad: phase,
        }
    }
}
