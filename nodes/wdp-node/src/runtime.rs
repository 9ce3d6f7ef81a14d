//! The event loop every node runs: inputs to a [`Handler`], unknown ids skipped, bad messages
//! dropped and counted, figures reported at stop.

use arrow_array::Array;
use dora_node_api::{DoraArray, DoraNode, Event, EventStream, Metadata, StopCause, TryRecvError};
use std::collections::BTreeMap;
use std::time::Instant;
use wdp_tensor::dora::Received;
use wdp_tensor::{Element, TensorMeta};

use crate::telemetry::{receive_span, Instruments, Telemetry};
use crate::{announce, Figures, HandlerError, Latency};

/// One received message.
pub struct Input {
    /// The input id, as the dataflow names it.
    pub id: String,
    /// dora's metadata (the tensor contract's parameters).
    pub metadata: Metadata,
    /// The Arrow data.
    pub data: DoraArray,
    /// When it was received (for latency figures).
    pub received: Instant,
    /// Wall-clock ns when it was received (for latency traces).
    pub received_ns: i64,
}

impl Input {
    /// The message as a tensor of `T` whose dims are `dims` (`"*"` matches any name; empty:
    /// any dims), viewed without a copy.
    pub fn tensor<T: Element>(&self, dims: &[&str]) -> Result<Received<'_, T>, HandlerError> {
        let r = wdp_tensor::dora::receive::<T>(&self.metadata, &self.data)?;
        if !dims.is_empty() {
            r.meta.expect_dims(dims)?;
        }
        Ok(r)
    }

    /// The message's tensor metadata.
    pub fn meta(&self) -> Result<TensorMeta, HandlerError> {
        Ok(wdp_tensor::dora::from_parameters(
            &self.metadata.parameters,
        )?)
    }

    /// The one UTF-8 string of a JSON message (`room_state`, `events`, `building_state`): an
    /// Arrow `Utf8` array of length one (docs/CONTRACT.md, "JSON messages").
    pub fn text(&self) -> Result<&str, HandlerError> {
        let array = self.data.as_array();
        let strings = array
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .ok_or_else(|| {
                HandlerError::bad(
                    "data type",
                    format!("expected Utf8 (one JSON object), got {}", array.data_type()),
                )
            })?;
        if strings.len() != 1 || strings.is_null(0) {
            return Err(HandlerError::bad(
                "shape",
                format!("expected one string, got {} values", strings.len()),
            ));
        }
        Ok(strings.value(0))
    }

    /// The message as the pose output `output` (`keypoints`, `boxes`, `parts`, `uv`), its
    /// float values finite.
    pub fn pose(&self, output: &str) -> Result<wdp_pose::PoseMessage, HandlerError> {
        let m = wdp_pose::dora::receive(output, &self.metadata, &self.data)?;
        if let wdp_pose::PoseArray::F32(a) = &m.data {
            crate::finite("values", a.iter())?;
        }
        Ok(m)
    }
}

/// What a handler has left to do once the waiting messages are handled ([`Handler::on_idle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Nothing until the next message: the loop waits for one.
    Idle,
    /// More to do (a node that works between messages, e.g. a trainer taking optimiser
    /// steps): the loop reads what is queued without waiting and calls `on_idle` again.
    Pending,
    /// The node is done: the loop stops reading and finishes.
    Done,
}

/// A node's behaviour: what it does with each message, and at the end.
pub trait Handler {
    /// True for the input ids this node reads; messages on any other id are logged, counted
    /// and skipped.
    fn accepts(&self, id: &str) -> bool;

    /// Handles one message. A [`HandlerError::BadInput`] or [`HandlerError::Failed`] drops the
    /// message (counted, logged) and the node goes on; [`HandlerError::Fatal`] stops it.
    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError>;

