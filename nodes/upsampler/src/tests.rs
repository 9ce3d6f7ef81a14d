//! The node's handler in dora's testing mode on a seeded random `lite` upsampler: feature
//! vectors in, 3xHxW tensors out; a misshapen, a NaN, a wrongly sized and an unknown-id message
//! dropped and counted.

use super::stage;
use wdp_node::testing::{bad_tensor_events, run_test, tensor_event};
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
        }
    }
    let run = run_test("upsampler", events, &mut stage(&config)).expect("run");
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
    assert_eq!(c.bad["features/shape"], 2, "{c:?}");
    assert_eq!(c.bad["features/values"], 1, "{c:?}");
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
    let run = run_test("upsampler", events, &mut stage(&config)).expect("run");
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
