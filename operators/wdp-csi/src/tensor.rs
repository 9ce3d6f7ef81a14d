//! CSI frames on the wire: the `csi` tensor of the contract, f32 `[tx, rx, subcarrier, 2]`.

use crate::{CaptureFormat, Complex32, CsiFrame, MetaValue};
use std::collections::BTreeMap;
use wdp_tensor::ndarray::{ArrayD, ArrayViewD, IxDyn};
use wdp_tensor::{MetaValue as WireValue, Tensor, TensorError, TensorMeta};

/// Axis names of a `csi` message.
pub const CSI_DIMS: [&str; 4] = ["tx", "rx", "subcarrier", "complex"];

/// The `csi` tensor of one frame: values as f32 (re, im) pairs, with `subcarriers`, `format`,
/// `rssi_dbm`, `noise_dbm` and every numeric or text field of the frame's metadata as parameters.
pub fn frame_to_tensor(frame: &CsiFrame, meta: TensorMeta) -> Tensor<f32> {
    let shape = [frame.n_tx, frame.n_rx, frame.n_subcarriers(), 2];
    let values: Vec<f32> = frame.csi.iter().flat_map(|c| [c.re, c.im]).collect();
    let mut meta = TensorMeta {
        shape: shape.to_vec(),
        dims: CSI_DIMS.iter().map(|d| (*d).to_owned()).collect(),
        ..meta
    };
    meta.extra.insert(
        "subcarriers".into(),
        WireValue::Ints(frame.subcarriers.iter().map(|&s| i64::from(s)).collect()),
    );
    meta.extra
        .insert("format".into(), WireValue::Text(frame.format.name().into()));
    if let Some(rssi) = frame.rssi_dbm {
        meta.extra
            .insert("rssi_dbm".into(), WireValue::Float(f64::from(rssi)));
    }
    if let Some(noise) = frame.noise_dbm {
        meta.extra
            .insert("noise_dbm".into(), WireValue::Float(f64::from(noise)));
    }
    for (key, value) in &frame.meta {
        let wire = match value {
            MetaValue::Int(v) => WireValue::Int(*v),
            MetaValue::Float(v) => WireValue::Float(*v),
            MetaValue::Text(v) => WireValue::Text(v.clone()),
            MetaValue::Ints(v) => WireValue::Ints(v.clone()),
        };
        meta.extra.entry((*key).to_owned()).or_insert(wire);
    }
    let data = ArrayD::from_shape_vec(IxDyn(&shape), values)
        // The frame type guarantees csi.len() == tx * rx * subcarriers for consistent frames;
        // an inconsistent one becomes an empty tensor rather than a panic.
        .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0, 0, 0, 2])));
    Tensor {
        meta: TensorMeta {
            shape: data.shape().to_vec(),
            ..meta
        },
        data,
    }
}

/// The layout of a received `csi` tensor: antenna counts and the real subcarrier indices
/// (`0..n` when the message carries none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiLayout {
    /// Transmit antennas.
    pub n_tx: usize,
    /// Receive antennas.
    pub n_rx: usize,
    /// Subcarrier indices, one per subcarrier column.
    pub subcarriers: Vec<i32>,
}

/// Checks that `meta` describes a `csi` tensor `[tx, rx, subcarrier, 2]` and reads its layout.
pub fn csi_layout(meta: &TensorMeta) -> Result<CsiLayout, TensorError> {
    meta.expect_dims(&CSI_DIMS)?;
    let &[n_tx, n_rx, n_sub, two] = meta.shape.as_slice() else {
        return Err(TensorError::Rank {
            expected: 4,
            found: meta.shape.clone(),
        });
    };
    if two != 2 {
        return Err(TensorError::Metadata {
            key: "shape".into(),
            problem: format!("last axis must hold (re, im), found {two}"),
        });
    }
    let subcarriers = match meta.ints("subcarriers") {
        Some(s) if s.len() == n_sub => s.iter().map(|&v| v as i32).collect(),
        Some(s) => {
            return Err(TensorError::Metadata {
                key: "subcarriers".into(),
                problem: format!("{} indices for {n_sub} subcarriers", s.len()),
            })
        }
        None => (0..n_sub as i32).collect(),
    };
    Ok(CsiLayout {
        n_tx,
        n_rx,
        subcarriers,
    })
}

/// A packet over a received `csi` tensor's values `[tx, rx, subcarrier, (re, im)]` (no copy),
/// with the `layout` [`csi_layout`] read from its metadata, the AGC gain (`agc`, dB) and RSSI
/// (`rssi_dbm`) when the metadata has them.
pub fn packet_from_tensor<'a>(
    values: &'a [f32],
    meta: &TensorMeta,
    layout: &'a CsiLayout,
) -> crate::dsp::Packet<'a> {
    crate::dsp::Packet {
        n_tx: layout.n_tx,
        n_rx: layout.n_rx,
        subcarriers: &layout.subcarriers,
        csi: crate::dsp::CsiValues::Interleaved(values),
        t_ns: meta.t_ns,
        agc_db: meta.int("agc").map(|v| v as f32),
        rssi_dbm: meta.float("rssi_dbm").map(|v| v as f32),
    }
}

/// A frame back from a received `csi` tensor: checks the layout and reads `subcarriers` (indices
/// default to 0..n when absent) and `t_ns`.
pub fn frame_from_tensor(
    data: ArrayViewD<'_, f32>,
    meta: &TensorMeta,
) -> Result<CsiFrame, TensorError> {
    let CsiLayout {
        n_tx,
        n_rx,
        subcarriers,
    } = csi_layout(meta)?;
    let flat: Vec<f32> = data.iter().copied().collect();
    let csi = flat
        .chunks_exact(2)
        .map(|c| Complex32::new(c[0], c[1]))
        .collect();
    let float = |k: &str| meta.float(k).map(|v| v as f32);
    Ok(CsiFrame {
        format: CaptureFormat::from_name(meta.text("format").unwrap_or("simulated"))
            .unwrap_or(CaptureFormat::Simulated),
        n_tx,
        n_rx,
        subcarriers,
        csi,
        timestamp_ns: meta.t_ns,
        rssi_dbm: float("rssi_dbm"),
        noise_dbm: float("noise_dbm"),
        meta: BTreeMap::new(),
    })
}
