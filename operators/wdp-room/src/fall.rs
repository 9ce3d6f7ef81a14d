//! Falls from the poses: a fast drop of a person's height in the picture followed by stillness
//! low down, optionally confirmed by a burst of signal-level motion.
//!
//! A person's **height** in a frame is the vertical extent of their keypoints seen (`v > 0`,
//! at least [`FallConfig::min_keypoints`] of them), else their box's height, in pixels. It is
//! compared with the same person's own recent standing height, so the distance to the camera
//! cancels:
//!
//! 1. **Drop**: the height falls to at most [`FallConfig::drop_ratio`] of its highest value of
//!    the last [`FallConfig::drop_s`] (that highest value is the reference).
//! 2. **On the floor and still**: for [`FallConfig::still_s`] after the drop, every height
//!    stays under [`FallConfig::low_ratio`] of the reference and the body's centre moves less
//!    than [`FallConfig::still_frac`] of the reference (checked on the last `still_s` at every
//!    frame, for up to twice `still_s` after the drop, so a body still settling when the drop
//!    is seen is still found). Then a `fall` fires, once.
//! 3. It fires again for that person only after they stood up (height back above
//!    [`FallConfig::rearm_ratio`] of the reference).
//!
//! People are followed by their track id when the poses carry one (the `temporal` node, the
//! simulator's truth), else by the nearest box centre.

use crate::hold::ns;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Thresholds of the fall detector, with the reasons for their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FallConfig {
    /// Look for falls at all (poses with boxes or keypoints needed). Default true.
    pub enabled: bool,
    /// The drop: height at most this fraction of the highest of the last `drop_s`. Default
    /// 0.5: a person lying on the floor is a third to a fifth of their standing height in the
    /// picture seen from the side and about a third seen lengthwise from a camera above head
    /// height, while sitting on a chair keeps about 0.7 and a squat about 0.6-0.7, so half
    /// separates lying from both with margin.
    pub drop_ratio: f32,
    /// The drop must happen within this many seconds. Default 1 s: a fall from standing takes
    /// 0.5-1 s (free fall from 1 m is 0.45 s, plus the stumble), sitting down takes 1.5-3 s
    /// and never halves the height anyway.
    pub drop_s: f64,
    /// After the drop the person stays low and still this long. Default 1 s: long enough to
    /// tell lying on the floor from bending down to pick something up and getting up again,
    /// short enough that the event comes within 2 s of the fall's start (the drop is seen
    /// about 0.6 s after a fall starts).
    pub still_s: f64,
    /// Low: every height during `still_s` under this fraction of the reference. Default 0.6:
    /// above lying (a third) with margin for a half-raised head or a knee, under sitting
    /// (0.7), so someone sitting up is no longer "on the floor".
    pub low_ratio: f32,
    /// Still: the body's centre moves less than this fraction of the reference height during
    /// `still_s` (the diagonal of the box around its path). Default 0.15: a lying body's
    /// centre is steady to a few percent of its height; someone crawling or rolling moves it
    /// by a quarter of it or more in a second.
    pub still_frac: f32,
    /// A person who fell fires again only after standing back up above this fraction of the
    /// reference height. Default 0.8: standing or walking, not sitting.
    pub rearm_ratio: f32,
    /// Fewest keypoints seen for their vertical extent to be the height (else the box).
    /// Default 5: fewer may all be on one part of the body (the head and shoulders above a
    /// table).
    pub min_keypoints: usize,
    /// Without track ids, a pose continues the person whose last centre is nearest, within
    /// this fraction of their height. Default 0.5: a person moves a few percent of their
    /// height between frames, two people stand a body width apart.
    pub match_frac: f32,
    /// A person not seen for this long is forgotten. Default 2 s.
    pub forget_s: f64,
    /// Fire only when the signal-level sensor also saw motion within `signal_window_s` of the
    /// drop (when a fresh signal source exists). Default false: the sensor reports motion once
    /// a second and holds it 2 s, so confirmation can delay the event by up to a second, and a
    /// fall of a person the radio barely sees would be lost; turn it on where false alarms from
    /// the poses cost more.
    pub signal_confirm: bool,
    /// How far from the drop the confirming motion second may be. Default 2 s: the sensor's
    /// second is decided at its end, a second after the motion in it.
    pub signal_window_s: f64,
}

impl Default for FallConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            drop_ratio: 0.5,
            drop_s: 1.0,
            still_s: 1.0,
            low_ratio: 0.6,
            still_frac: 0.15,
            rearm_ratio: 0.8,
            min_keypoints: 5,
            match_frac: 0.5,
            forget_s: 2.0,
            signal_confirm: false,
            signal_window_s: 2.0,
        }
    }
}

