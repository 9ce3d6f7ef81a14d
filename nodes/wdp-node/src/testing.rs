//! Running a node's handler in-process, from a test: dora's integration-testing mode
//! (`DoraNode::init_testing`) feeds it JSON events and captures what it sends.
//!
//! ```no_run
//! use wdp_node::testing::{run_test, tensor_event};
//! use wdp_tensor::TensorMeta;
//! # fn demo<H: wdp_node::Handler>(mut handler: H) -> eyre::Result<()> {
//! let meta = TensorMeta::new(&[3], ["feature"]);
//! let events = vec![
//!     tensor_event(0.0, "features", &meta, &[1.0f32, 2.0, 3.0]),
//!     tensor_event(0.001, "features", &meta, &[f32::NAN, 2.0, 3.0]), // dropped, counted
//! ];
//! let run = run_test("my-node", events, &mut handler)?;
//! assert_eq!(run.report.counts.dropped(), 1);
//! # Ok(()) }
//! ```
//!
//! dora's testing mode records each output's id and data, not its metadata: check metadata
//! in the end-to-end dataflow tests, or on the handler's state.

use dora_node_api::arrow_v59::datatypes::DataType;
use dora_node_api::integration_testing::{
    drain_outputs, output_channel, IntegrationTestInput, TestingInput, TestingOptions,
    TestingOutput,
};
use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use serde_json::{json, Value};
use wdp_pose::{PoseArray, PoseFrame};
use wdp_tensor::{Element, TensorMeta};

use crate::{Counts, Handler, Report, Source};

/// One output a node sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The output id.
    pub id: String,
    /// The values, as dora's testing mode writes them (numbers; `"NaN"` for a NaN float).
    pub data: Vec<Value>,
    /// The Arrow data type, as JSON (`"Float32"`, ...).
    pub data_type: Value,
}

impl Output {
    /// The values as numbers (`NaN` where a value is not a number).
    pub fn numbers(&self) -> Vec<f64> {
        self.data
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect()
    }
}

/// What a test run produced.
#[derive(Debug)]
pub struct TestRun {
    /// The outputs, in the order they were sent.
    pub outputs: Vec<Output>,
    /// The runtime's report.
    pub report: Report,
}

impl TestRun {
    /// The outputs sent on `id`.
    pub fn on(&self, id: &str) -> Vec<&Output> {
        self.outputs.iter().filter(|o| o.id == id).collect()
    }
}

/// Runs `handler` through [`crate::run`] on a node in dora's testing mode fed with `events`
/// (dora's `IntegrationTestInput` event objects, e.g. from [`tensor_event`]) and returns what
/// it sent and the report.
pub fn run_test<H: Handler + ?Sized>(
    name: &str,
    events: Vec<Value>,
    handler: &mut H,
) -> Result<TestRun> {
    in_testing_mode(name, events, |node, events| {
        crate::run(name, node, events, handler)
    })
}

/// [`run_test`] for a [`Source`]: `events` are what the dataflow sends it (a `Stop`, inputs
/// it ignores); the source runs until it is done or a `Stop` among them arrives. (dora's
/// testing mode answers one request at a time: an event scheduled far ahead would hold up the
/// source's outputs until its time, so give none.)
pub fn run_source_test<S: Source + ?Sized>(
    name: &str,
    events: Vec<Value>,
    source: &mut S,
) -> Result<TestRun> {
    in_testing_mode(name, events, |node, events| {
        crate::run_source(name, node, events, source)
    })
}

fn in_testing_mode(
    name: &str,
    events: Vec<Value>,
    run: impl FnOnce(DoraNode, dora_node_api::EventStream) -> Result<Report>,
) -> Result<TestRun> {
    let input: IntegrationTestInput = serde_json::from_value(json!({"id": name, "events": events}))
        .map_err(|e| eyre!("test events: {e}"))?;
    let (tx, mut rx) = output_channel();
    let (node, events) = DoraNode::init_testing(
        TestingInput::Input(input),
        TestingOutput::ToChannel(tx),
        TestingOptions {
            skip_output_time_offsets: true,
        },
    )?;
    let report = run(node, events)?;
    let outputs = drain_outputs(&mut rx)
        .into_iter()
        .map(|mut o| Output {
            id: o
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            data: match o.remove("data") {
                Some(Value::Array(v)) => v,
                Some(other) => vec![other],
                None => Vec::new(),
            },
            data_type: o.remove("data_type").unwrap_or(Value::Null),
        })
        .collect();
    Ok(TestRun { outputs, report })
}

