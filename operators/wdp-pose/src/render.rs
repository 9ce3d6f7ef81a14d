//! An overlay of a [`PoseFrame`] for people to look at: dense part colours (or UV), COCO
//! skeleton, keypoints, boxes and track ids, over a camera frame or a dark canvas.

use crate::frame::{KeypointKind, PoseFrame, Region};
use crate::image::{part_color, RgbImage};
use crate::COCO_SKELETON;
use serde::Deserialize;

/// What the dense maps are drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenseStyle {
    /// Not drawn.
    None,
    /// Part colours ([`part_color`]).
    #[default]
    Parts,
    /// UV as colour (red = u, green = v) where a part is present.
    Uv,
}

/// What to draw and how.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderOptions {
    /// Dense map style.
    pub dense: DenseStyle,
    /// Opacity of the dense maps.
    pub dense_alpha: f32,
    /// Keypoints with a score at or below this are not drawn (visibility: 0 is not drawn).
    pub min_keypoint_score: f32,
    /// Draw skeleton lines.
    pub skeleton: bool,
    /// Draw keypoint dots.
    pub keypoints: bool,
    /// Draw boxes.
    pub boxes: bool,
    /// Draw track id labels.
    pub labels: bool,
    /// Canvas colour when there is no camera frame.
    pub background: [u8; 3],
    /// Canvas size `[W, H]` when there is neither a camera frame nor `image_wh`.
    pub canvas_wh: [usize; 2],
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            dense: DenseStyle::Parts,
            dense_alpha: 0.5,
            min_keypoint_score: 0.3,
            skeleton: true,
            keypoints: true,
            boxes: true,
            labels: true,
            background: [40, 40, 48],
            canvas_wh: [320, 240],
        }
    }
}

/// Colours of people (by track id, or by position without one).
pub const PERSON_COLORS: [[u8; 3]; 5] = [
    [255, 255, 255],
    [255, 220, 0],
    [0, 255, 255],
    [255, 80, 255],
    [120, 255, 80],
];

/// Keypoint dot colour.
pub const KEYPOINT_COLOR: [u8; 3] = [255, 40, 40];

/// Draws `frame` over `background` (a camera frame; keypoints are scaled from `image_wh` to its
/// size when they differ) or over a canvas of `image_wh` (else `canvas_wh`).
///
/// Dense maps of `region: box` are stretched over each person's box, those of `region: image`
/// over the whole picture. Visibility keypoints are filled when visible (2) and rings when
/// hidden (1).
pub fn render_overlay(
    frame: &PoseFrame,
    background: Option<RgbImage>,
    opts: &RenderOptions,
) -> RgbImage {
    let mut img = background.unwrap_or_else(|| {
        let [w, h] = frame.image_wh.unwrap_or(opts.canvas_wh);
        RgbImage::filled(w, h, opts.background)
    });
    let [iw, ih] = frame.image_wh.unwrap_or([img.width, img.height]);
    let sx = img.width as f64 / iw.max(1) as f64;
    let sy = img.height as f64 / ih.max(1) as f64;
    let to_px = |x: f32, y: f32| (f64::from(x) * sx, f64::from(y) * sy);
    if opts.dense != DenseStyle::None {
        draw_dense(&mut img, frame, opts, sx, sy);
    }
    for (pi, person) in frame.people.iter().enumerate() {
        let slot = person.track_id.map_or(pi, |id| id.rem_euclid(5) as usize);
        let col = PERSON_COLORS[slot % PERSON_COLORS.len()];
        let kp = &person.keypoints;
        let present = |v: f32| frame.keypoint_kind.is_present(v, opts.min_keypoint_score);
        if opts.skeleton {
            for &(a, b) in COCO_SKELETON.iter() {
                if present(kp[a][2]) && present(kp[b][2]) {
                    img.line(to_px(kp[a][0], kp[a][1]), to_px(kp[b][0], kp[b][1]), col);
                }
            }
        }
        if opts.keypoints {
            for k in kp.iter().filter(|k| present(k[2])) {
                let filled = frame.keypoint_kind == KeypointKind::Score || k[2] >= 2.0;
                img.dot(to_px(k[0], k[1]), 2, KEYPOINT_COLOR, filled);
            }
        }
        let (x0, y0) = to_px(person.bbox[0], person.bbox[1]);
        let (x1, y1) = to_px(person.bbox[2], person.bbox[3]);
        if opts.boxes {
            img.rect([x0, y0, x1, y1], col);
        }
        if let (true, Some(id), true) = (opts.labels, person.track_id, x1 > x0 && y1 > y0) {
            let label = format!("#{id}");
            let (w, h) = (4 * label.len() as i64 + 1, 7);
            let top = if y0 >= h as f64 {
                y0 as i64 - h
            } else {
                y0 as i64 + 1
            };
            img.fill_rect(x0 as i64, top, w, h, [0, 0, 0], 0.6);
            img.text(x0 as i64 + 1, top + 1, &label, col, 1);
        }
    }
    img
}

