//! The empty room's channel, and what a window holds beyond it.
//!
//! The motion image ([`crate::BackProjector::locate`]) sees only what changes within a window: a
//! person who stands, sits or pauses is invisible to it. What such a person does change is the
//! window's mean against the empty room's: their scattered paths add to the room's static
//! multipath. Recorded once with the room empty (a calibration, as every WiFi presence product
//! does), the empty room's aligned channel lets each window's mean be compared with it once both
//! are brought to one phase and gain (every stream's `align` step picks its own reference
//! phase, and the card's gain may differ): the residual is the people's paths, and its image
//! shows them all, moving or not.

use crate::LocateError;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use wdp_csi::dsp::phase::phase_line;

/// The empty room's mean aligned channel over links x subcarriers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    /// Antenna pairs, tx-major.
    pub links: usize,
    /// Subcarrier indices (the abscissa of the phase slope fitted against it).
    pub subcarriers: Vec<i32>,
    /// Real parts, `link * n_sub + k`.
    pub re: Vec<f32>,
    /// Imaginary parts, the same layout.
    pub im: Vec<f32>,
    /// Windows averaged into it.
    pub windows: usize,
}

impl Background {
    /// Reads a background written by [`Self::to_yaml`], checked.
    pub fn from_yaml_str(text: &str) -> Result<Self, LocateError> {
        let b: Self = serde_yaml::from_str(text)
            .map_err(|e| LocateError::config("background", e.to_string()))?;
        b.validate()?;
        Ok(b)
    }

    /// The background as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// Checks that the values fit the layout and are finite and not all zero.
    pub fn validate(&self) -> Result<(), LocateError> {
        let m = self.links * self.subcarriers.len();
        if m == 0 {
            return Err(LocateError::config(
                "background.links",
                "no links or no subcarriers",
            ));
        }
        for (field, v) in [("background.re", &self.re), ("background.im", &self.im)] {
            if v.len() != m {
                return Err(LocateError::config(
                    field,
                    format!(
                        "{} values for {} links x {} subcarriers",
                        v.len(),
                        self.links,
                        self.subcarriers.len()
                    ),
                ));
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(LocateError::config(
                    field,
                    format!("value {i} is not finite"),
                ));
            }
        }
        if self.values().iter().all(|v| v.norm_sqr() == 0.0) {
            return Err(LocateError::config("background", "every value is zero"));
        }
        Ok(())
    }

    fn values(&self) -> Vec<Complex32> {
        self.re
            .iter()
            .zip(&self.im)
            .map(|(&r, &i)| Complex32::new(r, i))
            .collect()
    }

    /// What `mean` (a window's mean, `link * n_sub + k`) holds beyond the empty room: `mean -
    /// a exp(j s k) b`, with the complex gain `a` and the phase slope `s` over the subcarrier
    /// index `k` that best bring the background `b` onto `mean`; with the residual's share of
    /// `mean`'s power. `None` when nothing is left.
    pub fn residual(
        &self,
        mean: &[Complex32],
    ) -> Result<Option<(Vec<Complex32>, f32)>, LocateError> {
        let b = self.values();
        if mean.len() != b.len() {
            return Err(LocateError::Window {
                field: "links x subcarriers",
                reason: format!("background has {}, window {}", b.len(), mean.len()),
            });
        }
        let fitted = fit_onto(&b, mean, &self.subcarriers);
        let residual: Vec<Complex32> = mean.iter().zip(&fitted).map(|(m, f)| m - f).collect();
        let total: f32 = mean.iter().map(|v| v.norm_sqr()).sum();
        let left: f32 = residual.iter().map(|v| v.norm_sqr()).sum();
        if !(left > total * 1e-9 && left.is_finite()) {
            return Ok(None);
        }
        Ok(Some((residual, left / total)))
    }
}

/// `a exp(j s k) from`, the gain `a` and phase slope `s` (per subcarrier index `k`) fitted so
/// that it best matches `onto` (both `link * n_sub + k`).
fn fit_onto(from: &[Complex32], onto: &[Complex32], subcarriers: &[i32]) -> Vec<Complex32> {
    let n_sub = subcarriers.len();
    // Per subcarrier, `onto` against `from` summed over links: its phase is the offset and slope.
    let mut cross = vec![Complex32::new(0.0, 0.0); n_sub];
    for (f, o) in from.chunks_exact(n_sub).zip(onto.chunks_exact(n_sub)) {
        for ((c, fk), ok) in cross.iter_mut().zip(f).zip(o) {
            *c += ok * fk.conj();
        }
    }
    let (_, slope) = phase_line(cross.iter().zip(subcarriers).map(|(c, &k)| (*c, k as f32)));
    let rotated: Vec<Complex32> = from
        .chunks_exact(n_sub)
        .flat_map(|f| {
            f.iter()
                .zip(subcarriers)
                .map(move |(v, &k)| v * Complex32::from_polar(1.0, slope * k as f32))
        })
        .collect();
    let num: Complex32 = onto.iter().zip(&rotated).map(|(o, r)| o * r.conj()).sum();
    let den: f32 = rotated.iter().map(|r| r.norm_sqr()).sum();
    let gain = if den > 0.0 {
        num / den
    } else {
        Complex32::new(0.0, 0.0)
    };
    rotated.into_iter().map(|r| r * gain).collect()
}

/// Averages window means of an empty room into a [`Background`], each brought to the first's
/// phase and gain first (the stream's alignment reference drifts slowly).
#[derive(Debug, Clone)]
pub struct BackgroundBuilder {
    links: usize,
    subcarriers: Vec<i32>,
    sum: Vec<Complex32>,
    windows: usize,
}