    /// Called once the messages that were waiting have been passed to `on_input` (at most
    /// [`Handler::max_batch`] of them): where a batching node runs its batch.
    fn on_queue_drained(&mut self, _ctx: &mut Context) -> Result<(), HandlerError> {
        Ok(())
    }

    /// Called when the loop would otherwise wait for the next message: after every round of
    /// messages (after [`Handler::on_queue_drained`]), once when the input stream has ended
    /// ([`Context::inputs_ended`]), and again whenever it returned [`Work::Pending`]. While it
    /// returns `Pending` the loop does not block: it reads what is queued (up to
    /// [`Handler::max_batch`] messages), then calls `on_idle` again, so a node can interleave
    /// its own work (one unit per call) with its inputs. [`Work::Done`] ends the run (then
    /// [`Handler::finish`]). An error stops the node. The default: nothing to do.
    fn on_idle(&mut self, _ctx: &mut Context) -> eyre::Result<Work> {
        Ok(Work::Idle)
    }

    /// The dataflow asked the node to stop (`cause`: by the user, or every input closed). The
    /// loop goes on reading what dora still delivers unless [`Handler::on_idle`] says
    /// [`Work::Done`].
    fn on_stop(&mut self, _ctx: &mut Context, _cause: &StopCause) -> Result<(), HandlerError> {
        Ok(())
    }

    /// An input was closed by its sender.
    fn on_close(&mut self, _ctx: &mut Context, _id: &str) -> Result<(), HandlerError> {
        Ok(())
    }

    /// The input stream has ended: flush, write, say what was done.
    fn finish(&mut self, _ctx: &mut Context) -> eyre::Result<()> {
        Ok(())
    }

    /// Most messages read from the queue before [`Handler::on_queue_drained`].
    fn max_batch(&self) -> usize {
        1
    }

    /// True when the handler counts and times what it handles itself ([`Context::handled`],
    /// [`Context::record`]: nodes that batch, or that emit later than they receive); otherwise
    /// the runtime counts every message `on_input` accepts and records its receive-to-handled
    /// time.
    fn records_latency(&self) -> bool {
        false
    }

    /// Dropped messages announced per input before further ones are only counted (a whole
    /// input sending the wrong thing would otherwise fill the log); `None`: every one.
    fn max_drop_reports(&self) -> Option<u64> {
        None
    }
}

/// Counts of one run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    /// Messages received per input id (unknown ids included).
    pub received: BTreeMap<String, u64>,
    /// Messages handled.
    pub handled: u64,
    /// Bad messages dropped, by `input/field`.
    pub bad: BTreeMap<String, u64>,
    /// Messages dropped because handling them failed.
    pub failed: u64,
    /// Messages on unknown ids, by id.
    pub unknown: BTreeMap<String, u64>,
    /// Batches run (nodes that batch).
    pub batches: u64,
    /// Per input, what its `seq` advances say about messages that never arrived.
    pub gaps: BTreeMap<String, SeqGaps>,
}

/// What one input's `seq` (the sender's message counter) shows: messages lost on the way (a
/// sender or a queue dropping them, a stage killed with messages in flight) and senders that
/// started counting again (restarted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeqGaps {
    /// The newest `seq` received.
    pub last: Option<i64>,
    /// Counters skipped: messages that never came.
    pub missing: u64,
    /// Times the counter went back (the sender restarted; not counted as missing).
    pub restarts: u64,
}

impl SeqGaps {
    /// Notes `seq`; returns how many messages it says went missing.
    pub fn see(&mut self, seq: i64) -> u64 {
        let missing = match self.last {
            Some(last) if seq > last + 1 => (seq - last - 1) as u64,
            Some(last) if seq < last => {
                self.restarts += 1;
                0
            }
            _ => 0,
        };
        self.missing += missing;
        self.last = Some(seq);
        missing
    }
}

impl Counts {
    /// Bad messages dropped.
    pub fn bad_total(&self) -> u64 {
        self.bad.values().sum()
    }

