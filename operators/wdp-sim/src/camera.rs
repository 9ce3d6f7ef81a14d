//! Pinhole camera and ray casting against body capsules and furniture boxes.

use crate::body::Capsule;
use crate::geom::Vec3;
use crate::scene::{Camera, Scene};

/// A pinhole camera: room-frame pose and intrinsics for an image of `width x height` pixels.
///
/// Camera axes: x right, y down, z forward (optical axis). A room point `p` projects to
/// `u = fx * x_c / z_c + cx`, `v = fy * y_c / z_c + cy` with `(x_c, y_c, z_c)` its camera
/// coordinates; pixel `(0, 0)`'s top-left corner is `(0, 0)`, its centre `(0.5, 0.5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PinholeCamera {
    /// Optical centre, metres.
    pub position_m: Vec3,
    /// Camera x axis (image right) in the room frame.
    pub right: Vec3,
    /// Camera y axis (image down) in the room frame.
    pub down: Vec3,
    /// Camera z axis (optical axis) in the room frame.
    pub forward: Vec3,
    /// Focal length x, pixels.
    pub fx: f64,
    /// Focal length y, pixels.
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
    /// Image width, pixels.
    pub width: usize,
    /// Image height, pixels.
    pub height: usize,
}

impl PinholeCamera {
    /// The camera of a scene configuration.
    pub fn from_config(c: &Camera) -> Self {
        let pos = Vec3::from_array(c.position_m);
        let forward = (Vec3::from_array(c.look_at_m) - pos).normalized();
        let mut right = forward.cross(Vec3::Z);
        if right.norm() < 1e-9 {
            // looking straight up or down: any horizontal right will do
            right = Vec3::new(1.0, 0.0, 0.0);
        }
        let right = right.normalized();
        let down = forward.cross(right).normalized();
        let [w, h] = c.resolution;
        let (fx, fy, cx, cy) = match c.intrinsics {
            Some(k) => (k.fx, k.fy, k.cx, k.cy),
            None => {
                let f = w as f64 / 2.0 / (c.fov_deg.to_radians() / 2.0).tan();
                (f, f, w as f64 / 2.0, h as f64 / 2.0)
            }
        };
        PinholeCamera {
            position_m: pos,
            right,
            down,
            forward,
            fx,
            fy,
            cx,
            cy,
            width: w,
            height: h,
        }
    }

    /// The scene's camera configuration, or the default one: on the `x = 0` wall at 2.4 m
    /// (below the ceiling), looking at the room centre at 0.9 m, 75° field of view, 320x240,
    /// 20 fps, RGB on.
    pub fn scene_config(scene: &Scene) -> Camera {
        scene.camera.clone().unwrap_or_else(|| {
            let [sx, sy, sz] = scene.room.size_m;
            Camera {
                position_m: [0.15_f64.min(sx / 2.0), sy / 2.0, (sz - 0.2).min(2.4)],
                look_at_m: [sx * 0.6, sy / 2.0, 0.9_f64.min(sz / 2.0)],
                fov_deg: 75.0,
                intrinsics: None,
                resolution: [320, 240],
                gt_resolution: None,
                fps: 20.0,
                rgb: true,
            }
        })
    }

    /// The same camera for an image of `width x height` (intrinsics scaled).
    pub fn scaled(&self, width: usize, height: usize) -> Self {
        let sx = width as f64 / self.width as f64;
        let sy = height as f64 / self.height as f64;
        PinholeCamera {
            fx: self.fx * sx,
            fy: self.fy * sy,
            cx: self.cx * sx,
            cy: self.cy * sy,
            width,
            height,
            ..self.clone()
        }
    }

    /// Camera coordinates `(x_c, y_c, z_c)` of a room point.
    pub fn to_camera(&self, p: Vec3) -> Vec3 {
        let d = p - self.position_m;
        Vec3::new(d.dot(self.right), d.dot(self.down), d.dot(self.forward))
    }

    /// Pixel coordinates `(u, v)` and depth `z_c` of a room point, or `None` behind the camera.
    pub fn project(&self, p: Vec3) -> Option<(f64, f64, f64)> {
        let c = self.to_camera(p);
        if c.z <= 1e-6 {
            return None;
        }
        Some((
            self.fx * c.x / c.z + self.cx,
            self.fy * c.y / c.z + self.cy,
            c.z,
        ))
    }

