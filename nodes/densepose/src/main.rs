//! # densepose
//!
//! Stage 3 of the split model: ResNet-FPN (or GFL) backbone, the dense person-centre head and
//! the DensePose head per detected person (`models/wdp-models`, checkpoint prefixes `backbone.`
//! and `head.`).
//!
//! ## Inputs
//! - `spatial`: Float32 `[3, H, W]` (upsampler).
//! - `locator`: Float32 `[1, H/4, W/4]` (upsampler), read only when the preset places people by
//!   the upsampler's locator (`person.centre: locator` or `sum`): each `spatial` frame then
//!   waits for the `locator` of its `seq` (one that cannot come any more is dropped and counted
//!   as `spatial/locator`).
//! - `count`: Float32 `[C]` (upsampler), dims `class`, read only when the preset counts the
//!   people by the upsampler's count head (`person.count: head`); paired by `seq` the same way
//!   (a lost one counted as `spatial/count`).
//! - `floor`: Float32 `[ny, nx]` (upsampler), dims `y, x`, read when the preset has a floor
//!   head (`upsampler.floor`); paired by `seq` the same way (a lost one counted as
//!   `spatial/floor`). Each person then carries a floor position (`floor_m` metadata).
//!
//! ## Outputs (per frame; metadata carried from the input plus `model`, `untrained`,
//! `image_wh` = [W, H] of the translated image, and this stage in the latency trace)
//! - `keypoints`: Float32 `[P, 17, 3]` (x, y in translated-image pixels, score)
//! - `boxes`: Float32 `[P, 5]` (x1, y1, x2, y2, score), `format: xyxy`
//! - `parts`: UInt8 `[P, h, w]` (0 background, 1-24 DensePose parts) over each box, `region: box`
//! - `uv`: Float32 `[P, 2, h, w]` over each box, `region: box`
//!
//! ## Configuration
//! `PRESET`, `CHECKPOINT`, `TORCHSCRIPT` (a module `[1, 3, H, W] -> (keypoints, boxes,
//! part_index, uv)`), `SEED`, `THREADS`, `MAX_BATCH`, `DEVICE`: see the `wdp-stage` crate.
//!
//! Location first: when the preset places people by the floor head (`person.place`), each
//! person's box is where a body of `person.place`'s size standing at their floor position
//! appears to the camera the poses are drawn in, and the DensePose head draws them there. The
//! camera is `CAMERA` (a scene's `camera` block: `position_m`, `look_at_m`, `fov_deg` or
//! `intrinsics`, `resolution`; inline YAML or a file relative to the dataflow folder) or the
//! camera of `SCENE` (a simulator scene, preset name or file). Without either the boxes are the
//! person maps' own, and the node says so at start.

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use tch::nn;
use wdp_models::model::FloorPlacer;
use wdp_models::{
    CentreSource, CountSource, DensePoseStage, Located, StageContract, TorchScriptStage,
};
use wdp_node::Handler;
use wdp_sim::camera::PinholeCamera;
use wdp_stage::{Source, Stage, StageConfig};

#[cfg(test)]
mod tests;

enum Stage3 {
    // Boxed: the native stage is far larger than a TorchScript handle.
    Native {
        _vs: nn::VarStore,
        net: Box<DensePoseStage>,
    },
    Script(TorchScriptStage),
}

fn build(config: &StageConfig, shape: &[i64]) -> Result<Stage3> {
    let up = &config.preset.upsampler;
    if shape != [3, up.out_height, up.out_width] {
        return Err(eyre!(
            "spatial of shape {shape:?}; preset `{}` expects [3, {}, {}]",
            config.preset.name,
            up.out_height,
            up.out_width
        ));
    }
    if let Source::TorchScript(path) = &config.source {
        if reads_locator(config) {
            return Err(eyre!(
                "preset `{}` places people by the upsampler's locator (person.centre), which a \
                 TorchScript densepose stage does not take",
                config.preset.name
            ));
        }
        let contract = StageContract::DensePose {
            height: up.out_height,
            width: up.out_width,
            num_keypoints: config.preset.head.num_keypoints,
        };
        return Ok(Stage3::Script(TorchScriptStage::load(path, contract)?));
    }
    config.seed();
    let mut vs = nn::VarStore::new(config.device);
    let net = DensePoseStage::new(vs.root() / "backbone", vs.root() / "head", &config.preset)?;
    config.init_weights(&mut vs, &["backbone", "head"])?;
    Ok(Stage3::Native {
        _vs: vs,
        net: Box::new(net),
    })
}

/// Whether the preset places people by the upsampler's locator logits.
fn reads_locator(config: &StageConfig) -> bool {
    config.preset.upsampler.locator_hidden > 0
        && config.preset.person.centre != CentreSource::Backbone
}

/// Whether the preset counts people by the upsampler's count head.
fn reads_count(config: &StageConfig) -> bool {
    config.preset.upsampler.count_classes > 0 && config.preset.person.count == CountSource::Head
}

/// The node's handler: translated images in (with the locator's and count head's logits when
/// the preset places or counts people by them), the dense pose of every person out.
fn stage<'a>(config: &'a StageConfig, camera: Option<&'a PinholeCamera>) -> impl Handler + 'a {
    // Location first, where the preset says and the camera is known.
    let place = wdp_stage::place::placer(config, camera);
    let dims = ["channel", "height", "width"];
    let stage = Stage::new(
        config,
        "spatial",
        &dims,
        |shape| build(config, shape),
        move |stage, node, x, frames| {
            let poses = match stage {
                Stage3::Native { net, .. } => {
                    // Every frame of the batch has its companions (the stage pairs them first).
                    let companion = |id: &str| {
                        frames
                            .iter()
                            .map(|f| f.companion(id))
                            .collect::<Option<Vec<_>>>()
                            .map(|c| wdp_stage::stack(c, config.device))
                            .transpose()
                    };
                    let (locator, count) = (companion("locator")?, companion("count")?);
                    let floor = companion("floor")?;
                    let located = Located {
                        locator: locator.as_ref(),
                        count: count.as_ref(),
                        floor: floor.as_ref(),
                    };
                    let place = place.as_ref().map(|p| p as &FloorPlacer);
                    net.infer_placed(x, located, place)?
                }
                // A TorchScript stage takes one frame at a time.
                Stage3::Script(m) => (0..x.size()[0])
                    .map(|i| m.forward_pose(&x.narrow(0, i, 1)))
                    .collect::<wdp_models::Result<Vec<_>>>()?,
            };
            wdp_stage::send_poses(node, config, &poses, frames)
        },
    );
    let stage = if reads_locator(config) {
        stage.with_companion("locator", &dims)
    } else {
        stage
    };
    let stage = if reads_count(config) {
        stage.with_companion("count", &["class"])
    } else {
        stage
    };
    if config.preset.upsampler.floor.is_some() {
        stage.with_companion("floor", &["y", "x"])
    } else {
        stage
    }
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("densepose")?;
    let camera = wdp_stage::place::camera_from_env(&config)?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run(
        &config.stage,
        node,
        events,
        &mut stage(&config, camera.as_ref()),
    )?;
    Ok(())
}
