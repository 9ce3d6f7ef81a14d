//! # csi-preprocess
//!
//! Turns CSI packets into sanitized, normalized amplitude/phase windows with the
//! [`wdp_csi::dsp::Pipeline`] (resampling, phase sanitization, outlier and low-pass filtering,
//! background subtraction, ... as configured).
//!
//! ## Inputs
//! - `csi`: Float32 `[tx, rx, subcarrier, 2]` (re, im), one packet per message; metadata `t_ns`
//!   (capture time, ns), `subcarriers` (real indices; `0..n` when absent), optional `agc` (dB)
//!   and `rssi_dbm`. A message that is not such a tensor, or whose values are NaN/infinite or
//!   all zero, is logged, counted and dropped; a change of antennas or subcarriers resets the
//!   pipeline. Other input ids are logged and ignored.
//!
//! ## Outputs
//! - `window`: Float32 `[2, tx*rx, subcarrier, time]`, dims `feature,antenna,subcarrier,time`;
//!   feature 0 is amplitude, 1 is phase (radians before normalization), z-scored as configured.
//!   Metadata: `t_ns` of the newest packet in it, `seq` (window counter), `room` and `link` of
//!   the input, `subcarriers`, `rate_hz` (time axis), `t_first_ns` (oldest sample).
//! - `spectrogram` (when `output` is `spectrogram` or `both`): Float32
//!   `[tx*rx, subcarrier, freq, frame]` one-sided power of the amplitude, dims
//!   `antenna,subcarrier,freq,frame`; metadata `bin_hz`, `breathing_power` (per antenna and
//!   subcarrier, 0.1-0.5 Hz band power of the newest frame), `t_ns`, `seq`, `room`, `link`.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `WDP_PREPROCESS_CONFIG` | pipeline config: a YAML/JSON file (relative to the dataflow folder) or inline YAML | the default pipeline |
//! | `CALIBRATION_CAPTURE` | empty-room capture that calibrates the `background` step | first seconds of the stream |
//!
//! The config format is `wdp_csi::dsp::PipelineConfig`, e.g.
//! `{steps: [{resample: {rate_hz: 100}}, {sanitize: {}}, {hampel: {window: 7}}], window: {length: 100, hop: 10}}`.
//! At stop the node logs its counts (packets, refused by reason, resets, loss, windows) and the
//! processing time of window-completing packets.

mod config;
#[cfg(test)]
mod tests;
mod wire;

use dora_node_api::{DoraNode, Event, EventStream};
use eyre::Result;
use std::time::{Duration, Instant};
use wdp_csi::dsp::{Pipeline, PushReport};

fn main() -> Result<()> {
    let pipeline = config::pipeline_from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    run(node, events, pipeline)
}

/// Processes `csi` messages until the inputs close or the dataflow stops.
fn run(mut node: DoraNode, mut events: EventStream, mut pipeline: Pipeline) -> Result<()> {
    let mut subcarriers: Vec<i32> = Vec::new();
    let (mut bad_messages, mut refused) = (0u64, 0u64);
    let mut latency = [Vec::<Duration>::new(), Vec::new()];
    while let Some(event) = events.recv() {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            // dora delivers the inputs queued before a stop after the Stop event itself: keep
            // receiving until the stream ends so that no packet already sent is lost.
            Event::Stop(cause) => {
                tracing::debug!("stop requested: {cause:?}");
                continue;
            }
            _ => continue,
        };
        if id.as_str() != "csi" {
            tracing::warn!("ignoring unknown input `{id}`");
            continue;
        }
        let start = Instant::now();
        let received_ns = wdp_tensor::wall_ns();
        let input = match wdp_tensor::dora::receive::<f32>(&metadata, &data) {
            Ok(r) => r,
            Err(e) => {
                bad_messages += 1;
                tracing::warn!("dropping csi message: {e}");
                continue;
            }
        };
        let packet = match wire::packet(&input.data, &input.meta, &mut subcarriers) {
            Ok(p) => p,
            Err(e) => {
                bad_messages += 1;
                tracing::warn!("dropping csi message: {e}");
                continue;
            }
        };
        match pipeline.push(&packet) {
            Ok(PushReport { reset: Some(c), .. }) => {
                tracing::warn!(
                    "CSI layout changed from {} to {}: state reset",
                    c.from,
                    c.to
                )
            }
            Ok(_) => {}
            Err(e) => {
                refused += 1;
                // The first few and then every thousandth: all are counted at stop.
                if refused <= 10 || refused % 1000 == 0 {
                    tracing::warn!(
                        "dropping packet t_ns={} ({refused} so far): {e}",
                        input.meta.t_ns
                    );
                }
            }
        }
        let processed = start.elapsed();
        let mut sent = false;
        while let Some(out) = pipeline.pop() {
            wire::send(&mut node, out, &input.meta, &subcarriers, received_ns)?;
            sent = true;
        }
        if sent {
            // Decode + pipeline, and the same plus dora's send.
            latency[0].push(processed);
            latency[1].push(start.elapsed());
        }
    }
    report(&pipeline, bad_messages, &mut latency);
    Ok(())
}

fn report(pipeline: &Pipeline, bad_messages: u64, latency: &mut [Vec<Duration>; 2]) {
    latency.iter_mut().for_each(|l| l.sort());
    let at = |i: usize, q: f64| {
        let l = &latency[i];
        l.get(((l.len().max(1) - 1) as f64 * q) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let s = pipeline.stats();
    let line = format!(
        "csi-preprocess: {} packets ({bad_messages} bad messages, {} malformed, {} non-finite, {} all-zero, \
         {} outliers, {} duplicates, {} out of order), {} resets, loss {:.3}, {} windows, {} spectrograms; \
         window packet processing p50 {:.3} ms, p99 {:.3} ms (with send: p50 {:.3} ms, p99 {:.3} ms)",
        s.packets + bad_messages, s.malformed, s.non_finite, s.zero_amplitude, s.outliers,
        s.resample.duplicates, s.resample.out_of_order, s.resets, s.resample.loss_fraction(),
        s.windows, s.spectrograms, at(0, 0.5), at(0, 0.99), at(1, 0.5), at(1, 0.99),
    );
    tracing::info!("{line}");
    eprintln!("{line}");
    if let Ok(json) = serde_json::to_string(&s) {
        tracing::info!("csi-preprocess stats: {json}");
    }
}