impl FallConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), String> {
        let ratio = |x: f32| x.is_finite() && x > 0.0 && x <= 1.0;
        if !(ratio(self.drop_ratio) && ratio(self.low_ratio) && ratio(self.rearm_ratio)) {
            return Err("fall: drop_ratio, low_ratio and rearm_ratio must be in (0, 1]".into());
        }
        if self.drop_ratio > self.low_ratio {
            return Err("fall: drop_ratio must be <= low_ratio".into());
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !(positive(self.drop_s) && positive(self.still_s) && positive(self.forget_s)) {
            return Err("fall: drop_s, still_s and forget_s must be > 0".into());
        }
        let positive32 = |x: f32| x.is_finite() && x > 0.0;
        if !(positive32(self.still_frac) && positive32(self.match_frac)) {
            return Err("fall: still_frac and match_frac must be > 0".into());
        }
        if !(self.signal_window_s.is_finite() && self.signal_window_s >= 0.0) {
            return Err("fall: signal_window_s must be >= 0".into());
        }
        Ok(())
    }
}

/// What the fall detector needs of one person of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyObservation {
    /// The pose's track id, when it has one.
    pub track_id: Option<u64>,
    /// Height in pixels (keypoint extent or box height).
    pub height_px: f32,
    /// Centre of the box (or of the keypoints) in pixels.
    pub centre_px: [f32; 2],
}

impl BodyObservation {
    /// From a box `[x0, y0, x1, y1]` and COCO-17 keypoints `(x, y, v)`: the keypoints' vertical
    /// extent when at least `min_keypoints` are seen, else the box's height. `None` without
    /// either (or a degenerate box).
    pub fn from_pose(
        track_id: Option<u64>,
        box_xyxy: Option<[f32; 4]>,
        keypoints: Option<&[[f32; 3]; 17]>,
        min_keypoints: usize,
    ) -> Option<Self> {
        let seen: Vec<&[f32; 3]> = keypoints
            .map(|k| {
                k.iter()
                    .filter(|p| p[2] > 0.0 && p[0].is_finite() && p[1].is_finite())
                    .collect()
            })
            .unwrap_or_default();
        if seen.len() >= min_keypoints.max(2) {
            let (lo, hi) = seen.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
                (lo.min(p[1]), hi.max(p[1]))
            });
            let (xl, xh) = seen.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
                (lo.min(p[0]), hi.max(p[0]))
            });
            if hi > lo {
                return Some(Self {
                    track_id,
                    height_px: hi - lo,
                    centre_px: [(xl + xh) / 2.0, (lo + hi) / 2.0],
                });
            }
        }
        let b = box_xyxy?;
        let h = b[3] - b[1];
        (h.is_finite() && h > 0.0 && b[2] > b[0]).then(|| Self {
            track_id,
            height_px: h,
            centre_px: [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0],
        })
    }
}

/// A fall decided by the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fall {
    /// Time of the frame that completed it, ns.
    pub t_ns: i64,
    /// When the drop was seen, ns.
    pub drop_ns: i64,
    /// The person's track id, when the poses carry one.
    pub track_id: Option<u64>,
}

#[derive(Debug, Clone)]
struct Pending {
    drop_ns: i64,
    reference: f32,
}

#[derive(Debug, Clone)]
struct Body {
    track_id: Option<u64>,
    /// (t, height, centre)
    history: VecDeque<(i64, f32, [f32; 2])>,
    pending: Option<Pending>,
    /// After a fall: the reference to stand back up to.
    fallen: Option<f32>,
}

/// The fall detector of one room.
#[derive(Debug, Clone)]
pub struct FallDetector {
    config: FallConfig,
    bodies: Vec<Body>,
    signal_motion_ns: Option<i64>,
    signal_fresh: bool,
}

