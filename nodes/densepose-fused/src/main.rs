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
//!
//! ## Outputs (per window; metadata `t_ns`, `seq`, `room`, `link` carried from the window,
//! plus `model` and `untrained`)
//! - `keypoints`: Float32 `[P, 17, 3]` (x, y in translated-image pixels, score)
//! - `boxes`: Float32 `[P, 5]` (x1, y1, x2, y2, score), `format: xyxy`
//! - `parts`: UInt8 `[P, h, w]` (0 background, 1-24 DensePose parts, over each box)
//! - `uv`: Float32 `[P, 2, h, w]`
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `PRESET` | `lite`, `gfl`, `paper` or a preset file | `lite` |
//! | `CHECKPOINT` | safetensors checkpoint of the whole model | none: random weights |
//! | `SEED` | seed of the random initialisation | `0` |
//! | `THREADS` | CPU threads for libtorch | libtorch's default |

use dora_node_api::{DoraNode, Event, EventStream};
use eyre::{eyre, Context, Result};
use std::time::{Duration, Instant};
use tch::{nn, Device, Kind, Tensor};
use wdp_models::{InputDims, Preset, WifiDensePose};
use wdp_tensor::ndarray::{ArrayD, IxDyn};
use wdp_tensor::{MetaValue, TensorMeta};

struct Config {
    preset: Preset,
    checkpoint: Option<String>,
    seed: i64,
}

fn config_from_env() -> Result<Config> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let preset_name = var("PRESET").unwrap_or_else(|| "lite".into());
    let preset = Preset::load(&preset_name).wrap_err_with(|| format!("PRESET={preset_name}"))?;
    let seed = match var("SEED") {
        Some(s) => s.trim().parse().wrap_err_with(|| format!("SEED={s}"))?,
        None => 0,
    };
    if let Some(threads) = var("THREADS") {
        let n: i32 = threads
            .trim()
            .parse()
            .wrap_err_with(|| format!("THREADS={threads}"))?;
        tch::set_num_threads(n);
    }
    Ok(Config {
        preset,
        checkpoint: var("CHECKPOINT"),
        seed,
    })
}

/// The model, built for the dims of the first window.
struct Model {
    _vs: nn::VarStore,
    net: WifiDensePose,
    dims: Vec<i64>,
}

fn build(config: &Config, dims: &[i64]) -> Result<Model> {
    tch::manual_seed(config.seed);
    let device = Device::cuda_if_available();
    let mut vs = nn::VarStore::new(device);
    let input = InputDims::from_window_shape(dims)?;
    let net = WifiDensePose::new(&vs.root(), &config.preset, input)?;
    match &config.checkpoint {
        Some(path) => {
            wdp_models::checkpoint::load_prefix(&mut vs, path, "")
                .wrap_err_with(|| format!("CHECKPOINT={path}"))?;
            tracing::info!("loaded {path}");
        }
        None => {
            let line = "densepose-fused: UNTRAINED - no CHECKPOINT, seeded random weights; \
                        outputs are not poses";
            tracing::warn!("{line}");
            eprintln!("{line}");
        }
    }
    Ok(Model {
        _vs: vs,
        net,
        dims: dims.to_vec(),
    })
}

fn main() -> Result<()> {
    let config = config_from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    run(node, events, &config)
}

fn run(mut node: DoraNode, mut events: EventStream, config: &Config) -> Result<()> {
    let mut model: Option<Model> = None;
    let (mut frames, mut dropped) = (0u64, 0u64);
    let mut latency: Vec<Duration> = Vec::new();
    while let Some(event) = events.recv() {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            _ => continue,
        };
        if id.as_str() != "window" {
            tracing::warn!("ignoring unknown input `{id}`");
            continue;
        }
        let started = Instant::now();
        let result = (|| -> Result<()> {
            let window = wdp_tensor::dora::receive::<f32>(&metadata, &data)?;
            window
                .meta
                .expect_dims(&["feature", "antenna", "subcarrier", "time"])?;
            let dims: Vec<i64> = window.meta.shape.iter().map(|&d| d as i64).collect();
            if model.is_none() {
                model = Some(build(config, &dims)?);
            }
            let model = model.as_ref().ok_or_else(|| eyre!("model not built"))?;
            if model.dims != dims {
                return Err(eyre!(
                    "window shape {dims:?} differs from the {:?} the model was built for",
                    model.dims
                ));
            }
            let values = window
                .data
                .as_slice()
                .ok_or_else(|| eyre!("window values are not contiguous"))?;
            let input = Tensor::from_slice(values).reshape(&dims[..]);
            let poses = model.net.infer(&input)?;
            let pose = poses
                .first()
                .ok_or_else(|| eyre!("no output for the window"))?;
            send_pose(&mut node, pose, &window.meta, config)
        })();
        match result {
            Ok(()) => {
                frames += 1;
                latency.push(started.elapsed());
            }
            Err(e) => {
                dropped += 1;
                tracing::warn!("dropping window: {e:#}");
                eprintln!("densepose-fused: dropping window: {e:#}");
            }
        }
    }
    latency.sort();
    let pct = |q: f64| {
        latency
            .get(((latency.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let untrained = if config.checkpoint.is_none() {
        " (UNTRAINED weights)"
    } else {
        ""
    };
    let line = format!(
        "densepose-fused: {frames} windows{untrained}, {dropped} dropped; latency p50 {:.1} ms, p99 {:.1} ms",
        pct(0.5),
        pct(0.99)
    );
    tracing::info!("{line}");
    eprintln!("{line}");
    Ok(())
}

fn to_array<T: wdp_tensor::Element + tch::kind::Element>(t: &Tensor) -> Result<ArrayD<T>> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let values =
        Vec::<T>::try_from(t.flatten(0, -1)).map_err(|e| eyre!("reading a model output: {e}"))?;
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| eyre!("model output shape: {e}"))
}

fn send_pose(
    node: &mut DoraNode,
    pose: &wdp_models::PoseOutput,
    window: &TensorMeta,
    config: &Config,
) -> Result<()> {
    let meta = |dims: &[&str]| {
        TensorMeta::new(&[], dims.iter().copied())
            .carry_from(window)
            .with("model", MetaValue::Text(config.preset.name.clone()))
            .with("untrained", MetaValue::Bool(config.checkpoint.is_none()))
    };
    let keypoints = to_array::<f32>(&pose.keypoints.to_kind(Kind::Float))?;
    let boxes = to_array::<f32>(&pose.boxes.to_kind(Kind::Float))?;
    let parts = to_array::<u8>(&pose.part_index.to_kind(Kind::Uint8))?;
    let uv = to_array::<f32>(&pose.uv.to_kind(Kind::Float))?;
    use wdp_tensor::dora::send;
    send(
        node,
        "keypoints",
        keypoints.view(),
        &meta(&["person", "keypoint", "xys"]),
    )?;
    let box_meta = meta(&["person", "box"]).with("format", MetaValue::Text("xyxy".into()));
    send(node, "boxes", boxes.view(), &box_meta)?;
    send(
        node,
        "parts",
        parts.view(),
        &meta(&["person", "height", "width"]),
    )?;
    send(
        node,
        "uv",
        uv.view(),
        &meta(&["person", "uv", "height", "width"]),
    )?;
    Ok(())
}
