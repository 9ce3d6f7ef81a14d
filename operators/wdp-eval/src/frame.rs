//! One camera frame of dense pose, truth against prediction, into a [`RoomEvaluator`]: the
//! glue every evaluator (the training tool, the eval dataflow's node) shares.
//!
//! Truth: every labelled person (at least one keypoint with `v > 0`); its OKS area is its
//! part-mask pixel count scaled to image pixels (COCO uses the segment area), or the box area
//! when there is no mask. Dense maps are compared on the truth's mask grid: each predicted
//! person's box-relative maps are pasted into its box, higher scores on top. A truth whose masks
//! hold [`PART_UNKNOWN`] (a teacher's person mask without parts) is scored on keypoints and
//! people count only. The people count compares labelled truth people with every prediction
//! passed in (the caller applies its score threshold); [`add_floor_frame`] adds the floor
//! position error when the camera and the truth positions are known.

use crate::coco::{area_from_bbox, area_from_mask, DetPerson, GtPerson};
use crate::floor::{person_floor_point, FloorCamera};
use crate::{EvalConfig, EvalError, RoomEvaluator};
use ndarray::{Array2, Array3, Array4, Axis};

/// Part value of a person pixel whose body part is unknown.
pub const PART_UNKNOWN: u8 = 255;

/// Largest people count of the `people` confusion matrix.
pub const MAX_COUNT: usize = 5;

/// The ground truth of one frame, in image pixels.
#[derive(Debug, Clone)]
pub struct TruthFrame {
    /// COCO-17 `(x, y, v)` and `x0, y0, x1, y1` per person.
    pub people: Vec<([[f32; 3]; 17], [f32; 4])>,
    /// `[P, h, w]` part index per person over the whole image (0 background).
    pub part_index: Array3<u8>,
    /// `[P, 2, h, w]` UV, when known.
    pub uv: Option<Array4<f32>>,
    /// Image `[W, H]`.
    pub image_wh: [usize; 2],
}

/// One predicted person, in image pixels, with maps over its box.
#[derive(Debug, Clone)]
pub struct PredictedPerson {
    /// `(x, y, score)` per keypoint.
    pub keypoints: [[f32; 3]; 17],
    /// `x0, y0, x1, y1`.
    pub bbox: [f32; 4],
    /// Person score.
    pub score: f32,
    /// `[r, r]` part index over the box.
    pub parts: Array2<u8>,
    /// `[2, r, r]` UV over the box.
    pub uv: Array3<f32>,
    /// Where the model says the person stands, `(x, y)` metres in the room frame, when it says
    /// so itself (a floor head); otherwise the floor point is read from the pose.
    pub floor_m: Option<[f64; 2]>,
}

/// An evaluator with the `people` count head registered.
pub fn frame_evaluator() -> Result<RoomEvaluator, EvalError> {
    let labels: Vec<String> = (0..=MAX_COUNT).map(|n| n.to_string()).collect();
    RoomEvaluator::new(EvalConfig {
        heads: vec![("people".into(), labels)],
        ..EvalConfig::default()
    })
}

fn gt_people(t: &TruthFrame) -> Vec<GtPerson> {
    let (_, mh, mw) = t.part_index.dim();
    let px = (t.image_wh[0] * t.image_wh[1]) as f64 / (mh * mw).max(1) as f64;
    t.people
        .iter()
        .enumerate()
        .filter(|(_, (kp, _))| kp.iter().any(|k| k[2] > 0.0))
        .map(|(i, (kp, b))| {
            let xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]];
            let mask_px = if i < t.part_index.dim().0 {
                t.part_index
                    .index_axis(Axis(0), i)
                    .iter()
                    .filter(|&&v| v > 0)
                    .count()
            } else {
                0
            };
            let area = if mask_px > 0 {
                area_from_mask((mask_px as f64 * px).round() as u64)
            } else {
                area_from_bbox(xywh)
            };
            GtPerson {
                keypoints: kp.map(|k| [k[0], k[1], k[2].round()]),
                bbox_xywh: xywh,
                area,
                iscrowd: false,
            }
        })
        .collect()
}

