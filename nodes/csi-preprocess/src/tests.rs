//! The node's handler in dora's testing mode: packets in, windows out; a misshapen, a NaN and
//! an unknown-id message dropped and counted while the stream goes on.

use super::Preprocess;
use serde_json::{json, Value};
use wdp_csi::dsp::Pipeline;
use wdp_node::testing::run_test;

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

#[test]
fn windows_out_bad_messages_dropped() {
    let mut events = Vec::new();
    for n in 0..30 {
        let t = n as f64 * 0.01;
        let values: Vec<f32> = (0..4)
            .flat_map(|k| {
                let ph = 0.3 * k as f32 + n as f32;
                [(5.0 + k as f32) * ph.cos(), (5.0 + k as f32) * ph.sin()]
            })
            .collect();
        events.push(csi_event(t, "csi", json!([1, 1, 4, 2]), values.clone()));
        if n == 10 {
            // Wrong shape, NaN values, an input this node does not read: all dropped and
            // counted, the stream goes on.
            events.push(csi_event(t + 0.001, "csi", json!([3]), vec![1.0, 2.0, 3.0]));
            events.push(csi_event(
                t + 0.002,
                "csi",
                json!([1, 1, 4, 2]),
                vec![f32::NAN; 8],
            ));
            events.push(csi_event(t + 0.003, "window", json!([1, 1, 4, 2]), values));
        }
    }
    let config = serde_yaml::from_str(
        "steps: [{resample: {rate_hz: 100}}, {sanitize: {}}]\nwindow: {length: 10, hop: 5}",
    )
    .expect("config");
    let mut handler = Preprocess::new(Pipeline::new(config).expect("pipeline"));
    let run = run_test("csi-preprocess", events, &mut handler).expect("run");
    // 30 packets at 100 Hz: windows end at samples 9, 14, 19, 24, 29. (The testing mode
    // records data, not metadata; the e2e test checks the metadata.)
    assert_eq!(run.outputs.len(), 5, "{:?}", run.outputs);
    for out in &run.outputs {
        assert_eq!(out.id, "window");
        assert_eq!(out.data.len(), 2 * 4 * 10);
        assert!(out.numbers().iter().all(|v| v.is_finite()));
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 30);
    assert_eq!(c.bad_total(), 2, "{c:?}");
    assert_eq!(c.bad["csi/values"], 1, "{c:?}");
    assert_eq!(c.unknown["window"], 1);
    assert_eq!(handler.pipeline.stats().windows, 5);
}
