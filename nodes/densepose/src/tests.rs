//! The node's handler in dora's testing mode on a seeded random `lite` backbone and heads:
//! translated images in, the four pose outputs per frame out; a misshapen, a NaN, a wrongly
//! sized and an unknown-id message dropped and counted.

use super::stage;
use wdp_node::testing::{
    assert_malformed_dropped, bad_tensor_events, malformed_tensor_events, run_test, tensor_event,
};
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
            events.extend(malformed_tensor_events(t, "spatial", &meta(9), &good));
        }
    }
    let run = run_test("densepose", events, &mut stage(&config, None)).expect("run");
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
    assert_malformed_dropped(c, "spatial", [2, 1, 0, 0]);
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
    let run = run_test("densepose", events, &mut stage(&config, None)).expect("run");
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

/// With a preset that counts people by the upsampler's count head, each picture also waits for
/// the `count` logits of its `seq`, and the count decides how many people there are: sure of 0,
/// nobody although the locator is sure of a place; sure of 1, the one it points at. A picture
/// whose count cannot come any more is dropped and counted as `spatial/count`.
#[test]
fn the_count_head_decides_how_many_people_there_are() {
    let mut config = StageConfig::random("densepose", "lite", 0).expect("config");
    config.preset.upsampler.locator_hidden = 16;
    config.preset.upsampler.count_classes = 3;
    config.preset.person.centre = wdp_models::CentreSource::Locator;
    config.preset.person.count = wdp_models::CountSource::Head;
    config.preset.person.score_threshold = 0.5;
    let up = config.preset.upsampler.clone();
    let (lh, lw) = up.locator_size();
    let shape = [3, up.out_height as usize, up.out_width as usize];
    let dims = ["channel", "height", "width"];
    let picture = vec![0.5f32; shape.iter().product()];
    let mut logits = vec![-20.0f32; (lh * lw) as usize];
    logits[5 * lw as usize + 7] = 20.0;
    let locator_shape = [1, lh as usize, lw as usize];
    let spatial = |seq: u64| TensorMeta::new(&shape, dims).with_seq(seq);
    let locator = |seq: u64| TensorMeta::new(&locator_shape, dims).with_seq(seq);
    let count = |seq: u64| TensorMeta::new(&[3], ["class"]).with_seq(seq);
    let (nobody, one) = ([20.0f32, -20.0, -20.0], [-20.0f32, 20.0, -20.0]);
    let events = vec![
        tensor_event(0.00, "spatial", &spatial(0), &picture),
        tensor_event(0.01, "locator", &locator(0), &logits),
        tensor_event(0.02, "count", &count(0), &nobody),
        tensor_event(0.03, "spatial", &spatial(1), &picture),
        tensor_event(0.04, "locator", &locator(1), &logits),
        // seq 1's count never comes: seq 2's shows it will not.
        tensor_event(0.05, "count", &count(2), &one),
        tensor_event(0.06, "spatial", &spatial(2), &picture),
        tensor_event(0.07, "locator", &locator(2), &logits),
    ];
    // The malformed sweep on both companions, between seq 0 and seq 1 (dora's testing mode
    // sorts events by offset): dropped before they could pair.
    let mut events = events;
    let mut malformed = malformed_tensor_events(0.0, "locator", &locator(0), &logits);
    malformed.extend(malformed_tensor_events(0.0, "count", &count(0), &nobody));
    events.extend(malformed.into_iter().map(|mut e| {
        e["time_offset_secs"] = 0.025.into();
        e
    }));
    let run = run_test("densepose", events, &mut stage(&config, None)).expect("run");
    let people: Vec<usize> = run
        .on("boxes")
        .iter()
        .map(|b| b.numbers().len() / 5)
        .collect();
    assert_eq!(people, [0, 1], "{:?}", run.report);
    let c = &run.report.counts;
    assert_eq!(c.handled, 2, "{c:?}");
    assert_eq!(c.bad["spatial/count"], 1, "{c:?}");
    assert_malformed_dropped(c, "locator", [0; 4]);
    assert_malformed_dropped(c, "count", [0; 4]);
}

