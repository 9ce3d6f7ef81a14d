//! Pose frames over dora (feature `dora`).

use crate::{AssemblerConfig, PoseArray, PoseAssembler, PoseError, PoseFrame, PoseMessage};
use dora_node_api::{DoraArray, DoraNode, Metadata, NodeError};

/// Sends a frame as its messages (`keypoints`, `boxes`, then `parts` and `uv` when present) on
/// the outputs of those names prefixed by `prefix` (usually empty).
pub fn send_frame(node: &mut DoraNode, frame: &PoseFrame, prefix: &str) -> Result<(), SendError> {
    for m in frame.to_messages()? {
        let id = format!("{prefix}{}", m.output.id());
        match &m.data {
            PoseArray::F32(a) => wdp_tensor::dora::send(node, &id, a.view(), &m.meta),
            PoseArray::U8(a) => wdp_tensor::dora::send(node, &id, a.view(), &m.meta),
        }
        .map_err(|e| SendError::Node(id.clone(), e))?;
    }
    Ok(())
}

/// An assembler for the pose inputs this node is wired to: frames wait for `parts` and `uv`
/// only when the dataflow declares inputs of those names.
pub fn assembler_for(node: &DoraNode, max_pending: usize) -> PoseAssembler {
    let declared = |id: &str| node.node_config().inputs.keys().any(|k| k.as_str() == id);
    PoseAssembler::new(AssemblerConfig {
        max_pending,
        expect_parts: declared("parts"),
        expect_uv: declared("uv"),
    })
}

/// Decodes a received pose message; `output` is the pose output it carries (`keypoints`,
/// `boxes`, `parts` or `uv`), whatever the node's input is called.
pub fn receive(
    output: &str,
    metadata: &Metadata,
    data: &DoraArray,
) -> Result<PoseMessage, PoseError> {
    let meta = wdp_tensor::dora::from_parameters(&metadata.parameters).map_err(|source| {
        PoseError::Tensor {
            input: output.into(),
            source,
        }
    })?;
    PoseMessage::from_arrow(output, data.as_array().as_ref(), meta)
}

/// Why a frame could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The frame breaks the contract.
    #[error(transparent)]
    Pose(#[from] PoseError),
    /// dora refused the message.
    #[error("sending `{0}`: {1}")]
    Node(String, NodeError),
}
