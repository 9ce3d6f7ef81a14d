//! The pipeline as a whole: windowing, counts, layout changes, the configuration format.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::dsp::phase::{layouts, ConjugateConfig, SanitizeConfig};
use crate::dsp::resample::ResampleConfig;
use crate::dsp::testing::{drain, Sim};
use crate::dsp::window::WindowConfig;
use crate::dsp::CsiValues;
use crate::Complex32;

#[test]
fn default_pipeline_makes_finite_normalized_windows_with_the_right_hop() {
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let mut sim = Sim::new(3, 3, layouts::intel5300_20mhz(), 1);
    let mut windows = Vec::new();
    for _ in 0..500 {
        let t = sim.next(100.0);
        p.push(&sim.packet(t)).unwrap();
        windows.extend(drain(&mut p));
    }
    let windows: Vec<Window> = windows
        .into_iter()
        .filter_map(|o| match o {
            Output::Window(w) => Some(w),
            _ => None,
        })
        .collect();
    // ~500 samples at 100 Hz: first window after 100, then every 10.
    assert!(
        windows.len() >= 38 && windows.len() <= 41,
        "{}",
        windows.len()
    );
    for w in &windows {
        assert_eq!(w.data.shape(), &[2, 9, 30, 100]);
        assert!(w.data.iter().all(|v| v.is_finite()));
        let amp = w.data.index_axis(ndarray::Axis(0), 0);
        let mean = amp.mean().unwrap();
        assert!(mean.abs() < 1e-3, "{mean}");
    }
    for pair in windows.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        let dt = pair[1].t_first_ns - pair[0].t_first_ns;
        assert_eq!(dt, 100_000_000, "hop of 10 samples at 100 Hz");
    }
    let s = p.stats();
    assert_eq!(s.windows as usize, windows.len());
    assert_eq!(s.resets, 0);
}

#[test]
fn bad_packets_are_refused_and_counted_and_shape_changes_reset() {
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let mut sim = Sim::new(2, 3, layouts::ht20(), 3);
    let t = sim.next(100.0);
    p.push(&sim.packet(t)).unwrap();
    let t = sim.next(100.0);
    sim.csi[5].re = f32::NAN;
    assert!(matches!(
        p.push(&sim.packet(t)),
        Err(PacketError::NonFinite { count: 1 })
    ));
    sim.csi
        .iter_mut()
        .for_each(|c| *c = Complex32::new(0.0, 0.0));
    assert_eq!(p.push(&sim.packet(t)), Err(PacketError::ZeroAmplitude));
    let short = sim.csi[..10].to_vec();
    let mut bad = sim.packet(t);
    bad.csi = CsiValues::Complex(&short);
    assert!(matches!(p.push(&bad), Err(PacketError::Malformed { .. })));
    // Duplicate timestamp.
    let t = sim.next(100.0);
    p.push(&sim.packet(t)).unwrap();
    let r = p.push(&sim.packet(t)).unwrap();
    assert_eq!(r.dropped, Some("duplicate"));
    // 1x1 now: reset, then windows of the new shape.
    let mut sim2 = Sim::new(1, 1, layouts::esp32_64(), 4);
    let mut resets = 0;
    for _ in 0..200 {
        let t = sim2.next(100.0) + 10_000_000_000;
        if p.push(&sim2.packet(t)).unwrap().reset.is_some() {
            resets += 1;
        }
    }
    assert_eq!(resets, 1);
    let s = p.stats();
    assert_eq!(
        (s.non_finite, s.zero_amplitude, s.malformed, s.resets),
        (1, 1, 1, 1)
    );
    assert_eq!(s.resample.duplicates, 1);
    let outs = drain(&mut p);
    assert!(!outs.is_empty());
    for o in outs {
        if let Output::Window(w) = o {
            assert_eq!(w.data.shape(), &[2, 1, 64, 100]);
        }
    }
}

