//! # encoder
//!
//! Stage 1 of the split model: the dual-branch amplitude/phase encoder with branch attention
//! and cross-attention fusion (`models/wdp-models`, checkpoint prefix `encoder.`).
//!
//! ## Inputs
//! - `window`: Float32 `[2, antennas, subcarriers, time]` (csi-preprocess). The encoder is built
//!   for the dims of the first window; a window of other dims, type or rank is reported and
//!   dropped, and the node keeps running.
//!
//! ## Outputs
//! - `features`: Float32 `[feature_dim]` (256 in every preset), dims `feature`; metadata carried
//!   from the window plus `untrained` and this stage in the latency trace.
//!
//! ## Configuration
//! `PRESET`, `CHECKPOINT`, `TORCHSCRIPT` (a module `[B, 2, A, S, T] -> [B, F]`), `SEED`,
//! `THREADS`, `MAX_BATCH`, `DEVICE`: see the `wdp-stage` crate.

use dora_node_api::DoraNode;
use eyre::Result;
use tch::nn;
use wdp_models::{CsiEncoder, InputDims, StageContract, TorchScriptStage};
use wdp_node::Handler;
use wdp_stage::{Source, Stage, StageConfig};

#[cfg(test)]
mod tests;

enum Encoder {
    Native {
        _vs: nn::VarStore,
        net: Box<CsiEncoder>,
    },
    Script(TorchScriptStage),
}

fn build(config: &StageConfig, shape: &[i64]) -> Result<Encoder> {
    let dims = InputDims::from_window_shape(shape)?;
    if let Source::TorchScript(path) = &config.source {
        let contract = StageContract::Encoder {
            dims,
            feature_dim: config.preset.encoder.feature_dim,
        };
        return Ok(Encoder::Script(TorchScriptStage::load(path, contract)?));
    }
    config.seed();
    let mut vs = nn::VarStore::new(config.device);
    let net = CsiEncoder::new(vs.root() / "encoder", &config.preset.encoder, dims)?;
    config.init_weights(&mut vs, &["encoder"])?;
    Ok(Encoder::Native {
        _vs: vs,
        net: Box::new(net),
    })
}

/// The node's handler: windows in, one feature vector per window out.
fn stage(config: &StageConfig) -> impl Handler + '_ {
    let untrained = config.untrained();
    Stage::new(
        config,
        "window",
        &["feature", "antenna", "subcarrier", "time"],
        |shape| build(config, shape),
        move |encoder, node, x, frames| {
            let features = tch::no_grad(|| match encoder {
                Encoder::Native { net, .. } => Ok(net.encode_t(x, false)?.features),
                Encoder::Script(m) => m.forward(x),
            })?;
            for (i, frame) in frames.iter().enumerate() {
                let f = wdp_stage::to_array::<f32>(&features.get(i as i64))?;
                let meta = frame.output_meta("encoder", f.shape(), &["feature"], untrained);
                wdp_tensor::dora::send(node, "features", f.view(), &meta)?;
            }
            Ok(())
        },
    )
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("encoder")?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run(&config.stage, node, events, &mut stage(&config))?;
    Ok(())
}