impl BackgroundBuilder {
    /// A builder for `links` antenna pairs over `subcarriers` (indices).
    pub fn new(links: usize, subcarriers: &[i32]) -> Self {
        Self {
            links,
            subcarriers: subcarriers.to_vec(),
            sum: Vec::new(),
            windows: 0,
        }
    }

    /// Adds one window's mean (`link * n_sub + k`); a mean of another length or with a value
    /// that is not finite is refused.
    pub fn add(&mut self, mean: &[Complex32]) -> Result<(), LocateError> {
        let m = self.links * self.subcarriers.len();
        if mean.len() != m {
            return Err(LocateError::Window {
                field: "links x subcarriers",
                reason: format!("expected {m}, got {}", mean.len()),
            });
        }
        if let Some(i) = mean
            .iter()
            .position(|v| !v.re.is_finite() || !v.im.is_finite())
        {
            return Err(LocateError::Window {
                field: "values",
                reason: format!("value {i} is not finite"),
            });
        }
        if self.sum.is_empty() {
            self.sum = mean.to_vec();
        } else {
            let reference: Vec<Complex32> =
                self.sum.iter().map(|v| v / self.windows as f32).collect();
            let fitted = fit_onto(mean, &reference, &self.subcarriers);
            self.sum.iter_mut().zip(&fitted).for_each(|(s, f)| *s += f);
        }
        self.windows += 1;
        Ok(())
    }

    /// Windows added so far.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// The background, `None` before any window.
    pub fn finish(&self) -> Option<Background> {
        if self.windows == 0 {
            return None;
        }
        let n = self.windows as f32;
        Some(Background {
            links: self.links,
            subcarriers: self.subcarriers.clone(),
            re: self.sum.iter().map(|v| v.re / n).collect(),
            im: self.sum.iter().map(|v| v.im / n).collect(),
            windows: self.windows,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn room(links: usize, sub: &[i32]) -> Vec<Complex32> {
        (0..links * sub.len())
            .map(|i| Complex32::from_polar(1.0 + 0.3 * (i as f32 * 0.7).sin(), i as f32 * 1.3))
            .collect()
    }

    fn turned(v: &[Complex32], sub: &[i32], gain: Complex32, slope: f32) -> Vec<Complex32> {
        v.chunks_exact(sub.len())
            .flat_map(|l| {
                l.iter()
                    .zip(sub)
                    .map(move |(x, &k)| x * gain * Complex32::from_polar(1.0, slope * k as f32))
            })
            .collect()
    }

    #[test]
    fn the_empty_room_under_another_phase_and_gain_leaves_nothing() {
        let sub: Vec<i32> = (-28..=28).step_by(4).collect();
        let b = room(4, &sub);
        let mut builder = BackgroundBuilder::new(4, &sub);
        builder.add(&b).unwrap();
        builder
            .add(&turned(&b, &sub, Complex32::from_polar(1.3, 2.0), -0.05))
            .unwrap();
        let bg = builder.finish().unwrap();
        assert_eq!(bg.windows, 2);
        let seen = turned(&b, &sub, Complex32::from_polar(0.7, -1.0), 0.08);
        // Nothing left, or rounding's worth.
        if let Some((_, share)) = bg.residual(&seen).unwrap() {
            assert!(share < 1e-6, "share {share}");
        }
    }

    #[test]
    fn a_person_is_what_is_left() {
        let sub: Vec<i32> = (-28..=28).step_by(4).collect();
        let b = room(4, &sub);
        let bg = {
            let mut builder = BackgroundBuilder::new(4, &sub);
            builder.add(&b).unwrap();
            builder.finish().unwrap()
        };
        let person: Vec<Complex32> = (0..b.len())
            .map(|i| Complex32::from_polar(0.1, i as f32 * 0.4))
            .collect();
        let with: Vec<Complex32> = b.iter().zip(&person).map(|(x, p)| x + p).collect();
        let seen = turned(&with, &sub, Complex32::from_polar(2.0, 0.5), 0.03);
        let (r, share) = bg.residual(&seen).unwrap().unwrap();
        // The residual is the person's paths under the window's phase and gain.
        let want = turned(&person, &sub, Complex32::from_polar(2.0, 0.5), 0.03);
        let err: f32 = r.iter().zip(&want).map(|(a, b)| (a - b).norm_sqr()).sum();
        let power: f32 = want.iter().map(|v| v.norm_sqr()).sum();
        assert!(err < 0.1 * power, "error {err} of {power}");
        assert!(share > 0.001 && share < 0.05, "share {share}");
    }

    #[test]
    fn bad_backgrounds_and_windows_are_named() {
        let sub = [-2, 0, 2];
        let mut builder = BackgroundBuilder::new(2, &sub);
        let e = builder.add(&[Complex32::new(1.0, 0.0); 5]).unwrap_err();
        assert!(e.to_string().contains("expected 6"), "{e}");
        let mut bad = vec![Complex32::new(1.0, 0.0); 6];
        bad[4] = Complex32::new(f32::NAN, 0.0);
        let e = builder.add(&bad).unwrap_err();
        assert!(e.to_string().contains("value 4"), "{e}");
        assert!(builder.finish().is_none());
        builder.add(&[Complex32::new(1.0, 0.5); 6]).unwrap();
        let bg = builder.finish().unwrap();
        let back = Background::from_yaml_str(&bg.to_yaml()).unwrap();
        assert_eq!(back, bg);
        let e = bg.residual(&[Complex32::new(1.0, 0.0); 4]).unwrap_err();
        assert!(e.to_string().contains("background has 6"), "{e}");
        let e = Background::from_yaml_str(
            "links: 2\nsubcarriers: [0, 1]\nre: [1, 2, 3]\nim: [0, 0, 0, 0]\nwindows: 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("background.re"), "{e}");
    }
}