#[test]
fn config_from_yaml() {
    let yaml = r#"
steps:
  - conjugate: {}
  - iforest: {calibration_packets: 50, n_trees: 20, seed: 3}
  - amplitude: {scale: db, agc: true}
  - resample: {rate_hz: 50}
  - sanitize: {}
  - unwrap: {axis: time}
  - hampel: {window: 7, n_sigma: 3}
  - moving_average: {window: 3, channels: amplitude}
  - lowpass: {cutoff_hz: 10, order: 4}
  - background: {calibration_s: 1.0, alpha: 0.01, update: no_motion}
  - running_norm: {alpha: 0.05}
window: {length: 32, hop: 8}
normalize: stream
output: both
spectrogram: {segment: 64, hop: 16, window: hann, frames: 2}
"#;
    let config: PipelineConfig = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(config.steps.len(), 11);
    let mut p = Pipeline::new(config).unwrap();
    let mut sim = Sim::new(2, 2, layouts::intel5300_20mhz(), 5);
    let (mut windows, mut specs) = (0, 0);
    for _ in 0..400 {
        let t = sim.next(100.0);
        p.push(&sim.packet(t)).unwrap();
        for o in drain(&mut p) {
            match o {
                Output::Window(w) => {
                    assert_eq!(w.data.shape(), &[2, 4, 30, 32]);
                    assert!(w.data.iter().all(|v| v.is_finite()));
                    windows += 1;
                }
                Output::Spectrogram(s) => {
                    assert_eq!(s.power.shape(), &[4, 30, 33, 2]);
                    assert!(s.power.iter().all(|v| v.is_finite() && *v >= 0.0));
                    assert!((s.bin_hz - 50.0 / 64.0).abs() < 1e-9);
                    specs += 1;
                }
            }
        }
    }
    assert!(windows > 15 && specs > 5, "{windows} {specs}");
    // Unknown keys are refused, not ignored.
    assert!(serde_yaml::from_str::<PipelineConfig>("steps: [{hampel: {windw: 3}}]").is_err());
    assert!(serde_yaml::from_str::<PipelineConfig>("steps: [{nope: {}}]").is_err());
    assert!(serde_yaml::from_str::<PipelineConfig>("steps: [{sanitize: {}, hampel: {}}]").is_err());
    // JSON reads the same, and a config survives a round trip.
    let json = serde_json::to_string(&PipelineConfig::default()).unwrap();
    let back: PipelineConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, PipelineConfig::default());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn dimensions_come_from_the_data(
        n_tx in 1usize..4,
        n_rx in 1usize..4,
        layout in 0usize..4,
        length in 2usize..30,
        hop in 1usize..15,
        seed in 0u64..1000,
    ) {
        let k = [layouts::intel5300_20mhz(), layouts::ht20(), layouts::ht40(), layouts::esp32_64()][layout].clone();
        let n_sub = k.len();
        let config = PipelineConfig {
            window: WindowConfig { length, hop },
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(n_tx, n_rx, k, seed);
        let mut windows = 0;
        for _ in 0..60 {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            while let Some(o) = p.pop() {
                if let Output::Window(w) = o {
                    proptest::prop_assert_eq!(w.data.shape(), &[2, n_tx * n_rx, n_sub, length]);
                    proptest::prop_assert!(w.data.iter().all(|v| v.is_finite()));
                    windows += 1;
                }
            }
        }
        let samples = p.stats().samples as usize;
        let expected = if samples >= length { (samples - length) / hop + 1 } else { 0 };
        proptest::prop_assert_eq!(windows, expected);
    }
}

#[test]
fn invalid_configs_are_refused() {
    // (The steps' own checks are tested with each step.)
    let conj_late = PipelineConfig {
        steps: vec![
            StepConfig::Sanitize(SanitizeConfig::default()),
            StepConfig::Conjugate(ConjugateConfig::default()),
        ],
        ..Default::default()
    };
    let Err(err) = Pipeline::new(conj_late) else {
        panic!("conjugate after a polar step is refused");
    };
    assert!(
        err.to_string().contains("conjugate works on complex CSI"),
        "{err}"
    );
    let two_resamples = PipelineConfig {
        steps: vec![
            StepConfig::Resample(ResampleConfig::default()),
            StepConfig::Resample(ResampleConfig::default()),
        ],
        ..Default::default()
    };
    assert!(Pipeline::new(two_resamples).is_err());
}