    /// Messages dropped: bad or failed.
    pub fn dropped(&self) -> u64 {
        self.bad_total() + self.failed
    }

    /// Messages on unknown ids.
    pub fn unknown_total(&self) -> u64 {
        self.unknown.values().sum()
    }

    /// Messages that never arrived, over every input.
    pub fn missing_total(&self) -> u64 {
        self.gaps.values().map(|g| g.missing).sum()
    }
}

/// What a run reports at stop.
#[derive(Debug, Clone)]
pub struct Report {
    /// Counts.
    pub counts: Counts,
    /// Latency of the handled messages.
    pub latency: Figures,
}

/// The node and its counters, handed to the handler.
pub struct Context {
    /// The dora node (send outputs on it).
    pub node: DoraNode,
    name: String,
    counts: Counts,
    latency: Latency,
    inputs_ended: bool,
    /// `WDP_FAULT_DELAY_MS`: a slow consumer on purpose (fault injection).
    fault_delay: Option<std::time::Duration>,
    max_drop_reports: Option<u64>,
    drops_reported: BTreeMap<String, u64>,
    instruments: Instruments,
    /// The newest received message's span, the parent of a batch's `compute` span.
    newest: Option<tracing::Span>,
    // Flushed when the run ends; the last field so that it drops after the node's work.
    _telemetry: Option<Telemetry>,
}

impl Context {
    pub(crate) fn new(name: &str, node: DoraNode) -> Self {
        Self {
            node,
            name: name.to_owned(),
            counts: Counts::default(),
            latency: Latency::default(),
            inputs_ended: false,
            fault_delay: None,
            max_drop_reports: None,
            drops_reported: BTreeMap::new(),
            instruments: Instruments::new(),
            newest: None,
            _telemetry: None,
        }
    }

    /// A context whose logs, spans and metrics are set up from the environment
    /// ([`crate::telemetry`]).
    pub(crate) fn with_telemetry(name: &str, node: DoraNode) -> Self {
        // The service is the dataflow's node id: unique where one binary runs several times
        // (a building's rooms).
        let telemetry = Telemetry::init(node.id().as_ref());
        Self {
            _telemetry: Some(telemetry),
            // The instruments come from the meter provider the telemetry installed.
            ..Self::new(name, node)
        }
    }

    /// Whether the input stream has ended (dora closed it, or a test's events are exhausted):
    /// no message will come.
    pub fn inputs_ended(&self) -> bool {
        self.inputs_ended
    }

    /// Counts (and logs the first of) a message on an input the node does not read.
    pub(crate) fn unknown(&mut self, id: &str) {
        *self.counts.received.entry(id.to_owned()).or_default() += 1;
        let n = self.counts.unknown.entry(id.to_owned()).or_default();
        *n += 1;
        self.instruments.count("unknown", 1);
        if *n == 1 {
            tracing::warn!("{}: ignoring unknown input `{id}`", self.name);
        }
    }

    pub(crate) fn into_report(self) -> Report {
        Report {
            counts: self.counts,
            latency: self.latency.figures(),
        }
    }

    /// The node's name (log prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Logs `line` prefixed by the node's name, to the log and to stderr.
    pub fn announce(&self, line: &str) {
        announce(&format!("{}: {line}", self.name));
    }

    /// Records the latency of one message received at `received` (handlers that batch).
    pub fn record(&mut self, received: Instant) {
        let elapsed = received.elapsed();
        self.latency.record(elapsed);
        self.instruments.latency(elapsed.as_secs_f64() * 1e3);
    }

    /// Counts `n` messages handled (handlers that count themselves).
    pub fn handled(&mut self, n: usize) {
        self.counts.handled += n as u64;
        self.instruments.count("handled", n as u64);
    }

    /// Counts one batch.
    pub fn batch(&mut self) {
        self.counts.batches += 1;
    }

