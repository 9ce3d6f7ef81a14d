//! The back-projection image of a window's dominant change over a floor grid.

use crate::signature::signatures;
use crate::{Background, LocateError, RadioGeometry};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use wdp_sim::geom::Vec3;
use wdp_sim::scene::SPEED_OF_LIGHT_MPS;

/// The floor grid and how the image is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocatorConfig {
    /// Cell side, m (the model's floor head's `cell_m`).
    pub cell_m: f64,
    /// Cells along x and y `[nx, ny]`, from the room frame's origin.
    pub cells: [usize; 2],
    /// Candidate points per cell side: the image's fringes are a few centimetres apart (the
    /// wavelength), so one point per 0.25 m cell would sample them at random.
    pub oversample: usize,
    /// Height of the candidate points, m (a standing or walking person's trunk).
    pub height_m: f64,
    /// Changes imaged per window, strongest first, each weighted by its power: more than one
    /// lets a second moving person appear.
    pub signatures: usize,
}

impl Default for LocatorConfig {
    fn default() -> Self {
        Self {
            cell_m: 0.25,
            cells: [32, 24],
            oversample: 3,
            height_m: 1.0,
            signatures: 1,
        }
    }
}

impl LocatorConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), LocateError> {
        if !(self.cell_m > 0.0 && self.cell_m.is_finite()) {
            return Err(LocateError::config("locator.cell_m", "must be positive"));
        }
        if self.cells.contains(&0) {
            return Err(LocateError::config(
                "locator.cells",
                "must be at least 1 each",
            ));
        }
        if !(1..=16).contains(&self.oversample) {
            return Err(LocateError::config(
                "locator.oversample",
                format!("must be 1 to 16, got {}", self.oversample),
            ));
        }
        if !self.height_m.is_finite() {
            return Err(LocateError::config("locator.height_m", "must be finite"));
        }
        if !(1..=8).contains(&self.signatures) {
            return Err(LocateError::config(
                "locator.signatures",
                format!("must be 1 to 8, got {}", self.signatures),
            ));
        }
        Ok(())
    }
}

/// One window's image over the floor cells.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorMap {
    /// `[nx, ny]`.
    pub cells: [usize; 2],
    /// Cell side, m.
    pub cell_m: f64,
    /// `[ny][nx]` row-major: the matched power averaged over each cell's points, divided by the
    /// largest cell's (so in `[0, 1]`); 0 for a cell wholly outside the room.
    pub values: Vec<f32>,
    /// The best candidate point `(x, y)`, m.
    pub best_m: [f32; 2],
    /// The imaged changes' share of the window's change power.
    pub share: f32,
}

impl FloorMap {
    /// What the locator says from a window's two images ([`crate::Located::map`]): the
    /// cell-wise larger of the moving and the still image (each normalised to its peak: the two
    /// see different people), keeping the moving one's best point and share; whichever exists
    /// when only one does.
    pub fn combined(moving: Option<&FloorMap>, still: Option<&FloorMap>) -> Option<FloorMap> {
        match (moving, still) {
            (Some(m), Some(s)) => Some(FloorMap {
                values: m
                    .values
                    .iter()
                    .zip(&s.values)
                    .map(|(a, b)| a.max(*b))
                    .collect(),
                ..m.clone()
            }),
            (m, s) => m.or(s).cloned(),
        }
    }
}

/// A back-projector for one radio geometry, subcarrier layout and grid: the predicted phase of
/// every link and subcarrier at every candidate point is computed once.
#[derive(Debug, Clone)]
pub struct BackProjector {
    config: LocatorConfig,
    n_links: usize,
    n_sub: usize,
    /// `[point][link][subcarrier]`: `exp(+j 2 pi f_k L_l(p) / c)`, the conjugate of the phase a
    /// scatterer at `p` puts on the channel.
    steer: Vec<Complex32>,
    /// Per point: its `(x, y)` and its cell.
    points: Vec<([f32; 2], usize)>,
    /// Points inside the room per cell.
    per_cell: Vec<u32>,
}

