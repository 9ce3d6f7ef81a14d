//! `run` driven by dora's testing mode: packets in, windows out, bad messages dropped.

use super::run;
use dora_node_api::integration_testing::{
    drain_outputs, output_channel, IntegrationTestInput, TestingInput, TestingOutput,
};
use dora_node_api::DoraNode;
use serde_json::{json, Value};
use wdp_csi::dsp::Pipeline;

fn csi_event(t_s: f64, shape: Value, values: Vec<f32>) -> Value {
    json!({
        "time_offset_secs": t_s,
        "type": "Input",
        "id": "csi",
        "metadata": {
            "shape": {"ListInt": shape},
            "dims": {"String": "tx,rx,subcarrier,complex"},
            "t_ns": {"Integer": (t_s * 1e9) as i64 + 1_000_000_000},
            "room": {"String": "lab"},
            "subcarriers": {"ListInt": [-2, -1, 1, 2]},
        },
        "data": values,
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
        events.push(csi_event(t, json!([1, 1, 4, 2]), values));
        if n == 10 {
            // Wrong shape, then NaN values: both dropped, the stream goes on.
            events.push(csi_event(t + 0.001, json!([3]), vec![1.0, 2.0, 3.0]));
            events.push(csi_event(t + 0.002, json!([1, 1, 4, 2]), vec![f32::NAN; 8]));
        }
    }
    let input: IntegrationTestInput = serde_json::from_value(
        json!({"id": "csi-preprocess", "outputs": ["window"], "events": events}),
    )
    .expect("test input");
    let (tx, mut rx) = output_channel();
    let (node, events) = DoraNode::init_testing(
        TestingInput::Input(input),
        TestingOutput::ToChannel(tx),
        Default::default(),
    )
    .expect("testing node");
    let config = serde_yaml::from_str(
        "steps: [{resample: {rate_hz: 100}}, {sanitize: {}}]\nwindow: {length: 10, hop: 5}",
    )
    .expect("config");
    run(node, events, Pipeline::new(config).expect("pipeline")).expect("run");
    let outputs = drain_outputs(&mut rx);
    assert_eq!(outputs.len(), 5, "{outputs:?}");
    // 30 packets at 100 Hz: windows end at samples 9, 14, 19, 24, 29. (The testing mode
    // records data, not metadata; the e2e test checks the metadata.)
    for out in &outputs {
        assert_eq!(out["id"], "window");
        let data = out["data"].as_array().expect("data");
        assert_eq!(data.len(), 2 * 4 * 10);
        assert!(data.iter().all(|v| v.as_f64().is_some_and(f64::is_finite)));
    }
}
