//! # temporal
//!
//! Temporal consistency, in the two places a pipeline wants it. What the node does follows from
//! what it is wired to:
//!
//! - **`features` in, `features` out** (between encoder and upsampler): seed 000's learned
//!   module (2-layer bidirectional LSTM + multi-head attention + residual; checkpoint prefix
//!   `temporal.`) over the last `SEQUENCE` feature vectors of each room/link stream; the output
//!   is the refined newest vector.
//! - **pose in, pose out** (`keypoints`, `boxes`, and `parts`/`uv` when wired; after densepose):
//!   non-learned tracking and smoothing (`wdp-pose`): stable `track_ids` across frames (OKS/IoU
//!   matching with the Hungarian algorithm, tracks kept through missed frames) and One-Euro or
//!   constant-velocity Kalman filtering of keypoints and boxes per track. The frame's dense maps
//!   pass through.
//!
//! Both may be wired in one node. A message that breaks the contract is reported and dropped;
//! the node keeps running.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `SMOOTHER` | `wdp_pose::SmootherConfig` as YAML (inline or a file) | One-Euro, defaults |
//! | `SEQUENCE` | frames the learned module looks back over | `8` |
//! | `PRESET`, `CHECKPOINT`, `SEED`, `THREADS`, `DEVICE` | for the learned module (`wdp-stage`) | |

use dora_node_api::{DoraNode, Event};
use eyre::{eyre, Context, Result};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;
use tch::{nn, Tensor};
use wdp_models::TemporalModule;
use wdp_pose::{AssemblerConfig, PoseSmoother, SmootherConfig};
use wdp_stage::{announce, Frame, LatencyStats, StageConfig};
use wdp_tensor::ndarray::Array1;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn smoother_config() -> Result<SmootherConfig> {
    let Some(value) = var("SMOOTHER") else {
        return Ok(SmootherConfig::default());
    };
    let text = if value.contains(':') || value.contains('{') {
        value
    } else {
        std::fs::read_to_string(value.trim()).wrap_err_with(|| format!("SMOOTHER={value}"))?
    };
    serde_yaml::from_str(&text).wrap_err("SMOOTHER is not a valid smoother config")
}

/// The learned module and the recent features of each stream.
struct Learned {
    _vs: nn::VarStore,
    net: TemporalModule,
    history: HashMap<(String, String), VecDeque<Vec<f32>>>,
    sequence: usize,
    feature_dim: usize,
}

impl Learned {
    fn build(config: &StageConfig, sequence: usize) -> Result<Self> {
        config.seed();
        let mut vs = nn::VarStore::new(config.device);
        let f = config.preset.encoder.feature_dim;
        let net = TemporalModule::new(vs.root() / "temporal", &config.preset.temporal, f)?;
        config.init_weights(&mut vs, &["temporal"])?;
        Ok(Self {
            _vs: vs,
            net,
            history: HashMap::new(),
            sequence,
            feature_dim: f as usize,
        })
    }

    fn refine(&mut self, frame: &Frame) -> Result<Vec<f32>> {
        if frame.values.len() != self.feature_dim {
            return Err(eyre!(
                "features of shape {:?}; the preset has {} features",
                frame.meta.shape,
                self.feature_dim
            ));
        }
        let key = (frame.meta.room.clone(), frame.meta.link.clone());
        let h = self.history.entry(key).or_default();
        h.push_back(frame.values.clone());
        while h.len() > self.sequence {
            h.pop_front();
        }
        let t = h.len() as i64;
        let flat: Vec<f32> = h.iter().flatten().copied().collect();
        let seq = Tensor::from_slice(&flat)
            .view([1, t, self.feature_dim as i64])
            .to_device(self._vs.device());
        let out = tch::no_grad(|| self.net.forward_checked(&seq, false))?;
        let last = out.get(0).get(t - 1);
        Ok(Vec::<f32>::try_from(last.to_device(tch::Device::Cpu))?)
    }
}

