//! Background (empty-room) model: calibrate the static channel, subtract it, adapt slowly.
//!
//! The static part of the channel (walls, furniture) dominates CSI amplitude; people are the
//! small changes on top. The model is the per-value mean over a calibration period (the first
//! `calibration_s` seconds of the stream, or packets of an empty-room capture given to
//! [`Background::calibrate`]), with the standard deviation to judge motion. Afterwards it follows
//! slow drift by an exponential update `bg += alpha * (x - bg)`, always or only while no motion is
//! seen (mean |x - bg| / std below `motion_z`), so a person standing still is not absorbed.

use super::Channels;
use serde::{Deserialize, Serialize};

/// When the background adapts after calibration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackgroundUpdate {
    /// Never: the calibrated background stays.
    Never,
    /// On every sample.
    Always,
    /// Only on samples without motion.
    #[default]
    NoMotion,
}

/// Settings of [`Background`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackgroundConfig {
    /// Seconds of the stream's start used for calibration (when not calibrated beforehand).
    pub calibration_s: f64,
    /// Exponential update rate per sample.
    pub alpha: f32,
    /// When to update.
    pub update: BackgroundUpdate,
    /// Mean z-score above which a sample counts as motion.
    pub motion_z: f32,
    /// Channels the background is subtracted from (in polar form).
    pub channels: Channels,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            calibration_s: 2.0,
            alpha: 0.001,
            update: BackgroundUpdate::NoMotion,
            motion_z: 3.0,
            channels: Channels::Amplitude,
        }
    }
}

/// What the model did with one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BackgroundState {
    /// Still calibrating: the running mean was subtracted.
    Calibrating,
    /// Calibrated; `motion` tells whether the sample was judged as motion, `z` its mean z-score.
    Tracking {
        /// Motion detected.
        motion: bool,
        /// Mean |x - bg| / std.
        z: f32,
    },
}

/// Streaming background model over `n` values per sample.
#[derive(Debug, Clone)]
pub struct Background {
    config: BackgroundConfig,
    mean: Vec<f64>,
    m2: Vec<f64>,
    count: u64,
    start_t_ns: Option<i64>,
    calibrated: bool,
    background: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Background {
    /// A model over `n` values per sample.
    pub fn new(n: usize, config: BackgroundConfig) -> Self {
        Self {
            config,
            mean: vec![0.0; n],
            m2: vec![0.0; n],
            count: 0,
            start_t_ns: None,
            calibrated: false,
            background: vec![0.0; n],
            inv_std: vec![0.0; n],
        }
    }

    /// True once the background is known.
    pub fn is_calibrated(&self) -> bool {
        self.calibrated
    }

    /// The background in use (the running mean while calibrating).
    pub fn background(&self) -> &[f32] {
        &self.background
    }

    /// Adds one empty-room sample to the calibration (Welford's running mean and variance).
    pub fn calibrate(&mut self, x: &[f32]) {
        self.count += 1;
        let n = self.count as f64;
        for (((v, m), m2), bg) in x
            .iter()
            .zip(self.mean.iter_mut())
            .zip(self.m2.iter_mut())
            .zip(self.background.iter_mut())
        {
            let v = f64::from(*v);
            let d = v - *m;
            *m += d / n;
            *m2 += d * (v - *m);
            *bg = *m as f32;
        }
    }

    /// Ends the calibration: the mean becomes the background.
    pub fn finish_calibration(&mut self) {
        let n = (self.count.max(2) - 1) as f64;
        for (inv, m2) in self.inv_std.iter_mut().zip(&self.m2) {
            let std = (m2 / n).sqrt() as f32;
            // A floor keeps quantized, constant values from giving infinite z-scores.
            *inv = 1.0 / std.max(1e-3);
        }
        self.calibrated = true;
    }

    /// Processes one sample in place: subtracts the background, calibrating or adapting it.
    pub fn process(&mut self, t_ns: i64, x: &mut [f32]) -> BackgroundState {
        if !self.calibrated {
            let start = *self.start_t_ns.get_or_insert(t_ns);
            self.calibrate(x);
            for (v, bg) in x.iter_mut().zip(&self.background) {
                *v -= bg;
            }
            let elapsed_s = (t_ns - start) as f64 * 1e-9;
            if elapsed_s >= self.config.calibration_s && self.count >= 2 {
                self.finish_calibration();
            }
            return BackgroundState::Calibrating;
        }
        let mut z_sum = 0.0f32;
        for ((v, bg), inv) in x.iter().zip(&self.background).zip(&self.inv_std) {
            z_sum += (v - bg).abs() * inv;
        }
        let z = z_sum / x.len().max(1) as f32;
        let motion = z > self.config.motion_z;
        let update = match self.config.update {
            BackgroundUpdate::Never => false,
            BackgroundUpdate::Always => true,
            BackgroundUpdate::NoMotion => !motion,
        };
        let alpha = self.config.alpha;
        for (v, bg) in x.iter_mut().zip(self.background.iter_mut()) {
            if update {
                *bg += alpha * (*v - *bg);
            }
            *v -= *bg;
        }
        BackgroundState::Tracking { motion, z }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::SplitMix64;

    #[test]
    fn calibrates_subtracts_and_detects_motion() {
        let mut rng = SplitMix64::new(1);
        let static_room = [10.0f32, 20.0, 5.0];
        let mut bg = Background::new(3, BackgroundConfig::default());
        let mut t = 0i64;
        let sample = |offset: f32, rng: &mut SplitMix64| -> Vec<f32> {
            static_room
                .iter()
                .map(|v| v + offset + 0.1 * rng.normal() as f32)
                .collect()
        };
        // 2 s of empty room at 100 Hz.
        for _ in 0..=200 {
            let mut x = sample(0.0, &mut rng);
            assert_eq!(bg.process(t, &mut x), BackgroundState::Calibrating);
            t += 10_000_000;
        }
        assert!(bg.is_calibrated());
        for (b, s) in bg.background().iter().zip(static_room) {
            assert!((b - s).abs() < 0.05);
        }
        let mut x = sample(0.0, &mut rng);
        match bg.process(t, &mut x) {
            BackgroundState::Tracking { motion, .. } => assert!(!motion),
            s => panic!("{s:?}"),
        }
        assert!(x.iter().all(|v| v.abs() < 0.5));
        // A person: +2 on every value, 20 sigma.
        let before = bg.background().to_vec();
        let mut x = sample(2.0, &mut rng);
        match bg.process(t, &mut x) {
            BackgroundState::Tracking { motion, .. } => assert!(motion),
            s => panic!("{s:?}"),
        }
        assert_eq!(before, bg.background(), "no update during motion");
        assert!(x.iter().all(|v| (v - 2.0).abs() < 0.5));
    }

    #[test]
    fn adapts_to_slow_drift() {
        let mut bg = Background::new(
            1,
            BackgroundConfig {
                calibration_s: 0.0,
                alpha: 0.05,
                update: BackgroundUpdate::Always,
                ..Default::default()
            },
        );
        bg.calibrate(&[1.0]);
        bg.calibrate(&[1.0]);
        bg.finish_calibration();
        for _ in 0..500 {
            let mut x = [3.0f32];
            bg.process(0, &mut x);
        }
        assert!((bg.background()[0] - 3.0).abs() < 1e-3);
    }
}
