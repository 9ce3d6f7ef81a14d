//! Labels in camera pixels -> the model's training targets in translated-image pixels.
//!
//! The translated image (`upsampler.out_width x out_height`) stands for the camera image scaled
//! to that size, so a label at camera pixel `(x, y)` is at `(x * W_t / W, y * H_t / H)`. The
//! DensePose head's targets are sampled over each person's box on its `r x r` grid (cell `j`
//! covers `[j, j+1) / r` of the box, as `wdp_models::decode` reads it back).

use crate::data::{Sample, PART_UNKNOWN};
use eyre::{eyre, Result};
use tch::{Device, Kind, Tensor};
use wdp_models::decode::{center_targets, CenterTargets};
use wdp_models::model::DensePoseTargets;

/// Least box side (translated pixels) for a person to be a training target.
const MIN_BOX_PX: f32 = 4.0;

/// One training batch.
#[derive(Debug)]
pub struct Batch {
    /// `[B, 2, A, S, T]`.
    pub window: Tensor,
    /// `[K, 5]` (batch index, x1, y1, x2, y2) ground-truth person boxes, translated pixels.
    pub rois: Tensor,
    /// Targets for the heads.
    pub targets: DensePoseTargets,
    /// Room of each frame.
    pub rooms: Vec<String>,
    /// Persons per frame that became targets.
    pub people: Vec<usize>,
    /// Floor positions `(x, y)` metres of each frame's target persons that have one (the
    /// floor head's targets).
    pub floor_xy: Vec<Vec<[f32; 2]>>,
    /// `[B, 3, H_t, W_t]` target of the translated image: the scene's dense pose as a picture
    /// (foreground, U, V), what a camera teacher's DensePose output looks like. Trains the
    /// modality translation to put people where the camera sees them.
    pub spatial: Tensor,
    /// `[B, F]` a teacher's features of each frame, when every frame of the batch has them.
    pub teacher_features: Option<Tensor>,
}

/// Geometry of the targets.
#[derive(Debug, Clone, Copy)]
pub struct TargetGeometry {
    /// Translated image `[W, H]`.
    pub translated_wh: [i64; 2],
    /// Output stride of the person maps.
    pub stride: i64,
    /// DensePose head output size `r`.
    pub roi_out: i64,
    /// Keypoint heatmap Gaussian sigma in output cells.
    pub heatmap_sigma: f32,
}

/// Boxes of the people that become targets, in translated pixels, and their indices.
pub fn target_people(sample: &Sample, geo: &TargetGeometry) -> Vec<(usize, [f32; 4])> {
    let sx = geo.translated_wh[0] as f32 / sample.image_wh[0].max(1) as f32;
    let sy = geo.translated_wh[1] as f32 / sample.image_wh[1].max(1) as f32;
    sample
        .people
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let b = [
                p.bbox[0] * sx,
                p.bbox[1] * sy,
                p.bbox[2] * sx,
                p.bbox[3] * sy,
            ];
            let labelled = p.keypoints.iter().any(|k| k[2] > 0.0);
            (labelled && b[2] - b[0] >= MIN_BOX_PX && b[3] - b[1] >= MIN_BOX_PX).then_some((i, b))
        })
        .collect()
}

/// Stacks windows of one shape into a `[B, 2, A, S, T]` batch on `device`.
pub fn stack_windows<'w>(
    windows: impl IntoIterator<Item = (&'w [f32], [usize; 4])>,
    device: Device,
) -> Result<Tensor> {
    let mut values = Vec::new();
    let mut shape: Option<[usize; 4]> = None;
    let mut n = 0i64;
    for (w, s) in windows {
        match shape {
            None => shape = Some(s),
            Some(first) if first != s => {
                return Err(eyre!("windows of shapes {first:?} and {s:?} in one batch"))
            }
            Some(_) => {}
        }
        values.extend_from_slice(w);
        n += 1;
    }
    let shape = shape.ok_or_else(|| eyre!("empty window batch"))?;
    let dims: Vec<i64> = std::iter::once(n)
        .chain(shape.iter().map(|&d| d as i64))
        .collect();
    Ok(Tensor::from_slice(&values)
        .reshape(&dims[..])
        .to_device(device))
}

