//! Articulated body: COCO-17 skeleton, the 24 DensePose parts as capsules, and forward kinematics
//! from a few joint angles.
//!
//! # DensePose part numbering (1-24, 0 is background)
//!
//! | id | part | id | part |
//! | --- | --- | --- | --- |
//! | 1 | torso back | 13 | lower leg right front |
//! | 2 | torso front | 14 | lower leg left front |
//! | 3 | right hand | 15 | upper arm left inside |
//! | 4 | left hand | 16 | upper arm right inside |
//! | 5 | left foot | 17 | upper arm left outside |
//! | 6 | right foot | 18 | upper arm right outside |
//! | 7 | upper leg right back | 19 | lower arm left inside |
//! | 8 | upper leg left back | 20 | lower arm right inside |
//! | 9 | upper leg right front | 21 | lower arm left outside |
//! | 10 | upper leg left front | 22 | lower arm right outside |
//! | 11 | lower leg right back | 23 | head right |
//! | 12 | lower leg left back | 24 | head left |
//!
//! Each limb capsule carries two part ids split by the side its surface faces: front/back by the
//! body's forward direction, inside/outside (arms) by whether the surface faces the body's midline,
//! right/left (head) by the body's lateral axis.

use crate::geom::Vec3;

// The names and the skeleton are the pose contract's (wdp-pose): one definition everywhere.
pub use wdp_pose::{COCO_KEYPOINTS, COCO_SKELETON, PART_NAMES};

/// Number of joints in [`BodyPose::joints`]: the 17 COCO keypoints then neck, pelvis, head top,
/// left/right hand tips and left/right toes.
pub const N_JOINTS: usize = 24;
const NECK: usize = 17;
const PELVIS: usize = 18;
const HEAD_TOP: usize = 19;
const L_HAND: usize = 20;
const R_HAND: usize = 21;
const L_TOE: usize = 22;
const R_TOE: usize = 23;

/// Template height the body dimensions below are given for.
const TEMPLATE_HEIGHT_M: f64 = 1.75;
const THIGH_M: f64 = 0.43;
const SHIN_M: f64 = 0.42;
const ANKLE_Z_M: f64 = 0.08;
const HIP_HALF_WIDTH_M: f64 = 0.09;
const SPINE_M: f64 = 0.52;
const SHOULDER_HALF_WIDTH_M: f64 = 0.19;
const UPPER_ARM_M: f64 = 0.29;
const FOREARM_M: f64 = 0.26;

/// Joint angles and root placement produced by a motion at one instant. Angles in radians.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoseParams {
    /// Floor position of the pelvis projection, metres.
    pub root_xy_m: [f64; 2],
    /// Facing direction, radians from +x.
    pub yaw_rad: f64,
    /// Forward lean of the torso.
    pub torso_pitch_rad: f64,
    /// Whole-body forward rotation about the feet (falling), 0 upright, pi/2 lying.
    pub body_tilt_rad: f64,
    /// Hip flexion (thigh forward) `[right, left]`.
    pub hip_pitch_rad: [f64; 2],
    /// Knee flexion `[right, left]`.
    pub knee_rad: [f64; 2],
    /// Shoulder flexion (arm forward) `[right, left]`.
    pub shoulder_pitch_rad: [f64; 2],
    /// Shoulder abduction (arm sideways up) `[right, left]`.
    pub shoulder_abduct_rad: [f64; 2],
    /// Elbow flexion `[right, left]`.
    pub elbow_rad: [f64; 2],
    /// Chest expansion from breathing, metres.
    pub breathing_m: f64,
}

/// How a capsule's surface is split between two DensePose parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PartSplit {
    /// One part for the whole capsule.
    Single(u8),
    /// Front/back by the body's forward direction.
    FrontBack {
        /// Part id of the front half.
        front: u8,
        /// Part id of the back half.
        back: u8,
    },
    /// Inside (facing the midline) / outside; `side` is +1 for the left limb, -1 for the right.
    InsideOutside {
        /// Part id of the inside half.
        inside: u8,
        /// Part id of the outside half.
        outside: u8,
        /// +1 left, -1 right.
        side: f64,
    },
    /// Right/left by the body's lateral axis.
    RightLeft {
        /// Part id of the right half.
        right: u8,
        /// Part id of the left half.
        left: u8,
    },
}

