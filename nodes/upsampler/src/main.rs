//! # upsampler
//!
//! Stage 2 of the split model: modality translation from the CSI feature vector to an
//! image-like `3 x H x W` tensor (`models/wdp-models`, checkpoint prefix `upsampler.`). Its
//! output is the largest message of the pipeline (`paper`: 3x720x1280 f32 = 11 MB): give this
//! node a `shared_memory_pool_size` above the batch of outputs in flight.
//!
//! ## Inputs
//! - `features`: Float32 `[feature_dim]` (encoder, or the learned temporal node).
//! - `radio_map` (optional): Float32 `[ny, nx]`, dims `y, x`, values in `[0, 1]`: the radio's
//!   own floor image from the `csi-locate` node, on the floor head's grid. Read when the preset
//!   weighs it (`upsampler.floor.radio_map_weight` above 0): each frame takes the image nearest
//!   to it in capture time, at most `RADIO_MAP_LAG_MS` away (default 50), and its floor logits
//!   become `logits + weight * ln(max(map, 0.001))` before they are sent. Nothing waits for it:
//!   a frame with no image near it keeps the head's logits (counted, reported at stop).
//!
//! ## Outputs
//! - `spatial`: Float32 `[3, H, W]` (H x W from the preset), dims `channel,height,width`.
//! - `locator`: Float32 `[1, H/4, W/4]`, dims `channel,height,width`: the location-first
//!   head's person-centre logits, sent (same metadata as `spatial`) when the preset has one
//!   (`upsampler.locator_hidden > 0`); the densepose node places people by them when the
//!   preset says `person.centre: locator` or `sum`.
//! - `count`: Float32 `[C]`, dims `class`: the count head's logits of 0..C-1 people, sent (same
//!   metadata) when the preset has one (`upsampler.count_classes > 0`); the densepose node
//!   counts the people by them when the preset says `person.count: head`.
//! - `floor`: Float32 `[ny, nx]`, dims `y, x`: the floor head's logits over the room's floor
//!   cells (with the radio's image weighed in, when read), sent (same metadata) when the preset
//!   has one (`upsampler.floor`); the densepose node gives each person the floor point of one
//!   of its best peaks.
//!
//! ## Configuration
//! `PRESET`, `CHECKPOINT`, `TORCHSCRIPT` (a module `[B, F] -> [B, 3, H, W]`), `SEED`,
//! `THREADS`, `MAX_BATCH`, `DEVICE`: see the `wdp-stage` crate; `RADIO_MAP_LAG_MS`: above.

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use tch::nn;
use wdp_models::{SpatialUpsampler, StageContract, TorchScriptStage, Translated};
use wdp_node::Handler;
use wdp_stage::{Source, Stage, StageConfig};

#[cfg(test)]
mod tests;

enum Upsampler {
    Native {
        _vs: nn::VarStore,
        net: Box<SpatialUpsampler>,
    },
    Script(TorchScriptStage),
}

fn build(config: &StageConfig, shape: &[i64]) -> Result<Upsampler> {
    let feature_dim = config.preset.encoder.feature_dim;
    if shape != [feature_dim] {
        return Err(eyre!(
            "features of shape {shape:?}; preset `{}` expects [{feature_dim}]",
            config.preset.name
        ));
    }
    if let Source::TorchScript(path) = &config.source {
        let contract = StageContract::Upsampler {
            feature_dim,
            height: config.preset.upsampler.out_height,
            width: config.preset.upsampler.out_width,
        };
        return Ok(Upsampler::Script(TorchScriptStage::load(path, contract)?));
    }
    config.seed();
    let mut vs = nn::VarStore::new(config.device);
    let net = SpatialUpsampler::new(
        vs.root() / "upsampler",
        &config.preset.upsampler,
        feature_dim,
    )?;
    config.init_weights(&mut vs, &["upsampler"])?;
    Ok(Upsampler::Native {
        _vs: vs,
        net: Box::new(net),
    })
}

/// The floor head's weight of the radio's image; 0 without a floor head.
fn radio_map_weight(config: &StageConfig) -> f64 {
    config
        .preset
        .upsampler
        .floor
        .as_ref()
        .map_or(0.0, |f| f.radio_map_weight)
}

/// Each frame's radio floor image (`ln` map), when it has one.
fn radio_maps(frames: &[wdp_stage::Frame]) -> Vec<Option<Vec<f32>>> {
    frames
        .iter()
        .map(|f| f.companion("radio_map").map(|m| m.values.clone()))
        .collect()
}

/// The node's handler: feature vectors in, one image-like tensor per vector out.
fn stage(config: &StageConfig, radio_map_lag_ns: i64) -> impl Handler + '_ {
    let untrained = config.untrained();
    let weight = radio_map_weight(config);
    let stage = Stage::new(
        config,
        "features",
        &["feature"],
        |shape| build(config, shape),
        move |upsampler, node, x, frames| {
            let mut up = tch::no_grad(|| match upsampler {
                Upsampler::Native { net, .. } => net.forward_located_checked(x, false),
                Upsampler::Script(m) => m.forward(x).map(|spatial| Translated {
                    spatial,
                    locator: None,
                    count: None,
                    floor: None,
                }),
            })?;
            if weight > 0.0 {
                let maps = radio_maps(frames);
                let maps: Vec<Option<&[f32]>> = maps.iter().map(Option::as_deref).collect();
                up.weigh_radio_map(config.preset.upsampler.floor.as_ref(), &maps)?;
            }
            let dims = ["channel", "height", "width"];
            for (i, frame) in frames.iter().enumerate() {
                let i = i as i64;
                let outputs = [
                    ("spatial", Some(&up.spatial), &dims[..]),
                    ("locator", up.locator.as_ref(), &dims[..]),
                    ("count", up.count.as_ref(), &["class"][..]),
                    ("floor", up.floor.as_ref(), &["y", "x"][..]),
                ];
                for (id, t, dims) in outputs {
                    if let Some(t) = t {
                        let a = wdp_stage::to_array::<f32>(&t.get(i))?;
                        let meta = frame.output_meta("upsampler", a.shape(), dims, untrained);
                        wdp_tensor::dora::send(node, id, a.view(), &meta)?;
                    }
                }
            }
            Ok(())
        },
    );
    match &config.preset.upsampler.floor {
        Some(floor) if weight > 0.0 => {
            let [nx, ny] = floor.cells.map(|c| c as usize);
            stage.with_side_input("radio_map", &["y", "x"], &[ny, nx], radio_map_lag_ns)
        }
        _ => stage,
    }
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("upsampler")?;
    let lag_ms = wdp_node::env::parse_or("RADIO_MAP_LAG_MS", 50u64)?;
    let (node, events) = DoraNode::init_from_env()?;
    let mut handler = stage(&config, lag_ms as i64 * 1_000_000);
    wdp_node::run(&config.stage, node, events, &mut handler)?;
    Ok(())
}
