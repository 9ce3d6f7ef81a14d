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

/// With a preset that places people by the upsampler's locator, each picture waits for the
/// `locator` logits of its `seq` and the person is found where they point; a picture whose
/// locator cannot come any more (a later one arrived) is dropped and counted.
#[test]
fn people_are_placed_where_the_locator_points() {
    let mut config = StageConfig::random("densepose", "lite", 0).expect("config");
    config.preset.upsampler.locator_hidden = 16;
    config.preset.person.centre = wdp_models::CentreSource::Locator;
    let up = config.preset.upsampler.clone();
    let (lh, lw) = up.locator_size();
    let shape = [3, up.out_height as usize, up.out_width as usize];
    let dims = ["channel", "height", "width"];
    let picture = vec![0.5f32; shape.iter().product()];
    // Logits high on one cell (row 5, column 7), low everywhere else.
    let (row, col) = (5usize, 7usize);
    let mut logits = vec![-20.0f32; (lh * lw) as usize];
    logits[row * lw as usize + col] = 20.0;
    let locator_shape = [1, lh as usize, lw as usize];
    let spatial = |seq: u64| TensorMeta::new(&shape, dims).with_seq(seq);
    let locator = |seq: u64| TensorMeta::new(&locator_shape, dims).with_seq(seq);
    let events = vec![
        tensor_event(0.00, "spatial", &spatial(0), &picture),
        tensor_event(0.01, "locator", &locator(0), &logits),
        // seq 1's locator never comes: seq 2's shows it will not.
        tensor_event(0.02, "spatial", &spatial(1), &picture),
        tensor_event(0.03, "locator", &locator(2), &logits),
        tensor_event(0.04, "spatial", &spatial(2), &picture),
    ];
    let run = run_test("densepose", events, &mut stage(&config)).expect("run");
    let boxes = run.on("boxes");
    assert_eq!(boxes.len(), 2, "{:?}", run.report);
    for b in boxes {
        let v = b.numbers();
        assert_eq!(v.len(), 5, "one person: {v:?}");
        let (cx, cy) = ((v[0] + v[2]) / 2.0, (v[1] + v[3]) / 2.0);
        let (ex, ey) = ((col as f64 + 0.5) * 4.0, (row as f64 + 0.5) * 4.0);
        assert!(
            (cx - ex).abs() <= 8.0 && (cy - ey).abs() <= 8.0,
            "centre ({cx}, {cy}), pointed at ({ex}, {ey})"
        );
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 2, "{c:?}");
    assert_eq!(c.bad["spatial/locator"], 1, "{c:?}");
}
