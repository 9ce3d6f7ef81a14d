//! Camera ground truth: keypoints with visibility, boxes, DensePose part masks and UV maps, with a
//! z-buffer so nearer people (and furniture) hide farther ones.

use crate::body::BodyPose;
use crate::camera::{capsule_normal, ray_box, ray_capsule, PinholeCamera};
use crate::geom::Vec3;
use ndarray::{Array3, Array4};

/// Ground truth of one person in one camera frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonTruth {
    /// Index of the person in the scene (stable over the run).
    pub track_id: u32,
    /// COCO-17 keypoints `[x_px, y_px, visibility]` in the camera image: visibility 2 = in view,
    /// 1 = in the frame but hidden by another person or furniture, 0 = out of frame (x = y = 0).
    pub keypoints: [[f32; 3]; 17],
    /// Amodal box `[x0, y0, x1, y1]` in pixels, clipped to the image; all zero when out of view.
    pub box_xyxy: [f32; 4],
    /// Pelvis (mid-hip) position `[x, y, z]` in metres in the room frame.
    pub position_m: [f32; 3],
}

/// Everything the camera sees at one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// Frame time, ns on the simulator clock (the same clock as the CSI timestamps).
    pub t_ns: i64,
    /// Camera frame number from 0.
    pub frame_index: u64,
    /// One entry per person, in scene order.
    pub people: Vec<PersonTruth>,
    /// DensePose part index per person, `[P, h, w]` at the ground-truth resolution:
    /// 0 background, 1-24 parts (see [`crate::body`]); only pixels where the person is visible.
    pub part_index: Array3<u8>,
    /// UV per person, `[P, 2, h, w]` (u along the part, v around it, both in [0, 1]); 0 where
    /// `part_index` is 0.
    pub uv: Array4<f32>,
    /// Rendered RGB frame `[H, W, 3]` at the camera resolution, when enabled.
    pub rgb: Option<Array3<u8>>,
    /// Camera image `[width, height]` in pixels: the frame of `keypoints` and `box_xyxy`.
    pub image_wh: [usize; 2],
}

/// Occluding furniture boxes `(lo, hi)`.
pub(crate) type Boxes = [(Vec3, Vec3)];

/// Nearest hit per pixel: (depth, person, capsule), person = usize::MAX for furniture.
pub(crate) struct DepthHits {
    pub width: usize,
    pub height: usize,
    pub hits: Vec<(f64, usize, usize)>,
}

/// Unit ray direction of every pixel centre, row-major (the camera is static: computed once).
pub(crate) fn pixel_rays(cam: &PinholeCamera) -> Vec<Vec3> {
    let w = cam.width;
    (0..w * cam.height)
        .map(|i| cam.ray((i % w) as f64 + 0.5, (i / w) as f64 + 0.5))
        .collect()
}

/// Pixel bounds `(x0, y0, x1, y1)` of a box, the whole image if it reaches behind the camera.
fn box_bounds(cam: &PinholeCamera, lo: Vec3, hi: Vec3) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for k in 0..8 {
        let c = Vec3::new(
            if k & 1 == 0 { lo.x } else { hi.x },
            if k & 2 == 0 { lo.y } else { hi.y },
            if k & 4 == 0 { lo.z } else { hi.z },
        );
        match cam.project(c) {
            Some((u, v, z)) if z > 0.05 => {
                x0 = x0.min(u);
                x1 = x1.max(u);
                y0 = y0.min(v);
                y1 = y1.max(v);
            }
            _ => return Some((0, 0, cam.width, cam.height)),
        }
    }
    let (w, h) = (cam.width as f64, cam.height as f64);
    if x1 < 0.0 || y1 < 0.0 || x0 >= w || y0 >= h {
        return None;
    }
    let clamp = |v: f64, hi: usize| (v.max(0.0) as usize).min(hi);
    Some((
        clamp(x0.floor() - 1.0, cam.width),
        clamp(y0.floor() - 1.0, cam.height),
        clamp(x1.ceil() + 2.0, cam.width),
        clamp(y1.ceil() + 2.0, cam.height),
    ))
}

