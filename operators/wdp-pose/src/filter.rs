//! Non-learned temporal filters for 2-D points: One-Euro and a constant-velocity Kalman filter.
//!
//! Time comes from the frames' `t_ns`, so irregular frame rates (lost windows) are handled.

use serde::Deserialize;
use std::f64::consts::PI;

/// Which filter smooths keypoints and boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// No smoothing (tracking only).
    None,
    /// One-Euro filter: adaptive low-pass, little lag on fast motion.
    #[default]
    OneEuro,
    /// Constant-velocity Kalman filter.
    Kalman,
}

/// One-Euro parameters (Casiez, Roussel, Vogel 2012).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneEuroConfig {
    /// Cutoff frequency (Hz) at rest: lower removes more jitter.
    pub min_cutoff: f64,
    /// How fast the cutoff rises with speed (per pixel/s): higher lags less on fast motion.
    pub beta: f64,
    /// Cutoff (Hz) of the derivative's low-pass.
    pub d_cutoff: f64,
}

impl Default for OneEuroConfig {
    fn default() -> Self {
        OneEuroConfig {
            min_cutoff: 1.0,
            beta: 0.01,
            d_cutoff: 1.0,
        }
    }
}

/// Constant-velocity Kalman parameters, per axis.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KalmanConfig {
    /// Spectral density of the white-noise acceleration (px^2/s^3): higher follows changes of
    /// speed faster.
    pub process_noise: f64,
    /// Variance of a measured coordinate (px^2).
    pub measurement_noise: f64,
    /// Variance of the velocity of a new track ((px/s)^2).
    pub initial_velocity_var: f64,
}

impl Default for KalmanConfig {
    fn default() -> Self {
        KalmanConfig {
            process_noise: 2000.0,
            measurement_noise: 25.0,
            initial_velocity_var: 10_000.0,
        }
    }
}

/// Filter choice with the parameters of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Which filter.
    pub kind: FilterKind,
    /// One-Euro parameters.
    pub one_euro: OneEuroConfig,
    /// Kalman parameters.
    pub kalman: KalmanConfig,
}

fn smoothing_factor(cutoff_hz: f64, dt_s: f64) -> f64 {
    let tau = 1.0 / (2.0 * PI * cutoff_hz);
    1.0 / (1.0 + tau / dt_s)
}

/// A One-Euro filter of one scalar signal.
#[derive(Debug, Clone, PartialEq)]
pub struct OneEuro {
    config: OneEuroConfig,
    /// (time s, filtered value, filtered derivative) of the last sample.
    state: Option<(f64, f64, f64)>,
}

impl OneEuro {
    /// A filter that has seen nothing yet.
    pub fn new(config: OneEuroConfig) -> Self {
        OneEuro {
            config,
            state: None,
        }
    }

    /// Filters sample `x` taken at `t_s` seconds. The first sample passes unchanged; a sample
    /// not later than the previous one returns the previous output.
    pub fn filter(&mut self, t_s: f64, x: f64) -> f64 {
        let Some((t0, x0, dx0)) = self.state else {
            self.state = Some((t_s, x, 0.0));
            return x;
        };
        let dt = t_s - t0;
        if dt <= 0.0 || !x.is_finite() {
            return x0;
        }
        let c = &self.config;
        let dx = (x - x0) / dt;
        let a_d = smoothing_factor(c.d_cutoff, dt);
        let dx_hat = dx0 + a_d * (dx - dx0);
        let cutoff = c.min_cutoff + c.beta * dx_hat.abs();
        let a = smoothing_factor(cutoff, dt);
        let x_hat = x0 + a * (x - x0);
        self.state = Some((t_s, x_hat, dx_hat));
        x_hat
    }

