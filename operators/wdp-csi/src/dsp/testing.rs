//! Test helpers shared by the pipeline's and the steps' tests.

use crate::dsp::{CsiValues, Packet, SplitMix64};
use crate::Complex32;

/// Simulated CSI: a static multipath channel, a moving reflector, per-packet STO slope,
/// CFO/random phase, noise, packet jitter.
pub(crate) struct Sim {
    rng: SplitMix64,
    pub n_tx: usize,
    pub n_rx: usize,
    pub subcarriers: Vec<i32>,
    pub csi: Vec<Complex32>,
    n: i64,
}

impl Sim {
    pub fn new(n_tx: usize, n_rx: usize, subcarriers: Vec<i32>, seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            csi: vec![Complex32::new(0.0, 0.0); n_tx * n_rx * subcarriers.len()],
            n_tx,
            n_rx,
            subcarriers,
            n: 0,
        }
    }

    pub fn next(&mut self, rate_hz: f64) -> i64 {
        let t = self.n as f64 / rate_hz;
        self.n += 1;
        let sto = 0.05 * self.rng.normal() as f32;
        let cfo = std::f32::consts::TAU * self.rng.next_f64() as f32;
        let n_sub = self.subcarriers.len();
        for l in 0..self.n_tx * self.n_rx {
            for (s, &k) in self.subcarriers.iter().enumerate() {
                let k = k as f32;
                let stat = Complex32::from_polar(20.0, 0.3 * l as f32 + 0.11 * k);
                let mov =
                    Complex32::from_polar(3.0, (std::f64::consts::TAU * 0.7 * t) as f32 + 0.05 * k);
                let noise = Complex32::new(
                    0.3 * self.rng.normal() as f32,
                    0.3 * self.rng.normal() as f32,
                );
                let h = (stat + mov) * Complex32::from_polar(1.0, sto * k + cfo) + noise;
                self.csi[l * n_sub + s] = h;
            }
        }
        let jitter = (self.rng.normal() * 0.05 / rate_hz * 1e9) as i64;
        (t * 1e9) as i64 + jitter + 1_000_000_000
    }

    pub fn packet(&self, t_ns: i64) -> Packet<'_> {
        Packet {
            n_tx: self.n_tx,
            n_rx: self.n_rx,
            subcarriers: &self.subcarriers,
            csi: CsiValues::Complex(&self.csi),
            t_ns,
            agc_db: Some(30.0),
            rssi_dbm: Some(-40.0),
        }
    }
}

/// Every output queued so far.
pub(crate) fn drain(p: &mut crate::dsp::Pipeline) -> Vec<crate::dsp::Output> {
    std::iter::from_fn(|| p.pop()).collect()
}
