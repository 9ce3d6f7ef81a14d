//! Per-stage latency from the traces the stages append to each message (`wdp_tensor`
//! `push_trace`): processing time inside each stage, transfer time between stages, end to end.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use wdp_node::{Figures, Latency as Series};
use wdp_tensor::TensorMeta;

/// Collected timings.
#[derive(Debug, Default)]
pub struct Latency {
    stages: Vec<String>,
    // Bounded summaries, not every sample: the sink runs for days.
    processing: BTreeMap<String, Series>,
    transfer: BTreeMap<String, Series>,
    end_to_end: Series,
    first_arrival_ns: Option<i64>,
    last_arrival_ns: i64,
    arrivals: HashMap<u64, i64>,
}

/// What `latency.json` holds.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Frames written.
    pub frames: u64,
    /// Frames per second between the first and last arrival.
    pub throughput_fps: f64,
    /// Stage order as seen in the traces.
    pub stages: Vec<String>,
    /// Inside each stage: received -> sent.
    pub processing: BTreeMap<String, Figures>,
    /// Into each stage: previous stage sent -> this stage received (queueing and transport);
    /// `sink` is the last stage -> the sink.
    pub transfer: BTreeMap<String, Figures>,
    /// First traced stage received -> sink received.
    pub end_to_end: Figures,
}

impl Latency {
    /// Notes when the first message of frame `seq` reached the sink.
    pub fn arrived(&mut self, seq: u64, ns: i64) {
        self.arrivals.entry(seq).or_insert(ns);
        if self.arrivals.len() > 256 {
            let newest = self.arrivals.keys().max().copied().unwrap_or(0);
            self.arrivals.retain(|s, _| s + 256 > newest);
        }
    }

    /// When frame `seq` first reached the sink.
    pub fn arrival(&mut self, seq: u64) -> Option<i64> {
        self.arrivals.remove(&seq)
    }

    /// Adds one complete frame that reached the sink at `received_ns`.
    pub fn record(&mut self, meta: &TensorMeta, received_ns: i64) {
        self.first_arrival_ns.get_or_insert(received_ns);
        self.last_arrival_ns = received_ns;
        let trace = meta.trace();
        let ms = |ns: i64| ns as f64 / 1e6;
        let mut previous_sent: Option<i64> = None;
        for (stage, received, sent) in &trace {
            if !self.stages.contains(stage) {
                self.stages.push(stage.clone());
            }
            self.processing
                .entry(stage.clone())
                .or_default()
                .record_ms(ms(sent - received));
            if let Some(p) = previous_sent {
                self.transfer
                    .entry(stage.clone())
                    .or_default()
                    .record_ms(ms(received - p));
            }
            previous_sent = Some(*sent);
        }
        if let (Some(p), Some((_, first, _))) = (previous_sent, trace.first()) {
            self.transfer
                .entry("sink".into())
                .or_default()
                .record_ms(ms(received_ns - p));
            self.end_to_end.record_ms(ms(received_ns - first));
        }
    }

    /// The figures.
    pub fn report(&self, frames: u64) -> Report {
        let span_s = self
            .first_arrival_ns
            .map_or(0.0, |f| (self.last_arrival_ns - f) as f64 / 1e9);
        Report {
            frames,
            throughput_fps: if span_s > 0.0 && frames > 1 {
                (frames - 1) as f64 / span_s
            } else {
                0.0
            },
            stages: self.stages.clone(),
            processing: self
                .processing
                .iter()
                .map(|(k, v)| (k.clone(), v.figures()))
                .collect(),
            transfer: self
                .transfer
                .iter()
                .map(|(k, v)| (k.clone(), v.figures()))
                .collect(),
            end_to_end: self.end_to_end.figures(),
        }
    }
}

/// The report as lines for the log.
pub fn lines(r: &Report) -> Vec<String> {
    let mut out = vec![format!(
        "{} frames, {:.1} frames/s; end to end p50 {:.1} ms, p99 {:.1} ms",
        r.frames, r.throughput_fps, r.end_to_end.p50_ms, r.end_to_end.p99_ms
    )];
    for s in &r.stages {
        let p = &r.processing[s];
        let t = r.transfer.get(s).map_or(String::new(), |t| {
            format!(", in p50 {:.2} ms p99 {:.2} ms", t.p50_ms, t.p99_ms)
        });
        out.push(format!(
            "  {s}: p50 {:.2} ms, p99 {:.2} ms{t}",
            p.p50_ms, p.p99_ms
        ));
    }
    if let Some(t) = r.transfer.get("sink") {
        out.push(format!(
            "  -> sink: p50 {:.2} ms, p99 {:.2} ms",
            t.p50_ms, t.p99_ms
        ));
    }
    out
}