/// A capsule (segment with radius) of the body surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capsule {
    /// Start of the axis, metres.
    pub a: Vec3,
    /// End of the axis, metres.
    pub b: Vec3,
    /// Radius, metres.
    pub radius_m: f64,
    /// Part labelling.
    pub split: PartSplit,
    /// Radar reflectivity relative to the torso.
    pub reflectivity: f64,
    /// Reference direction perpendicular to the axis (v = 0 of the UV chart), unit.
    pub ref_dir: Vec3,
}

impl Capsule {
    /// Part id and `(u, v)` in [0, 1] of the surface point with outward normal `normal` closest
    /// to axis parameter `s` in [0, 1]. `forward`/`left` are the body's axes.
    pub fn part_uv(&self, s: f64, normal: Vec3, forward: Vec3, left: Vec3) -> (u8, f32, f32) {
        let axis = (self.b - self.a).normalized();
        let e1 = self.ref_dir;
        let e2 = axis.cross(e1);
        let theta = normal.dot(e2).atan2(normal.dot(e1)); // (-pi, pi]
        let turn = (theta / std::f64::consts::TAU).rem_euclid(1.0);
        let (part, v) = match self.split {
            PartSplit::Single(p) => (p, turn),
            PartSplit::FrontBack { front, back } => {
                let p = if normal.dot(forward) >= 0.0 {
                    front
                } else {
                    back
                };
                (p, (turn * 2.0).fract())
            }
            PartSplit::InsideOutside {
                inside,
                outside,
                side,
            } => {
                let p = if normal.dot(left) * side <= 0.0 {
                    inside
                } else {
                    outside
                };
                (p, (turn * 2.0).fract())
            }
            PartSplit::RightLeft { right, left: l } => {
                let p = if normal.dot(left) < 0.0 { right } else { l };
                (p, (turn * 2.0).fract())
            }
        };
        (part, s.clamp(0.0, 1.0) as f32, v as f32)
    }
}

/// A posed body in room coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyPose {
    /// Joint positions, metres: COCO-17 first, then internal joints (see [`N_JOINTS`]).
    pub joints: [Vec3; N_JOINTS],
    /// Body forward direction (unit, horizontal unless falling).
    pub forward: Vec3,
    /// Body left direction (unit).
    pub left: Vec3,
    /// The surface capsules.
    pub capsules: Vec<Capsule>,
}

impl BodyPose {
    /// The 17 COCO keypoints.
    pub fn keypoints(&self) -> &[Vec3] {
        &self.joints[..17]
    }

    /// The pelvis (midway between the hips), metres in the room frame.
    pub fn pelvis(&self) -> Vec3 {
        self.joints[PELVIS]
    }
}

