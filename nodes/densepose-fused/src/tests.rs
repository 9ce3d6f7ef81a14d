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

/// A preset that weighs the radio's floor image: the malformed sweep on `radio_map` between
/// the windows (dora's testing mode sorts events by offset), each dropped and counted, the
/// windows around them still run.
#[test]
fn malformed_radio_floor_images_are_dropped_and_the_windows_still_run() {
    let (nx, ny) = (8usize, 6usize);
    let mut config = StageConfig::random("densepose-fused", "lite", 0).expect("config");
    config.preset.upsampler.floor = Some(wdp_models::floor::FloorConfig {
        cell_m: 0.5,
        cells: [nx as i64, ny as i64],
        hidden: 8,
        sigma_m: 0.25,
        radio_map_weight: 8.0,
        radio_map_floor: 1e-3,
    });
    let shape = [2, 1, 56, 50];
    let n: usize = shape.iter().product();
    let ms = 1_000_000i64;
    let window = |seq: u64, t_ns: i64| {
        let values: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.37 + seq as f32).sin())
            .collect();
        let meta = TensorMeta::new(&shape, DIMS)
            .with_seq(seq)
            .with_time_ns(t_ns);
        (meta, values)
    };
    let map = |t_ns: i64| TensorMeta::new(&[ny, nx], ["y", "x"]).with_time_ns(t_ns);
    let image = vec![0.5f32; nx * ny];
    let (m0, w0) = window(0, 1000 * ms);
    let (m1, w1) = window(1, 1050 * ms);
    let mut events = vec![
        tensor_event(0.00, "radio_map", &map(1000 * ms), &image),
        tensor_event(0.01, "window", &m0, &w0),
    ];
    events.extend(malformed_tensor_events(
        0.01,
        "radio_map",
        &map(1040 * ms),
        &image,
    ));
    events.push(tensor_event(0.20, "radio_map", &map(1050 * ms), &image));
    events.push(tensor_event(0.21, "window", &m1, &w1));
    let run = run_test(
        "densepose-fused",
        events,
        &mut stage(&config, 50 * ms, None),
    )
    .expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 2, "{c:?}");
    assert_eq!(run.on("keypoints").len(), 2, "{c:?}");
    assert_malformed_dropped(c, "radio_map", [0, 0, 0, 0]);
}