impl BackProjector {
    /// Builds the projector for windows of `geometry`'s links over `subcarriers` (indices).
    pub fn new(
        geometry: &RadioGeometry,
        subcarriers: &[i32],
        config: LocatorConfig,
    ) -> Result<Self, LocateError> {
        geometry.validate()?;
        config.validate()?;
        if subcarriers.is_empty() {
            return Err(LocateError::config("subcarriers", "none given"));
        }
        let links = geometry.links();
        let freqs: Vec<f64> = subcarriers
            .iter()
            .map(|&k| geometry.carrier_hz + k as f64 * geometry.subcarrier_spacing_hz)
            .collect();
        let [nx, ny] = config.cells;
        let os = config.oversample;
        let step = config.cell_m / os as f64;
        let mut points = Vec::new();
        let mut per_cell = vec![0u32; nx * ny];
        let mut steer = Vec::new();
        for iy in 0..ny * os {
            for ix in 0..nx * os {
                let (x, y) = ((ix as f64 + 0.5) * step, (iy as f64 + 0.5) * step);
                if x >= geometry.room_m[0] || y >= geometry.room_m[1] {
                    continue;
                }
                let cell = (iy / os) * nx + ix / os;
                per_cell[cell] += 1;
                points.push(([x as f32, y as f32], cell));
                let p = Vec3::new(x, y, config.height_m);
                for (t, r) in &links {
                    let length = (p - *t).norm() + (p - *r).norm();
                    for f in &freqs {
                        // The phase in f64 (it is thousands of radians), reduced before f32.
                        let phase = (2.0 * std::f64::consts::PI * f * length / SPEED_OF_LIGHT_MPS)
                            .rem_euclid(2.0 * std::f64::consts::PI);
                        steer.push(Complex32::from_polar(1.0, phase as f32));
                    }
                }
            }
        }
        if points.is_empty() {
            return Err(LocateError::config(
                "locator.cells",
                "the grid has no point inside the room",
            ));
        }
        Ok(Self {
            config,
            n_links: links.len(),
            n_sub: subcarriers.len(),
            steer,
            points,
            per_cell,
        })
    }

    /// The settings.
    pub fn config(&self) -> &LocatorConfig {
        &self.config
    }

    /// Antenna pairs a window must have.
    pub fn links(&self) -> usize {
        self.n_links
    }

    /// Subcarriers a window must have.
    pub fn subcarriers(&self) -> usize {
        self.n_sub
    }

    /// Images a window `[2, links, subcarriers, time]` (real parts, then imaginary parts: what
    /// the preprocessing emits with `channels: complex`, its packets aligned and not
    /// normalised). `None` when nothing changed in the window (an empty, still room).
    pub fn locate(
        &self,
        window: &[f32],
        shape: [usize; 4],
    ) -> Result<Option<FloorMap>, LocateError> {
        let (x, t) = self.window_values(window, shape)?;
        Ok(self.moving_image(&x, t))
    }

    /// Both images of one window, read once: what changed ([`Self::locate`]) and, with a
    /// `background`, what it holds beyond the empty room ([`Self::locate_still`]).
    pub fn locate_both(
        &self,
        window: &[f32],
        shape: [usize; 4],
        background: Option<&Background>,
    ) -> Result<(Option<FloorMap>, Option<FloorMap>), LocateError> {
        let (x, t) = self.window_values(window, shape)?;
        let still = match background {
            Some(b) => self.still_image(&self.mean_of(&x, t), b)?,
            None => None,
        };
        Ok((self.moving_image(&x, t), still))
    }

    fn moving_image(&self, x: &[Complex32], t: usize) -> Option<FloorMap> {
        let sig = signatures(x, t, self.config.signatures);
        let top = sig.first()?.share;
        let weighted: Vec<(&[Complex32], f32)> = sig
            .iter()
            .map(|s| (s.vector.as_slice(), s.share / top))
            .collect();
        self.image(&weighted, sig.iter().map(|s| s.share).sum())
    }

    /// Images what a window holds that the empty room does not: the window's mean against the
    /// room's `background`, brought to its phase and gain ([`Background::residual`]). Unlike
    /// [`Self::locate`] this sees people who stand still. `None` when the window equals the
    /// background (nobody there).
    pub fn locate_still(
        &self,
        window: &[f32],
        shape: [usize; 4],
        background: &Background,
    ) -> Result<Option<FloorMap>, LocateError> {
        let mean = self.window_mean(window, shape)?;
        self.still_image(&mean, background)
    }

    fn still_image(
        &self,
        mean: &[Complex32],
        background: &Background,
    ) -> Result<Option<FloorMap>, LocateError> {
        let Some((residual, share)) = background.residual(mean)? else {
            return Ok(None);
        };
        Ok(self.image(&[(residual.as_slice(), 1.0)], share))
    }

    /// A window's mean over time, `link * n_sub + k` (what [`Background`] compares).
    pub fn window_mean(
        &self,
        window: &[f32],
        shape: [usize; 4],
    ) -> Result<Vec<Complex32>, LocateError> {
        let (x, t) = self.window_values(window, shape)?;
        Ok(self.mean_of(&x, t))
    }