/// Forward kinematics: joint angles → joints and capsules in room coordinates, for a body of
/// height `height_m`. The lower foot is put on the floor.
pub fn pose_body(p: &PoseParams, height_m: f64) -> BodyPose {
    let k = height_m / TEMPLATE_HEIGHT_M;
    // body-local frame: x forward, y left, z up; origin on the floor under the pelvis
    let mut j = [Vec3::ZERO; N_JOINTS];
    let leg = |side: usize| {
        let hp = p.hip_pitch_rad[side];
        let kn = p.knee_rad[side];
        let thigh = Vec3::new(hp.sin(), 0.0, -hp.cos()) * (THIGH_M * k);
        let shin_a = hp - kn;
        let shin = Vec3::new(shin_a.sin(), 0.0, -shin_a.cos()) * (SHIN_M * k);
        // feet stay flat (heel lift while walking is not modelled)
        let foot = Vec3::new(0.15, 0.0, -0.05) * k;
        (thigh, shin, foot)
    };
    let legs = [leg(0), leg(1)];
    // pelvis height: the lower ankle sits at ankle height
    let drop = legs
        .iter()
        .map(|(t, s, _)| -(t.z + s.z))
        .fold(0.0f64, f64::max);
    let pelvis = Vec3::new(0.0, 0.0, drop + ANKLE_Z_M * k);
    j[PELVIS] = pelvis;
    for (side, (thigh, shin, foot)) in legs.iter().enumerate() {
        let y = if side == 0 { -1.0 } else { 1.0 } * HIP_HALF_WIDTH_M * k;
        let hip = pelvis + Vec3::new(0.0, y, 0.0);
        let knee = hip + *thigh;
        let ankle = knee + *shin;
        let toe = ankle + *foot;
        // COCO: left_* are even offsets 11/13/15, right_* 12/14/16
        let (h, kn, an, to) = if side == 0 {
            (12, 14, 16, R_TOE)
        } else {
            (11, 13, 15, L_TOE)
        };
        j[h] = hip;
        j[kn] = knee;
        j[an] = ankle;
        j[to] = toe;
    }
    // torso frame
    let tp = p.torso_pitch_rad;
    let up = Vec3::new(tp.sin(), 0.0, tp.cos());
    let fwd = Vec3::new(tp.cos(), 0.0, -tp.sin());
    let lat = Vec3::new(0.0, 1.0, 0.0);
    let neck = pelvis + up * (SPINE_M * k) + fwd * p.breathing_m;
    j[NECK] = neck;
    let head = |f: f64, l: f64, u: f64| neck + (fwd * f + lat * l + up * u) * k;
    j[0] = head(0.10, 0.0, 0.13);
    j[1] = head(0.085, 0.035, 0.17);
    j[2] = head(0.085, -0.035, 0.17);
    j[3] = head(0.0, 0.075, 0.145);
    j[4] = head(0.0, -0.075, 0.145);
    j[HEAD_TOP] = head(0.0, 0.0, 0.27);
    for side in 0..2 {
        let s = if side == 0 { -1.0 } else { 1.0 };
        let shoulder = neck + lat * (s * SHOULDER_HALF_WIDTH_M * k) - up * (0.05 * k);
        let sp = p.shoulder_pitch_rad[side];
        let ab = p.shoulder_abduct_rad[side];
        // arm direction in the torso frame, from hanging down
        let d = (fwd * (sp.sin() * ab.cos()) + lat * (s * ab.sin()) - up * (sp.cos() * ab.cos()))
            .normalized();
        let elbow = shoulder + d * (UPPER_ARM_M * k);
        // forearm bends towards the front (or up when the arm points forward)
        let mut bend = fwd - d * fwd.dot(d);
        if bend.norm() < 1e-6 {
            bend = up - d * up.dot(d);
        }
        let bend = bend.normalized();
        let e = p.elbow_rad[side];
        let d2 = (d * e.cos() + bend * e.sin()).normalized();
        let wrist = elbow + d2 * (FOREARM_M * k);
        let tip = wrist + d2 * (0.09 * k);
        let (sh, el, wr, tp_) = if side == 0 {
            (6, 8, 10, R_HAND)
        } else {
            (5, 7, 9, L_HAND)
        };
        j[sh] = shoulder;
        j[el] = elbow;
        j[wr] = wrist;
        j[tp_] = tip;
    }
    // falling: rotate the whole body forward about the toes (lying, the torso axis ends up a
    // few cm above one torso radius)
    let mut forward_local = fwd;
    let mut left_local = lat;
    if p.body_tilt_rad != 0.0 {
        let pivot = Vec3::new(0.15 * k, 0.0, 0.0);
        let (s, c) = p.body_tilt_rad.sin_cos();
        let rot = |v: Vec3| Vec3::new(v.x * c + v.z * s, v.y, -v.x * s + v.z * c);
        for q in j.iter_mut() {
            *q = rot(*q - pivot) + pivot;
        }
        forward_local = rot(forward_local);
        left_local = rot(left_local);
    }
    // to room frame
    let root = Vec3::new(p.root_xy_m[0], p.root_xy_m[1], 0.0);
    for q in j.iter_mut() {
        *q = q.rotate_z(p.yaw_rad) + root;
    }
    let forward = forward_local.rotate_z(p.yaw_rad);
    let left = left_local.rotate_z(p.yaw_rad);
    let capsules = build_capsules(&j, forward, left, k, p.breathing_m);
    BodyPose {
        joints: j,
        forward,
        left,
        capsules,
    }
}

