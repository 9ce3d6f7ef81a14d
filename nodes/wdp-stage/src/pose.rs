//! A model's [`PoseOutput`] as a pose frame (`wdp-pose`), sent as the contract's four outputs.

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use tch::Kind;
use wdp_models::PoseOutput;
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};
use wdp_tensor::ndarray::{Ix3, Ix4};
use wdp_tensor::MetaValue;

use crate::{to_array, Frame, StageConfig};

/// Converts a model output for one input frame. Keypoints and boxes are in the pixels of the
/// translated image (`image_wh`); parts and UV cover each person's box (`region: box`).
pub fn pose_frame(
    stage: &str,
    pose: &PoseOutput,
    input: &Frame,
    model: &str,
    image_wh: [i64; 2],
    untrained: bool,
) -> Result<PoseFrame> {
    let kp = to_array::<f32>(&pose.keypoints.to_kind(Kind::Float))?;
    let bx = to_array::<f32>(&pose.boxes.to_kind(Kind::Float))?;
    let n = bx.shape()[0];
    let floor = match &pose.floor_m {
        Some(f) => Some(to_array::<f32>(&f.to_kind(Kind::Float))?),
        None => None,
    };
    if floor.as_ref().is_some_and(|f| f.shape() != [n, 2]) {
        return Err(eyre!(
            "model output: floor_m {:?} for {n} people",
            floor.map(|f| f.shape().to_vec())
        ));
    }
    if kp.shape() != [n, 17, 3] || bx.shape() != [n, 5] {
        return Err(eyre!(
            "model output: keypoints {:?} and boxes {:?} disagree",
            kp.shape(),
            bx.shape()
        ));
    }
    let people = (0..n)
        .map(|p| Person {
            keypoints: std::array::from_fn(|k| std::array::from_fn(|c| kp[[p, k, c]])),
            bbox: std::array::from_fn(|c| bx[[p, c]]),
            track_id: None,
            floor_m: floor.as_ref().map(|f| [f[[p, 0]], f[[p, 1]]]),
        })
        .collect();
    let meta = input
        .output_meta(stage, &[], &[], untrained)
        .with("model", MetaValue::Text(model.to_owned()));
    let mut frame = PoseFrame::new(&meta, people);
    frame.keypoint_kind = KeypointKind::Score;
    frame.image_wh = Some([image_wh[0] as usize, image_wh[1] as usize]);
    frame.region = Region::Box;
    frame.parts = Some(
        to_array::<u8>(&pose.part_index.to_kind(Kind::Uint8))?
            .into_dimensionality::<Ix3>()
            .map_err(|e| eyre!("part_index: {e}"))?,
    );
    frame.uv = Some(
        to_array::<f32>(&pose.uv.to_kind(Kind::Float))?
            .into_dimensionality::<Ix4>()
            .map_err(|e| eyre!("uv: {e}"))?,
    );
    Ok(frame)
}

/// Sends `keypoints`, `boxes`, `parts` and `uv` for each input frame of a batch (see
/// [`pose_frame`]): one [`PoseOutput`] per frame, in order. Stage name, model name, the
/// translated image's size and the untrained marking come from the stage's configuration.
pub fn send_poses(
    node: &mut DoraNode,
    config: &StageConfig,
    poses: &[PoseOutput],
    inputs: &[Frame],
) -> Result<()> {
    let up = &config.preset.upsampler;
    for (pose, input) in poses.iter().zip(inputs) {
        let frame = pose_frame(
            &config.stage,
            pose,
            input,
            &config.preset.name,
            [up.out_width, up.out_height],
            config.untrained(),
        )?;
        wdp_pose::dora::send_frame(node, &frame, "")?;
    }
    Ok(())
}
