//! [`Labels`]: a labelled frame, from the pose contract ([`Labels::from_frame`]) or a camera
//! teacher's one-row struct ([`Labels::from_teacher`]), checked for what training needs.

use crate::data::{PersonLabel, PART_UNKNOWN};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt8Type};
use arrow_array::Array;
use eyre::{bail, eyre, Result};
use ndarray::{Array3, Array4};
use wdp_pose::wdp_tensor::TensorMeta;
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};

/// One labelled frame, checked for training: people with COCO-visibility keypoints and boxes in
/// image pixels, and each person's part map (and UV, when given) over the whole image.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Capture time of the frame, ns.
    pub t_ns: i64,
    /// Frame sequence number.
    pub seq: u64,
    /// Room the labeller names (the window's wins when both do).
    pub room: String,
    /// People in the frame.
    pub people: Vec<PersonLabel>,
    /// `[P, h, w]` part index over the image (0 background, 1-24, or [`PART_UNKNOWN`]).
    pub part_index: Array3<u8>,
    /// `[P, 2, h, w]` UV over the image.
    pub uv: Option<Array4<f32>>,
    /// `[W, H]` of the image keypoints and boxes refer to.
    pub image_wh: [usize; 2],
}

impl Labels {
    /// From an assembled pose-contract frame (operators/wdp-pose): keypoints must carry COCO
    /// visibility (`xyv`), `image_wh` must be set, and `parts` (with `uv` optional) must cover
    /// the image (`region: image`), as the simulator's ground truth does.
    pub fn from_frame(frame: &PoseFrame) -> Result<Self> {
        frame.validate()?;
        if frame.keypoint_kind != KeypointKind::Visibility {
            bail!(
                "keypoints: dims say confidence scores (xys); training labels need COCO visibility (xyv)"
            );
        }
        let [w, h] = frame.image_wh.ok_or_else(|| {
            eyre!("image_wh: missing; labels need the [W, H] their pixels refer to")
        })?;
        if w == 0 || h == 0 {
            bail!("image_wh: [{w}, {h}] is empty");
        }
        let parts = frame.parts.as_ref().ok_or_else(|| {
            eyre!("parts: missing; training needs each person's part map over the image")
        })?;
        if frame.region != Region::Image {
            bail!(
                "parts: region {}: the maps cover each person's box; training needs maps over the whole image (region image)",
                frame.region.as_str()
            );
        }
        for (i, p) in frame.people.iter().enumerate() {
            if p.keypoints.iter().flatten().any(|v| !v.is_finite()) {
                bail!("keypoints: person {i} has values that are not finite");
            }
            if p.bbox.iter().any(|v| !v.is_finite()) {
                bail!("boxes: person {i} has values that are not finite");
            }
        }
        if let Some(uv) = &frame.uv {
            if uv.iter().any(|v| !v.is_finite()) {
                bail!("uv: values that are not finite");
            }
        }
        Ok(Self {
            t_ns: frame.t_ns(),
            seq: frame.seq(),
            room: frame.meta.room.clone(),
            people: frame
                .people
                .iter()
                .map(|p| PersonLabel {
                    keypoints: p.keypoints,
                    bbox: [p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]],
                    position_m: None,
                })
                .collect(),
            part_index: parts.clone(),
            uv: frame.uv.clone(),
            image_wh: [w, h],
        })
    }

    /// From a camera teacher's `labels` message (nodes/teacher-mediapipe's contract): a one-row
    /// struct of flat `keypoints` `[P, 17, 3]` (COCO visibility), `boxes` `[P, 5]` and `masks`
    /// `[P, h, w]` (nonzero: the person), shaped by the `*_shape` metadata, with `image_wh`.
    /// A mask pixel becomes [`PART_UNKNOWN`], as teacher-capture recordings store it.
    pub fn from_teacher(array: &dyn Array, meta: &TensorMeta) -> Result<Self> {
        let row = array.as_struct_opt().ok_or_else(|| {
            eyre!(
                "labels: a {} array, expected the teacher's one-row struct (keypoints, boxes, masks)",
                array.data_type()
            )
        })?;
        if row.len() != 1 {
            bail!("labels: {} rows, expected 1", row.len());
        }
        let shape = |field: &str, rank: usize| -> Result<Vec<usize>> {
            let key = format!("{field}_shape");
            let s = meta
                .ints(&key)
                .ok_or_else(|| eyre!("{key}: missing from the metadata"))?;
            if s.len() != rank || s.iter().any(|&d| d < 0) {
                bail!("{key}: {s:?}, expected {rank} extents");
            }
            Ok(s.iter().map(|&d| d as usize).collect())
        };
        let column = |field: &str| {
            row.column_by_name(field)
                .and_then(|c| c.as_list_opt::<i32>())
                .map(|l| l.value(0))
                .ok_or_else(|| eyre!("{field}: no list column of that name"))
        };
        let floats = |field: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let values = column(field)?;
            let values = values
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(|| eyre!("{field}: {} values, expected float32", values.data_type()))?;
            let n: usize = shape.iter().product();
            if values.len() != n {
                bail!("{field}: {} values for shape {shape:?}", values.len());
            }
            Ok(values.values().to_vec())
        };
        let ks = shape("keypoints", 3)?;
        let bs = shape("boxes", 2)?;
        let ms = shape("masks", 3)?;
        if ks[1..] != [17, 3] {
            bail!("keypoints_shape: {ks:?}, expected [P, 17, 3]");
        }
        if bs[1] != 5 {
            bail!("boxes_shape: {bs:?}, expected [P, 5]");
        }
        let p = ks[0];
        if bs[0] != p || ms[0] != p {
            bail!("boxes_shape {bs:?} and masks_shape {ms:?} disagree with {p} people in keypoints_shape");
        }
        let kp = floats("keypoints", &ks)?;
        let bx = floats("boxes", &bs)?;
        let masks = column("masks")?;
        let masks = masks
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| eyre!("masks: {} values, expected uint8", masks.data_type()))?;
        let parts = Array3::from_shape_vec(
            (ms[0], ms[1], ms[2]),
            masks
                .values()
                .iter()
                .map(|&m| if m > 0 { PART_UNKNOWN } else { 0 })
                .collect(),
        )
        .map_err(|e| eyre!("masks: {} values for shape {ms:?}: {e}", masks.len()))?;
        let image_wh = match meta.ints("image_wh") {
            Some(&[w, h]) if w > 0 && h > 0 => Some([w as usize, h as usize]),
            Some(other) => bail!("image_wh: {other:?}, expected [W, H]"),
            None => None,
        };
        let frame = PoseFrame {
            meta: meta.clone(),
            people: (0..p)
                .map(|i| Person {
                    keypoints: std::array::from_fn(|k| {
                        std::array::from_fn(|c| kp[(i * 17 + k) * 3 + c])
                    }),
                    bbox: std::array::from_fn(|c| bx[i * 5 + c]),
                    track_id: None,
                    floor_m: None,
                })
                .collect(),
            keypoint_kind: KeypointKind::Visibility,
            image_wh,
            region: Region::Image,
            parts: Some(parts),
            uv: None,
        };
        Self::from_frame(&frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::testing::frame;
    use arrow_array::{ArrayRef, ListArray, StructArray};
    use std::sync::Arc;
    use wdp_pose::wdp_tensor::MetaValue;

    #[test]
    fn labels_that_cannot_train_are_refused_naming_the_field() {
        let mut f = frame(0, 2);
        f.keypoint_kind = KeypointKind::Score;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("keypoints:"), "{e}");

        let mut f = frame(0, 2);
        f.image_wh = None;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("image_wh:"), "{e}");

        let mut f = frame(0, 2);
        f.parts = None;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("parts: missing"), "{e}");

        let mut f = frame(0, 2);
        f.region = Region::Box;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("parts: region box"), "{e}");

        let mut f = frame(0, 2);
        f.parts = Some(Array3::zeros((1, 12, 16)));
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(
            e.to_string().contains("parts") && e.to_string().contains("shape"),
            "{e}"
        );

        let mut f = frame(0, 2);
        f.uv = Some(Array4::zeros((2, 2, 6, 8)));
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().contains("uv"), "{e}");

        let mut f = frame(0, 2);
        f.people[1].bbox[2] = f32::INFINITY;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("boxes: person 1"), "{e}");

        let l = Labels::from_frame(&frame(7, 2)).expect("good");
        assert_eq!(l.people.len(), 2);
        assert_eq!(l.people[1].keypoints[0], [11.0, 20.0, 2.0]);
        assert_eq!(l.people[0].bbox, [5.0, 6.0, 40.0, 60.0]);
        assert_eq!((l.image_wh, l.part_index.dim()), ([64, 48], (2, 12, 16)));
    }

    fn list<T: arrow_array::ArrowPrimitiveType>(values: Vec<T::Native>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<T, _, _>([Some(
            values.into_iter().map(Some),
        )]))
    }

    #[test]
    fn a_teachers_labels_become_labels_with_unknown_parts_under_the_mask() {
        let mut kp = vec![0f32; 51];
        kp[0..3].copy_from_slice(&[30.0, 20.0, 2.0]);
        let masks = vec![0u8, 1, 1, 0, 0, 1];
        let row = StructArray::from(vec![
            (
                Arc::new(arrow_schema::Field::new(
                    "keypoints",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::Float32, true),
                    true,
                )),
                list::<Float32Type>(kp),
            ),
            (
                Arc::new(arrow_schema::Field::new(
                    "boxes",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::Float32, true),
                    true,
                )),
                list::<Float32Type>(vec![10.0, 5.0, 50.0, 45.0, 0.9]),
            ),
            (
                Arc::new(arrow_schema::Field::new(
                    "masks",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::UInt8, true),
                    true,
                )),
                list::<UInt8Type>(masks),
            ),
        ]);
        let meta = TensorMeta::default()
            .with_time_ns(5)
            .with_seq(2)
            .with("keypoints_shape", MetaValue::Ints(vec![1, 17, 3]))
            .with("boxes_shape", MetaValue::Ints(vec![1, 5]))
            .with("masks_shape", MetaValue::Ints(vec![1, 2, 3]))
            .with("image_wh", MetaValue::Ints(vec![64, 48]));
        let l = Labels::from_teacher(&row, &meta).expect("teacher labels");
        assert_eq!((l.t_ns, l.seq, l.image_wh), (5, 2, [64, 48]));
        assert_eq!(l.people[0].keypoints[0], [30.0, 20.0, 2.0]);
        assert_eq!(l.people[0].bbox, [10.0, 5.0, 50.0, 45.0]);
        let p = PART_UNKNOWN;
        assert_eq!(
            l.part_index.iter().copied().collect::<Vec<_>>(),
            [0, p, p, 0, 0, p]
        );

        let bad = meta
            .clone()
            .with("masks_shape", MetaValue::Ints(vec![1, 3, 3]));
        let e = Labels::from_teacher(&row, &bad).expect_err("refused");
        assert!(e.to_string().starts_with("masks:"), "{e}");
        let mut missing = meta.clone();
        missing.extra.remove("boxes_shape");
        let e = Labels::from_teacher(&row, &missing).expect_err("refused");
        assert!(e.to_string().starts_with("boxes_shape: missing"), "{e}");
        let e = Labels::from_teacher(row.column(0).as_ref(), &meta).expect_err("refused");
        assert!(e.to_string().starts_with("labels:"), "{e}");
    }
}
