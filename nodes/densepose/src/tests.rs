//! The node's handler in dora's testing mode on a seeded random `lite` backbone and heads:
//! translated images in, the four pose outputs per frame out; a misshapen, a NaN, a wrongly
//! sized and an unknown-id message dropped and counted.

use super::stage;
use wdp_node::testing::{bad_tensor_events, run_test, tensor_event};
use wdp_stage::StageConfig;
use wdp_tensor::TensorMeta;

#[test]
fn images_in_poses_out_bad_messages_dropped() {
    let config = StageConfig::random("densepose", "lite", 0).expect("config");
    let up = &config.preset.upsampler;
    let shape = [3, up.out_height as usize, up.out_width as usize];
    let n: usize = shape.iter().product();
    let dims = ["channel", "height", "width"];
    let meta = |seq: u64| TensorMeta::new(&shape, dims).with_seq(seq);
    let values = |k: f32| {
        (0..n)
            .map(|i| 0.5 + 0.5 * (i as f32 * 0.01 + k).sin())
            .collect::<Vec<f32>>()
    };
    let mut events = Vec::new();
    for seq in 0..2u64 {
        let t = seq as f64 * 0.2;
        events.push(tensor_event(t, "spatial", &meta(seq), &values(seq as f32)));
        if seq == 0 {
            let small = TensorMeta::new(&[3, 4, 4], dims);
            let good = values(1.0);
            events.extend(bad_tensor_events(
                t,
                "spatial",
                &meta(9),
                &good,
                &small,
                "features",
            ));
        }
    }
    let run = run_test("densepose", events, &mut stage(&config)).expect("run");
    let ids: Vec<&str> = run.outputs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["keypoints", "boxes", "parts", "uv"].repeat(2),
        "{:?}",
        run.report
    );
    for (k, b) in run.on("keypoints").iter().zip(run.on("boxes")) {
        assert_eq!(k.data.len() / 51, b.data.len() / 5, "one box per person");
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 2);
    assert_eq!(c.bad["spatial/shape"], 2, "{c:?}");
    assert_eq!(c.bad["spatial/values"], 1, "{c:?}");
    assert_eq!(c.unknown["features"], 1);
}
