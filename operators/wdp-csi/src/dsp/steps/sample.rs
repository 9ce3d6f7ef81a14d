//! The sample the steps transform: one packet (or one uniform sample) of `tx*rx*subcarrier`
//! values, complex or polar.

use crate::dsp::phase::atan2_fast;

/// The form of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    /// Interleaved `re, im` per value.
    Complex,
    /// An amplitude plane, then a phase plane: `[2, tx*rx, subcarrier]`.
    Polar,
}

/// One sample on its way through the steps, with what they may read of its packet.
#[derive(Debug)]
pub(crate) struct Sample {
    /// The values, in the form `domain` says.
    pub values: Vec<f32>,
    /// Their form.
    pub domain: Domain,
    /// The amplitude plane is in dB (an `amplitude` step with `scale: db` ran).
    pub amp_db: bool,
    /// Per value: its amplitude was not zero when the sample became polar (a zero has no
    /// phase; the phase steps skip it).
    pub valid: Vec<bool>,
    /// Working space for the steps and the conversions (reused, no allocation once grown).
    pub scratch: Vec<f32>,
    /// Time of the sample, ns (the packet's, or the uniform grid's after resampling).
    pub t_ns: i64,
    /// The packet's AGC gain, dB.
    pub agc_db: Option<f32>,
    /// The packet's RSSI, dBm.
    pub rssi_dbm: Option<f32>,
}

impl Sample {
    pub fn new() -> Self {
        Self {
            values: Vec::new(),
            domain: Domain::Complex,
            amp_db: false,
            valid: Vec::new(),
            scratch: Vec::new(),
            t_ns: 0,
            agc_db: None,
            rssi_dbm: None,
        }
    }

    /// Ready for a stream of `n` complex values per sample.
    pub fn reset(&mut self, n: usize) {
        self.scratch = Vec::with_capacity(2 * n);
        self.valid = vec![true; n];
    }

    /// Complex values in the sample.
    pub fn n_values(&self) -> usize {
        self.values.len() / 2
    }

    /// The phase plane (polar form) link by link, `n_sub` subcarriers each, with which of its
    /// values have a phase: what the per-link phase steps walk.
    pub fn phase_links(&mut self, n_sub: usize) -> impl Iterator<Item = (&mut [f32], &[bool])> {
        let n = self.n_values();
        self.values[n..]
            .chunks_exact_mut(n_sub)
            .zip(self.valid.chunks_exact(n_sub))
    }

    /// Converts to polar form (amplitude plane, phase plane), once.
    pub fn ensure_polar(&mut self) {
        if self.domain == Domain::Polar {
            return;
        }
        let n = self.n_values();
        self.scratch.clear();
        self.scratch.resize(2 * n, 0.0);
        let (amp, phase) = self.scratch.split_at_mut(n);
        for (((c, a), p), v) in self
            .values
            .chunks_exact(2)
            .zip(amp.iter_mut())
            .zip(phase.iter_mut())
            .zip(self.valid.iter_mut())
        {
            // CSI magnitudes are far from f32 overflow: no need for hypot's scaling.
            *a = (c[0] * c[0] + c[1] * c[1]).sqrt();
            *p = atan2_fast(c[1], c[0]);
            *v = *a > 0.0;
        }
        std::mem::swap(&mut self.values, &mut self.scratch);
        self.domain = Domain::Polar;
    }

    /// The sample as a real plane then an imaginary plane (the window's channel layout), from
    /// either domain. Only the last thing done to a sample: the steps see their own layout.
    pub fn complex_planes(&mut self) {
        let n = self.n_values();
        self.scratch.clear();
        self.scratch.resize(2 * n, 0.0);
        let (re, im) = self.scratch.split_at_mut(n);
        match self.domain {
            Domain::Complex => {
                for ((c, r), i) in self
                    .values
                    .chunks_exact(2)
                    .zip(re.iter_mut())
                    .zip(im.iter_mut())
                {
                    *r = c[0];
                    *i = c[1];
                }
            }
            Domain::Polar => {
                let (amp, phase) = self.values.split_at(n);
                for (((a, p), r), i) in amp.iter().zip(phase).zip(re.iter_mut()).zip(im.iter_mut())
                {
                    let (sin, cos) = p.sin_cos();
                    *r = a * cos;
                    *i = a * sin;
                }
            }
        }
        std::mem::swap(&mut self.values, &mut self.scratch);
        self.domain = Domain::Polar;
    }
}
