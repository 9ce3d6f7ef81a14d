//! A tensor-in stage node as a `wdp-node` handler: the inputs that queued up while the model
//! was busy run as one batch (nothing waits for a batch to fill, so a node that keeps up runs
//! batches of one with no added latency, and one that falls behind catches up at batch
//! throughput); the stage's module is built for the first input's shape.

use dora_node_api::{DoraNode, EventStream};
use eyre::{eyre, Result};
use std::collections::VecDeque;
use std::time::Instant;
use tch::{Kind, Tensor};
use wdp_node::{Context, Handler, HandlerError, Input, Report};
use wdp_tensor::{MetaValue, TensorMeta};

use crate::StageConfig;

/// One received f32 tensor, copied out of dora's buffer (the model copies it anyway).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The message's metadata (shape, dims, time, origin, trace).
    pub meta: TensorMeta,
    /// Row-major values.
    pub values: Vec<f32>,
    /// Wall-clock ns when it was received (for the latency trace).
    pub received_ns: i64,
    /// When it was received (for the node's own latency figures).
    pub received: Instant,
}

impl Frame {
    /// Decodes an f32 tensor message whose dims are `dims`; NaN or infinite values make it a
    /// bad message.
    pub fn decode(input: &Input, dims: &[&str]) -> Result<Self, HandlerError> {
        let r = input.tensor::<f32>(dims)?;
        wdp_node::finite("values", r.data.iter())?;
        Ok(Self {
            values: r.data.iter().copied().collect(),
            meta: r.meta,
            received_ns: input.received_ns,
            received: input.received,
        })
    }

    /// Metadata for an output describing the same moment as this input: time, origin and
    /// extras carried, `untrained` set when this stage or any before it runs random weights,
    /// and this stage appended to the latency trace.
    pub fn output_meta(
        &self,
        stage: &str,
        shape: &[usize],
        dims: &[&str],
        untrained: bool,
    ) -> TensorMeta {
        let upstream = matches!(
            self.meta.extra.get("untrained"),
            Some(MetaValue::Bool(true))
        );
        let mut meta = TensorMeta::new(shape, dims.iter().copied())
            .carry_from(&self.meta)
            .with("untrained", MetaValue::Bool(untrained || upstream));
        meta.push_trace(stage, self.received_ns, wdp_tensor::wall_ns());
        meta
    }
}

/// Stacks the frames of a batch (all of one shape) into `[B, ...shape]` on `device`.
pub fn stack(frames: &[Frame], device: tch::Device) -> Result<Tensor> {
    let first = frames.first().ok_or_else(|| eyre!("empty batch"))?;
    let mut shape = vec![frames.len() as i64];
    shape.extend(first.meta.shape.iter().map(|&d| d as i64));
    let mut values = Vec::with_capacity(first.values.len() * frames.len());
    for f in frames {
        values.extend_from_slice(&f.values);
    }
    Ok(Tensor::from_slice(&values)
        .to_kind(Kind::Float)
        .reshape(&shape[..])
        .to_device(device))
}

/// The handler of a stage node: `build` makes the module for the first frame's shape (without
/// the batch axis); `process` runs it on a stacked batch and sends the outputs of every frame.
/// A frame of another dims, type, or of a shape other than the one the module was built for,
/// is a bad message; a batch that fails is dropped. The node keeps running either way.
pub struct Stage<'c, S, B, P> {
    config: &'c StageConfig,
    input: String,
    dims: Vec<String>,
    pending: VecDeque<Frame>,
    module: Option<(Vec<i64>, S)>,
    build: B,
    process: P,
}

impl<'c, S, B, P> Stage<'c, S, B, P>
where
    B: FnMut(&[i64]) -> Result<S>,
    P: FnMut(&mut S, &mut DoraNode, &Tensor, &[Frame]) -> Result<()>,
{
    /// The handler of a stage reading the input `input` of dims `dims` (`"*"` matches any).
    pub fn new(config: &'c StageConfig, input: &str, dims: &[&str], build: B, process: P) -> Self {
        Self {
            config,
            input: input.to_owned(),
            dims: dims.iter().map(|d| (*d).to_owned()).collect(),
            pending: VecDeque::new(),
            module: None,
            build,
            process,
        }
    }

    /// Builds the module on the first batch; the batch's shape must be the one it was built for.
    fn run_batch(&mut self, node: &mut DoraNode, batch: &[Frame]) -> Result<(), HandlerError> {
        let shape: Vec<i64> = batch[0].meta.shape.iter().map(|&d| d as i64).collect();
        if self.module.is_none() {
            self.module = Some((shape.clone(), (self.build)(&shape)?));
        }
        let (built_for, module) = self
            .module
            .as_mut()
            .ok_or_else(|| eyre!("stage not built"))?;
        if *built_for != shape {
            return Err(HandlerError::bad(
                "shape",
                format!("{shape:?} differs from the {built_for:?} the stage was built for"),
            ));
        }
        let x = stack(batch, self.config.device)?;
        (self.process)(module, node, &x, batch)?;
        Ok(())
    }
}

impl<S, B, P> Handler for Stage<'_, S, B, P>
where
    B: FnMut(&[i64]) -> Result<S>,
    P: FnMut(&mut S, &mut DoraNode, &Tensor, &[Frame]) -> Result<()>,
{
    fn accepts(&self, id: &str) -> bool {
        id == self.input
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let dims: Vec<&str> = self.dims.iter().map(String::as_str).collect();
        self.pending.push_back(Frame::decode(&input, &dims)?);
        Ok(())
    }

    /// Runs what is pending in batches of one shape (arrival order, at most `MAX_BATCH`).
    fn on_queue_drained(&mut self, ctx: &mut Context) -> Result<(), HandlerError> {
        while let Some(first) = self.pending.front() {
            let shape = first.meta.shape.clone();
            let mut batch = Vec::new();
            while batch.len() < self.config.max_batch {
                match self.pending.front() {
                    Some(f) if f.meta.shape == shape => batch.extend(self.pending.pop_front()),
                    _ => break,
                }
            }
            ctx.batch();
            match self.run_batch(&mut ctx.node, &batch) {
                Ok(()) => {
                    ctx.handled(batch.len());
                    batch.iter().for_each(|f| ctx.record(f.received));
                }
                Err(HandlerError::Fatal(e)) => return Err(HandlerError::Fatal(e)),
                Err(e) => ctx.dropped(&self.input, batch.len(), &e),
            }
        }
        Ok(())
    }

    fn finish(&mut self, _ctx: &mut Context) -> Result<()> {
        if self.config.untrained() {
            self.config.announce_untrained();
        }
        Ok(())
    }

    fn max_batch(&self) -> usize {
        self.config.max_batch
    }

    fn records_latency(&self) -> bool {
        true
    }
}

/// Runs a stage node (see [`Stage`]) until the end of its input stream; the summary is
/// announced and returned.
pub fn run<S>(
    config: &StageConfig,
    input: &str,
    dims: &[&str],
    node: DoraNode,
    events: EventStream,
    build: impl FnMut(&[i64]) -> Result<S>,
    process: impl FnMut(&mut S, &mut DoraNode, &Tensor, &[Frame]) -> Result<()>,
) -> Result<Report> {
    let mut stage = Stage::new(config, input, dims, build, process);
    wdp_node::run(&config.stage, node, events, &mut stage)
}
