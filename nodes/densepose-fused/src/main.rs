//! # densepose-fused
//!
//! Runs the whole WiFi-DensePose model (encoder, upsampler, backbone, person head, DensePose
//! head; `models/wdp-models`) in one process, for the lowest latency: one `window` in, the dense
//! pose of every detected person out.
//!
//! **Without `CHECKPOINT` the weights are a seeded random initialisation**: the outputs then have
//! the right shapes and timing but are not poses, every message carries `untrained: true`, and
//! the node says so at start and stop.
//!
//! ## Inputs
//! - `window`: Float32 `[2, antennas, subcarriers, time]` (csi-preprocess). The model is built
//!   for the dims of the first window; a window of other dims, type or rank is reported and
//!   dropped, and the node keeps running.
//! - `radio_map` (optional): Float32 `[ny, nx]` from `csi-locate`, read when the preset weighs
//!   the radio's floor image (`upsampler.floor.radio_map_weight`), as the `upsampler` node
//!   reads it (nearest in time within `RADIO_MAP_LAG_MS`, default 50; nothing waits for it).
//!
//! ## Outputs
//! The same four as the `densepose` node (`keypoints`, `boxes`, `parts`, `uv`, with `model`,
//! `untrained`, `image_wh`, `region: box` and the latency trace), so the two are interchangeable
//! in a dataflow.
//!
//! ## Configuration
//! `PRESET`, `CHECKPOINT`, `SEED`, `THREADS`, `MAX_BATCH`, `DEVICE`: see the `wdp-stage` crate
//! (a TorchScript module replaces one stage, so it belongs on the split nodes);
//! `RADIO_MAP_LAG_MS`: above; `CAMERA` or `SCENE` when the preset places people by the floor
//! head (`person.place`), as on the `densepose` node.

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use tch::nn;
use wdp_models::model::FloorPlacer;
use wdp_models::{InputDims, WifiDensePose};
use wdp_node::Handler;
use wdp_sim::camera::PinholeCamera;
use wdp_stage::{Source, Stage, StageConfig};

#[cfg(test)]
mod tests;

fn build(config: &StageConfig, shape: &[i64]) -> Result<(nn::VarStore, WifiDensePose)> {
    if let Source::TorchScript(path) = &config.source {
        return Err(eyre!(
            "TORCHSCRIPT={}: a TorchScript module replaces one stage; run the split nodes",
            path.display()
        ));
    }
    config.seed();
    let mut vs = nn::VarStore::new(config.device);
    let net = WifiDensePose::new(
        &vs.root(),
        &config.preset,
        InputDims::from_window_shape(shape)?,
    )?;
    config.init_weights(&mut vs, &["encoder", "upsampler", "backbone", "head"])?;
    Ok((vs, net))
}

/// The node's handler: windows in, the dense pose of every person out.
fn stage<'a>(
    config: &'a StageConfig,
    radio_map_lag_ns: i64,
    camera: Option<&'a PinholeCamera>,
) -> impl Handler + 'a {
    // Location first, where the preset says and the camera is known.
    let place = wdp_stage::place::placer(config, camera);
    let stage = Stage::new(
        config,
        "window",
        &["feature", "antenna", "subcarrier", "time"],
        |shape| build(config, shape),
        move |(_, net), node, x, frames| {
            let maps: Vec<Option<Vec<f32>>> = frames
                .iter()
                .map(|f| f.companion("radio_map").map(|m| m.values.clone()))
                .collect();
            let maps: Vec<Option<&[f32]>> = maps.iter().map(Option::as_deref).collect();
            let place = place.as_ref().map(|p| p as &FloorPlacer);
            let poses = net.infer_with_radio(x, &maps, place)?;
            wdp_stage::send_poses(node, config, &poses, frames)
        },
    );
    match &config.preset.upsampler.floor {
        Some(floor) if floor.radio_map_weight > 0.0 => {
            let [nx, ny] = floor.cells.map(|c| c as usize);
            stage.with_side_input("radio_map", &["y", "x"], &[ny, nx], radio_map_lag_ns)
        }
        _ => stage,
    }
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("densepose-fused")?;
    let lag_ms = wdp_node::env::parse_or("RADIO_MAP_LAG_MS", 50u64)?;
    let camera = wdp_stage::place::camera_from_env(&config)?;
    let (node, events) = DoraNode::init_from_env()?;
    let mut handler = stage(&config, lag_ms as i64 * 1_000_000, camera.as_ref());
    wdp_node::run(&config.stage, node, events, &mut handler)?;
    Ok(())
}
