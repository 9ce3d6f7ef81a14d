//! Seeded random streams. Each consumer gets its own ChaCha stream so that, e.g., turning the
//! RGB frame on or off never changes the CSI.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Independent stream ids derived from the one scene seed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// Body surface sample points.
    Body = 1,
    /// Random walk paths.
    Motion = 2,
    /// Packet loss and timing jitter.
    Timing = 3,
    /// Radio impairments (noise, phases, AGC).
    Radio = 4,
    /// Furniture scatter points.
    Furniture = 5,
    /// People drawn for a sequence.
    People = 6,
    /// A generated room's description.
    Room = 7,
}

/// A seeded random source with the few distributions the simulator needs.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(ChaCha8Rng, Option<f64>);

impl SimRng {
    /// The stream `stream` of seed `seed` (`salt` separates several consumers of one kind).
    pub fn new(seed: u64, stream: Stream, salt: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(((stream as u64) << 32) | salt);
        Self(rng, None)
    }

    /// A uniform 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.1.take() {
            return z;
        }
        let u1 = (1.0 - self.uniform()).max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.1 = Some(r * s);
        r * c
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}
