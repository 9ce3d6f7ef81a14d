//! Ground-truth outputs of the simulator, one set per camera frame.

use dora_node_api::DoraNode;
use eyre::{Context, Result};
use wdp_sim::GroundTruth;
use wdp_tensor::{MetaValue, TensorMeta};

/// Sends `keypoints`, `boxes`, `parts` and `uv` (the pose contract, maps over the whole image:
/// `region: image`, keypoints `xyv` with COCO visibility) and, when rendered, `frame`. Outputs
/// not declared in the dataflow are skipped by dora.
pub fn send(node: &mut DoraNode, truth: &GroundTruth, base: &TensorMeta) -> Result<()> {
    let mut frame = wdp_sim::truth_frame(truth);
    let frame_index = frame.meta.extra.get("frame_index").cloned();
    frame.set_base(base);
    if let Some(v) = frame_index {
        frame.meta.extra.insert("frame_index".into(), v);
    }
    wdp_pose::dora::send_frame(node, &frame, "").wrap_err("sending the ground truth")?;
    if let Some(rgb) = &truth.rgb {
        let (height, width) = (rgb.shape()[0], rgb.shape()[1]);
        // dora-hub image convention beside our own metadata.
        let frame_meta = TensorMeta::new(rgb.shape(), ["height", "width", "channel"])
            .carry_from(&frame.meta)
            .with("encoding", MetaValue::Text("rgb8".into()))
            .with("width", MetaValue::Int(width as i64))
            .with("height", MetaValue::Int(height as i64))
            .with("primitive", MetaValue::Text("image".into()));
        wdp_tensor::dora::send(node, "frame", rgb.view().into_dyn(), &frame_meta)
            .wrap_err("sending frame")?;
    }
    Ok(())
}
