//! A tensor-in stage node as a `wdp-node` handler: the inputs that queued up while the model
//! was busy run as one batch (nothing waits for a batch to fill, so a node that keeps up runs
//! batches of one with no added latency, and one that falls behind catches up at batch
//! throughput); the stage's module is built for the first input's shape. A stage may also read
//! companion inputs paired with the main one by `seq` (the upsampler's locator and count logits
//! beside its picture): a frame then runs once its companions are there. A side input is looser:
//! its newest messages are kept and each frame gets the one nearest to it in time, if one is
//! near enough, without waiting (the radio's floor image beside the upsampler's features).

use dora_node_api::{DoraNode, EventStream};
use eyre::{eyre, Result};
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;
use tch::{Kind, Tensor};
use wdp_node::{Context, Handler, HandlerError, Input, Report};
use wdp_tensor::{seq_restarted, MetaValue, TensorMeta};

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
    /// The companion inputs' frames of the same `seq`, and the side inputs' frames nearest in
    /// time, by input id, when the stage reads some.
    pub companions: BTreeMap<String, Frame>,
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
            companions: BTreeMap::new(),
        })
    }

    /// The frame of companion or side input `id` paired with this one.
    pub fn companion(&self, id: &str) -> Option<&Frame> {
        self.companions.get(id)
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
pub fn stack<'f>(
    frames: impl IntoIterator<Item = &'f Frame>,
    device: tch::Device,
) -> Result<Tensor> {
    let frames: Vec<&Frame> = frames.into_iter().collect();
    let first = frames.first().ok_or_else(|| eyre!("empty batch"))?;
    let mut shape = vec![frames.len() as i64];
    shape.extend(first.meta.shape.iter().map(|&d| d as i64));
    let mut values = Vec::with_capacity(first.values.len() * frames.len());
    for f in &frames {
        if f.meta.shape != first.meta.shape {
            return Err(eyre!(
                "frames of shapes {:?} and {:?} in one batch",
                first.meta.shape,
                f.meta.shape
            ));
        }
        values.extend_from_slice(&f.values);
    }
    Ok(Tensor::from_slice(&values)
        .to_kind(Kind::Float)
        .reshape(&shape[..])
        .to_device(device))
}

/// A second input whose frames pair with the main input's by `seq` and `t_ns` (a stage sends a
/// frame's outputs with the same two).
struct Companion {
    input: String,
    dims: Vec<String>,
    /// Received companions not yet paired, by `(t_ns, seq)`: oldest first, and a restarted
    /// sender's new count apart from its old one (its clock moved on), so that the old count's
    /// companions still pair with its frames that come after the restart's first messages.
    waiting: BTreeMap<(i64, u64), Frame>,
    /// `seq` and `t_ns` of the newest received on it: main frames before it will get no
    /// companion (the sender sends in `seq` order; a restarted sender counts from the start
    /// again, its clock moving on).
    newest: Option<(u64, i64)>,
}

/// Companions kept waiting for their main frame at most (the oldest go first, counted).
const COMPANIONS_WAITING: usize = 64;

/// A side input: its newest frames by time; each main frame takes the nearest one within a lag.
struct Side {
    input: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    recent: wdp_timepair::TimeBuffer<Frame>,
    /// Main frames that found none near enough.
    unpaired: u64,
}

/// Side frames kept at most: a few seconds of windows; the oldest go first.
const SIDE_KEPT: usize = 64;