fn build_capsules(
    j: &[Vec3; N_JOINTS],
    forward: Vec3,
    left: Vec3,
    k: f64,
    breath_m: f64,
) -> Vec<Capsule> {
    use PartSplit::*;
    let torso = FrontBack { front: 2, back: 1 };
    let mid_shoulder = (j[5] + j[6]) * 0.5;
    let head_base = j[NECK] + (j[HEAD_TOP] - j[NECK]) * 0.3;
    let head_r = 0.1 * k;
    let head_end = j[HEAD_TOP] + (j[NECK] - j[HEAD_TOP]).normalized() * head_r;
    let specs: [(Vec3, Vec3, f64, PartSplit, f64); 16] = [
        (j[PELVIS], mid_shoulder, 0.12 * k + breath_m, torso, 1.0),
        (j[11], j[5], 0.09 * k + breath_m, torso, 1.0),
        (j[12], j[6], 0.09 * k + breath_m, torso, 1.0),
        (
            head_base,
            head_end,
            head_r,
            RightLeft {
                right: 23,
                left: 24,
            },
            0.8,
        ),
        (
            j[6],
            j[8],
            0.05 * k,
            InsideOutside {
                inside: 16,
                outside: 18,
                side: -1.0,
            },
            0.6,
        ),
        (
            j[5],
            j[7],
            0.05 * k,
            InsideOutside {
                inside: 15,
                outside: 17,
                side: 1.0,
            },
            0.6,
        ),
        (
            j[8],
            j[10],
            0.04 * k,
            InsideOutside {
                inside: 20,
                outside: 22,
                side: -1.0,
            },
            0.6,
        ),
        (
            j[7],
            j[9],
            0.04 * k,
            InsideOutside {
                inside: 19,
                outside: 21,
                side: 1.0,
            },
            0.6,
        ),
        (j[10], j[R_HAND], 0.045 * k, Single(3), 0.5),
        (j[9], j[L_HAND], 0.045 * k, Single(4), 0.5),
        (
            j[12],
            j[14],
            0.075 * k,
            FrontBack { front: 9, back: 7 },
            0.8,
        ),
        (
            j[11],
            j[13],
            0.075 * k,
            FrontBack { front: 10, back: 8 },
            0.8,
        ),
        (
            j[14],
            j[16],
            0.055 * k,
            FrontBack {
                front: 13,
                back: 11,
            },
            0.7,
        ),
        (
            j[13],
            j[15],
            0.055 * k,
            FrontBack {
                front: 14,
                back: 12,
            },
            0.7,
        ),
        (j[16], j[R_TOE], 0.045 * k, Single(6), 0.5),
        (j[15], j[L_TOE], 0.045 * k, Single(5), 0.5),
    ];
    specs
        .iter()
        .map(|&(a, b, radius_m, split, reflectivity)| {
            let axis = (b - a).normalized();
            let mut r = forward - axis * forward.dot(axis);
            if r.norm() < 1e-6 {
                r = left - axis * left.dot(axis);
            }
            Capsule {
                a,
                b,
                radius_m,
                split,
                reflectivity,
                ref_dir: r.normalized(),
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn standing_body_has_plausible_proportions() {
        let b = pose_body(&PoseParams::default(), 1.75);
        let top = b.joints[HEAD_TOP].z;
        assert!((top - 1.75).abs() < 0.08, "head top at {top}");
        let ankle = b.joints[15].z;
        assert!((ankle - ANKLE_Z_M).abs() < 1e-9);
        // left is +y when facing +x
        assert!(b.joints[5].y > b.joints[6].y);
        assert!(b.joints[0].x > b.joints[3].x, "nose in front of the ears");
        let tall = pose_body(&PoseParams::default(), 2.0);
        assert!(tall.joints[HEAD_TOP].z > top);
        assert_eq!(b.capsules.len(), 16);
    }

    #[test]
    fn sitting_lowers_the_pelvis_to_chair_height() {
        let p = PoseParams {
            hip_pitch_rad: [1.5; 2],
            knee_rad: [1.5; 2],
            ..Default::default()
        };
        let b = pose_body(&p, 1.75);
        assert!((0.4..0.6).contains(&b.joints[PELVIS].z));
    }
}
