//! # wdp-node
//!
//! The runtime every Rust node of wifi-densepose is written on, so that a node is its setup
//! (`main`: configuration, then [`run`]) plus a [`Handler`] (what it does with a message), and
//! every node behaves the same at its edges:
//!
//! - configuration from the environment ([`env`]), every error naming its variable;
//! - one event loop ([`run`]): inputs to the handler, unknown input ids logged and skipped,
//!   a bad message (wrong type, shape, dims, NaN, missing metadata: [`HandlerError::BadInput`])
//!   dropped and counted under the field at fault while the node keeps going, queued messages
//!   handed over in batches to nodes that batch, and at stop one summary line (counts, drops by
//!   field, latency percentiles); a handler with work of its own between messages (a trainer's
//!   optimiser steps) says so from [`Handler::on_idle`] ([`Work::Pending`]) and the loop polls
//!   instead of waiting;
//! - logs on stderr (`RUST_LOG`, warnings by default) and, when an OTLP endpoint is set,
//!   traces and metrics exported ([`telemetry`]): one trace per frame across nodes;
//! - every input's `seq` followed: gaps (messages that never came: a full queue, a stage
//!   killed with messages in flight) and counters starting over (a restarted sender) are
//!   counted per input ([`SeqGaps`]) and in the summary line;
//! - fault injection for tests and drills: `WDP_FAULT_DELAY_MS` makes the node sleep that long
//!   before each message (a slow consumer), whatever the node;
//! - one latency summary ([`Latency`], [`Figures`]: nearest-rank percentiles, bounded memory);
//! - sources (nodes without inputs: replay, simulator, radio) run the same way ([`run_source`]:
//!   steps until done or stopped, same summary);
//! - an in-process test harness ([`testing`]) on dora's integration-testing mode: fixture
//!   events in, the node's outputs and counts out.
//!
//! Dependency rule: dora, Arrow and the message contracts (`wdp-tensor`, `wdp-pose`) only;
//! never libtorch or the models, so a node that runs no model links none. Model plumbing is
//! `wdp-stage`, on top of this crate.

pub mod env;
mod error;
mod latency;
mod runtime;
mod source;
pub mod telemetry;
pub mod testing;

pub use error::{finite, HandlerError};
pub use latency::{quantile, Figures, Latency};
pub use runtime::{run, Context, Counts, Handler, Input, Report, SeqGaps, Work};
pub use source::{run_source, Source, Step};

/// Prints `line` to the node's log and to stderr (what `dora run` shows a user): the start and
/// stop announcements, and anything a user must not miss.
pub fn announce(line: &str) {
    tracing::info!("{line}");
    eprintln!("{line}");
}