    /// Drops `n` messages of `input` for `error`: counted and logged (announced up to
    /// [`Handler::max_drop_reports`] times per input, then only counted).
    pub fn dropped(&mut self, input: &str, n: usize, error: &HandlerError) {
        self.instruments.count("dropped", n as u64);
        match error {
            HandlerError::BadInput { field, .. } => {
                *self
                    .counts
                    .bad
                    .entry(format!("{input}/{field}"))
                    .or_default() += n as u64;
            }
            _ => self.counts.failed += n as u64,
        }
        let mut last_report = false;
        if let Some(limit) = self.max_drop_reports {
            let reported = self.drops_reported.entry(input.to_owned()).or_default();
            *reported += 1;
            if *reported > limit {
                tracing::warn!("{}: dropping `{input}`: {error}", self.name);
                return;
            }
            last_report = *reported == limit;
        }
        let what = if n == 1 {
            "message".to_owned()
        } else {
            format!("{n} messages")
        };
        self.announce(&format!("dropping `{input}` {what}: {error}"));
        if last_report {
            self.announce(&format!("further bad `{input}` messages are only counted"));
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The summary line of the run so far.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut line = format!("{}: {} messages handled", self.name, c.handled);
        if c.batches > 0 {
            line += &format!(
                " in {} batches (mean {:.2})",
                c.batches,
                c.handled as f64 / c.batches as f64
            );
        }
        line += &format!(", {} dropped", c.dropped());
        if c.dropped() > 0 {
            let bad: Vec<String> = c.bad.iter().map(|(k, n)| format!("{k} {n}")).collect();
            line += &format!(" (bad: {}; failed: {})", bad.join(", "), c.failed);
        }
        if c.unknown_total() > 0 {
            let unknown: Vec<String> = c
                .unknown
                .iter()
                .map(|(k, n)| format!("`{k}` {n}"))
                .collect();
            line += &format!(", unknown inputs ignored: {}", unknown.join(", "));
        }
        let gaps: Vec<String> = c
            .gaps
            .iter()
            .filter(|(_, g)| g.missing > 0 || g.restarts > 0)
            .map(|(k, g)| {
                let mut s = format!("`{k}` {} missing", g.missing);
                if g.restarts > 0 {
                    s += &format!(" ({} restarts)", g.restarts);
                }
                s
            })
            .collect();
        if !gaps.is_empty() {
            line += &format!(", seq gaps: {}", gaps.join(", "));
        }
        if self.latency.count() > 0 {
            line += &format!("; latency {}", self.latency.figures().line(1));
        }
        line
    }
}

/// Runs `handler` on the node's events until the input stream ends, then calls
/// [`Handler::finish`], announces the summary (counts, latency) and returns it.
///
/// After a `Stop` the loop keeps receiving: dora delivers the messages already queued before
/// it, and the stream ends by itself. A handler with work of its own between messages
/// ([`Handler::on_idle`] returning [`Work::Pending`]) is called again instead of the loop
/// waiting, also after the stream has ended, until it returns [`Work::Idle`] or
/// [`Work::Done`] (which ends the run at once). Returns an error only for a fatal handler
/// error, a failing `on_idle` or a failing `finish`.
pub fn run<H: Handler + ?Sized>(
    name: &str,
    node: DoraNode,
    mut events: EventStream,
    handler: &mut H,
) -> eyre::Result<Report> {
    let mut ctx = Context::with_telemetry(name, node);
    ctx.max_drop_reports = handler.max_drop_reports();
    let delay_ms: f64 = crate::env::parse_or("WDP_FAULT_DELAY_MS", 0.0)?;
    if delay_ms > 0.0 {
        ctx.announce(&format!(
            "WDP_FAULT_DELAY_MS={delay_ms}: sleeping before every message (fault injection)"
        ));
        ctx.fault_delay = Some(std::time::Duration::from_secs_f64(delay_ms / 1e3));
    }
    let mut work = Work::Idle;
    loop {
        let first = if ctx.inputs_ended {
            None
        } else if work == Work::Pending {
            match events.try_recv() {
                Ok(event) => Some(event),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Closed) => {
                    ctx.inputs_ended = true;
                    None
                }
            }
        } else {
            let event = events.recv();
            ctx.inputs_ended = event.is_none();
            event
        };
        if let Some(event) = first {
            let mut taken = usize::from(dispatch(&mut ctx, handler, event)?);
            while taken < handler.max_batch().max(1) {
                match events.try_recv() {
                    Ok(event) => taken += usize::from(dispatch(&mut ctx, handler, event)?),
                    Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
                }
            }
            // A batch's work is traced under the newest message it holds.
            let compute = match ctx.newest.take() {
                Some(parent) if handler.max_batch() > 1 => {
                    tracing::info_span!(parent: &parent, "compute batch", batch = taken)
                }
                _ => tracing::Span::none(),
            };
            let drained = compute.in_scope(|| handler.on_queue_drained(&mut ctx));
            settle(&mut ctx, "queue", drained, 1)?;
        }
        work = handler.on_idle(&mut ctx)?;
        if work == Work::Done || (ctx.inputs_ended && work == Work::Idle) {
            break;
        }
    }
    handler.finish(&mut ctx)?;
    announce(&ctx.summary());
    Ok(ctx.into_report())
}