    fn mean_of(&self, x: &[Complex32], t: usize) -> Vec<Complex32> {
        let m = self.n_links * self.n_sub;
        let mut mean = vec![Complex32::new(0.0, 0.0); m];
        for row in x.chunks_exact(m) {
            mean.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        mean.iter_mut().for_each(|a| *a /= t as f32);
        mean
    }

    /// Checks a window `[2, links, subcarriers, time]` and returns it as `[time][link * sub + k]`
    /// complex values, with its length in time.
    fn window_values(
        &self,
        window: &[f32],
        shape: [usize; 4],
    ) -> Result<(Vec<Complex32>, usize), LocateError> {
        let [planes, links, sub, t] = shape;
        let check = |field: &'static str, want: usize, got: usize| {
            if want == got {
                Ok(())
            } else {
                Err(LocateError::Window {
                    field,
                    reason: format!("expected {want}, got {got}"),
                })
            }
        };
        check("planes (real, imaginary)", 2, planes)?;
        check("links", self.n_links, links)?;
        check("subcarriers", self.n_sub, sub)?;
        check("values", planes * links * sub * t, window.len())?;
        if let Some(i) = window.iter().position(|v| !v.is_finite()) {
            return Err(LocateError::Window {
                field: "values",
                reason: format!("value {i} is not finite"),
            });
        }
        let m = links * sub;
        let (re, im) = window.split_at(m * t);
        let mut x = vec![Complex32::new(0.0, 0.0); t * m];
        for j in 0..m {
            for ti in 0..t {
                x[ti * m + j] = Complex32::new(re[j * t + ti], im[j * t + ti]);
            }
        }
        Ok((x, t))
    }