/// Truth part label map and UV on the mask grid (people's masks do not overlap).
fn gt_maps(t: &TruthFrame) -> (Array2<u8>, Option<Array3<f32>>) {
    let (p, h, w) = t.part_index.dim();
    let mut parts = Array2::<u8>::zeros((h, w));
    let mut uv = t.uv.as_ref().map(|_| Array3::<f32>::zeros((2, h, w)));
    for i in 0..p {
        for y in 0..h {
            for x in 0..w {
                let v = t.part_index[[i, y, x]];
                if v > 0 {
                    parts[[y, x]] = v;
                    if let (Some(out), Some(src)) = (uv.as_mut(), t.uv.as_ref()) {
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
    preds: &[PredictedPerson],
    image_wh: [usize; 2],
    h: usize,
    w: usize,
) -> (Array2<u8>, Array3<f32>) {
    let mut parts = Array2::<u8>::zeros((h, w));
    let mut uv = Array3::<f32>::zeros((2, h, w));
    let mut order: Vec<&PredictedPerson> = preds.iter().filter(|d| !d.parts.is_empty()).collect();
    order.sort_by(|a, b| a.score.total_cmp(&b.score));
    let sx = w as f32 / image_wh[0].max(1) as f32;
    let sy = h as f32 / image_wh[1].max(1) as f32;
    for d in order {
        let (rh, rw) = d.parts.dim();
        let [x0, y0, x1, y1] = [
            d.bbox[0] * sx,
            d.bbox[1] * sy,
            d.bbox[2] * sx,
            d.bbox[3] * sy,
        ];
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let (ya, yb) = (
            y0.floor().max(0.0) as usize,
            (y1.ceil().max(0.0) as usize).min(h),
        );
        let (xa, xb) = (
            x0.floor().max(0.0) as usize,
            (x1.ceil().max(0.0) as usize).min(w),
        );
        for y in ya..yb {
            let gy = ((y as f32 + 0.5 - y0) / (y1 - y0) * rh as f32).floor();
            if !(0.0..rh as f32).contains(&gy) {
                continue;
            }
            for x in xa..xb {
                let gx = ((x as f32 + 0.5 - x0) / (x1 - x0) * rw as f32).floor();
                if !(0.0..rw as f32).contains(&gx) {
                    continue;
                }
                let (gy, gx) = (gy as usize, gx as usize);
                let part = d.parts[[gy, gx]];
                if part > 0 {
                    parts[[y, x]] = part;
                    uv[[0, y, x]] = d.uv[[0, gy, gx]];
                    uv[[1, y, x]] = d.uv[[1, gy, gx]];
                }
            }
        }
    }
    (parts, uv)
}

/// Adds one frame of `room` (image id `image_id`, unique within the room): keypoint AP/PCK,
/// part IoU and UV error (when the truth has part labels), and the people count.
pub fn add_frame(
    eval: &mut RoomEvaluator,
    room: &str,
    image_id: u64,
    truth: &TruthFrame,
    preds: &[PredictedPerson],
) -> Result<(), EvalError> {
    add_frame_kept(eval, room, image_id, truth, preds, f32::NEG_INFINITY)
}

/// [`add_frame`] where COCO AP ranks every prediction (as COCO evaluations keep low-scored
/// candidates) but only those scored at least `kept` are people: the count, the part masks and
/// the UV, as a deployed pipeline keeps them.
pub fn add_frame_kept(
    eval: &mut RoomEvaluator,
    room: &str,
    image_id: u64,
    truth: &TruthFrame,
    all: &[PredictedPerson],
    kept: f32,
) -> Result<(), EvalError> {
    let gts = gt_people(truth);
    let dets: Vec<DetPerson> = all
        .iter()
        .map(|d| DetPerson {
            keypoints: d.keypoints,
            score: d.score,
        })
        .collect();
    eval.add_keypoints(room, image_id, &gts, &dets)?;
    let preds: Vec<PredictedPerson> = all.iter().filter(|d| d.score >= kept).cloned().collect();
    let preds = preds.as_slice();
    let (_, h, w) = truth.part_index.dim();
    let has_parts = !truth.part_index.iter().any(|&v| v == PART_UNKNOWN);
    if has_parts && h > 0 && w > 0 {
        let (gt_parts, gt_uv) = gt_maps(truth);
        let (pp, puv) = pred_maps(preds, truth.image_wh, h, w);
        eval.add_parts(room, gt_parts.view(), pp.view())?;
        if let Some(guv) = &gt_uv {
            eval.add_uv(room, gt_parts.view(), guv.view(), pp.view(), puv.view())?;
        }
    }
    eval.add_count(room, gts.len(), preds.len())?;
    eval.add_class(
        room,
        "people",
        gts.len().min(MAX_COUNT),
        preds.len().min(MAX_COUNT),
    )
}

/// Adds one frame's floor position error (see [`crate::floor`]): every prediction's floor point
/// and the truth keypoints' own against the truth positions `positions_m` (room frame, metres,
/// same order as `truth.people`). Only labelled truth people with a known position count, as
/// only labelled people count in [`add_frame`].
pub fn add_floor_frame(
    eval: &mut RoomEvaluator,
    room: &str,
    camera: &FloorCamera,
    truth: &TruthFrame,
    positions_m: &[Option<[f64; 3]>],
    preds: &[PredictedPerson],
) -> Result<(), EvalError> {
    let mut truth_xy = Vec::new();
    let mut truth_kp = Vec::new();
    for (i, (kp, bbox)) in truth.people.iter().enumerate() {
        let Some(Some(p)) = positions_m.get(i) else {
            continue;
        };
        if kp.iter().all(|k| k[2] <= 0.0) {
            continue;
        }
        truth_xy.push([p[0], p[1]]);
        truth_kp.push(person_floor_point(camera, kp, bbox));
    }
    let pred_xy: Vec<Option<[f64; 2]>> = preds
        .iter()
        .map(|d| {
            d.floor_m
                .or_else(|| person_floor_point(camera, &d.keypoints, &d.bbox))
        })
        .collect();
    eval.add_floor(room, &pred_xy, &truth_kp, &truth_xy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::render_markdown;

    /// 4 m up looking straight down, 100 px per metre on the floor: pixel `(u, v)` is floor
    /// point `((u - 200) / 100, (200 - v) / 100)`.
    fn top_down() -> FloorCamera {
        FloorCamera {
            position_m: [0.0, 0.0, 4.0],
            right: [1.0, 0.0, 0.0],
            down: [0.0, -1.0, 0.0],
            forward: [0.0, 0.0, -1.0],
            fx: 400.0,
            fy: 400.0,
            cx: 200.0,
            cy: 200.0,
        }
    }

    fn person(u: f32, v: f32) -> ([[f32; 3]; 17], [f32; 4]) {
        let mut kp = [[u, v - 50.0, 2.0]; 17];
        kp[15] = [u - 10.0, v, 2.0];
        kp[16] = [u + 10.0, v, 2.0];
        (kp, [u - 20.0, v - 100.0, u + 20.0, v])
    }

    fn predicted(u: f32, v: f32) -> PredictedPerson {
        let (keypoints, bbox) = person(u, v);
        PredictedPerson {
            keypoints,
            bbox,
            score: 0.9,
            parts: Array2::zeros((0, 0)),
            uv: Array3::zeros((2, 0, 0)),
            floor_m: None,
        }
    }

    #[test]
    fn floor_and_count_reach_the_report() {
        let mut eval = frame_evaluator().expect("evaluator");
        let truth = TruthFrame {
            people: vec![person(300.0, 100.0), person(100.0, 300.0)],
            part_index: Array3::zeros((2, 0, 0)),
            uv: None,
            image_wh: [400, 400],
        };
        // Truth pelvis 0.1 m off the truth ankles of the first person; the second's unknown.
        let positions = [Some([1.1, 1.0, 0.9]), None];
        // Prediction 0 is 0.2 m from the first pelvis, prediction 1 far from everything.
        let preds = [predicted(330.0, 100.0), predicted(390.0, 390.0)];
        add_frame(&mut eval, "office", 0, &truth, &preds).expect("frame");
        add_floor_frame(&mut eval, "office", &top_down(), &truth, &positions, &preds)
            .expect("floor");
        let report = eval.finish();
        let floor = report.all.floor.as_ref().expect("floor");
        assert_eq!(
            (floor.matched, floor.missed, floor.false_positives),
            (1, 0, 1)
        );
        assert!((floor.median_m.expect("median") - 0.2).abs() < 1e-6);
        let own = report.all.floor_truth_keypoints.as_ref().expect("truth");
        assert!((own.median_m.expect("median") - 0.1).abs() < 1e-6);
        assert_eq!(own.false_positives, 0);
        let count = report.rooms["office"].count.as_ref().expect("count");
        assert_eq!(
            (count.accuracy, count.mean_abs_error),
            (Some(1.0), Some(0.0))
        );
        let md = render_markdown(&report, "t", &[]);
        assert!(md.contains("## Floor position, metres"), "{md}");
        assert!(md.contains("## People count"), "{md}");
    }

    /// A model's own floor position is scored instead of the one read from its pose.
    #[test]
    fn a_floor_head_position_is_scored_instead_of_the_pose() {
        let mut eval = frame_evaluator().expect("evaluator");
        let truth = TruthFrame {
            people: vec![person(300.0, 100.0)],
            part_index: Array3::zeros((1, 0, 0)),
            uv: None,
            image_wh: [400, 400],
        };
        // The pose says (1.9, -1.9), far from the pelvis; the floor head says 0.05 m from it.
        let mut pred = predicted(390.0, 390.0);
        pred.floor_m = Some([1.15, 1.0]);
        add_floor_frame(
            &mut eval,
            "office",
            &top_down(),
            &truth,
            &[Some([1.1, 1.0, 0.9])],
            &[pred],
        )
        .expect("floor");
        let floor = eval.finish().all.floor.expect("floor");
        assert_eq!(
            (floor.matched, floor.missed, floor.false_positives),
            (1, 0, 0)
        );
        assert!((floor.median_m.expect("median") - 0.05).abs() < 1e-6);
    }
}