/// Passes one event on; true when it was an input.
fn dispatch<H: Handler + ?Sized>(
    ctx: &mut Context,
    handler: &mut H,
    event: Event,
) -> eyre::Result<bool> {
    match event {
        Event::Input { id, metadata, data } => {
            let id = id.to_string();
            if !handler.accepts(&id) {
                ctx.unknown(&id);
                return Ok(true);
            }
            *ctx.counts.received.entry(id.clone()).or_default() += 1;
            if let Some(dora_node_api::Parameter::Integer(seq)) = metadata.parameters.get("seq") {
                let missing = ctx.counts.gaps.entry(id.clone()).or_default().see(*seq);
                if missing > 0 {
                    ctx.instruments.count("missing", missing);
                }
            }
            let received = Instant::now();
            let span = receive_span(&ctx.name, &id, &metadata);
            let _entered = span.enter();
            let input = Input {
                id: id.clone(),
                metadata,
                data,
                received,
                received_ns: wdp_tensor::wall_ns(),
            };
            if let Some(delay) = ctx.fault_delay {
                // A slow handler: the time counts in its latency.
                std::thread::sleep(delay);
            }
            let result = tracing::info_span!("compute").in_scope(|| handler.on_input(ctx, input));
            if result.is_ok() && !handler.records_latency() {
                ctx.handled(1);
                ctx.record(received);
            }
            ctx.newest = Some(span.clone());
            settle(ctx, &id, result, 1)?;
            Ok(true)
        }
        Event::InputClosed { id } => {
            tracing::debug!("{}: input `{id}` closed", ctx.name);
            let id = id.to_string();
            let result = handler.on_close(ctx, &id);
            settle(ctx, &id, result, 0)?;
            Ok(false)
        }
        Event::Stop(cause) => {
            tracing::debug!("{}: stop requested: {cause:?}", ctx.name);
            let result = handler.on_stop(ctx, &cause);
            settle(ctx, "stop", result, 0)?;
            Ok(false)
        }
        Event::Error(e) => {
            ctx.announce(&format!("dora error: {e}"));
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// Counts a handler's failure; only a fatal one ends the run.
fn settle(
    ctx: &mut Context,
    input: &str,
    result: Result<(), HandlerError>,
    n: usize,
) -> eyre::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(HandlerError::Fatal(e)) => Err(e.wrap_err(format!("{}: `{input}`", ctx.name))),
        Err(e) if n == 0 => {
            ctx.announce(&format!("`{input}`: {e}"));
            Ok(())
        }
        Err(e) => {
            ctx.dropped(input, n, &e);
            Ok(())
        }
    }
}
