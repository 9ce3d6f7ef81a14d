//! # csi-recorder
//!
//! Records every message of every input, with its metadata, to Arrow IPC files that any Arrow
//! tool can read (layout: the `wdp-record` crate). Works for any tensor of the contract: `csi`,
//! `window`, `features`, `pose`, `frame`, ...
//!
//! ## Inputs
//! Any number, any ids: each input is recorded under `OUT_DIR/<input id>/part-NNNNN.arrow`.
//! Messages without a `shape` parameter are recorded as flat 1-D tensors.
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
//! so a killed run leaves every completed file readable. Counts per input are logged at stop.

use dora_node_api::{DoraNode, Event, EventStream};
use eyre::{Context, Result};
use wdp_record::{Recorder, RecorderOptions};
use wdp_tensor::TensorMeta;

fn main() -> Result<()> {
    let recorder = recorder_from_env()?;
    let (_node, events) = DoraNode::init_from_env()?;
    run(events, recorder)
}

fn recorder_from_env() -> Result<Recorder> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let number = |name: &str, default: usize| -> Result<usize> {
        var(name).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .wrap_err_with(|| format!("{name}={v}: expected a positive integer"))
        })
    };
    let defaults = RecorderOptions::default();
    let options = RecorderOptions {
        batch_rows: number("BATCH_ROWS", defaults.batch_rows)?.max(1),
        rotate_rows: number("ROTATE_ROWS", defaults.rotate_rows)?.max(1),
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

/// Records until every input is closed or the dataflow stops, then completes the files.
fn run(mut events: EventStream, mut recorder: Recorder) -> Result<()> {
    let mut rejected = 0u64;
    while let Some(event) = events.recv() {
        match event {
            Event::Input { id, metadata, data } => {
                let array = data.as_array();
                let meta = wdp_tensor::dora::from_parameters(&metadata.parameters)
                    .unwrap_or_else(|_| TensorMeta::new(&[array.len()], Vec::<String>::new()));
                if let Err(e) = recorder.write(id.as_str(), array.as_ref(), &meta) {
                    // A bad message is dropped; what was recorded so far is kept.
                    rejected += 1;
                    tracing::warn!("dropping message on `{id}`: {e}");
                    eprintln!("csi-recorder: dropping message on `{id}`: {e}");
                }
            }
            // Keep receiving after a stop: messages already on their way are still recorded,
            // and the stream ends by itself once dora has delivered them.
            Event::Stop(cause) => tracing::debug!("stop requested: {cause:?}"),
            _ => {}
        }
    }
    let dir = recorder.dir().to_path_buf();
    let counts = recorder.finish().wrap_err("completing the recording")?;
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    let line = format!(
        "csi-recorder: recorded {} in {} ({rejected} rejected)",
        summary.join(", "),
        dir.display()
    );
    tracing::info!("{line}");
    eprintln!("{line}");
    Ok(())
}
