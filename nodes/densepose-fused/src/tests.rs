//! The node's handler in dora's testing mode on a seeded random `lite` model: windows in, the
//! four pose outputs per frame out; a misshapen, a NaN, an other-dims and an unknown-id message
//! dropped and counted.

use super::stage;
use wdp_node::testing::{
    assert_malformed_dropped, bad_tensor_events, malformed_tensor_events, run_test, tensor_event,
};
use wdp_stage::StageConfig;
use wdp_tensor::TensorMeta;

const DIMS: [&str; 4] = ["feature", "antenna", "subcarrier", "time"];

#[test]
fn windows_in_poses_out_bad_messages_dropped() {
    let config = StageConfig::random("densepose-fused", "lite", 0).expect("config");
    let shape = [2, 1, 56, 50];
    let n: usize = shape.iter().product();
    let meta = |seq: u64| TensorMeta::new(&shape, DIMS).with_seq(seq);
    let values = |k: f32| {
        (0..n)
            .map(|i| (i as f32 * 0.37 + k).sin())
            .collect::<Vec<f32>>()
    };
    let mut events = Vec::new();
    for seq in 0..2u64 {
        let t = seq as f64 * 0.2;
        events.push(tensor_event(t, "window", &meta(seq), &values(seq as f32)));
        if seq == 0 {
            let other = TensorMeta::new(&[2, 1, 30, 50], DIMS);
            events.extend(bad_tensor_events(
                t,
                "window",
                &meta(9),
                &values(1.0),
                &other,
                "csi",
            ));
            events.extend(malformed_tensor_events(t, "window", &meta(9), &values(1.0)));
        }
    }
    let run = run_test(
        "densepose-fused",
        events,
        &mut stage(&config, 50_000_000, None),
    )
    .expect("run");
    let ids: Vec<&str> = run.outputs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["keypoints", "boxes", "parts", "uv"].repeat(2),
        "{:?}",
        run.report
    );
    let c = &run.report.counts;
    assert_eq!(c.handled, 2);
    assert_malformed_dropped(c, "window", [2, 1, 0, 0]);
    assert_eq!(c.unknown["csi"], 1);
}
