//! # csi-recorder
//!
//! Records every message of every input, with its metadata, to Arrow IPC files that any Arrow
//! tool can read (layout: the `wdp-record` crate). Works for any tensor of the contract: `csi`,
//! `window`, `features`, `pose`, `frame`, ...
//!
//! ## Inputs
//! Any number, any ids: each input is recorded under `OUT_DIR/<input id>/part-NNNNN.arrow`.
//! Messages without a `shape` parameter are recorded as flat 1-D tensors. Values are recorded
//! as they come (NaN included: a recording keeps what the radio said); a message whose values
//! do not fill its `shape`, or whose element type differs from the input's first message, is
//! reported, counted and dropped.
//!
//! ## Outputs
//! None.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OUT_DIR` | recording folder (relative to the dataflow's folder) | `recordings/<unix time>` |
//! | `BATCH_ROWS` | messages per written batch | `64` |
//! | `ROTATE_ROWS` | messages per file | `10000` |
//!
//! Batches are flushed as they fill and at stop; completed files are renamed from `.partial`,
//! so a killed run leaves every completed file readable, and the file being written keeps every
//! flushed batch (`wdp_record::read_partial` reads them): a SIGKILL loses at most the batch held
//! in memory, `BATCH_ROWS` messages (tests/faults.rs). Counts per input are logged at stop.

use dora_node_api::DoraNode;
use eyre::{Context as _, Result};
use wdp_node::env::{parse_or, var};
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_record::{Recorder, RecorderOptions};
use wdp_tensor::TensorMeta;

#[cfg(test)]
mod tests;

fn main() -> Result<()> {
    let recorder = recorder_from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run("csi-recorder", node, events, &mut Record::new(recorder))?;
    Ok(())
}

fn recorder_from_env() -> Result<Recorder> {
    let defaults = RecorderOptions::default();
    let options = RecorderOptions {
        batch_rows: parse_or("BATCH_ROWS", defaults.batch_rows)?.max(1),
        rotate_rows: parse_or("ROTATE_ROWS", defaults.rotate_rows)?.max(1),
    };
    let dir = var("OUT_DIR").unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("recordings/{now}")
    });
    Recorder::create(&dir, options).wrap_err_with(|| format!("OUT_DIR={dir}"))
}

/// The node's handler: every message of every input recorded; the files completed at the end.
struct Record {
    recorder: Option<Recorder>,
}

impl Record {
    fn new(recorder: Recorder) -> Self {
        Self {
            recorder: Some(recorder),
        }
    }
}

impl Handler for Record {
    fn accepts(&self, _id: &str) -> bool {
        true
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let recorder = self
            .recorder
            .as_mut()
            .ok_or_else(|| HandlerError::fatal(eyre::eyre!("recording already completed")))?;
        let array = input.data.as_array();
        let meta = input
            .meta()
            .unwrap_or_else(|_| TensorMeta::new(&[array.len()], Vec::<String>::new()));
        if meta.element_count() != array.len() {
            return Err(HandlerError::bad(
                "shape",
                format!("{} values do not fill shape {:?}", array.len(), meta.shape),
            ));
        }
        // A message the recorder refuses is dropped; what was recorded so far is kept.
        recorder
            .write(&input.id, array.as_ref(), &meta)
            .map_err(|e| HandlerError::bad("message", e))
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let Some(recorder) = self.recorder.take() else {
            return Ok(());
        };
        let dir = recorder.dir().to_path_buf();
        let counts = recorder.finish().wrap_err("completing the recording")?;
        let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        ctx.announce(&format!(
            "recorded {} in {} ({} rejected)",
            summary.join(", "),
            dir.display(),
            ctx.counts().dropped()
        ));
        Ok(())
    }
}