/// The floor points (metres) of the supervised `people` of `sample` (from [`target_people`])
/// that have a position: the floor head's targets.
pub fn floor_points(sample: &Sample, people: &[(usize, [f32; 4])]) -> Vec<[f32; 2]> {
    people
        .iter()
        .filter_map(|(i, _)| sample.people[*i].position_m.map(|p| [p[0], p[1]]))
        .collect()
}

/// The windows of `samples` stacked on `device`.
pub fn sample_windows(samples: &[&Sample], device: Device) -> Result<Tensor> {
    stack_windows(
        samples
            .iter()
            .map(|s| (s.window.as_slice(), s.window_shape)),
        device,
    )
}

/// Stacks samples into a batch on `device`.
pub fn make_batch(samples: &[&Sample], geo: &TargetGeometry, device: Device) -> Result<Batch> {
    let window = sample_windows(samples, Device::Cpu)?;

    let r = geo.roi_out as usize;
    let mut rois = Vec::new();
    let mut part = Vec::new();
    let mut uv = Vec::new();
    let mut heat = Vec::new();
    let mut visible = Vec::new();
    let mut boxes_per_image = Vec::new();
    let mut people = Vec::new();
    let mut floor_xy = Vec::new();
    for (b, s) in samples.iter().enumerate() {
        let targets = target_people(s, geo);
        people.push(targets.len());
        floor_xy.push(floor_points(s, &targets));
        let mut flat = Vec::new();
        let (_, mh, mw) = s.part_index.dim();
        let (iw, ih) = (s.image_wh[0] as f32, s.image_wh[1] as f32);
        let sx = geo.translated_wh[0] as f32 / iw.max(1.0);
        let sy = geo.translated_wh[1] as f32 / ih.max(1.0);
        for (pi, bt) in &targets {
            flat.extend_from_slice(bt);
            rois.extend_from_slice(&[b as f32, bt[0], bt[1], bt[2], bt[3]]);
            let (bw, bh) = (bt[2] - bt[0], bt[3] - bt[1]);
            // Part and UV targets: nearest mask pixel under each output cell's centre.
            for gy in 0..r {
                for gx in 0..r {
                    let tx = bt[0] + (gx as f32 + 0.5) / r as f32 * bw;
                    let ty = bt[1] + (gy as f32 + 0.5) / r as f32 * bh;
                    let mx = ((tx / sx) / iw * mw as f32).floor() as isize;
                    let my = ((ty / sy) / ih * mh as f32).floor() as isize;
                    let inside = mx >= 0 && my >= 0 && (mx as usize) < mw && (my as usize) < mh;
                    let (p, u, v) = if inside {
                        let (mx, my) = (mx as usize, my as usize);
                        let p = s.part_index[[*pi, my, mx]];
                        match &s.uv {
                            Some(a) => (p, a[[*pi, 0, my, mx]], a[[*pi, 1, my, mx]]),
                            None => (p, 0.0, 0.0),
                        }
                    } else {
                        (0, 0.0, 0.0)
                    };
                    // Unknown parts (teacher masks) are left out of the part loss.
                    part.push(if p == PART_UNKNOWN {
                        -100
                    } else {
                        i64::from(p)
                    });
                    uv.push((u, v));
                }
            }
            let kps = &s.people[*pi].keypoints;
            for k in kps {
                let cx = (k[0] * sx - bt[0]) / bw * r as f32 - 0.5;
                let cy = (k[1] * sy - bt[1]) / bh * r as f32 - 0.5;
                let inside = k[2] > 0.0
                    && cx >= -0.5
                    && cy >= -0.5
                    && cx <= r as f32 - 0.5
                    && cy <= r as f32 - 0.5;
                visible.push(if inside { 1f32 } else { 0.0 });
                let s2 = 2.0 * geo.heatmap_sigma * geo.heatmap_sigma;
                for gy in 0..r {
                    for gx in 0..r {
                        let d2 = (gx as f32 - cx).powi(2) + (gy as f32 - cy).powi(2);
                        heat.push(if inside { (-d2 / s2).exp() } else { 0.0 });
                    }
                }
            }
        }
        let n = targets.len() as i64;
        boxes_per_image.push(if n == 0 {
            Tensor::zeros([0, 4], (Kind::Float, Device::Cpu))
        } else {
            Tensor::from_slice(&flat).view([n, 4])
        });
    }
    let spatial = spatial_targets(samples, geo);
    let k = rois.len() as i64 / 5;
    let ri = r as i64;
    let map_hw = (
        geo.translated_wh[1] / geo.stride,
        geo.translated_wh[0] / geo.stride,
    );
    let center: CenterTargets = center_targets(&boxes_per_image, map_hw, geo.stride)?;
    let (u, v): (Vec<f32>, Vec<f32>) = uv.into_iter().unzip();
    let uv_t = if k == 0 {
        Tensor::zeros([0, 2, ri, ri], (Kind::Float, Device::Cpu))
    } else {
        Tensor::stack(
            &[
                Tensor::from_slice(&u).view([k, ri, ri]),
                Tensor::from_slice(&v).view([k, ri, ri]),
            ],
            1,
        )
    };
    let targets = DensePoseTargets {
        center: CenterTargets {
            heatmap: center.heatmap.to_device(device),
            size: center.size.to_device(device),
            offset: center.offset.to_device(device),
            mask: center.mask.to_device(device),
        },
        part_index: Tensor::from_slice(&part)
            .view([k, ri, ri])
            .to_device(device),
        uv: uv_t.to_device(device),
        keypoint_heatmaps: Tensor::from_slice(&heat)
            .view([k, 17, ri, ri])
            .to_device(device),
        keypoint_visible: Some(Tensor::from_slice(&visible).view([k, 17]).to_device(device)),
    };
    Ok(Batch {
        window: window.to_device(device),
        rois: Tensor::from_slice(&rois).view([k, 5]).to_device(device),
        targets,
        rooms: samples.iter().map(|s| s.room.clone()).collect(),
        people,
        floor_xy,
        spatial: spatial.to_device(device),
        teacher_features: teacher_features(samples)?.map(|t| t.to_device(device)),
    })
}

