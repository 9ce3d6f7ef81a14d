//! Procedural motions: each person's [`PoseParams`] as a pure function of time, so packets and
//! camera frames see exactly the same body at the same instant.

use crate::body::PoseParams;
use crate::rng::{SimRng, Stream};
use crate::scene::{Motion, Person};
use std::f64::consts::{FRAC_PI_2, PI, TAU};

/// Stride (two steps) of a 1.75 m walker, metres.
const STRIDE_M: f64 = 1.3;
/// Seconds spent turning round at the end of an open walk.
const END_TURN_S: f64 = 1.0;
/// Waypoints drawn for a wandering person before the path repeats.
const WANDER_WAYPOINTS: usize = 200;

/// One phase of a trajectory.
#[derive(Debug, Clone)]
enum Phase {
    /// Walk the straight line `from -> to`.
    Walk { from: [f64; 2], to: [f64; 2] },
    /// Stand at `at` turning from `yaw0` to `yaw1` (radians).
    Turn { at: [f64; 2], yaw0: f64, yaw1: f64 },
}

/// A looping piecewise trajectory of walks and turns.
#[derive(Debug, Clone)]
struct Timeline {
    phases: Vec<(f64, f64, Phase)>, // (start_s, duration_s, phase)
    period_s: f64,
    speed_mps: f64,
}

impl Timeline {
    fn from_points(points: &[[f64; 2]], speed_mps: f64, turn_s: f64, closed: bool) -> Self {
        let mut phases = Vec::new();
        let mut t = 0.0;
        let n = points.len();
        let legs = if closed { n } else { n - 1 };
        let heading = |a: [f64; 2], b: [f64; 2]| (b[1] - a[1]).atan2(b[0] - a[0]);
        let mut order: Vec<[f64; 2]> = points.to_vec();
        if !closed {
            // there and back again
            order.extend(points.iter().rev().skip(1));
        } else {
            order.push(points[0]);
        }
        let total_legs = if closed { legs } else { 2 * legs };
        for i in 0..total_legs {
            let (a, b) = (order[i], order[i + 1]);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            if len > 1e-9 {
                let d = len / speed_mps;
                phases.push((t, d, Phase::Walk { from: a, to: b }));
                t += d;
            }
            let next = order.get(i + 2).copied().unwrap_or(order[1]);
            let turn = if !closed && (i + 1 == legs || i + 1 == total_legs) {
                END_TURN_S.max(turn_s)
            } else {
                turn_s
            };
            if turn > 0.0 {
                let y0 = heading(a, b);
                let mut y1 = heading(b, next);
                // shortest way round
                while y1 - y0 > PI {
                    y1 -= TAU;
                }
                while y1 - y0 < -PI {
                    y1 += TAU;
                }
                phases.push((
                    t,
                    turn,
                    Phase::Turn {
                        at: b,
                        yaw0: y0,
                        yaw1: y1,
                    },
                ));
                t += turn;
            }
        }
        Timeline {
            phases,
            period_s: t.max(1e-9),
            speed_mps,
        }
    }