/// A JSON number for a value; NaN and the infinities as the strings dora's reader takes.
fn number(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

/// An input event at `t_s` seconds: `id`, the tensor contract's metadata, `values` as the
/// Arrow type of `T`. The shape comes from `meta`, so a test can send values that do not fill
/// it (a misshapen message).
pub fn tensor_event<T: Element + Into<f64>>(
    t_s: f64,
    id: &str,
    meta: &TensorMeta,
    values: &[T],
) -> Value {
    let values = values.iter().map(|&v| number(v.into())).collect();
    event(t_s, id, meta, data_type::<T>(), values)
}

/// An input event at `t_s` seconds carrying one UTF-8 string, as the JSON messages travel
/// (`room_state`, `events`: docs/CONTRACT.md, "JSON messages").
pub fn text_event(t_s: f64, id: &str, text: &str) -> Value {
    json!({
        "time_offset_secs": t_s,
        "type": "Input",
        "id": id,
        "data": [text],
        "data_type": "Utf8",
    })
}

/// The Arrow data type of `T`.
fn data_type<T: Element>() -> DataType {
    <T::Arrow as arrow_array::ArrowPrimitiveType>::DATA_TYPE
}

/// An input event of JSON `values` typed `data_type` (nulls allowed).
fn event(t_s: f64, id: &str, meta: &TensorMeta, data_type: DataType, values: Vec<Value>) -> Value {
    json!({
        "time_offset_secs": t_s,
        "type": "Input",
        "id": id,
        "metadata": wdp_tensor::dora::to_parameters(meta),
        "data": values,
        "data_type": format!("{data_type:?}"),
    })
}

/// The malformed messages a tensor input must survive, at `t_s` + 10..40 ms, each to be dropped
/// and counted while the node goes on: `good` cut to half its length (`id/shape`), `good` with
/// a NaN (`id/values`), values filling `other` instead of `meta` (`id/shape`), and `good` on
/// `unknown_id`, an input the node does not have.
pub fn bad_tensor_events(
    t_s: f64,
    id: &str,
    meta: &TensorMeta,
    good: &[f32],
    other: &TensorMeta,
    unknown_id: &str,
) -> Vec<Value> {
    let mut nan = good.to_vec();
    if let Some(v) = nan.first_mut() {
        *v = f32::NAN;
    }
    let other_values: Vec<f32> = good
        .iter()
        .copied()
        .cycle()
        .take(other.shape.iter().product())
        .collect();
    vec![
        tensor_event(t_s + 0.01, id, meta, &good[..good.len() / 2]),
        tensor_event(t_s + 0.02, id, meta, &nan),
        tensor_event(t_s + 0.03, id, other, &other_values),
        tensor_event(t_s + 0.04, unknown_id, meta, good),
    ]
}

/// More malformed messages every tensor input must survive, at `t_s` + 50..90 ms, each dropped
/// and counted while the node goes on: an empty array (`id/shape`), a storm of infinities
/// (`id/values`; of nulls when `T` is an integer type, which has no infinity), `good` as f64
/// instead of `T` (`id/data type`), `good` without its `shape` metadata (`id/shape`), and
/// `good` under other dims names (`id/dims`). `T` is the input's element type (f32, or u8
/// for part maps and pictures), not f64. Check them with [`assert_malformed_dropped`].
pub fn malformed_tensor_events<T: Element + Into<f64>>(
    t_s: f64,
    id: &str,
    meta: &TensorMeta,
    good: &[T],
) -> Vec<Value> {
    let data_type = data_type::<T>();
    assert_ne!(data_type, DataType::Float64, "f64 is the wrong type sent");
    let storm = if data_type.is_floating() {
        number(f64::INFINITY)
    } else {
        Value::Null
    };
    let doubles: Vec<f64> = good.iter().map(|&v| v.into()).collect();
    let mut no_shape = tensor_event(t_s + 0.08, id, meta, good);
    if let Some(m) = no_shape["metadata"].as_object_mut() {
        m.remove("shape");
    }
    let mut renamed = meta.clone();
    renamed.dims = (0..meta.shape.len()).map(|i| format!("d{i}")).collect();
    vec![
        tensor_event::<T>(t_s + 0.05, id, meta, &[]),
        event(t_s + 0.06, id, meta, data_type, vec![storm; good.len()]),
        tensor_event(t_s + 0.07, id, meta, &doubles),
        no_shape,
        tensor_event(t_s + 0.09, id, &renamed, good),
    ]
}

/// Asserts that the messages of [`malformed_tensor_events`] on `id` were dropped and counted
/// under the fields at fault: 2 `shape`, 1 `values`, 1 `data type`, 1 `dims`, beyond
/// `already` (what the test's other bad messages add to each, in the same order).
pub fn assert_malformed_dropped(counts: &Counts, id: &str, already: [u64; 4]) {
    for (field, n) in ["shape", "values", "data type", "dims"]
        .iter()
        .zip([2u64, 1, 1, 1].iter().zip(already).map(|(a, b)| a + b))
    {
        let key = format!("{id}/{field}");
        assert_eq!(
            counts.bad.get(&key).copied().unwrap_or(0),
            n,
            "{key}: {counts:?}"
        );
    }
}

/// The messages of a pose frame (`keypoints`, `boxes`, then `parts` and `uv` when present) as
/// input events at `t_s`, on the inputs named `prefix` + output.
pub fn pose_events(t_s: f64, frame: &PoseFrame, prefix: &str) -> Result<Vec<Value>> {
    frame
        .to_messages()?
        .into_iter()
        .map(|m| {
            let id = format!("{prefix}{}", m.output.id());
            Ok(match &m.data {
                PoseArray::F32(a) => {
                    tensor_event(t_s, &id, &m.meta, &a.iter().copied().collect::<Vec<_>>())
                }
                PoseArray::U8(a) => {
                    tensor_event(t_s, &id, &m.meta, &a.iter().copied().collect::<Vec<_>>())
                }
            })
        })
        .collect()
}

/// [`malformed_tensor_events`] on each message of a pose frame (`keypoints`, `boxes`, then
/// `parts` and `uv` when present), on the inputs named `prefix` + output. The frame needs a
/// person, or its empty array would be a good message. Check each input with
/// [`assert_malformed_dropped`].
pub fn malformed_pose_events(t_s: f64, frame: &PoseFrame, prefix: &str) -> Result<Vec<Value>> {
    let mut events = Vec::new();
    for m in frame.to_messages()? {
        let id = format!("{prefix}{}", m.output.id());
        events.extend(match &m.data {
            PoseArray::F32(a) => {
                malformed_tensor_events(t_s, &id, &m.meta, &a.iter().copied().collect::<Vec<_>>())
            }
            PoseArray::U8(a) => {
                malformed_tensor_events(t_s, &id, &m.meta, &a.iter().copied().collect::<Vec<_>>())
            }
        });
    }
    Ok(events)
}