/// The samples' teacher features stacked `[B, F]`, when every sample has them.
fn teacher_features(samples: &[&Sample]) -> Result<Option<Tensor>> {
    let rows: Option<Vec<&Vec<f32>>> = samples
        .iter()
        .map(|s| s.teacher_features.as_ref())
        .collect();
    let Some(rows) = rows else {
        return Ok(None);
    };
    let f = rows.first().map_or(0, |r| r.len());
    if rows.iter().any(|r| r.len() != f) {
        return Err(eyre!("teacher features of different lengths in one batch"));
    }
    let flat: Vec<f32> = rows.into_iter().flatten().copied().collect();
    Ok(Some(
        Tensor::from_slice(&flat).view([samples.len() as i64, f as i64]),
    ))
}

/// Foreground, U and V of every translated-image pixel, from the nearest mask pixel.
fn spatial_targets(samples: &[&Sample], geo: &TargetGeometry) -> Tensor {
    let [tw, th] = geo.translated_wh.map(|v| v as usize);
    let mut out = vec![0f32; samples.len() * 3 * th * tw];
    for (b, s) in samples.iter().enumerate() {
        let (p, mh, mw) = s.part_index.dim();
        let base = b * 3 * th * tw;
        for y in 0..th {
            let my = ((y as f32 + 0.5) / th as f32 * mh as f32) as usize;
            for x in 0..tw {
                let mx = ((x as f32 + 0.5) / tw as f32 * mw as f32) as usize;
                if my >= mh || mx >= mw {
                    continue;
                }
                // Masks of different people do not overlap (nearest surface wins).
                for i in 0..p {
                    if s.part_index[[i, my, mx]] == 0 {
                        continue;
                    }
                    let o = y * tw + x;
                    out[base + o] = 1.0;
                    if let Some(uv) = &s.uv {
                        out[base + th * tw + o] = uv[[i, 0, my, mx]];
                        out[base + 2 * th * tw + o] = uv[[i, 1, my, mx]];
                    }
                    break;
                }
            }
        }
    }
    Tensor::from_slice(&out).view([samples.len() as i64, 3, th as i64, tw as i64])
}
