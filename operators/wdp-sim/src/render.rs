//! Pictures: the rendered RGB camera frame (the teacher path's input) and an overlay of the ground
//! truth for people to look at. The image type, colours and drawing come from [`wdp_pose`].

use crate::body::BodyPose;
use crate::camera::{capsule_normal, PinholeCamera};
use crate::geom::Vec3;
use crate::truth::{Boxes, DepthHits, GroundTruth};
use ndarray::Array3;
use wdp_pose::wdp_tensor::{MetaValue, TensorMeta};
use wdp_pose::{KeypointKind, Person, PoseFrame, Region, RenderOptions};

pub use wdp_pose::image::{part_color, RgbImage};

fn shade(rgb: [f64; 3], k: f64) -> [u8; 3] {
    rgb.map(|c| (c * k).clamp(0.0, 255.0) as u8)
}

/// Renders the RGB frame: shaded floor (tiles), walls and ceiling, furniture boxes, and people as
/// shaded part colours. `room_m` is the room size; `depth` are `cam`'s ray hits along `rays`. With `background` (the same
/// render without people: the camera is static) only people's pixels are shaded.
pub(crate) fn render_rgb(
    cam: &PinholeCamera,
    bodies: &[BodyPose],
    boxes: &Boxes,
    room_m: [f64; 3],
    depth: &DepthHits,
    rays: &[Vec3],
    background: Option<&Array3<u8>>,
) -> Array3<u8> {
    let (w, h) = (cam.width, cam.height);
    let mut img = match background {
        Some(b) => b.clone(),
        None => Array3::<u8>::zeros((h, w, 3)),
    };
    let wall_colors: [[f64; 3]; 6] = [
        [200.0, 190.0, 170.0],
        [185.0, 195.0, 205.0],
        [205.0, 200.0, 185.0],
        [190.0, 185.0, 200.0],
        [150.0, 135.0, 115.0],
        [230.0, 230.0, 225.0],
    ];
    for (i, &(t, pi, ci)) in depth.hits.iter().enumerate() {
        let (x, y) = (i % w, i / w);
        let is_person = t.is_finite() && pi != usize::MAX;
        if background.is_some() && !is_person {
            continue;
        }
        let dir = rays[i];
        let rgb = if is_person {
            let body = &bodies[pi];
            let c = &body.capsules[ci];
            let p = cam.position_m + dir * t;
            let (s, n) = capsule_normal(c, p);
            let (part, _, v) = c.part_uv(s, n, body.forward, body.left);
            let col = part_color(part).map(|c| c as f64);
            let lambert = n.dot(-dir).max(0.0);
            // faint stripes along v make the surface parametrisation visible
            let stripe = if (v * 8.0).fract() < 0.5 { 1.0 } else { 0.93 };
            shade(col, (0.3 + 0.7 * lambert) * stripe)
        } else if t.is_finite() {
            let p = cam.position_m + dir * t;
            let n = boxes
                .iter()
                .find_map(|(lo, hi)| box_normal(p, *lo, *hi))
                .unwrap_or(Vec3::Z);
            shade([140.0, 100.0, 70.0], 0.45 + 0.55 * n.dot(-dir).abs())
        } else {
            room_color(cam.position_m, dir, room_m, &wall_colors)
        };
        img[[y, x, 0]] = rgb[0];
        img[[y, x, 1]] = rgb[1];
        img[[y, x, 2]] = rgb[2];
    }
    img
}

fn box_normal(p: Vec3, lo: Vec3, hi: Vec3) -> Option<Vec3> {
    let eps = 1e-6;
    let pa = p.to_array();
    let (la, ha) = (lo.to_array(), hi.to_array());
    for k in 0..3 {
        let mut n = [0.0; 3];
        if (pa[k] - la[k]).abs() < eps {
            n[k] = -1.0;
            return Some(Vec3::from_array(n));
        }
        if (pa[k] - ha[k]).abs() < eps {
            n[k] = 1.0;
            return Some(Vec3::from_array(n));
        }
    }
    None
}

fn room_color(o: Vec3, d: Vec3, room_m: [f64; 3], colors: &[[f64; 3]; 6]) -> [u8; 3] {
    let oa = o.to_array();
    let da = d.to_array();
    let mut best = (f64::INFINITY, 0usize);
    for k in 0..3 {
        if da[k].abs() < 1e-12 {
            continue;
        }
        let (plane, wall) = if da[k] > 0.0 {
            (room_m[k], 2 * k + 1)
        } else {
            (0.0, 2 * k)
        };
        let t = (plane - oa[k]) / da[k];
        if t > 0.0 && t < best.0 {
            best = (t, wall);
        }
    }
    let (t, wall) = best;
    if !t.is_finite() {
        return [0, 0, 0];
    }
    let p = o + d * t;
    let mut col = colors[wall];
    if wall == 4 {
        // 0.5 m floor tiles
        let tile = ((p.x / 0.5).floor() + (p.y / 0.5).floor()) as i64;
        if tile.rem_euclid(2) == 0 {
            col = col.map(|c| c * 0.85);
        }
    }
    let facing = da[wall / 2].abs();
    shade(col, (0.55 + 0.45 * facing) / (1.0 + 0.04 * t))
}

/// The ground truth of a camera frame as a pose frame: keypoints with visibility (`xyv`), boxes
/// with score 1, track ids, `image_wh`, `frame_index`, and whole-image dense maps
/// (`region: image`). `seq`, `room` and `link` are left for the caller to set.
pub fn truth_frame(gt: &GroundTruth) -> PoseFrame {
    let meta = TensorMeta::default()
        .with_time_ns(gt.t_ns)
        .with("frame_index", MetaValue::Int(gt.frame_index as i64));
    let people = gt
        .people
        .iter()
        .map(|p| {
            let [x0, y0, x1, y1] = p.box_xyxy;
            Person {
                keypoints: p.keypoints,
                bbox: [x0, y0, x1, y1, 1.0],
                track_id: Some(i64::from(p.track_id)),
                // Where the pelvis is over the floor: the truth a floor head is scored against.
                floor_m: Some([p.position_m[0], p.position_m[1]]),
            }
        })
        .collect();
    PoseFrame {
        meta,
        people,
        keypoint_kind: KeypointKind::Visibility,
        image_wh: Some(gt.image_wh),
        region: Region::Image,
        parts: Some(gt.part_index.clone()),
        uv: Some(gt.uv.clone()),
    }
}

/// Draws the ground truth over its RGB frame (or over a dark canvas when there is none): part
/// colours blended at half opacity, COCO skeleton lines, keypoints (filled = visible, ring =
/// hidden), boxes and track ids.
pub fn render_overlay(gt: &GroundTruth) -> RgbImage {
    let background = gt.rgb.as_ref().map(RgbImage::from_array);
    wdp_pose::render_overlay(&truth_frame(gt), background, &RenderOptions::default())
}
