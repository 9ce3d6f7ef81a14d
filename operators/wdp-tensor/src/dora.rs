//! Tensor messages over dora: metadata parameters and Arrow arrays in, tensors out, and back.
//!
//! Enabled by the `dora` feature, so that operators never depend on the runtime.

use crate::{view, Element, MetaValue, Tensor, TensorError, TensorMeta, CONTRACT_KEYS};
use dora_node_api::arrow_v59::array::Array;
use dora_node_api::dora_core::config::DataId;
use dora_node_api::{DoraArray, DoraNode, Metadata, MetadataParameters, NodeError, Parameter};
use ndarray::ArrayViewD;

/// dora metadata parameters for a tensor's metadata.
pub fn to_parameters(meta: &TensorMeta) -> MetadataParameters {
    let mut params = MetadataParameters::new();
    for (key, value) in &meta.extra {
        params.insert(key.clone(), to_parameter(value));
    }
    params.insert(
        "shape".into(),
        Parameter::ListInt(meta.shape.iter().map(|&d| d as i64).collect()),
    );
    if !meta.dims.is_empty() {
        params.insert("dims".into(), Parameter::String(meta.dims.join(",")));
    }
    params.insert("t_ns".into(), Parameter::Integer(meta.t_ns));
    params.insert("seq".into(), Parameter::Integer(meta.seq as i64));
    if !meta.room.is_empty() {
        params.insert("room".into(), Parameter::String(meta.room.clone()));
    }
    if !meta.link.is_empty() {
        params.insert("link".into(), Parameter::String(meta.link.clone()));
    }
    params
}

/// A tensor's metadata from dora parameters. `shape` is required; `dims` may be a
/// comma-separated string or a list of strings; the rest default when absent.
pub fn from_parameters(params: &MetadataParameters) -> Result<TensorMeta, TensorError> {
    let missing = |key: &str, problem: &str| TensorError::Metadata {
        key: key.into(),
        problem: problem.into(),
    };
    let shape = match params.get("shape") {
        Some(Parameter::ListInt(v)) => v
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| missing("shape", "negative extent")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(missing("shape", "must be a list of integers")),
        None => return Err(missing("shape", "missing")),
    };
    let dims = match params.get("dims") {
        Some(Parameter::String(s)) if s.is_empty() => Vec::new(),
        Some(Parameter::String(s)) => s.split(',').map(|d| d.trim().to_owned()).collect(),
        Some(Parameter::ListString(v)) => v.clone(),
        Some(_) => return Err(missing("dims", "must be a string or a list of strings")),
        None => Vec::new(),
    };
    let int = |key: &str| match params.get(key) {
        Some(Parameter::Integer(v)) => Ok(*v),
        Some(_) => Err(missing(key, "must be an integer")),
        None => Ok(0),
    };
    let text = |key: &str| match params.get(key) {
        Some(Parameter::String(v)) => Ok(v.clone()),
        Some(_) => Err(missing(key, "must be a string")),
        None => Ok(String::new()),
    };
    // The trace context belongs to one hop: a node that forwards its input's metadata must
    // not send its sender's context on (dora puts the node's own in).
    let extra = params
        .iter()
        .filter(|(k, _)| !CONTRACT_KEYS.contains(&k.as_str()))
        .filter(|(k, _)| k.as_str() != dora_node_api::OPEN_TELEMETRY_CONTEXT)
        .filter_map(|(k, v)| from_parameter(v).map(|v| (k.clone(), v)))
        .collect();
    Ok(TensorMeta {
        shape,
        dims,
        t_ns: int("t_ns")?,
        seq: u64::try_from(int("seq")?).map_err(|_| missing("seq", "negative"))?,
        room: text("room")?,
        link: text("link")?,
        extra,
    })
}

fn to_parameter(value: &MetaValue) -> Parameter {
    match value {
        MetaValue::Bool(v) => Parameter::Bool(*v),
        MetaValue::Int(v) => Parameter::Integer(*v),
        MetaValue::Float(v) => Parameter::Float(*v),
        MetaValue::Text(v) => Parameter::String(v.clone()),
        MetaValue::Ints(v) => Parameter::ListInt(v.clone()),
        MetaValue::Floats(v) => Parameter::ListFloat(v.clone()),
        MetaValue::Texts(v) => Parameter::ListString(v.clone()),
    }
}

fn from_parameter(value: &Parameter) -> Option<MetaValue> {
    Some(match value {
        Parameter::Bool(v) => MetaValue::Bool(*v),
        Parameter::Integer(v) => MetaValue::Int(*v),
        Parameter::Float(v) => MetaValue::Float(*v),
        Parameter::String(v) => MetaValue::Text(v.clone()),
        Parameter::ListInt(v) => MetaValue::Ints(v.clone()),
        Parameter::ListFloat(v) => MetaValue::Floats(v.clone()),
        Parameter::ListString(v) => MetaValue::Texts(v.clone()),
        // dora's own timestamps are not part of the tensor contract.
        Parameter::Timestamp(_) => return None,
    })
}

/// A received message decoded as a tensor: a zero-copy view into dora's buffer plus metadata.
pub struct Received<'a, T: Element> {
    /// The values, borrowed from the message.
    pub data: ArrayViewD<'a, T>,
    /// Shape, axis names, time and origin.
    pub meta: TensorMeta,
}

/// Decodes an input message as a tensor of `T`, checking type, length and dims.
pub fn receive<'a, T: Element>(
    metadata: &Metadata,
    data: &'a DoraArray,
) -> Result<Received<'a, T>, TensorError> {
    let meta = from_parameters(&metadata.parameters)?;
    let array: &'a dyn Array = data.as_array().as_ref();
    let data = view::<T>(array, &meta)?;
    Ok(Received { data, meta })
}

