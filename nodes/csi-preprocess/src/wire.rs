//! Messages to and from the pipeline's types: a `csi` tensor as a [`Packet`] over the received
//! buffer, and windows/spectrograms as contract tensors.

use dora_node_api::DoraNode;
use eyre::{bail, Context, Result};
use wdp_csi::dsp::{CsiValues, Output, Packet};
use wdp_tensor::ndarray::ArrayViewD;
use wdp_tensor::{MetaValue, Tensor, TensorMeta};

/// A packet over the received buffer (no copy of the values).
pub fn packet<'a>(
    data: &'a ArrayViewD<'_, f32>,
    meta: &TensorMeta,
    subcarriers: &'a mut Vec<i32>,
) -> Result<Packet<'a>> {
    let layout = wdp_csi::csi_layout(meta)?;
    subcarriers.clear();
    subcarriers.extend_from_slice(&layout.subcarriers);
    let Some(values) = data.as_slice() else {
        bail!("csi values are not contiguous");
    };
    Ok(Packet {
        n_tx: layout.n_tx,
        n_rx: layout.n_rx,
        subcarriers,
        csi: CsiValues::Interleaved(values),
        t_ns: meta.t_ns,
        agc_db: meta.int("agc").map(|v| v as f32),
        rssi_dbm: meta.float("rssi_dbm").map(|v| v as f32),
    })
}

pub fn send(
    node: &mut DoraNode,
    out: Output,
    input: &TensorMeta,
    subcarriers: &[i32],
    received_ns: i64,
) -> Result<()> {
    let base = |shape: &[usize], dims: [&str; 4], t_ns: i64, seq: u64| {
        TensorMeta::new(shape, dims)
            .with_time_ns(t_ns)
            .with_seq(seq)
            .with_room(&input.room)
            .with_link(&input.link)
            .with(
                "subcarriers",
                MetaValue::Ints(subcarriers.iter().map(|&k| i64::from(k)).collect()),
            )
    };
    let (output, tensor) = match out {
        Output::Window(w) => {
            let dims = ["feature", "antenna", "subcarrier", "time"];
            let meta = base(w.data.shape(), dims, w.t_ns, w.seq)
                .with("rate_hz", MetaValue::Float(w.rate_hz.unwrap_or(0.0)))
                .with("t_first_ns", MetaValue::Int(w.t_first_ns));
            ("window", Tensor::new(w.data.into_dyn(), meta)?)
        }
        Output::Spectrogram(s) => {
            let dims = ["antenna", "subcarrier", "freq", "frame"];
            let breathing = s.breathing_power.iter().map(|&p| f64::from(p)).collect();
            let meta = base(s.power.shape(), dims, s.t_ns, s.seq)
                .with("bin_hz", MetaValue::Float(s.bin_hz))
                .with("breathing_power", MetaValue::Floats(breathing));
            ("spectrogram", Tensor::new(s.power.into_dyn(), meta)?)
        }
    };
    // The latency trace starts here: the arrival of the packet that completed the output.
    let mut tensor = tensor;
    tensor
        .meta
        .push_trace("preprocess", received_ns, wdp_tensor::wall_ns());
    wdp_tensor::dora::send_tensor(node, output, tensor)
        .wrap_err_with(|| format!("sending {output}"))
}