/// The handler of a stage node: `build` makes the module for the first frame's shape (without
/// the batch axis); `process` runs it on a stacked batch and sends the outputs of every frame.
/// A frame of another dims, type, or of a shape other than the one the module was built for,
/// is a bad message; a batch that fails is dropped. The node keeps running either way.
pub struct Stage<'c, S, B, P> {
    config: &'c StageConfig,
    input: String,
    dims: Vec<String>,
    pending: VecDeque<Frame>,
    companions: Vec<Companion>,
    sides: Vec<Side>,
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
            companions: Vec::new(),
            sides: Vec::new(),
            module: None,
            build,
            process,
        }
    }

    /// Also reads `input` (dims `dims`), paired with the main input by `seq` and `t_ns`: each main frame
    /// waits for its companions (in [`Frame::companion`] when it runs). A main frame whose
    /// companion cannot come any more (one of a later `seq` arrived, or the stream ended) is
    /// dropped and counted as `<main>/<input>`; a companion that waits for its main frame longer
    /// than 64 others is dropped and counted as `<input>/unpaired`. Call once per companion.
    pub fn with_companion(mut self, input: &str, dims: &[&str]) -> Self {
        self.companions.push(Companion {
            input: input.to_owned(),
            dims: dims.iter().map(|d| (*d).to_owned()).collect(),
            waiting: BTreeMap::new(),
            newest: None,
        });
        self
    }

    /// Also reads `input` (dims `dims`, shape `shape`; empty: any) as a side input: its newest
    /// frames are kept (one of another shape is a bad message), and each
    /// main frame, when it runs, gets the one nearest to it in capture time (`t_ns`) at most
    /// `max_lag_ns` away (in [`Frame::companion`]), or none. Nothing waits for it; main frames
    /// that ran without one are counted and reported at stop.
    pub fn with_side_input(
        mut self,
        input: &str,
        dims: &[&str],
        shape: &[usize],
        max_lag_ns: i64,
    ) -> Self {
        let config = wdp_timepair::Config::new(wdp_timepair::Policy::Nearest { max_lag_ns })
            .capacity(SIDE_KEPT)
            // A side stream's clock that steps back (its source restarted) starts over.
            .reorder_ns(Some(max_lag_ns));
        self.sides.push(Side {
            input: input.to_owned(),
            dims: dims.iter().map(|d| (*d).to_owned()).collect(),
            shape: shape.to_vec(),
            recent: wdp_timepair::TimeBuffer::new(config),
            unpaired: 0,
        });
        self
    }

    /// Gives each frame of `batch` its side inputs' nearest frames.
    fn attach_sides(&mut self, batch: &mut [Frame]) {
        for side in &mut self.sides {
            for f in batch.iter_mut() {
                match side.recent.pair(f.meta.t_ns) {
                    Some((_, frame)) => {
                        f.companions.insert(side.input.clone(), frame.clone());
                    }
                    None => side.unpaired += 1,
                }
            }
        }
    }

    /// Pairs the pending frames with the companions that arrived; drops (counted) the frames
    /// whose companion cannot come any more: one of a later `seq` arrived, or, `at_end`, the
    /// stream ended. (Not when the companion's input closes: dora delivers `InputClosed` ahead
    /// of that input's messages still queued, measured in a real dataflow.)
    fn pair(&mut self, ctx: &mut Context, at_end: bool) {
        if self.companions.is_empty() {
            return;
        }
        for c in &mut self.companions {
            for f in self.pending.iter_mut() {
                if !f.companions.contains_key(&c.input) {
                    if let Some(frame) = c.waiting.remove(&(f.meta.t_ns, f.meta.seq)) {
                        f.companions.insert(c.input.clone(), frame);
                    }
                }
            }
        }
        let (input, pending) = (&self.input, std::mem::take(&mut self.pending));
        for f in pending {
            // The first companion that cannot come any more loses the frame.
            let (seq, t_ns) = (f.meta.seq, f.meta.t_ns);
            let lost = self.companions.iter().find(|c| {
                !f.companions.contains_key(&c.input)
                    && (at_end
                        || c.newest.is_some_and(|(n, n_t)| {
                            // A later one of the same count, or one of a newer count.
                            (n > seq && !seq_restarted(n, n_t, seq, t_ns))
                                || seq_restarted(seq, t_ns, n, n_t)
                        }))
            });
            match lost {
                Some(c) => {
                    let reason = format!("no `{}` for seq {}", c.input, f.meta.seq);
                    ctx.dropped(input, 1, &HandlerError::bad(c.input.clone(), reason));
                }
                None => self.pending.push_back(f),
            }
        }
        for c in &mut self.companions {
            while c.waiting.len() > COMPANIONS_WAITING {
                if let Some(((_, seq), _)) = c.waiting.pop_first() {
                    ctx.dropped(
                        &c.input,
                        1,
                        &HandlerError::bad(
                            "unpaired",
                            format!("no `{}` for seq {seq}", self.input),
                        ),
                    );
                }
            }
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
            || self.companions.iter().any(|c| c.input == id)
            || self.sides.iter().any(|c| c.input == id)
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        if let Some(side) = self.sides.iter_mut().find(|c| c.input == input.id) {
            let dims: Vec<&str> = side.dims.iter().map(String::as_str).collect();
            let frame = Frame::decode(&input, &dims)?;
            if !side.shape.is_empty() && frame.meta.shape != side.shape {
                return Err(HandlerError::bad(
                    "shape",
                    format!("{:?}, expected {:?}", frame.meta.shape, side.shape),
                ));
            }
            side.recent.push(frame.meta.t_ns, frame);
            return Ok(());
        }
        if let Some(c) = self.companions.iter_mut().find(|c| c.input == input.id) {
            let dims: Vec<&str> = c.dims.iter().map(String::as_str).collect();
            let frame = Frame::decode(&input, &dims)?;
            let (seq, t_ns) = (frame.meta.seq, frame.meta.t_ns);
            match c.newest {
                // Its sender restarted: a new count begins.
                Some((n, n_t)) if seq_restarted(n, n_t, seq, t_ns) => c.newest = Some((seq, t_ns)),
                // Not the newest: an earlier one of this count, or one of the count before a
                // restart that overtook it.
                Some((n, n_t)) if n >= seq || seq_restarted(seq, t_ns, n, n_t) => {}
                _ => c.newest = Some((seq, t_ns)),
            }
            c.waiting.insert((t_ns, seq), frame);
            return Ok(());
        }
        let dims: Vec<&str> = self.dims.iter().map(String::as_str).collect();
        self.pending.push_back(Frame::decode(&input, &dims)?);
        Ok(())
    }

    /// Runs what is pending (and paired, with a companion) in batches of one shape (arrival
    /// order, at most `MAX_BATCH`).
    fn on_queue_drained(&mut self, ctx: &mut Context) -> Result<(), HandlerError> {
        self.pair(ctx, false);
        let companions = self.companions.len();
        let ready = |f: &Frame| f.companions.len() == companions;
        while let Some(first) = self.pending.front().filter(|f| ready(f)) {
            let shape = first.meta.shape.clone();
            let mut batch = Vec::new();
            while batch.len() < self.config.max_batch {
                match self.pending.front() {
                    Some(f) if f.meta.shape == shape && ready(f) => {
                        batch.extend(self.pending.pop_front())
                    }
                    _ => break,
                }
            }
            ctx.batch();
            self.attach_sides(&mut batch);
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

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        // Frames still waiting for a companion at the end will not get one, nor companions
        // still waiting for their frame: both counted.
        self.pair(ctx, true);
        for c in &mut self.companions {
            let left = std::mem::take(&mut c.waiting);
            if !left.is_empty() {
                let reason = format!("no `{}` came for them", self.input);
                ctx.dropped(&c.input, left.len(), &HandlerError::bad("unpaired", reason));
            }
        }
        for side in &self.sides {
            if side.unpaired > 0 {
                ctx.announce(&format!(
                    "{} frames ran without a `{}` near them in time ({} received)",
                    side.unpaired,
                    side.input,
                    side.recent.stats().pushed
                ));
            }
        }
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