    /// Pixel coordinates `[u, v]` of a room point `[x, y, z]` metres, `None` behind the camera.
    pub fn pixel(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        self.project(Vec3::from_array(p)).map(|(u, v, _)| [u, v])
    }

    /// Whether pixel coordinates fall inside the image.
    pub fn in_image(&self, u: f64, v: f64) -> bool {
        u >= 0.0 && v >= 0.0 && u < self.width as f64 && v < self.height as f64
    }

    /// Unit ray direction through pixel coordinates `(u, v)`.
    pub fn ray(&self, u: f64, v: f64) -> Vec3 {
        (self.right * ((u - self.cx) / self.fx)
            + self.down * ((v - self.cy) / self.fy)
            + self.forward)
            .normalized()
    }

    /// Conservative screen footprint of a capsule: pixel box `(x0, y0, x1, y1)` (exclusive ends)
    /// and, when both ends are well in front of the camera, the projected axis with a pixel
    /// radius so that pixels farther from it can be skipped.
    pub(crate) fn capsule_footprint(&self, c: &Capsule) -> Option<Footprint> {
        let full = Some(Footprint {
            bounds: (0, 0, self.width, self.height),
            axis: None,
        });
        let (Some(pa), Some(pb)) = (self.project(c.a), self.project(c.b)) else {
            return full;
        };
        let near = pa.2.min(pb.2);
        if near <= c.radius_m * 1.5 {
            return full;
        }
        // a sphere off the optical axis projects to an ellipse stretched by 1 + tan²(angle);
        // the stretch is largest at an end of the projected segment
        let tan2 =
            |u: f64, v: f64| ((u - self.cx) / self.fx).powi(2) + ((v - self.cy) / self.fy).powi(2);
        let stretch = 1.0 + tan2(pa.0, pa.1).max(tan2(pb.0, pb.1));
        let rad = stretch * self.fx.max(self.fy) * c.radius_m / (near - c.radius_m) + 1.5;
        let x0 = pa.0.min(pb.0) - rad;
        let x1 = pa.0.max(pb.0) + rad;
        let y0 = pa.1.min(pb.1) - rad;
        let y1 = pa.1.max(pb.1) + rad;
        if x1 < 0.0 || y1 < 0.0 || x0 >= self.width as f64 || y0 >= self.height as f64 {
            return None;
        }
        let clamp = |v: f64, hi: usize| (v.max(0.0) as usize).min(hi);
        Some(Footprint {
            bounds: (
                clamp(x0.floor(), self.width),
                clamp(y0.floor(), self.height),
                clamp(x1.ceil() + 1.0, self.width),
                clamp(y1.ceil() + 1.0, self.height),
            ),
            axis: Some(ScreenSegment {
                a: (pa.0, pa.1),
                b: (pb.0, pb.1),
                radius_px: rad,
            }),
        })
    }
}

/// Screen footprint of a capsule (see [`PinholeCamera::capsule_footprint`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Footprint {
    /// Pixel box `(x0, y0, x1, y1)`, exclusive ends.
    pub bounds: (usize, usize, usize, usize),
    /// Projected axis and the pixel radius around it, when known.
    pub axis: Option<ScreenSegment>,
}

/// A capsule's projected axis `a-b` (pixels) and the radius around it that it may cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScreenSegment {
    /// Projected start, pixels.
    pub a: (f64, f64),
    /// Projected end, pixels.
    pub b: (f64, f64),
    /// Radius around the segment, pixels.
    pub radius_px: f64,
}

