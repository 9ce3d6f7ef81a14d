//! # wdp-stage
//!
//! The model plumbing every model-stage node (encoder, upsampler, densepose, densepose-fused,
//! temporal-learned) shares, on top of the `wdp-node` runtime, so each node is only its stage:
//! the model's configuration from `env:`, building and loading its part of the model (or a
//! TorchScript module), a [`Stage`] handler batching the inputs that queued up while it was
//! busy, and the loud marking of untrained weights. Only nodes that run a model depend on it
//! (it links libtorch).
//!
//! ## Configuration (`env:`), the same on every stage node
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `PRESET` | `lite`, `gfl`, `paper` or a preset file | `lite` |
//! | `CHECKPOINT` | safetensors checkpoint of the whole model; each stage loads its prefix | none: seeded random weights |
//! | `TORCHSCRIPT` | a TorchScript module that replaces the stage (same contract) | none |
//! | `SEED` | seed of the random initialisation | `0` |
//! | `THREADS` | CPU threads for libtorch | libtorch's default |
//! | `MAX_BATCH` | most queued inputs run as one batch | `8` |
//! | `DEVICE` | `auto` (CUDA when present), `cpu`, `cuda` or `cuda:N` | `auto` |
//!
//! The nodes that draw poses (`densepose`, `densepose-fused`) also read `CAMERA` or `SCENE`
//! when the preset places people by the floor head ([`place`]).

mod config;
pub mod place;
mod pose;
mod run;

pub use config::{Source, StageConfig};
pub use pose::{pose_frame, send_poses};
pub use run::{run, stack, Frame, Stage};
pub use wdp_node::announce;

use eyre::{eyre, Result};
use tch::Tensor;
use wdp_tensor::ndarray::{ArrayD, IxDyn};

/// Copies a tensor (any device) into an ndarray of `T`.
pub fn to_array<T: wdp_tensor::Element + tch::kind::Element>(t: &Tensor) -> Result<ArrayD<T>> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let values = Vec::<T>::try_from(t.flatten(0, -1).to_device(tch::Device::Cpu))
        .map_err(|e| eyre!("reading a model output: {e}"))?;
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| eyre!("model output shape: {e}"))
}