    /// The matched power of `vectors` (each over `link * sub + k`, with its weight) at every
    /// candidate point, coherent over the links and summed in power over the subcarriers, as a
    /// map normalised to its peak cell. `None` when every point has zero power.
    fn image(&self, vectors: &[(&[Complex32], f32)], share: f32) -> Option<FloorMap> {
        let (m, sub) = (self.n_links * self.n_sub, self.n_sub);
        let mut power = vec![0f32; self.points.len()];
        let mut acc = vec![Complex32::new(0.0, 0.0); sub];
        for (vector, weight) in vectors {
            for (pi, p) in power.iter_mut().enumerate() {
                let steer = &self.steer[pi * m..(pi + 1) * m];
                acc.iter_mut().for_each(|a| *a = Complex32::new(0.0, 0.0));
                for (v, st) in vector.chunks_exact(sub).zip(steer.chunks_exact(sub)) {
                    for ((a, vk), sk) in acc.iter_mut().zip(v).zip(st) {
                        *a += vk * sk;
                    }
                }
                *p += weight * acc.iter().map(|a| a.norm_sqr()).sum::<f32>();
            }
        }
        let [nx, ny] = self.config.cells;
        let mut values = vec![0f32; nx * ny];
        let mut best = (0usize, f32::MIN);
        for (i, ((_, cell), p)) in self.points.iter().zip(&power).enumerate() {
            values[*cell] += p;
            if *p > best.1 {
                best = (i, *p);
            }
        }
        for (v, n) in values.iter_mut().zip(&self.per_cell) {
            if *n > 0 {
                *v /= *n as f32;
            }
        }
        let peak = values.iter().copied().fold(0f32, f32::max);
        if !(peak > 0.0 && peak.is_finite()) {
            return None;
        }
        values.iter_mut().for_each(|v| *v /= peak);
        Some(FloorMap {
            cells: self.config.cells,
            cell_m: self.config.cell_m,
            values,
            best_m: self.points[best.0].0,
            share,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wdp_sim::scene::AntennaArray;

    fn lab() -> RadioGeometry {
        let array = |x: f64| AntennaArray {
            position_m: [x, 3.0, 1.0],
            antennas: 3,
            spacing_m: None,
            axis_deg: 90.0,
        };
        RadioGeometry {
            tx: array(0.3),
            rx: array(5.7),
            carrier_hz: 5.32e9,
            subcarrier_spacing_hz: 312.5e3,
            room_m: [6.0, 6.0],
        }
    }

    fn subcarriers() -> Vec<i32> {
        (-28..=28).step_by(2).collect()
    }

    /// A window `[2, links, sub, t]` of a static channel plus one scatterer at `p` whose
    /// strength varies over time, as a breathing or swaying body's does.
    fn window(geometry: &RadioGeometry, sub: &[i32], p: Vec3, t: usize) -> Vec<f32> {
        let links = geometry.links();
        let m = links.len() * sub.len();
        let mut re = vec![0f32; m * t];
        let mut im = vec![0f32; m * t];
        for (l, (tx, rx)) in links.iter().enumerate() {
            let length = (p - *tx).norm() + (p - *rx).norm();
            for (k, s) in sub.iter().enumerate() {
                let f = geometry.carrier_hz + *s as f64 * geometry.subcarrier_spacing_hz;
                let body = Complex32::from_polar(
                    0.1,
                    (-2.0 * std::f64::consts::PI * f * length / SPEED_OF_LIGHT_MPS)
                        .rem_euclid(2.0 * std::f64::consts::PI) as f32,
                );
                let fixed = Complex32::new(1.0 + 0.1 * l as f32, 0.3 * k as f32);
                for ti in 0..t {
                    let a = 1.0 + 0.5 * (ti as f32 * 0.37).sin();
                    let v = fixed + body * a;
                    re[(l * sub.len() + k) * t + ti] = v.re;
                    im[(l * sub.len() + k) * t + ti] = v.im;
                }
            }
        }
        re.extend(im);
        re
    }

    #[test]
    fn a_moving_scatterer_is_imaged_where_it_is() {
        let g = lab();
        let sub = subcarriers();
        let bp = BackProjector::new(&g, &sub, LocatorConfig::default()).unwrap();
        for p in [[2.1, 4.3], [4.4, 1.2], [3.0, 2.0]] {
            let w = window(&g, &sub, Vec3::new(p[0], p[1], 1.0), 50);
            let map = bp.locate(&w, [2, 9, sub.len(), 50]).unwrap().unwrap();
            let err = ((map.best_m[0] as f64 - p[0]).powi(2)
                + (map.best_m[1] as f64 - p[1]).powi(2))
            .sqrt();
            assert!(err < 0.15, "imaged at {:?}, scatterer at {p:?}", map.best_m);
            // The best point's cell is the map's peak, or next to it.
            let [nx, _] = map.cells;
            let peak = map.values.iter().position(|v| *v == 1.0).unwrap();
            let cell = |x: f32, y: f32| ((y / 0.25) as usize, (x / 0.25) as usize);
            let (by, bx) = cell(map.best_m[0], map.best_m[1]);
            let (py, px) = (peak / nx, peak % nx);
            assert!(
                by.abs_diff(py) <= 1 && bx.abs_diff(px) <= 1,
                "peak cell {px},{py}, best {bx},{by}"
            );
            assert!(map.share > 0.99, "{}", map.share);
        }
    }

    #[test]
    fn cells_outside_the_room_stay_empty() {
        let mut g = lab();
        g.room_m = [5.0, 4.0];
        let sub = subcarriers();
        let bp = BackProjector::new(&g, &sub, LocatorConfig::default()).unwrap();
        let w = window(&g, &sub, Vec3::new(2.0, 2.0, 1.0), 30);
        let map = bp.locate(&w, [2, 9, sub.len(), 30]).unwrap().unwrap();
        for iy in 0..24 {
            for ix in 0..32 {
                let v = map.values[iy * 32 + ix];
                if ix >= 20 || iy >= 16 {
                    assert_eq!(v, 0.0, "cell {ix},{iy}");
                } else {
                    assert!(v > 0.0, "cell {ix},{iy}");
                }
            }
        }
    }

    #[test]
    fn a_window_of_another_layout_is_refused_by_name() {
        let g = lab();
        let sub = subcarriers();
        let bp = BackProjector::new(&g, &sub, LocatorConfig::default()).unwrap();
        let w = vec![0.5f32; 2 * 4 * sub.len() * 10];
        let e = bp.locate(&w, [2, 4, sub.len(), 10]).unwrap_err();
        assert!(
            e.to_string().contains("links") && e.to_string().contains("expected 9"),
            "{e}"
        );
        let mut w = window(&g, &sub, Vec3::new(2.0, 2.0, 1.0), 10);
        w[7] = f32::NAN;
        let e = bp.locate(&w, [2, 9, sub.len(), 10]).unwrap_err();
        assert!(e.to_string().contains("value 7"), "{e}");
        // A still room: nothing to image.
        let still = vec![0.5f32; 2 * 9 * sub.len() * 10];
        assert!(bp.locate(&still, [2, 9, sub.len(), 10]).unwrap().is_none());
    }

    #[test]
    fn bad_settings_are_named() {
        let g = lab();
        let bad = LocatorConfig {
            oversample: 0,
            ..LocatorConfig::default()
        };
        let e = BackProjector::new(&g, &subcarriers(), bad).unwrap_err();
        assert!(e.to_string().starts_with("locator.oversample"), "{e}");
        let yaml = "tx: {position_m: [0, 1, 1]}\nrx: {position_m: [4, 1, 1]}\ncarrier_hz: -5\nroom_m: [4, 3]\n";
        let e = RadioGeometry::from_yaml_str(yaml).unwrap_err();
        assert!(e.to_string().starts_with("carrier_hz"), "{e}");
    }
}