    /// (position, yaw, walked distance for the gait or None when not walking)
    fn at(&self, t_s: f64) -> ([f64; 2], f64, Option<f64>) {
        let t = t_s.rem_euclid(self.period_s);
        let idx = match self
            .phases
            .binary_search_by(|(s, _, _)| s.partial_cmp(&t).unwrap_or(std::cmp::Ordering::Less))
        {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let Some((start, dur, phase)) = self.phases.get(idx) else {
            return ([0.0, 0.0], 0.0, None);
        };
        let u = ((t - start) / dur).clamp(0.0, 1.0);
        match phase {
            Phase::Walk { from, to } => {
                let p = [
                    from[0] + (to[0] - from[0]) * u,
                    from[1] + (to[1] - from[1]) * u,
                ];
                let yaw = (to[1] - from[1]).atan2(to[0] - from[0]);
                (p, yaw, Some((t - start) * self.speed_mps))
            }
            Phase::Turn { at, yaw0, yaw1 } => (*at, yaw0 + (yaw1 - yaw0) * smoothstep(u), None),
        }
    }
}

fn smoothstep(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// A person's motion, ready to evaluate at any time.
#[derive(Debug, Clone)]
pub(crate) struct MotionPlan {
    motion: Motion,
    timeline: Option<Timeline>,
    height_m: f64,
    breathing_phase: f64,
}

impl MotionPlan {
    /// Plans `person` (index `index`) in a room of floor size `room_xy_m`.
    pub fn new(person: &Person, index: usize, room_xy_m: [f64; 2], seed: u64) -> Self {
        let mut rng = SimRng::new(seed, Stream::Motion, index as u64);
        let timeline = match &person.motion {
            Motion::Walk {
                waypoints_m,
                speed_mps,
                closed,
            } => Some(Timeline::from_points(waypoints_m, *speed_mps, 0.4, *closed)),
            Motion::Wander {
                speed_mps,
                pause_s,
                margin_m,
            } => {
                let mut pts = Vec::with_capacity(WANDER_WAYPOINTS);
                let mut last = [room_xy_m[0] / 2.0, room_xy_m[1] / 2.0];
                for _ in 0..WANDER_WAYPOINTS {
                    // prefer legs of at least 1 m so people actually walk
                    let mut p = last;
                    for _ in 0..8 {
                        p = [
                            rng.range(*margin_m, room_xy_m[0] - margin_m),
                            rng.range(*margin_m, room_xy_m[1] - margin_m),
                        ];
                        if ((p[0] - last[0]).powi(2) + (p[1] - last[1]).powi(2)).sqrt() > 1.0 {
                            break;
                        }
                    }
                    pts.push(p);
                    last = p;
                }
                Some(Timeline::from_points(
                    &pts,
                    *speed_mps,
                    pause_s.max(0.3),
                    true,
                ))
            }
            _ => None,
        };
        MotionPlan {
            motion: person.motion.clone(),
            timeline,
            height_m: person.height_m,
            breathing_phase: rng.range(0.0, TAU),
        }
    }

    /// Joint angles and placement at time `t_s`.
    pub fn params_at(&self, t_s: f64) -> PoseParams {
        let k = self.height_m / 1.75;
        let (rate_hz, amp_m) = match &self.motion {
            Motion::Stand {
                breathing_hz,
                breathing_amplitude_m,
                ..
            } => (*breathing_hz, *breathing_amplitude_m),
            _ => (0.25, 0.004),
        };
        let mut p = PoseParams {
            breathing_m: amp_m * (TAU * rate_hz * t_s + self.breathing_phase).sin(),
            elbow_rad: [0.15; 2],
            shoulder_abduct_rad: [0.08; 2],
            ..Default::default()
        };
        let place = |p: &mut PoseParams, xy: &[f64; 2], facing_deg: f64| {
            p.root_xy_m = *xy;
            p.yaw_rad = facing_deg.to_radians();
        };
        match &self.motion {
            Motion::Stand {
                position_m,
                facing_deg,
                ..
            } => place(&mut p, position_m, *facing_deg),
            Motion::Walk { .. } | Motion::Wander { .. } => {
                if let Some(tl) = &self.timeline {
                    let (xy, yaw, walked) = tl.at(t_s);
                    p.root_xy_m = xy;
                    p.yaw_rad = yaw;
                    if let Some(d) = walked {
                        gait(&mut p, d / (STRIDE_M * k), tl.speed_mps);
                    }
                }
            }
            Motion::Turn {
                position_m,
                period_s,
            } => {
                p.root_xy_m = *position_m;
                p.yaw_rad = TAU * t_s / period_s;
            }
            Motion::Wave {
                position_m,
                facing_deg,
                period_s,
            } => {
                place(&mut p, position_m, *facing_deg);
                // raise (1 s), wave (4 periods), lower (1 s), rest (1 s)
                let cycle = 3.0 + 4.0 * period_s;
                let c = t_s.rem_euclid(cycle);
                let raise = if c < 1.0 {
                    smoothstep(c)
                } else if c < 1.0 + 4.0 * period_s {
                    1.0
                } else {
                    1.0 - smoothstep(c - 1.0 - 4.0 * period_s)
                };
                let wave = (TAU * t_s / period_s).sin();
                p.shoulder_abduct_rad[0] = 0.08 + raise * (2.2 + 0.35 * wave);
                p.elbow_rad[0] = 0.15 + raise * (0.5 + 0.3 * wave);
            }
            Motion::Squat {
                position_m,
                facing_deg,
                period_s,
            } => {
                place(&mut p, position_m, *facing_deg);
                let th = 1.1 * (1.0 - (TAU * t_s / period_s).cos()) / 2.0;
                p.hip_pitch_rad = [th; 2];
                p.knee_rad = [2.0 * th; 2];
                p.torso_pitch_rad = 0.6 * th;
                p.shoulder_pitch_rad = [1.2 * th; 2];
            }
            Motion::Sit {
                position_m,
                facing_deg,
                period_s,
            } => {
                place(&mut p, position_m, *facing_deg);
                // stand 30 %, sit down 20 %, seated 30 %, stand up 20 %
                let c = (t_s / period_s).rem_euclid(1.0);
                let (s, moving) = if c < 0.3 {
                    (0.0, 0.0)
                } else if c < 0.5 {
                    let u = (c - 0.3) / 0.2;
                    (smoothstep(u), (u * PI).sin())
                } else if c < 0.8 {
                    (1.0, 0.0)
                } else {
                    let u = (c - 0.8) / 0.2;
                    (1.0 - smoothstep(u), (u * PI).sin())
                };
                p.hip_pitch_rad = [1.5 * s; 2];
                p.knee_rad = [1.5 * s; 2];
                p.torso_pitch_rad = 0.1 * s + 0.45 * moving;
                p.elbow_rad = [0.15 + 0.6 * s; 2];
                p.shoulder_pitch_rad = [0.3 * s; 2];
            }
            Motion::Fall {
                position_m,
                facing_deg,
                at_s,
                duration_s,
            } => {
                place(&mut p, position_m, *facing_deg);
                let u = ((t_s - at_s) / duration_s).clamp(0.0, 1.0);
                let f = u * u; // accelerating, like a fall
                p.body_tilt_rad = FRAC_PI_2 * f;
                // arms reach out ahead and end up stretched beyond the head
                p.shoulder_pitch_rad = [2.95 * smoothstep(u * 2.0); 2];
                p.knee_rad = [0.3 * (u * PI).sin(); 2];
                p.hip_pitch_rad = [0.15 * (u * PI).sin(); 2];
            }
        }
        p
    }
}

/// Walking gait: `cycles` strides walked so far.
fn gait(p: &mut PoseParams, cycles: f64, speed_mps: f64) {
    let phi = TAU * cycles;
    let amp = (speed_mps / 1.2).clamp(0.3, 1.3);
    let (s, c) = phi.sin_cos();
    p.hip_pitch_rad = [0.4 * amp * s, -0.4 * amp * s];
    // the knee bends while the leg swings forward
    p.knee_rad = [
        0.1 + 0.6 * amp * (phi + 0.9).sin().max(0.0),
        0.1 + 0.6 * amp * (phi + 0.9 + PI).sin().max(0.0),
    ];
    p.shoulder_pitch_rad = [-0.35 * amp * s, 0.35 * amp * s];
    p.elbow_rad = [
        0.25 + 0.15 * amp * c.max(0.0),
        0.25 + 0.15 * amp * (-c).max(0.0),
    ];
    p.torso_pitch_rad = 0.05 * amp;
}

/// Pushes people apart so bodies never overlap (a pure function of their positions), and keeps
/// them inside the room.
pub(crate) fn separate(params: &mut [PoseParams], heights_m: &[f64], room_xy_m: [f64; 2]) {
    let n = params.len();
    for _ in 0..3 {
        for i in 0..n {
            for j in (i + 1)..n {
                let min_d = 0.32 * (heights_m[i] + heights_m[j]) / 1.75;
                let [xi, yi] = params[i].root_xy_m;
                let [xj, yj] = params[j].root_xy_m;
                let (dx, dy) = (xj - xi, yj - yi);
                let d = (dx * dx + dy * dy).sqrt();
                if d < min_d {
                    let (ux, uy) = if d > 1e-9 {
                        (dx / d, dy / d)
                    } else {
                        (1.0, 0.0)
                    };
                    let push = (min_d - d) / 2.0;
                    params[i].root_xy_m = [xi - ux * push, yi - uy * push];
                    params[j].root_xy_m = [xj + ux * push, yj + uy * push];
                }
            }
        }
    }
    for p in params.iter_mut() {
        p.root_xy_m[0] = p.root_xy_m[0].clamp(0.2, room_xy_m[0] - 0.2);
        p.root_xy_m[1] = p.root_xy_m[1].clamp(0.2, room_xy_m[1] - 0.2);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(motion: Motion) -> Person {
        Person {
            height_m: 1.75,
            reflectivity: 1.0,
            motion,
            body_seed: None,
        }
    }

    #[test]
    fn walk_moves_at_the_set_speed_and_is_continuous() {
        let plan = MotionPlan::new(
            &person(Motion::Walk {
                waypoints_m: vec![[1.0, 1.0], [4.0, 1.0]],
                speed_mps: 1.5,
                closed: false,
            }),
            0,
            [6.0, 5.0],
            7,
        );
        let a = plan.params_at(0.5).root_xy_m;
        let b = plan.params_at(1.5).root_xy_m;
        assert!((b[0] - a[0] - 1.5).abs() < 1e-9);
        let mut prev = plan.params_at(0.0).root_xy_m;
        for i in 1..2000 {
            let p = plan.params_at(i as f64 * 0.01).root_xy_m;
            let step = ((p[0] - prev[0]).powi(2) + (p[1] - prev[1]).powi(2)).sqrt();
            assert!(step < 0.02, "jump at {i}");
            prev = p;
        }
    }

    #[test]
    fn separation_keeps_people_apart() {
        let mut ps = vec![PoseParams::default(); 2];
        ps[0].root_xy_m = [2.0, 2.0];
        ps[1].root_xy_m = [2.1, 2.0];
        separate(&mut ps, &[1.75, 1.75], [6.0, 5.0]);
        let d = (ps[1].root_xy_m[0] - ps[0].root_xy_m[0]).abs();
        assert!(d >= 0.63, "{d}");
    }
}