impl Footprint {
    /// Whether the pixel centre `(x, y)` may show the capsule.
    #[inline]
    pub fn may_cover(&self, x: f64, y: f64) -> bool {
        let Some(ScreenSegment {
            a: (ax, ay),
            b: (bx, by),
            radius_px: rad,
        }) = self.axis
        else {
            return true;
        };
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((x - ax) * dx + (y - ay) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (ex, ey) = (ax + t * dx - x, ay + t * dy - y);
        ex * ex + ey * ey <= rad * rad
    }
}

/// Distance along the unit ray `origin + t * dir` to the first hit of a capsule, if any.
pub fn ray_capsule(origin: Vec3, dir: Vec3, c: &Capsule) -> Option<f64> {
    let ba = c.b - c.a;
    let oa = origin - c.a;
    let baba = ba.dot(ba);
    let bard = ba.dot(dir);
    let baoa = ba.dot(oa);
    let rdoa = dir.dot(oa);
    let oaoa = oa.dot(oa);
    let r2 = c.radius_m * c.radius_m;
    let a = baba - bard * bard;
    let b = baba * rdoa - baoa * bard;
    let cc = baba * oaoa - baoa * baoa - r2 * baba;
    let h = b * b - a * cc;
    if h < 0.0 {
        return None;
    }
    if a > 1e-12 {
        let t = (-b - h.sqrt()) / a;
        let y = baoa + t * bard;
        if y > 0.0 && y < baba {
            return (t > 0.0).then_some(t);
        }
    }
    // the end spheres
    let oc = if baoa + ((-b - h.sqrt()) / a.max(1e-12)) * bard <= 0.0 {
        oa
    } else {
        origin - c.b
    };
    let b2 = dir.dot(oc);
    let c2 = oc.dot(oc) - r2;
    let h2 = b2 * b2 - c2;
    if h2 <= 0.0 {
        return None;
    }
    let t = -b2 - h2.sqrt();
    (t > 0.0).then_some(t)
}

/// Distance along the unit ray to where it enters the box `[lo, hi]`, if it does (from outside).
pub fn ray_box(origin: Vec3, dir: Vec3, lo: Vec3, hi: Vec3) -> Option<f64> {
    let mut t0 = 0.0f64;
    let mut t1 = f64::INFINITY;
    for (o, d, l, h) in [
        (origin.x, dir.x, lo.x, hi.x),
        (origin.y, dir.y, lo.y, hi.y),
        (origin.z, dir.z, lo.z, hi.z),
    ] {
        if d.abs() < 1e-12 {
            if o < l || o > h {
                return None;
            }
        } else {
            let (mut ta, mut tb) = ((l - o) / d, (h - o) / d);
            if ta > tb {
                std::mem::swap(&mut ta, &mut tb);
            }
            t0 = t0.max(ta);
            t1 = t1.min(tb);
            if t0 > t1 {
                return None;
            }
        }
    }
    (t0 > 0.0).then_some(t0)
}

/// The axis parameter in [0, 1] and outward unit normal of a capsule surface point.
pub fn capsule_normal(c: &Capsule, p: Vec3) -> (f64, Vec3) {
    let ba = c.b - c.a;
    let s = ((p - c.a).dot(ba) / ba.dot(ba).max(1e-12)).clamp(0.0, 1.0);
    (s, (p - (c.a + ba * s)).normalized())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::body::PartSplit;

    fn capsule() -> Capsule {
        Capsule {
            a: Vec3::new(0.0, -1.0, 0.0),
            b: Vec3::new(0.0, 1.0, 0.0),
            radius_m: 0.5,
            split: PartSplit::Single(1),
            reflectivity: 1.0,
            ref_dir: Vec3::new(1.0, 0.0, 0.0),
        }
    }

    #[test]
    fn rays_hit_side_and_caps() {
        let c = capsule();
        let t = ray_capsule(Vec3::new(-5.0, 0.0, 0.0), Vec3::new(1.0, 0.0, 0.0), &c).unwrap();
        assert!((t - 4.5).abs() < 1e-9);
        let t = ray_capsule(Vec3::new(0.0, -5.0, 0.0), Vec3::new(0.0, 1.0, 0.0), &c).unwrap();
        assert!((t - 3.5).abs() < 1e-9);
        let t = ray_capsule(Vec3::new(0.0, 5.0, 0.0), Vec3::new(0.0, -1.0, 0.0), &c).unwrap();
        assert!((t - 3.5).abs() < 1e-9);
        assert!(ray_capsule(Vec3::new(-5.0, 0.0, 0.6), Vec3::new(1.0, 0.0, 0.0), &c).is_none());
        assert!(ray_capsule(Vec3::new(-5.0, 0.0, 0.0), Vec3::new(-1.0, 0.0, 0.0), &c).is_none());
    }

    #[test]
    fn ray_enters_box() {
        let t = ray_box(
            Vec3::new(-2.0, 0.5, 0.5),
            Vec3::new(1.0, 0.0, 0.0),
            Vec3::ZERO,
            Vec3::new(1.0, 1.0, 1.0),
        );
        assert_eq!(t, Some(2.0));
    }
}
