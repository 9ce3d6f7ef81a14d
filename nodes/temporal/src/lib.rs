//! Tracking and smoothing of pose frames as a `wdp-node` handler ([`Tracking`]), shared by the
//! `temporal` node (this crate's binary) and `temporal-learned` (which adds the learned module
//! on features).

use dora_node_api::DoraNode;
use eyre::{Context as _, Result};
use std::collections::HashMap;
use std::time::Instant;
use wdp_node::{Context, HandlerError, Input};
use wdp_pose::{AssemblerConfig, PoseAssembler, PoseFrame, PoseSmoother, SmootherConfig};

/// The pose inputs.
pub const POSE_INPUTS: [&str; 4] = ["keypoints", "boxes", "parts", "uv"];

/// `SMOOTHER`: `wdp_pose::SmootherConfig` as YAML, inline or a file; One-Euro defaults when
/// absent.
pub fn smoother_config() -> Result<SmootherConfig> {
    match wdp_node::env::inline_or_file("SMOOTHER")? {
        None => Ok(SmootherConfig::default()),
        Some(text) => {
            serde_yaml::from_str(&text).wrap_err("SMOOTHER is not a valid smoother config")
        }
    }
}

/// Pose frames in, the same frames out with stable `track_ids` and smoothed keypoints and
/// boxes, one tracker per room/link stream.
pub struct Tracking {
    smoother: SmootherConfig,
    assembler: PoseAssembler,
    smoothers: HashMap<(String, String), PoseSmoother>,
    arrival: HashMap<u64, (Instant, i64)>,
    frames: u64,
}

impl Tracking {
    /// Tracking of the frames `assembler` puts together (see [`Tracking::for_node`]).
    pub fn new(assembler: PoseAssembler, smoother: SmootherConfig) -> Self {
        Self {
            smoother,
            assembler,
            smoothers: HashMap::new(),
            arrival: HashMap::new(),
            frames: 0,
        }
    }

    /// Tracking for the pose inputs `node` is wired to (`parts`/`uv` awaited only when wired).
    pub fn for_node(node: &DoraNode, smoother: SmootherConfig) -> Self {
        let max_pending = AssemblerConfig::default().max_pending;
        Self::new(wdp_pose::dora::assembler_for(node, max_pending), smoother)
    }

    /// True for the pose inputs.
    pub fn accepts(id: &str) -> bool {
        POSE_INPUTS.contains(&id)
    }

    fn send(&mut self, node: &mut DoraNode, frame: PoseFrame) -> Result<(), HandlerError> {
        let key = (frame.meta.room.clone(), frame.meta.link.clone());
        let frame = self
            .smoothers
            .entry(key)
            .or_insert_with(|| PoseSmoother::new(self.smoother))
            .process(frame);
        wdp_pose::dora::send_frame(node, &frame, "")?;
        self.frames += 1;
        Ok(())
    }

    /// One pose message: frames that are complete go out tracked and smoothed.
    pub fn on_input(&mut self, ctx: &mut Context, input: &Input) -> Result<(), HandlerError> {
        let message = input.pose(&input.id)?;
        self.arrival
            .entry(message.meta.seq)
            .or_insert((input.received, input.received_ns));
        self.assembler.push(message)?;
        ctx.handled(1);
        while let Some(mut frame) = self.assembler.pop() {
            let (t0, t0_ns) = self
                .arrival
                .remove(&frame.seq())
                .unwrap_or((input.received, input.received_ns));
            frame
                .meta
                .push_trace("temporal", t0_ns, wdp_tensor::wall_ns());
            self.send(&mut ctx.node, frame)?;
            ctx.record(t0);
        }
        // Frames the assembler gave up on never pop: forget their arrival times.
        if self.arrival.len() > 64 {
            let newest = self.arrival.keys().max().copied().unwrap_or(0);
            self.arrival.retain(|seq, _| seq + 64 > newest);
        }
        Ok(())
    }

    /// Sends the frames still waiting and says what was done.
    pub fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        for frame in self.assembler.flush() {
            self.send(&mut ctx.node, frame)
                .map_err(|e| eyre::eyre!("{e}"))?;
        }
        let a = self.assembler.stats();
        ctx.announce(&format!(
            "tracking, poses: {} frames sent; assembler: {} frames, {} incomplete dropped, {} invalid dropped{}",
            self.frames,
            a.frames,
            a.incomplete_dropped,
            a.invalid_dropped,
            a.stale_and_restarts()
        ));
        Ok(())
    }
}

/// The handler of the `temporal` node: [`Tracking`] on the pose inputs.
pub struct TrackingNode(pub Tracking);

impl wdp_node::Handler for TrackingNode {
    fn accepts(&self, id: &str) -> bool {
        Tracking::accepts(id)
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        self.0.on_input(ctx, &input)
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        self.0.finish(ctx)
    }

    fn records_latency(&self) -> bool {
        true
    }
}
