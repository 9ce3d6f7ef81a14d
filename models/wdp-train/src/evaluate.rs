//! Evaluation of a model on labelled samples with `wdp-eval`: COCO keypoint AP (pycocotools'
//! semantics), PCK@0.2, part mIoU, UV error and the people-count confusion matrix, per room.
//!
//! Ground truth: every labelled person (at least one keypoint with `v > 0`); its OKS area is
//! its part-mask pixel count scaled to camera pixels (COCO uses the segment area), or the box
//! area when the dataset has no part masks. Dense maps are compared on the ground truth's mask
//! grid: predictions are pasted into their boxes, higher scores on top.

use crate::data::Sample;
use crate::predict::Detection;
use eyre::Result;
use ndarray::{Array2, Array3};
use wdp_eval::coco::{area_from_bbox, area_from_mask};
use wdp_eval::{DetPerson, EvalConfig, EvalReport, GtPerson, RoomEvaluator};

/// Largest people count of the count confusion matrix.
const MAX_COUNT: usize = 5;

fn gt_people(sample: &Sample) -> Vec<GtPerson> {
    let (_, mh, mw) = sample.part_index.dim();
    let px = (sample.image_wh[0] * sample.image_wh[1]) as f64 / (mh * mw).max(1) as f64;
    sample
        .people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.keypoints.iter().any(|k| k[2] > 0.0))
        .map(|(i, p)| {
            let [x0, y0, x1, y1] = p.bbox;
            let xywh = [x0, y0, x1 - x0, y1 - y0];
            let mask_px = sample
                .part_index
                .index_axis(ndarray::Axis(0), i)
                .iter()
                .filter(|&&v| v > 0)
                .count();
            let area = if mask_px > 0 {
                area_from_mask((mask_px as f64 * px).round() as u64)
            } else {
                area_from_bbox(xywh)
            };
            GtPerson {
                keypoints: p.keypoints.map(|k| [k[0], k[1], k[2].round()]),
                bbox_xywh: xywh,
                area,
                iscrowd: false,
            }
        })
        .collect()
}

/// Ground-truth part label map and UV on the mask grid (people's masks are disjoint).
fn gt_maps(sample: &Sample) -> (Array2<u8>, Option<Array3<f32>>) {
    let (p, h, w) = sample.part_index.dim();
    let mut parts = Array2::<u8>::zeros((h, w));
    let mut uv = sample.uv.as_ref().map(|_| Array3::<f32>::zeros((2, h, w)));
    for i in 0..p {
        for y in 0..h {
            for x in 0..w {
                let v = sample.part_index[[i, y, x]];
                if v > 0 {
                    parts[[y, x]] = v;
                    if let (Some(out), Some(src)) = (uv.as_mut(), sample.uv.as_ref()) {
                        out[[0, y, x]] = src[[i, 0, y, x]];
                        out[[1, y, x]] = src[[i, 1, y, x]];
                    }
                }
            }
        }
    }
    (parts, uv)
}

/// Predicted maps pasted on the `h x w` grid of an image of `image_wh`.
fn pred_maps(
    dets: &[Detection],
    image_wh: [usize; 2],
    h: usize,
    w: usize,
) -> (Array2<u8>, Array3<f32>) {
    let mut parts = Array2::<u8>::zeros((h, w));
    let mut uv = Array3::<f32>::zeros((2, h, w));
    let mut order: Vec<&Detection> = dets.iter().filter(|d| d.grid > 0).collect();
    order.sort_by(|a, b| a.score.total_cmp(&b.score));
    let (sx, sy) = (w as f32 / image_wh[0] as f32, h as f32 / image_wh[1] as f32);
    for d in order {
        let r = d.grid;
        let [x0, y0, x1, y1] = [
            d.bbox[0] * sx,
            d.bbox[1] * sy,
            d.bbox[2] * sx,
            d.bbox[3] * sy,
        ];
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let (ya, yb) = (y0.floor().max(0.0) as usize, (y1.ceil() as usize).min(h));
        let (xa, xb) = (x0.floor().max(0.0) as usize, (x1.ceil() as usize).min(w));
        for y in ya..yb {
            let gy = (((y as f32 + 0.5 - y0) / (y1 - y0)) * r as f32).floor();
            if gy < 0.0 || gy >= r as f32 {
                continue;
            }
            for x in xa..xb {
                let gx = (((x as f32 + 0.5 - x0) / (x1 - x0)) * r as f32).floor();
                if gx < 0.0 || gx >= r as f32 {
                    continue;
                }
                let c = gy as usize * r + gx as usize;
                if d.parts[c] > 0 {
                    parts[[y, x]] = d.parts[c];
                    uv[[0, y, x]] = d.uv[c];
                    uv[[1, y, x]] = d.uv[r * r + c];
                }
            }
        }
    }
    (parts, uv)
}

/// Evaluates detections against their samples (same order).
pub fn evaluate(samples: &[&Sample], detections: &[Vec<Detection>]) -> Result<EvalReport> {
    let labels: Vec<String> = (0..=MAX_COUNT).map(|n| n.to_string()).collect();
    let mut eval = RoomEvaluator::new(EvalConfig {
        heads: vec![("people".into(), labels)],
        ..EvalConfig::default()
    })?;
    for (i, (s, dets)) in samples.iter().zip(detections).enumerate() {
        let gts = gt_people(s);
        let det_people: Vec<DetPerson> = dets
            .iter()
            .map(|d| DetPerson {
                keypoints: d.keypoints,
                score: d.score,
            })
            .collect();
        eval.add_keypoints(&s.room, i as u64, &gts, &det_people)?;
        let (_, h, w) = s.part_index.dim();
        let (gt_parts, gt_uv) = gt_maps(s);
        let has_parts = !s.part_index.iter().any(|&v| v == crate::data::PART_UNKNOWN);
        if has_parts && h > 0 && w > 0 {
            let (pp, puv) = pred_maps(dets, s.image_wh, h, w);
            eval.add_parts(&s.room, gt_parts.view(), pp.view())?;
            if let Some(guv) = &gt_uv {
                eval.add_uv(&s.room, gt_parts.view(), guv.view(), pp.view(), puv.view())?;
            }
        }
        eval.add_class(
            &s.room,
            "people",
            gts.len().min(MAX_COUNT),
            dets.len().min(MAX_COUNT),
        )?;
    }
    Ok(eval.finish())
}
