//! The node's handler in dora's testing mode on a seeded random `lite` upsampler: feature
//! vectors in, 3xHxW tensors out; a misshapen, a NaN, a wrongly sized and an unknown-id message
//! dropped and counted.

use super::stage;
use wdp_node::testing::{
    assert_malformed_dropped, bad_tensor_events, malformed_tensor_events, run_test, tensor_event,
};
use wdp_stage::StageConfig;
use wdp_tensor::TensorMeta;

#[test]
fn features_in_spatial_out_bad_messages_dropped() {
    let config = StageConfig::random("upsampler", "lite", 0).expect("config");
    let f = config.preset.encoder.feature_dim as usize;
    let (h, w) = (
        config.preset.upsampler.out_height as usize,
        config.preset.upsampler.out_width as usize,
    );
    let meta = |seq: u64| TensorMeta::new(&[f], ["feature"]).with_seq(seq);
    let values = |k: f32| {
        (0..f)
            .map(|i| (i as f32 * 0.1 + k).cos())
            .collect::<Vec<f32>>()
    };
    let mut events = Vec::new();
    for seq in 0..3u64 {
        let t = seq as f64 * 0.05;
        events.push(tensor_event(t, "features", &meta(seq), &values(seq as f32)));
        if seq == 0 {
            let short = TensorMeta::new(&[8], ["feature"]);
            let good = values(1.0);
            events.extend(bad_tensor_events(
                t,
                "features",
                &meta(9),
                &good,
                &short,
                "window",
            ));
            events.extend(malformed_tensor_events(t, "features", &meta(9), &good));
        }
    }
    let run = run_test("upsampler", events, &mut stage(&config, 50_000_000)).expect("run");
    let out = run.on("spatial");
    assert_eq!(out.len(), 3, "{:?}", run.report);
    for o in out {
        assert_eq!(o.data.len(), 3 * h * w);
        assert!(
            o.numbers().iter().all(|v| (0.0..=1.0).contains(v)),
            "sigmoid image"
        );
    }
    let c = &run.report.counts;
    assert_eq!(c.handled, 3);
    assert_malformed_dropped(c, "features", [2, 1, 0, 0]);
    assert_eq!(c.unknown["window"], 1);
}

/// A preset with a location-first head and a count head: each feature vector gives its
/// picture, the locator's centre logits on the person maps' grid and the count logits.
#[test]
fn a_locator_preset_also_sends_the_centre_and_count_logits() {
    let mut config = StageConfig::random("upsampler", "lite", 0).expect("config");
    config.preset.upsampler.locator_hidden = 16;
    config.preset.upsampler.count_classes = 4;
    let f = config.preset.encoder.feature_dim as usize;
    let (lh, lw) = config.preset.upsampler.locator_size();
    let meta = |seq: u64| TensorMeta::new(&[f], ["feature"]).with_seq(seq);
    let events = (0..2u64)
        .map(|seq| tensor_event(seq as f64 * 0.05, "features", &meta(seq), &vec![0.1f32; f]))
        .collect();
    let run = run_test("upsampler", events, &mut stage(&config, 50_000_000)).expect("run");
    let ids: Vec<&str> = run.outputs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["spatial", "locator", "count"].repeat(2),
        "{:?}",
        run.report
    );
    for l in run.on("locator") {
        assert_eq!(l.data.len(), (lh * lw) as usize);
        assert!(l.numbers().iter().all(|v| v.is_finite()));
    }
    for c in run.on("count") {
        assert_eq!(c.data.len(), 4);
        assert!(c.numbers().iter().all(|v| v.is_finite()));
    }
}

/// A preset that weighs the radio's floor image: each frame's floor logits take the image
/// nearest to it in time (so a sharp image decides the peak), a frame with no image near it
/// keeps the head's own logits, and an image of another grid is dropped and counted.
#[test]
fn the_radio_floor_image_is_weighed_into_the_floor_logits() {
    let (nx, ny) = (8usize, 6usize);
    let config_with = |weight: f64| {
        let mut config = StageConfig::random("upsampler", "lite", 0).expect("config");
        config.preset.upsampler.floor = Some(wdp_models::floor::FloorConfig {
            cell_m: 0.5,
            cells: [nx as i64, ny as i64],
            hidden: 8,
            sigma_m: 0.25,
            radio_map_weight: weight,
            radio_map_floor: 1e-3,
        });
        config
    };
    let f = config_with(0.0).preset.encoder.feature_dim as usize;
    let features = |t_ns: i64| TensorMeta::new(&[f], ["feature"]).with_time_ns(t_ns);
    let map = |t_ns: i64, shape: [usize; 2]| TensorMeta::new(&shape, ["y", "x"]).with_time_ns(t_ns);
    let peaked = |cell: usize| {
        let mut v = vec![0.01f32; nx * ny];
        v[cell] = 1.0;
        v
    };
    let x = |k: f32| {
        (0..f)
            .map(|i| (i as f32 * 0.3 + k).sin())
            .collect::<Vec<f32>>()
    };
    let ms = 1_000_000i64;
    let events = vec![
        tensor_event(0.00, "radio_map", &map(1000 * ms, [ny, nx]), &peaked(5)),
        tensor_event(0.01, "radio_map", &map(1050 * ms, [ny, nx]), &peaked(40)),
        // Another grid: dropped, counted.
        tensor_event(0.02, "radio_map", &map(1060 * ms, [3, 4]), &[1.0f32; 12]),
        tensor_event(0.03, "features", &features(1000 * ms), &x(0.0)),
        tensor_event(0.04, "features", &features(1040 * ms), &x(1.0)),
        // Far from every image: the head alone.
        tensor_event(0.05, "features", &features(2000 * ms), &x(2.0)),
    ];
    // The malformed sweep on radio_map before the first features (dora's testing mode sorts
    // events by offset): dropped, none of them weighed in.
    let mut events = events;
    let malformed =
        malformed_tensor_events(0.0, "radio_map", &map(1060 * ms, [ny, nx]), &peaked(9));
    events.extend(malformed.into_iter().map(|mut e| {
        e["time_offset_secs"] = 0.025.into();
        e
    }));
    let weighed = config_with(1000.0);
    let run = run_test("upsampler", events.clone(), &mut stage(&weighed, 50 * ms)).expect("run");
    let plain = config_with(0.0);
    let alone = run_test("upsampler", events, &mut stage(&plain, 50 * ms)).expect("run");
    let argmax = |v: Vec<f64>| {
        (0..v.len())
            .max_by(|&a, &b| v[a].total_cmp(&v[b]))
            .unwrap_or(0)
    };
    let floors: Vec<usize> = run
        .on("floor")
        .iter()
        .map(|o| argmax(o.numbers()))
        .collect();
    let head: Vec<usize> = alone
        .on("floor")
        .iter()
        .map(|o| argmax(o.numbers()))
        .collect();
    assert_eq!(floors.len(), 3, "{:?}", run.report);
    assert_eq!(&floors[..2], &[5, 40], "the images' peaks decide");
    assert_eq!(floors[2], head[2], "no image near: the head's own peak");
    let c = &run.report.counts;
    // Beyond the sweep: the map of another grid.
    assert_malformed_dropped(c, "radio_map", [1, 0, 0, 0]);
    assert_eq!(c.handled, 3);
    // Without the weight the node does not read the images at all.
    assert_eq!(alone.report.counts.unknown["radio_map"], 3 + 5);
}
