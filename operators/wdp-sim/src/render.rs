//! Pictures: the rendered RGB camera frame (the teacher path's input) and an overlay of the ground
//! truth for people to look at, with a small PNG writer.

use crate::body::{BodyPose, COCO_SKELETON};
use crate::camera::{capsule_normal, PinholeCamera};
use crate::error::SimError;
use crate::geom::Vec3;
use crate::truth::{Boxes, DepthHits, GroundTruth};
use ndarray::Array3;
use std::path::Path;

/// An 8-bit RGB image, row-major `[height, width, 3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Pixels, `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A uniform image.
    pub fn filled(width: usize, height: usize, rgb: [u8; 3]) -> Self {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&rgb);
        }
        RgbImage {
            width,
            height,
            data,
        }
    }

    /// Copies an `[H, W, 3]` array.
    pub fn from_array(a: &Array3<u8>) -> Self {
        let (h, w, _) = a.dim();
        RgbImage {
            width: w,
            height: h,
            data: a.iter().copied().collect(),
        }
    }

    fn put(&mut self, x: i64, y: i64, rgb: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        for (k, c) in rgb.iter().enumerate() {
            let old = self.data[i + k] as f32;
            self.data[i + k] = (old + (*c as f32 - old) * alpha).round() as u8;
        }
    }

    fn line(&mut self, a: (f64, f64), b: (f64, f64), rgb: [u8; 3]) {
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                self.put(x as i64 + dx, y as i64 + dy, rgb, 1.0);
            }
        }
    }

    fn dot(&mut self, c: (f64, f64), radius: i64, rgb: [u8; 3], filled: bool) {
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let r2 = dx * dx + dy * dy;
                if r2 <= radius * radius && (filled || r2 >= (radius - 1) * (radius - 1)) {
                    self.put(c.0 as i64 + dx, c.1 as i64 + dy, rgb, 1.0);
                }
            }
        }
    }

    /// Encodes the image as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, SimError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header()?;
            w.write_image_data(&self.data)?;
        }
        Ok(out)
    }

    /// Writes the image as a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<(), SimError> {
        let bytes = self.to_png()?;
        std::fs::write(path, bytes)
            .map_err(|e| SimError::io(format!("writing {}", path.display()), e))
    }
}

/// Display colour of a DensePose part id (1-24); 0 is black.
pub fn part_color(part: u8) -> [u8; 3] {
    if part == 0 {
        return [0, 0, 0];
    }
    // hues spread by the golden angle so neighbouring ids differ
    let h = (part as f64 * 0.618_033_988_75).fract();
    hsv(h, 0.65, 0.95)
}

fn hsv(h: f64, s: f64, v: f64) -> [u8; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    let (r, g, b) = match i as i64 % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

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

/// Draws the ground truth over its RGB frame (or over a dark canvas when there is none): part
/// colours blended at half opacity, COCO skeleton lines, keypoints (filled = visible, ring =
/// hidden) and boxes.
pub fn render_overlay(gt: &GroundTruth) -> RgbImage {
    let [w, h] = gt.image_wh;
    let mut img = match &gt.rgb {
        Some(a) => RgbImage::from_array(a),
        None => RgbImage::filled(w, h, [40, 40, 48]),
    };
    let (n, mh, mw) = gt.part_index.dim();
    for y in 0..h {
        for x in 0..w {
            let (my, mx) = (y * mh / h.max(1), x * mw / w.max(1));
            for p in 0..n {
                let part = gt.part_index[[p, my, mx]];
                if part != 0 {
                    img.put(x as i64, y as i64, part_color(part), 0.5);
                }
            }
        }
    }
    let person_colors = [
        [255, 255, 255],
        [255, 220, 0],
        [0, 255, 255],
        [255, 80, 255],
        [120, 255, 80],
    ];
    for (pi, person) in gt.people.iter().enumerate() {
        let col = person_colors[pi % person_colors.len()];
        let kp = &person.keypoints;
        for &(a, b) in COCO_SKELETON.iter() {
            if kp[a][2] > 0.0 && kp[b][2] > 0.0 {
                img.line(
                    (kp[a][0] as f64, kp[a][1] as f64),
                    (kp[b][0] as f64, kp[b][1] as f64),
                    col,
                );
            }
        }
        for k in kp.iter() {
            if k[2] > 0.0 {
                img.dot((k[0] as f64, k[1] as f64), 2, [255, 40, 40], k[2] >= 2.0);
            }
        }
        let [x0, y0, x1, y1] = person.box_xyxy.map(|v| v as f64);
        if x1 > x0 && y1 > y0 {
            img.line((x0, y0), (x1, y0), col);
            img.line((x1, y0), (x1, y1 - 1.0), col);
            img.line((x1, y1 - 1.0), (x0, y1 - 1.0), col);
            img.line((x0, y1 - 1.0), (x0, y0), col);
        }
    }
    img
}