/// A preset that places people by the upsampler's locator and counts them by its count head,
/// and the three input events of frame (`seq`, `t_ns`): `spatial`, `locator`, `count`, at time 0
/// (callers space them out).
fn located_and_counted() -> (StageConfig, impl Fn(u64, i64) -> Vec<serde_json::Value>) {
    let mut config = StageConfig::random("densepose", "lite", 0).expect("config");
    config.preset.upsampler.locator_hidden = 16;
    config.preset.upsampler.count_classes = 3;
    config.preset.person.centre = wdp_models::CentreSource::Locator;
    config.preset.person.count = wdp_models::CountSource::Head;
    let up = config.preset.upsampler.clone();
    let (lh, lw) = up.locator_size();
    let shape = [3, up.out_height as usize, up.out_width as usize];
    let picture = vec![0.5f32; shape.iter().product()];
    let logits = vec![0.0f32; (lh * lw) as usize];
    let locator_shape = [1, lh as usize, lw as usize];
    let events = move |seq: u64, t_ns: i64| {
        let meta = |shape: &[usize], dims: &[&str]| {
            TensorMeta::new(shape, dims.iter().copied())
                .with_seq(seq)
                .with_time_ns(t_ns)
        };
        let dims = ["channel", "height", "width"];
        vec![
            tensor_event(0.0, "spatial", &meta(&shape, &dims), &picture),
            tensor_event(0.0, "locator", &meta(&locator_shape, &dims), &logits),
            tensor_event(0.0, "count", &meta(&[3], &["class"]), &[0.0f32, 0.0, 0.0]),
        ]
    };
    (config, events)
}

/// Events one millisecond apart, in the order given.
fn spaced(events: impl IntoIterator<Item = serde_json::Value>) -> Vec<serde_json::Value> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["time_offset_secs"] = serde_json::json!((i + 1) as f64 * 1e-3);
            e
        })
        .collect()
}

/// The three inputs of a frame arrive in any order across inputs (dora interleaves its input
/// queues): no frame is lost while each input keeps its own order.
#[test]
fn companions_in_any_order_across_inputs_lose_nothing() {
    let (config, frame) = located_and_counted();
    let events = spaced((0..24u64).flat_map(|seq| {
        let mut three = frame(seq, 0);
        three.rotate_left(seq as usize % 3);
        three
    }));
    let run = run_test("densepose", events, &mut stage(&config, None)).expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 24, "{c:?}");
    assert!(c.bad.is_empty(), "{c:?}");
}

/// With a preset that places people by the floor head (`person.place`) and a camera, the
/// person is drawn where a body standing at the floor head's point appears to that camera;
/// without a camera the box is the person maps' own, elsewhere.
#[test]
fn people_are_drawn_where_the_floor_head_puts_them() {
    use wdp_models::floor::{box_from_floor, BodyBox, FloorConfig};
    let mut config = StageConfig::random("densepose", "lite", 0).expect("config");
    config.preset.upsampler.count_classes = 3;
    config.preset.person.count = wdp_models::CountSource::Head;
    let grid = FloorConfig {
        cell_m: 0.25,
        cells: [32, 24],
        hidden: 8,
        sigma_m: 0.25,
        radio_map_weight: 0.0,
        radio_map_floor: 1e-3,
    };
    config.preset.upsampler.floor = Some(grid.clone());
    let body = BodyBox {
        height_m: 1.7,
        width_m: 0.6,
    };
    config.preset.person.place = Some(body);
    config.preset.validate().expect("preset");
    let up = config.preset.upsampler.clone();
    let scene = wdp_sim::Scene::preset("living-room").expect("scene");
    let camera = wdp_sim::camera::PinholeCamera::from_config(
        &wdp_sim::camera::PinholeCamera::scene_config(&scene),
    )
    .scaled(up.out_width as usize, up.out_height as usize);
    // One sure cell, in the middle of the room: its centre is where the person stands.
    let [rx, ry, _] = scene.room.size_m;
    let (col, row) = (
        (rx / 2.0 / grid.cell_m) as usize,
        (ry / 2.0 / grid.cell_m) as usize,
    );
    let mut floor = vec![-30.0f32; 32 * 24];
    floor[row * 32 + col] = 30.0;
    let xy = [(col as f32 + 0.5) * 0.25, (row as f32 + 0.5) * 0.25];
    let shape = [3, up.out_height as usize, up.out_width as usize];
    let dims = ["channel", "height", "width"];
    let events = || {
        vec![
            tensor_event(
                0.00,
                "spatial",
                &TensorMeta::new(&shape, dims).with_seq(0),
                &vec![0.5f32; shape.iter().product()],
            ),
            tensor_event(
                0.01,
                "count",
                &TensorMeta::new(&[3], ["class"]).with_seq(0),
                &[-20.0f32, 20.0, -20.0],
            ),
            tensor_event(
                0.02,
                "floor",
                &TensorMeta::new(&[24, 32], ["y", "x"]).with_seq(0),
                &floor,
            ),
        ]
    };
    let want = box_from_floor(xy, &body, |q| camera.pixel(q)).expect("in front of the camera");
    // The malformed sweep on floor, before the good floor logits: none of it pairs.
    let floor_meta = TensorMeta::new(&[24, 32], ["y", "x"]).with_seq(0);
    let malformed = malformed_tensor_events(0.0, "floor", &floor_meta, &floor);
    let mut with_malformed = events();
    with_malformed.extend(malformed.into_iter().map(|mut e| {
        e["time_offset_secs"] = 0.015.into();
        e
    }));
    let run = run_test(
        "densepose",
        with_malformed,
        &mut stage(&config, Some(&camera)),
    )
    .expect("run");
    assert_malformed_dropped(&run.report.counts, "floor", [0; 4]);
    let boxes = run.on("boxes")[0].numbers();
    assert_eq!(boxes.len(), 5, "one person: {:?}", run.report);
    for (got, want) in boxes.iter().zip(want) {
        assert!((got - f64::from(want)).abs() < 0.5, "{boxes:?} vs {want:?}");
    }
    let own = run_test("densepose", events(), &mut stage(&config, None)).expect("run");
    let own = own.on("boxes")[0].numbers();
    assert_eq!(own.len(), 5);
    assert!(
        own.iter()
            .zip(want)
            .any(|(a, b)| (a - f64::from(b)).abs() > 2.0),
        "without a camera the person maps place the box: {own:?}"
    );
}

