//! # csi-preprocess
//!
//! Turns CSI packets into sanitized, normalized amplitude/phase windows with the
//! [`wdp_csi::dsp::Pipeline`] (resampling, phase sanitization, outlier and low-pass filtering,
//! background subtraction, ... as configured).
//!
//! ## Inputs
//! - `csi`: Float32 `[tx, rx, subcarrier, 2]` (re, im), one packet per message; metadata `t_ns`
//!   (capture time, ns), `subcarriers` (real indices; `0..n` when absent), optional `agc` (dB)
//!   and `rssi_dbm`. A message that is not such a tensor (type, shape, dims
//!   `tx,rx,subcarrier,complex` when given, `subcarriers` of another length) or whose values are
//!   NaN/infinite is logged, counted under `csi/<field>` and dropped before the pipeline, so it
//!   leaves later windows as they were; an all-zero packet is refused by the pipeline and
//!   counted in its stats. A change of antennas or subcarriers resets the pipeline. Other input
//!   ids are logged and ignored.
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

use dora_node_api::DoraNode;
use eyre::Result;
use wdp_csi::dsp::{Pipeline, PushReport};
use wdp_node::{Context, Handler, HandlerError, Input, Latency};

fn main() -> Result<()> {
    let pipeline = config::pipeline_from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run(
        "csi-preprocess",
        node,
        events,
        &mut Preprocess::new(pipeline),
    )?;
    Ok(())
}

/// The node's handler: `csi` packets through the pipeline, its windows out.
struct Preprocess {
    pipeline: Pipeline,
    subcarriers: Vec<i32>,
    refused: u64,
    /// Decode + pipeline of window-completing packets (the runtime's figures add the send).
    processing: Latency,
}

impl Preprocess {
    fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline,
            subcarriers: Vec::new(),
            refused: 0,
            processing: Latency::default(),
        }
    }
}

impl Handler for Preprocess {
    fn accepts(&self, id: &str) -> bool {
        id == "csi"
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        // The csi contract's dims, so that another tensor's axes are not read as antennas and
        // subcarriers; a broken layout is counted under the field at fault (shape, subcarriers).
        let csi = input.tensor::<f32>(&wdp_csi::CSI_DIMS)?;
        wdp_node::finite("values", csi.data.iter())?;
        let layout = wdp_csi::csi_layout(&csi.meta)?;
        let values = csi
            .data
            .as_slice()
            .ok_or_else(|| HandlerError::bad("values", "not contiguous"))?;
        let packet = wdp_csi::packet_from_tensor(values, &csi.meta, &layout);
        if self.subcarriers != layout.subcarriers {
            self.subcarriers.clone_from(&layout.subcarriers);
        }
        match self.pipeline.push(&packet) {
            Ok(PushReport { reset: Some(c), .. }) => {
                tracing::warn!(
                    "CSI layout changed from {} to {}: state reset",
                    c.from,
                    c.to
                )
            }
            Ok(_) => {}
            Err(e) => {
                self.refused += 1;
                // The first few and then every thousandth: all are counted at stop.
                if self.refused <= 10 || self.refused.is_multiple_of(1000) {
                    tracing::warn!(
                        "dropping packet t_ns={} ({} so far): {e}",
                        csi.meta.t_ns,
                        self.refused
                    );
                }
            }
        }
        ctx.handled(1);
        let processed = input.received.elapsed();
        let mut sent = false;
        while let Some(out) = self.pipeline.pop() {
            wire::send(
                &mut ctx.node,
                out,
                &csi.meta,
                &self.subcarriers,
                input.received_ns,
            )
            .map_err(HandlerError::Fatal)?;
            sent = true;
        }
        if sent {
            // Decode + pipeline, and the same plus dora's send.
            self.processing.record(processed);
            ctx.record(input.received);
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let bad_messages = ctx.counts().bad_total();
        let s = self.pipeline.stats();
        let p = self.processing.figures();
        ctx.announce(&format!(
            "{} packets ({bad_messages} bad messages, {} malformed, {} non-finite, {} all-zero, \
             {} outliers, {} duplicates, {} out of order), {} clock jumps, {} resets, loss {:.3}, {} windows, \
             {} spectrograms; window packet processing p50 {:.3} ms, p99 {:.3} ms",
            s.packets + bad_messages, s.malformed, s.non_finite, s.zero_amplitude, s.outliers,
            s.resample.duplicates, s.resample.out_of_order, s.resample.clock_jumps, s.resets,
            s.resample.loss_fraction(),
            s.windows, s.spectrograms, p.p50_ms, p.p99_ms,
        ));
        if let Ok(json) = serde_json::to_string(&s) {
            tracing::info!("csi-preprocess stats: {json}");
        }
        Ok(())
    }

    fn records_latency(&self) -> bool {
        true
    }
}
