//! Batching: one blocking receive, then whatever else already waits in the queue (up to
//! `MAX_BATCH`) runs in the same forward pass. Nothing waits for a batch to fill, so a node
//! that keeps up runs batches of one with no added latency, and one that falls behind catches
//! up at batch throughput.

use dora_node_api::{Event, EventStream, TryRecvError};
use std::collections::VecDeque;
use std::time::Instant;
use wdp_tensor::TensorMeta;

use crate::LatencyStats;

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

/// Reads one f32 tensor input, checks its dims and hands out batches of equal shape.
#[derive(Debug)]
pub struct Batcher {
    stage: String,
    input: String,
    dims: Vec<String>,
    max_batch: usize,
    pending: VecDeque<Frame>,
    closed: bool,
}

impl Batcher {
    /// Batches of the input `input` whose `dims` must be `dims` (`"*"` matches any name).
    pub fn new(stage: &str, input: &str, dims: &[&str], max_batch: usize) -> Self {
        Self {
            stage: stage.to_owned(),
            input: input.to_owned(),
            dims: dims.iter().map(|d| (*d).to_owned()).collect(),
            max_batch: max_batch.max(1),
            pending: VecDeque::new(),
            closed: false,
        }
    }

    /// The next batch (1..=max_batch frames of one shape, in arrival order), or `None` once the
    /// stream has ended and everything received was handed out. Bad messages are reported,
    /// counted in `stats` and skipped.
    pub fn next_batch(
        &mut self,
        events: &mut EventStream,
        stats: &mut LatencyStats,
    ) -> Option<Vec<Frame>> {
        while self.pending.is_empty() {
            if self.closed {
                return None;
            }
            match events.recv() {
                Some(event) => self.accept(event, stats),
                None => self.closed = true,
            }
        }
        while !self.closed && self.pending.len() < self.max_batch {
            match events.try_recv() {
                Ok(event) => self.accept(event, stats),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => self.closed = true,
            }
        }
        let shape = self.pending.front()?.meta.shape.clone();
        let mut batch = Vec::new();
        while batch.len() < self.max_batch {
            match self.pending.front() {
                Some(f) if f.meta.shape == shape => batch.extend(self.pending.pop_front()),
                _ => break,
            }
        }
        stats.batch();
        Some(batch)
    }

    fn accept(&mut self, event: Event, stats: &mut LatencyStats) {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            Event::InputClosed { id } => {
                tracing::debug!("input `{id}` closed");
                return;
            }
            Event::Error(e) => {
                crate::announce(&format!("{}: dora error: {e}", self.stage));
                return;
            }
            _ => return,
        };
        if id.as_str() != self.input {
            tracing::warn!("{}: ignoring unknown input `{id}`", self.stage);
            return;
        }
        let received = Instant::now();
        let received_ns = wdp_tensor::wall_ns();
        let dims: Vec<&str> = self.dims.iter().map(String::as_str).collect();
        let decoded = wdp_tensor::dora::receive::<f32>(&metadata, &data).and_then(|r| {
            r.meta.expect_dims(&dims)?;
            Ok(Frame {
                values: r.data.iter().copied().collect(),
                meta: r.meta,
                received_ns,
                received,
            })
        });
        match decoded {
            Ok(frame) => self.pending.push_back(frame),
            Err(e) => {
                stats.drop_one();
                crate::announce(&format!(
                    "{}: dropping `{}` message: {e}",
                    self.stage, self.input
                ));
            }
        }
    }
}
