//! The pipeline's windows and spectrograms as contract tensors (a received `csi` tensor becomes a
//! packet through `wdp_csi::packet_from_tensor`).

use dora_node_api::DoraNode;
use eyre::{Context, Result};
use wdp_csi::dsp::Output;
use wdp_tensor::{MetaValue, Tensor, TensorMeta};

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
