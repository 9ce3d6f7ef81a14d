//! Sending a model's [`PoseOutput`] as the pose contract's four outputs.

use dora_node_api::DoraNode;
use eyre::{Context, Result};
use tch::Kind;
use wdp_models::PoseOutput;
use wdp_tensor::{MetaValue, TensorMeta};

use crate::{to_array, Frame};

/// Sends `keypoints`, `boxes`, `parts` and `uv` for one frame. `image_wh` is the size of the
/// translated image the coordinates refer to; parts and UV are over each person's box
/// (`region: box`, the DensePose ROI convention).
pub fn send_pose(
    node: &mut DoraNode,
    stage: &str,
    pose: &PoseOutput,
    frame: &Frame,
    model: &str,
    image_wh: [i64; 2],
    untrained: bool,
) -> Result<()> {
    let meta = |shape: &[usize], dims: &[&str]| -> TensorMeta {
        frame
            .output_meta(stage, shape, dims, untrained)
            .with("model", MetaValue::Text(model.to_owned()))
            .with("image_wh", MetaValue::Ints(image_wh.to_vec()))
    };
    let keypoints = to_array::<f32>(&pose.keypoints.to_kind(Kind::Float))?;
    let boxes = to_array::<f32>(&pose.boxes.to_kind(Kind::Float))?;
    let parts = to_array::<u8>(&pose.part_index.to_kind(Kind::Uint8))?;
    let uv = to_array::<f32>(&pose.uv.to_kind(Kind::Float))?;
    use wdp_tensor::dora::send;
    let kp_meta = meta(keypoints.shape(), &["person", "keypoint", "xys"]);
    send(node, "keypoints", keypoints.view(), &kp_meta).wrap_err("sending keypoints")?;
    let box_meta =
        meta(boxes.shape(), &["person", "box"]).with("format", MetaValue::Text("xyxy".into()));
    send(node, "boxes", boxes.view(), &box_meta).wrap_err("sending boxes")?;
    let parts_meta = meta(parts.shape(), &["person", "height", "width"])
        .with("region", MetaValue::Text("box".into()));
    send(node, "parts", parts.view(), &parts_meta).wrap_err("sending parts")?;
    let uv_meta = meta(uv.shape(), &["person", "uv", "height", "width"])
        .with("region", MetaValue::Text("box".into()));
    send(node, "uv", uv.view(), &uv_meta).wrap_err("sending uv")?;
    Ok(())
}
