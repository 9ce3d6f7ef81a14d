//! The loop of a tensor-in stage node: batches in, the stage's module built for the first
//! input's shape, outputs sent per frame, figures at stop.

use dora_node_api::{DoraNode, EventStream};
use eyre::{eyre, Result};
use tch::{Kind, Tensor};
use wdp_tensor::{MetaValue, TensorMeta};

use crate::{announce, Batcher, Frame, LatencyStats, StageConfig};

impl Frame {
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

/// Runs a stage node: `build` makes the module for the first frame's shape (without the batch
/// axis); `process` runs it on a stacked batch and sends the outputs of every frame. A frame
/// whose shape differs from the one the module was built for, or a batch that fails, is
/// reported and dropped; the node keeps running. Returns at the end of the input stream.
pub fn run<S>(
    config: &StageConfig,
    input: &str,
    dims: &[&str],
    mut node: DoraNode,
    mut events: EventStream,
    mut build: impl FnMut(&[i64]) -> Result<S>,
    mut process: impl FnMut(&mut S, &mut DoraNode, &Tensor, &[Frame]) -> Result<()>,
) -> Result<LatencyStats> {
    let mut batcher = Batcher::new(&config.stage, input, dims, config.max_batch);
    let mut stats = LatencyStats::default();
    let mut stage: Option<(Vec<i64>, S)> = None;
    while let Some(batch) = batcher.next_batch(&mut events, &mut stats) {
        let shape: Vec<i64> = batch[0].meta.shape.iter().map(|&d| d as i64).collect();
        let result = (|| -> Result<()> {
            if stage.is_none() {
                stage = Some((shape.clone(), build(&shape)?));
            }
            let (built_for, module) = stage.as_mut().ok_or_else(|| eyre!("stage not built"))?;
            if *built_for != shape {
                return Err(eyre!(
                    "`{input}` shape {shape:?} differs from the {built_for:?} the stage was built for"
                ));
            }
            let x = stack(&batch, config.device)?;
            process(module, &mut node, &x, &batch)
        })();
        match result {
            Ok(()) => {
                for f in &batch {
                    stats.record(f.received.elapsed());
                }
            }
            Err(e) => {
                for _ in &batch {
                    stats.drop_one();
                }
                announce(&format!(
                    "{}: dropping {} `{input}` message(s): {e:#}",
                    config.stage,
                    batch.len()
                ));
            }
        }
    }
    if config.untrained() {
        config.announce_untrained();
    }
    announce(&stats.summary(&config.stage, config.untrained()));
    Ok(stats)
}