/// Casts one ray per pixel (`rays` from [`pixel_rays`]) against all capsules and furniture boxes,
/// each only inside its screen bounds.
pub(crate) fn cast(
    cam: &PinholeCamera,
    rays: &[Vec3],
    bodies: &[BodyPose],
    boxes: &Boxes,
) -> DepthHits {
    let (w, h) = (cam.width, cam.height);
    let mut hits = vec![(f64::INFINITY, usize::MAX, usize::MAX); w * h];
    for (lo, hi) in boxes {
        let Some((x0, y0, x1, y1)) = box_bounds(cam, *lo, *hi) else {
            continue;
        };
        for y in y0..y1 {
            for x in x0..x1 {
                let i = y * w + x;
                if let Some(t) = ray_box(cam.position_m, rays[i], *lo, *hi) {
                    if t < hits[i].0 {
                        hits[i] = (t, usize::MAX, usize::MAX);
                    }
                }
            }
        }
    }
    for (pi, body) in bodies.iter().enumerate() {
        for (ci, c) in body.capsules.iter().enumerate() {
            let Some(fp) = cam.capsule_footprint(c) else {
                continue;
            };
            let (x0, y0, x1, y1) = fp.bounds;
            for y in y0..y1 {
                for x in x0..x1 {
                    if !fp.may_cover(x as f64 + 0.5, y as f64 + 0.5) {
                        continue;
                    }
                    let i = y * w + x;
                    if let Some(t) = ray_capsule(cam.position_m, rays[i], c) {
                        if t < hits[i].0 {
                            hits[i] = (t, pi, ci);
                        }
                    }
                }
            }
        }
    }
    DepthHits {
        width: w,
        height: h,
        hits,
    }
}

/// Builds the ground truth of one frame (without the RGB image) from the depth hits of `gt_cam`.
pub(crate) fn ground_truth(
    cam: &PinholeCamera,
    gt_cam: &PinholeCamera,
    bodies: &[BodyPose],
    boxes: &Boxes,
    depth: &DepthHits,
    t_ns: i64,
    frame_index: u64,
) -> GroundTruth {
    let n = bodies.len();
    let people = bodies
        .iter()
        .enumerate()
        .map(|(pi, b)| person_truth(cam, bodies, boxes, pi, b))
        .collect();
    let (w, h) = (depth.width, depth.height);
    let mut part_index = Array3::<u8>::zeros((n, h, w));
    let mut uv = Array4::<f32>::zeros((n, 2, h, w));
    for (i, &(t, pi, ci)) in depth.hits.iter().enumerate() {
        if pi == usize::MAX || !t.is_finite() {
            continue;
        }
        let (x, y) = (i % w, i / w);
        let body = &bodies[pi];
        let c = &body.capsules[ci];
        let p = gt_cam.position_m + gt_cam.ray(x as f64 + 0.5, y as f64 + 0.5) * t;
        let (s, normal) = capsule_normal(c, p);
        let (part, u, v) = c.part_uv(s, normal, body.forward, body.left);
        part_index[[pi, y, x]] = part;
        uv[[pi, 0, y, x]] = u;
        uv[[pi, 1, y, x]] = v;
    }
    GroundTruth {
        t_ns,
        frame_index,
        people,
        part_index,
        uv,
        rgb: None,
        image_wh: [cam.width, cam.height],
    }
}

fn person_truth(
    cam: &PinholeCamera,
    bodies: &[BodyPose],
    boxes: &Boxes,
    pi: usize,
    body: &BodyPose,
) -> PersonTruth {
    let mut keypoints = [[0f32; 3]; 17];
    for (k, kp) in body.keypoints().iter().enumerate() {
        let Some((u, v, _)) = cam.project(*kp) else {
            continue;
        };
        if !cam.in_image(u, v) {
            continue;
        }
        let to = *kp - cam.position_m;
        let dist = to.norm();
        let dir = to * (1.0 / dist);
        let hidden_by_person = bodies.iter().enumerate().any(|(oi, other)| {
            oi != pi
                && other
                    .capsules
                    .iter()
                    .any(|c| ray_capsule(cam.position_m, dir, c).is_some_and(|t| t < dist - 0.02))
        });
        let hidden_by_furniture = boxes
            .iter()
            .any(|(lo, hi)| ray_box(cam.position_m, dir, *lo, *hi).is_some_and(|t| t < dist));
        let vis = if hidden_by_person || hidden_by_furniture {
            1.0
        } else {
            2.0
        };
        keypoints[k] = [u as f32, v as f32, vis];
    }
    // amodal box from the projected capsule extents
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in &body.capsules {
        for p in [c.a, c.b] {
            if let Some((u, v, z)) = cam.project(p) {
                let r = cam.fx * c.radius_m / z;
                x0 = x0.min(u - r);
                x1 = x1.max(u + r);
                y0 = y0.min(v - r);
                y1 = y1.max(v + r);
            }
        }
    }
    let (w, h) = (cam.width as f64, cam.height as f64);
    let box_xyxy = if x1 <= 0.0 || y1 <= 0.0 || x0 >= w || y0 >= h || x0 > x1 {
        [0.0; 4]
    } else {
        [
            x0.clamp(0.0, w) as f32,
            y0.clamp(0.0, h) as f32,
            x1.clamp(0.0, w) as f32,
            y1.clamp(0.0, h) as f32,
        ]
    };
    let pelvis = body.pelvis();
    PersonTruth {
        track_id: pi as u32,
        keypoints,
        box_xyxy,
        position_m: [pelvis.x as f32, pelvis.y as f32, pelvis.z as f32],
    }
}