fn dense_color(
    frame: &PoseFrame,
    opts: &RenderOptions,
    p: usize,
    my: usize,
    mx: usize,
) -> Option<[u8; 3]> {
    // `get`: a hand-built frame may hold uv of another size than parts.
    let part = frame
        .parts
        .as_ref()
        .and_then(|a| a.get([p, my, mx]).copied());
    let uv = frame
        .uv
        .as_ref()
        .and_then(|a| Some((*a.get([p, 0, my, mx])?, *a.get([p, 1, my, mx])?)));
    match opts.dense {
        DenseStyle::Parts => part.filter(|&v| v != 0).map(part_color),
        DenseStyle::Uv => {
            let (u, v) = uv?;
            let on = part.map_or(u > 0.0 || v > 0.0, |v| v != 0);
            on.then(|| {
                let c = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
                [c(u), c(v), 96]
            })
        }
        DenseStyle::None => None,
    }
}

fn draw_dense(img: &mut RgbImage, frame: &PoseFrame, opts: &RenderOptions, sx: f64, sy: f64) {
    let dims = match (&frame.parts, &frame.uv) {
        (Some(parts), _) => parts.dim(),
        (None, Some(uv)) => (uv.dim().0, uv.dim().2, uv.dim().3),
        (None, None) => return,
    };
    let (n, mh, mw) = dims;
    if mh == 0 || mw == 0 {
        return;
    }
    let n = n.min(frame.people.len());
    let (w, h) = (img.width, img.height);
    match frame.region {
        Region::Image => {
            for y in 0..h {
                for x in 0..w {
                    let (my, mx) = (y * mh / h, x * mw / w);
                    for p in 0..n {
                        if let Some(c) = dense_color(frame, opts, p, my, mx) {
                            img.put(x as i64, y as i64, c, opts.dense_alpha);
                        }
                    }
                }
            }
        }
        Region::Box => {
            for p in 0..n {
                let b = frame.people[p].bbox;
                let (bx0, by0) = (f64::from(b[0]) * sx, f64::from(b[1]) * sy);
                let (bx1, by1) = (f64::from(b[2]) * sx, f64::from(b[3]) * sy);
                if !(bx1 > bx0 && by1 > by0) {
                    continue;
                }
                let xs =
                    (bx0.floor().max(0.0) as usize)..(bx1.ceil().min(w as f64).max(0.0) as usize);
                let ys =
                    (by0.floor().max(0.0) as usize)..(by1.ceil().min(h as f64).max(0.0) as usize);
                for y in ys {
                    let fy = (y as f64 + 0.5 - by0) / (by1 - by0);
                    if !(0.0..1.0).contains(&fy) {
                        continue;
                    }
                    let my = ((fy * mh as f64) as usize).min(mh - 1);
                    for x in xs.clone() {
                        let fx = (x as f64 + 0.5 - bx0) / (bx1 - bx0);
                        if !(0.0..1.0).contains(&fx) {
                            continue;
                        }
                        let mx = ((fx * mw as f64) as usize).min(mw - 1);
                        if let Some(c) = dense_color(frame, opts, p, my, mx) {
                            img.put(x as i64, y as i64, c, opts.dense_alpha);
                        }
                    }
                }
            }
        }
    }
}