/// The span of one send (exported when the node exports traces, see `wdp-node`): a child of
/// the message being handled, and the parent dora hands on to the receivers.
fn send_span(output: &str, meta: &TensorMeta) -> tracing::Span {
    tracing::info_span!(
        "send",
        otel.name = %format_args!("send {output}"),
        output,
        // As i64: tracing-opentelemetry exports a u64 field as text.
        seq = meta.seq as i64,
        t_ns = meta.t_ns,
    )
}

/// dora 1.1's shared-memory pool of a node when nothing sets it.
const DEFAULT_SHM_POOL_BYTES: u64 = 8 * 1024 * 1024;

/// The node's shared-memory pool in bytes, as dora sizes it: the node's
/// `shared_memory_pool_size:` (in the configuration dora hands it, `DORA_NODE_CONFIG`), else
/// `DORA_NODE_SHM_POOL_SIZE`, else 8 MB.
pub fn shm_pool_bytes() -> u64 {
    static POOL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *POOL.get_or_init(|| {
        let var = |name| std::env::var(name).ok();
        pool_bytes(
            var("DORA_NODE_CONFIG").as_deref(),
            var("DORA_NODE_SHM_POOL_SIZE").as_deref(),
        )
    })
}

fn pool_bytes(node_config: Option<&str>, env: Option<&str>) -> u64 {
    node_config
        .and_then(|c| serde_yaml::from_str::<serde_yaml::Value>(c).ok())
        .and_then(|c| c["run_config"]["shared_memory_pool_size"].as_u64())
        .or_else(|| env?.trim().parse().ok())
        .unwrap_or(DEFAULT_SHM_POOL_BYTES)
}

/// Says once per output when a message cannot fit the node's shared-memory pool: dora then
/// copies it through the heap and its daemon, and would say nothing. A 9.2 MB message took
/// 13 ms from node to node that way against 1.5 ms through a 64 MB pool
/// (`scripts/bench/shm_pool.py`, docs/BENCHMARKS.md "Faults").
fn check_pool(output: &str, bytes: usize) {
    let pool = shm_pool_bytes();
    if (bytes as u64) <= pool {
        return;
    }
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut warned) = WARNED.lock() else {
        return;
    };
    if warned.iter().any(|o| o == output) {
        return;
    }
    warned.push(output.to_owned());
    let mb = |b: u64| b as f64 / 1e6;
    tracing::warn!(
        "output `{output}`: a {:.1} MB message does not fit this node's {:.1} MB shared-memory \
         pool, so dora copies it through the heap (several times slower); set \
         `shared_memory_pool_size:` on this node to at least {:.0} MB (a few messages in flight)",
        mb(bytes as u64),
        mb(pool),
        (mb(bytes as u64) * 4.0).ceil()
    );
}

/// Sends a tensor on an output of a node.
pub fn send<T: Element>(
    node: &mut DoraNode,
    output: &str,
    data: ArrayViewD<'_, T>,
    meta: &TensorMeta,
) -> Result<(), NodeError> {
    let mut meta = meta.clone();
    meta.shape = data.shape().to_vec();
    let _span = send_span(output, &meta).entered();
    check_pool(output, data.len() * std::mem::size_of::<T>());
    node.send_output(
        DataId::from(output.to_owned()),
        to_parameters(&meta),
        crate::to_arrow(data),
    )
}

/// Sends an owned tensor without copying its buffer before dora's own copy into shared memory.
pub fn send_tensor<T: Element>(
    node: &mut DoraNode,
    output: &str,
    tensor: Tensor<T>,
) -> Result<(), NodeError> {
    let params = to_parameters(&tensor.meta);
    let _span = send_span(output, &tensor.meta).entered();
    check_pool(output, tensor.data.len() * std::mem::size_of::<T>());
    node.send_output(DataId::from(output.to_owned()), params, tensor.into_arrow())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_is_the_nodes_own_then_the_environments_then_doras_default() {
        // The node's run configuration, with another node's setting in the descriptor after it.
        let config = "dataflow_id: x\nnode_id: upsampler\nrun_config:\n  inputs: {}\n  shared_memory_pool_size: 67108864\ndataflow_descriptor:\n  nodes:\n  - id: other\n    shared_memory_pool_size: 1000\n";
        assert_eq!(pool_bytes(Some(config), Some("5")), 67_108_864);
        let unset = "node_id: encoder\nrun_config:\n  inputs: {}\ndataflow_descriptor:\n  nodes:\n  - id: other\n    shared_memory_pool_size: 1000\n";
        assert_eq!(pool_bytes(Some(unset), Some("16777216")), 16_777_216);
        assert_eq!(pool_bytes(Some(unset), None), 8 * 1024 * 1024);
        assert_eq!(pool_bytes(None, Some("not a size")), 8 * 1024 * 1024);
    }

    #[test]
    fn a_senders_trace_context_is_not_kept_as_tensor_metadata() {
        let meta = TensorMeta {
            shape: vec![2],
            t_ns: 7,
            seq: 3,
            ..Default::default()
        };
        let mut params = to_parameters(&meta);
        params.insert(
            dora_node_api::OPEN_TELEMETRY_CONTEXT.into(),
            Parameter::String("traceparent:00-aa-bb-01;".into()),
        );
        params.insert("stage".into(), Parameter::String("kept".into()));
        let back = from_parameters(&params).expect("metadata");
        assert!(!back
            .extra
            .contains_key(dora_node_api::OPEN_TELEMETRY_CONTEXT));
        assert_eq!(
            back.extra.get("stage"),
            Some(&MetaValue::Text("kept".into()))
        );
        assert_eq!((back.t_ns, back.seq), (7, 3));
    }
}