/// A stage upstream killed and restarted counts its `seq` from 0 again while the radio's
/// clock goes on: the new count's frames pair with their own companions and none is dropped
/// as "cannot come any more" behind the old count's larger `seq`.
/// A restart that overtakes the old count's last pictures on their own input: the old count's
/// companions came first on theirs, then the new count's, and only then the old pictures. Each
/// still pairs with its own companions (by `seq` and capture time), none with the new count's.
#[test]
fn the_old_count_still_pairs_after_the_new_count_began_on_another_input() {
    let (config, frame) = located_and_counted();
    let t = |tick: i64| 1_000_000_000 + tick * 50_000_000;
    let mut events: Vec<_> = (0..5u64).flat_map(|s| frame(s, t(s as i64))).collect();
    let (old5, old6) = (frame(5, t(5)), frame(6, t(6)));
    let new0 = frame(0, t(8));
    // Companions (locator, count) of 5 and 6, then of the new count's 0; then the pictures.
    events.extend(
        old5[1..]
            .iter()
            .chain(&old6[1..])
            .chain(&new0[1..])
            .cloned(),
    );
    events.extend([old5[0].clone(), old6[0].clone(), new0[0].clone()]);
    events.extend((1..4u64).flat_map(|s| frame(s, t(8 + s as i64))));
    let run = run_test("densepose", spaced(events), &mut stage(&config, None)).expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 5 + 2 + 1 + 3, "{c:?}");
    assert!(c.bad.is_empty(), "{c:?}");
}

#[test]
fn a_restarted_upstream_counting_from_zero_again_loses_no_frame() {
    let (config, frame) = located_and_counted();
    // 30 frames, then the restart: 10 frames counted from 0, 50 ms apart on the same clock. The
    // picture comes first: it arrives before the companions of its count.
    let frames = (0..30u64)
        .map(|s| (s, s))
        .chain((0..10u64).map(|s| (s, 31 + s)));
    let events =
        spaced(frames.flat_map(|(seq, tick)| frame(seq, 1_000_000_000 + tick as i64 * 50_000_000)));
    let run = run_test("densepose", events, &mut stage(&config, None)).expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 40, "{c:?}");
    assert!(c.bad.is_empty(), "{c:?}");
    assert_eq!(c.gaps["spatial"].restarts, 1, "{c:?}");
}