impl FallDetector {
    /// A detector with no one yet; the configuration is checked.
    pub fn new(config: FallConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Self {
            config,
            bodies: Vec::new(),
            signal_motion_ns: None,
            signal_fresh: false,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &FallConfig {
        &self.config
    }

    /// The signal-level sensor's answer for a second decided at `t_ns`: `fresh` whether a
    /// signal source is fresh at all, `motion` whether it saw motion.
    pub fn signal(&mut self, t_ns: i64, fresh: bool, motion: bool) {
        self.signal_fresh = fresh;
        if motion {
            self.signal_motion_ns = Some(t_ns);
        }
    }

    /// One frame's people at `t_ns`; the falls it completes.
    pub fn update(&mut self, t_ns: i64, people: &[BodyObservation]) -> Vec<Fall> {
        let c = self.config.clone();
        if !c.enabled {
            return Vec::new();
        }
        let keep_ns = ns(c.drop_s + c.still_s + 1.0);
        self.bodies.retain(|b| {
            b.history
                .back()
                .is_some_and(|h| t_ns - h.0 <= ns(c.forget_s))
        });
        let mut used = vec![false; self.bodies.len()];
        let mut falls = Vec::new();
        for p in people {
            let index = self.find(p, &used).unwrap_or_else(|| {
                self.bodies.push(Body {
                    track_id: p.track_id,
                    history: VecDeque::new(),
                    pending: None,
                    fallen: None,
                });
                used.push(false);
                self.bodies.len() - 1
            });
            used[index] = true;
            let confirm = c.signal_confirm && self.signal_fresh;
            let motion_ns = self.signal_motion_ns;
            let body = &mut self.bodies[index];
            body.history.push_back((t_ns, p.height_px, p.centre_px));
            while body.history.front().is_some_and(|h| t_ns - h.0 > keep_ns) {
                body.history.pop_front();
            }
            if let Some(fall) = step(&c, body, t_ns, confirm, motion_ns) {
                falls.push(fall);
            }
        }
        falls
    }

    /// The body this observation continues: same track id, else the nearest unused centre
    /// within the gate.
    fn find(&self, p: &BodyObservation, used: &[bool]) -> Option<usize> {
        if let Some(id) = p.track_id {
            return self.bodies.iter().position(|b| b.track_id == Some(id));
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, b) in self.bodies.iter().enumerate() {
            if used[i] || b.track_id.is_some() {
                continue;
            }
            let Some(&(_, h, c)) = b.history.back() else {
                continue;
            };
            let d = ((c[0] - p.centre_px[0]).powi(2) + (c[1] - p.centre_px[1]).powi(2)).sqrt();
            let reference = b.history.iter().map(|x| x.1).fold(h, f32::max);
            if d <= self.config.match_frac * reference && best.is_none_or(|(_, bd)| d < bd) {
                best = Some((i, d));
            }
        }
        best.map(|(i, _)| i)
    }
}

/// Advances one body's state after its newest sample.
fn step(
    c: &FallConfig,
    body: &mut Body,
    t_ns: i64,
    confirm: bool,
    motion_ns: Option<i64>,
) -> Option<Fall> {
    let &(_, h, _) = body.history.back()?;
    if let Some(reference) = body.fallen {
        if h > c.rearm_ratio * reference {
            body.fallen = None;
        }
        return None;
    }
    if let Some(p) = body.pending.clone() {
        if h > c.low_ratio * p.reference {
            // Got up (or was never down): not a fall.
            body.pending = None;
            return None;
        }
        let waited = t_ns - p.drop_ns;
        let still_ns = ns(c.still_s);
        let window_ns = ns(c.signal_window_s);
        if waited >= still_ns {
            let recent: Vec<[f32; 2]> = body
                .history
                .iter()
                .filter(|x| x.0 >= t_ns - still_ns)
                .map(|x| x.2)
                .collect();
            // The extent of the centre's path over the still period (its bounding box's
            // diagonal).
            let (lo, hi) = recent.iter().fold(
                ([f32::MAX, f32::MAX], [f32::MIN, f32::MIN]),
                |(lo, hi), x| {
                    (
                        [lo[0].min(x[0]), lo[1].min(x[1])],
                        [hi[0].max(x[0]), hi[1].max(x[1])],
                    )
                },
            );
            let spread = ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2)).sqrt();
            let still = spread < c.still_frac * p.reference;
            let confirmed =
                !confirm || motion_ns.is_some_and(|m| (m - p.drop_ns).abs() <= window_ns);
            if still && confirmed {
                body.pending = None;
                body.fallen = Some(p.reference);
                return Some(Fall {
                    t_ns,
                    drop_ns: p.drop_ns,
                    track_id: body.track_id,
                });
            }
            // Not (yet) still or confirmed: give it one more still period and the signal's
            // window, then drop it.
            if waited > 2 * still_ns + window_ns {
                body.pending = None;
            }
        }
        return None;
    }
    let drop_ns = ns(c.drop_s);
    let reference = body
        .history
        .iter()
        .filter(|x| x.0 >= t_ns - drop_ns)
        .map(|x| x.1)
        .fold(h, f32::max);
    if h <= c.drop_ratio * reference {
        body.pending = Some(Pending {
            drop_ns: t_ns,
            reference,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn height_from_keypoints_else_the_box() {
        let mut k = [[0.0f32; 3]; 17];
        for (i, p) in k.iter_mut().enumerate().take(6) {
            *p = [100.0, 50.0 + 20.0 * i as f32, 2.0];
        }
        let b = BodyObservation::from_pose(Some(3), Some([90.0, 40.0, 120.0, 300.0]), Some(&k), 5)
            .unwrap();
        assert_eq!(b.height_px, 100.0);
        assert_eq!(b.track_id, Some(3));
        k[4][2] = 0.0;
        k[5][2] = 0.0;
        let b = BodyObservation::from_pose(None, Some([90.0, 40.0, 120.0, 300.0]), Some(&k), 5)
            .unwrap();
        assert_eq!(b.height_px, 260.0);
        assert!(BodyObservation::from_pose(None, None, Some(&k), 5).is_none());
        assert!(FallConfig {
            drop_ratio: 0.7,
            ..FallConfig::default()
        }
        .validate()
        .is_err());
    }
}
