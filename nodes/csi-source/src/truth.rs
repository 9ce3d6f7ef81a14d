//! Ground-truth outputs of the simulator, one set per camera frame.

use dora_node_api::DoraNode;
use eyre::{Context, Result};
use wdp_sim::GroundTruth;
use wdp_tensor::ndarray::{Array2, Array3};
use wdp_tensor::{MetaValue, TensorMeta};

/// Sends `keypoints`, `boxes`, `parts`, `uv` and (when rendered) `frame` for one camera frame.
/// Outputs not declared in the dataflow are skipped by dora.
pub fn send(node: &mut DoraNode, truth: &GroundTruth, base: &TensorMeta) -> Result<()> {
    let people = truth.people.len();
    let ids: Vec<i64> = truth.people.iter().map(|p| i64::from(p.track_id)).collect();
    let meta = |shape: &[usize], dims: &[&str]| {
        TensorMeta::new(shape, dims.iter().copied())
            .carry_from(base)
            .with("frame_index", MetaValue::Int(truth.frame_index as i64))
            .with("track_ids", MetaValue::Ints(ids.clone()))
            .with(
                "image_wh",
                MetaValue::Ints(truth.image_wh.iter().map(|&v| v as i64).collect()),
            )
    };
    let keypoints =
        Array3::from_shape_fn((people, 17, 3), |(p, k, c)| truth.people[p].keypoints[k][c]);
    // Boxes as the pose contract has them: x1, y1, x2, y2, score (1 for ground truth).
    let boxes = Array2::from_shape_fn((people, 5), |(p, c)| {
        truth.people[p].box_xyxy.get(c).copied().unwrap_or(1.0)
    });
    use wdp_tensor::dora::send as out;
    out(
        node,
        "keypoints",
        keypoints.view().into_dyn(),
        &meta(&[people, 17, 3], &["person", "keypoint", "xyv"]),
    )
    .wrap_err("sending keypoints")?;
    let box_meta =
        meta(&[people, 5], &["person", "box"]).with("format", MetaValue::Text("xyxy".into()));
    out(node, "boxes", boxes.view().into_dyn(), &box_meta).wrap_err("sending boxes")?;
    let parts_meta = meta(truth.part_index.shape(), &["person", "height", "width"]);
    out(
        node,
        "parts",
        truth.part_index.view().into_dyn(),
        &parts_meta,
    )
    .wrap_err("sending parts")?;
    let uv_meta = meta(truth.uv.shape(), &["person", "uv", "height", "width"]);
    out(node, "uv", truth.uv.view().into_dyn(), &uv_meta).wrap_err("sending uv")?;
    if let Some(rgb) = &truth.rgb {
        let (height, width) = (rgb.shape()[0], rgb.shape()[1]);
        // dora-hub image convention beside our own metadata.
        let frame_meta = meta(rgb.shape(), &["height", "width", "channel"])
            .with("encoding", MetaValue::Text("rgb8".into()))
            .with("width", MetaValue::Int(width as i64))
            .with("height", MetaValue::Int(height as i64))
            .with("primitive", MetaValue::Text("image".into()));
        out(node, "frame", rgb.view().into_dyn(), &frame_meta).wrap_err("sending frame")?;
    }
    Ok(())
}