    /// Forgets the signal.
    pub fn reset(&mut self) {
        self.state = None;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    /// position, velocity
    x: [f64; 2],
    /// covariance [[p00, p01], [p01, p11]]
    p: [f64; 3],
}

impl Axis {
    fn predict(&mut self, dt: f64, q: f64) {
        let [p00, p01, p11] = self.p;
        self.x[0] += self.x[1] * dt;
        // F P F^T + Q for F = [[1, dt], [0, 1]], Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]]
        self.p = [
            p00 + 2.0 * dt * p01 + dt * dt * p11 + q * dt.powi(3) / 3.0,
            p01 + dt * p11 + q * dt * dt / 2.0,
            p11 + q * dt,
        ];
    }

    fn update(&mut self, z: f64, r: f64) {
        let [p00, p01, p11] = self.p;
        let s = p00 + r;
        let (k0, k1) = (p00 / s, p01 / s);
        let y = z - self.x[0];
        self.x[0] += k0 * y;
        self.x[1] += k1 * y;
        self.p = [(1.0 - k0) * p00, (1.0 - k0) * p01, p11 - k1 * p01];
    }
}

/// A constant-velocity Kalman filter of a 2-D point (the axes are independent).
#[derive(Debug, Clone, PartialEq)]
pub struct Kalman2d {
    config: KalmanConfig,
    state: Option<(f64, [Axis; 2])>,
}

impl Kalman2d {
    /// A filter that has seen nothing yet.
    pub fn new(config: KalmanConfig) -> Self {
        Kalman2d {
            config,
            state: None,
        }
    }

    /// Filters the measurement `z` taken at `t_s` seconds and returns the estimated position.
    pub fn filter(&mut self, t_s: f64, z: [f64; 2]) -> [f64; 2] {
        let c = self.config;
        let Some((t0, axes)) = &mut self.state else {
            let axis = |v: f64| Axis {
                x: [v, 0.0],
                p: [c.measurement_noise, 0.0, c.initial_velocity_var],
            };
            self.state = Some((t_s, [axis(z[0]), axis(z[1])]));
            return z;
        };
        let dt = t_s - *t0;
        if dt > 0.0 {
            *t0 = t_s;
            for axis in axes.iter_mut() {
                axis.predict(dt, c.process_noise);
            }
        }
        if z.iter().all(|v| v.is_finite()) {
            for (axis, &v) in axes.iter_mut().zip(&z) {
                axis.update(v, c.measurement_noise);
            }
        }
        [axes[0].x[0], axes[1].x[0]]
    }

    /// Estimated velocity (px/s), once the filter has a state.
    pub fn velocity(&self) -> Option<[f64; 2]> {
        self.state.as_ref().map(|(_, a)| [a[0].x[1], a[1].x[1]])
    }

    /// Forgets the track.
    pub fn reset(&mut self) {
        self.state = None;
    }
}

/// A filter of one 2-D point of the configured kind.
#[derive(Debug, Clone, PartialEq)]
pub enum PointFilter {
    /// Passes points unchanged.
    None,
    /// One One-Euro filter per axis.
    OneEuro([OneEuro; 2]),
    /// A constant-velocity Kalman filter.
    Kalman(Kalman2d),
}

impl PointFilter {
    /// A fresh filter of the configured kind.
    pub fn new(config: &FilterConfig) -> Self {
        match config.kind {
            FilterKind::None => PointFilter::None,
            FilterKind::OneEuro => {
                PointFilter::OneEuro([OneEuro::new(config.one_euro), OneEuro::new(config.one_euro)])
            }
            FilterKind::Kalman => PointFilter::Kalman(Kalman2d::new(config.kalman)),
        }
    }

    /// Filters a point measured at `t_s` seconds.
    pub fn filter(&mut self, t_s: f64, p: [f64; 2]) -> [f64; 2] {
        match self {
            PointFilter::None => p,
            PointFilter::OneEuro([fx, fy]) => [fx.filter(t_s, p[0]), fy.filter(t_s, p[1])],
            PointFilter::Kalman(k) => k.filter(t_s, p),
        }
    }

    /// Forgets the point (e.g. when it was not seen).
    pub fn reset(&mut self) {
        match self {
            PointFilter::None => {}
            PointFilter::OneEuro([fx, fy]) => {
                fx.reset();
                fy.reset();
            }
            PointFilter::Kalman(k) => k.reset(),
        }
    }
}