fn main() -> Result<()> {
    let config = StageConfig::from_env("temporal")?;
    let sequence: usize = match var("SEQUENCE") {
        Some(s) => s.trim().parse().wrap_err_with(|| format!("SEQUENCE={s}"))?,
        None => 8,
    };
    let smoother = smoother_config()?;
    let (mut node, mut events) = DoraNode::init_from_env()?;
    let mut assembler =
        wdp_pose::dora::assembler_for(&node, AssemblerConfig::default().max_pending);
    let mut smoothers: HashMap<(String, String), PoseSmoother> = HashMap::new();
    let mut learned: Option<Learned> = None;
    let mut stats = LatencyStats::default();
    let mut pose_stats = LatencyStats::default();
    let mut arrival: HashMap<u64, (Instant, i64)> = HashMap::new();
    while let Some(event) = events.recv() {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            _ => continue,
        };
        let received = Instant::now();
        let received_ns = wdp_tensor::wall_ns();
        let result = (|| -> Result<()> {
            match id.as_str() {
                "features" => {
                    let r = wdp_tensor::dora::receive::<f32>(&metadata, &data)?;
                    r.meta.expect_dims(&["feature"])?;
                    let frame = Frame {
                        values: r.data.iter().copied().collect(),
                        meta: r.meta,
                        received_ns,
                        received,
                    };
                    if learned.is_none() {
                        learned = Some(Learned::build(&config, sequence)?);
                    }
                    let l = learned.as_mut().ok_or_else(|| eyre!("module not built"))?;
                    let out = Array1::from(l.refine(&frame)?);
                    let meta = frame.output_meta(
                        "temporal",
                        out.shape(),
                        &["feature"],
                        config.untrained(),
                    );
                    wdp_tensor::dora::send(&mut node, "features", out.view().into_dyn(), &meta)?;
                    stats.record(received.elapsed());
                    stats.batch();
                }
                pose @ ("keypoints" | "boxes" | "parts" | "uv") => {
                    let message = wdp_pose::dora::receive(pose, &metadata, &data)?;
                    arrival
                        .entry(message.meta.seq)
                        .or_insert((received, received_ns));
                    assembler.push(message)?;
                    while let Some(mut frame) = assembler.pop() {
                        let (t0, t0_ns) = arrival
                            .remove(&frame.seq())
                            .unwrap_or((received, received_ns));
                        let key = (frame.meta.room.clone(), frame.meta.link.clone());
                        frame
                            .meta
                            .push_trace("temporal", t0_ns, wdp_tensor::wall_ns());
                        let frame = smoothers
                            .entry(key)
                            .or_insert_with(|| PoseSmoother::new(smoother))
                            .process(frame);
                        wdp_pose::dora::send_frame(&mut node, &frame, "")?;
                        pose_stats.record(t0.elapsed());
                        pose_stats.batch();
                    }
                    // Frames the assembler gave up on never pop: forget their arrival times.
                    if arrival.len() > 64 {
                        let newest = arrival.keys().max().copied().unwrap_or(0);
                        arrival.retain(|seq, _| seq + 64 > newest);
                    }
                }
                other => return Err(eyre!("unknown input `{other}`")),
            }
            Ok(())
        })();
        if let Err(e) = result {
            stats.drop_one();
            announce(&format!("temporal: dropping `{id}` message: {e:#}"));
        }
    }
    for frame in assembler.flush() {
        let key = (frame.meta.room.clone(), frame.meta.link.clone());
        let frame = smoothers
            .entry(key)
            .or_insert_with(|| PoseSmoother::new(smoother))
            .process(frame);
        wdp_pose::dora::send_frame(&mut node, &frame, "")?;
    }
    if learned.is_some() {
        if config.untrained() {
            config.announce_untrained();
        }
        announce(&stats.summary("temporal (learned, features)", config.untrained()));
    }
    let a = assembler.stats();
    announce(&format!(
        "{}; assembler: {} frames, {} incomplete dropped, {} invalid dropped",
        pose_stats.summary("temporal (tracking, poses)", false),
        a.frames,
        a.incomplete_dropped,
        a.invalid_dropped
    ));
    Ok(())
}
