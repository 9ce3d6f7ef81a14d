//! The node's handler in dora's testing mode: packets in, windows out; a misshapen, a NaN, an
//! unknown-id message and the harness's malformed sweep dropped and counted while the stream
//! goes on, its windows the same as without them.

use super::Preprocess;
use serde_json::{json, Value};
use wdp_csi::dsp::Pipeline;
use wdp_node::testing::{assert_malformed_dropped, malformed_tensor_events, run_test, TestRun};
use wdp_tensor::{MetaValue, TensorMeta};

fn csi_event(t_s: f64, id: &str, shape: Value, values: Vec<f32>) -> Value {
    let data: Vec<Value> = values
        .iter()
        .map(|v| if v.is_nan() { json!("NaN") } else { json!(v) })
        .collect();
    json!({
        "time_offset_secs": t_s,
        "type": "Input",
        "id": id,
        "metadata": {
            "shape": {"ListInt": shape},
            "dims": {"String": "tx,rx,subcarrier,complex"},
            "t_ns": {"Integer": (t_s * 1e9) as i64 + 1_000_000_000},
            "room": {"String": "lab"},
            "subcarriers": {"ListInt": [-2, -1, 1, 2]},
        },
        "data": data,
        "data_type": "Float32",
    })
}

/// The values of packet `n`: 4 subcarriers turning in phase.
fn packet(n: usize) -> Vec<f32> {
    (0..4)
        .flat_map(|k| {
            let ph = 0.3 * k as f32 + n as f32;
            [(5.0 + k as f32) * ph.cos(), (5.0 + k as f32) * ph.sin()]
        })
        .collect()
}

/// 30 packets through a 100 Hz pipeline of 10-sample windows every 5, with `extra(n, t)`'s
/// events after packet `n`.
fn run(extra: impl Fn(usize, f64) -> Vec<Value>) -> (TestRun, Preprocess) {
    let mut events = Vec::new();
    for n in 0..30 {
        let t = n as f64 * 0.01;
        events.push(csi_event(t, "csi", json!([1, 1, 4, 2]), packet(n)));
        events.extend(extra(n, t));
    }
    let config = serde_yaml::from_str(
        "steps: [{resample: {rate_hz: 100}}, {sanitize: {}}]\nwindow: {length: 10, hop: 5}",
    )
    .expect("config");
    let mut handler = Preprocess::new(Pipeline::new(config).expect("pipeline"));
    let run = run_test("csi-preprocess", events, &mut handler).expect("run");
    (run, handler)
}

#[test]
fn windows_out_bad_messages_dropped() {
    let (clean, _) = run(|_, _| Vec::new());
    let (run, handler) = run(|n, t| match n {
        // Wrong shape, NaN values, an input this node does not read: all dropped and
        // counted, the stream goes on.
        10 => vec![
            csi_event(t + 0.001, "csi", json!([3]), vec![1.0, 2.0, 3.0]),
            csi_event(t + 0.002, "csi", json!([1, 1, 4, 2]), vec![f32::NAN; 8]),
            csi_event(t + 0.003, "window", json!([1, 1, 4, 2]), packet(n)),
        ],
        // Empty, infinite, f64, shapeless, and under dims that are not the csi contract's
        // (`d0,d1,d2,d3`: not read as antennas and subcarriers).
        20 => {
            let meta = TensorMeta::new(&[1, 1, 4, 2], wdp_csi::CSI_DIMS)
                .with_time_ns((t * 1e9) as i64 + 1_000_000_000)
                .with_room("lab")
                .with("subcarriers", MetaValue::Ints(vec![-2, -1, 1, 2]));
            malformed_tensor_events(t, "csi", &meta, &packet(n))
        }
        _ => Vec::new(),
    });
    // 30 packets at 100 Hz: windows end at samples 9, 14, 19, 24, 29. (The testing mode
    // records data, not metadata; the e2e test checks the metadata.)
    assert_eq!(run.outputs.len(), 5, "{:?}", run.outputs);
    for out in &run.outputs {
        assert_eq!(out.id, "window");
        assert_eq!(out.data.len(), 2 * 4 * 10);
        assert!(out.numbers().iter().all(|v| v.is_finite()));
    }
    // Nothing of the dropped messages reached the pipeline: the same windows as without them.
    assert_eq!(run.outputs, clean.outputs);
    let c = &run.report.counts;
    assert_eq!(c.handled, 30);
    assert_eq!(c.bad_total(), 7, "{c:?}");
    // The `[3]` message's dims name 4 axes (`csi/dims`), the NaN one is `csi/values`.
    assert_malformed_dropped(c, "csi", [0, 1, 0, 1]);
    assert_eq!(c.unknown["window"], 1);
    let stats = handler.pipeline.stats();
    assert_eq!(stats.windows, 5);
    assert_eq!((stats.packets, stats.resets), (30, 0));
}
