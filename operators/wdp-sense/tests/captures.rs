//! Every real capture of the shared folder (Intel 5300 3x3, Atheros 3x3, Nexmon, ESP32,
//! PicoScenes): the sensor runs over it without error, measures every link of multi-antenna
//! frames, and reports each second once, in order.
#![allow(clippy::unwrap_used)]

mod common;
use common::{captures, frames, sense};
use wdp_sense::feature::link_features;
use wdp_sense::{read_capture, SenseConfig};

#[test]
fn every_reference_capture_is_sensed() {
    let text = std::fs::read_to_string(captures().join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut multi_antenna = 0;
    for entry in reference["files"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        let (frames, _) = read_capture(&captures().join(file), &Default::default()).unwrap();
        assert_eq!(
            frames.len() as u64,
            entry["result"]["count"].as_u64().unwrap(),
            "{file}"
        );
        // Every antenna pair with enough non-zero subcarriers is a link of its own.
        let most_links = frames.iter().map(|f| link_features(f).len()).max().unwrap();
        let most_pairs = frames.iter().map(|f| f.n_tx * f.n_rx).max().unwrap();
        assert_eq!(most_links, most_pairs, "{file}");
        multi_antenna += usize::from(most_pairs > 1);

        let states = sense(SenseConfig::default(), &frames);
        assert!(!states.is_empty(), "{file}");
        let t: Vec<u64> = states.iter().map(|s| s.t_s).collect();
        assert!(t.windows(2).all(|w| w[1] == w[0] + 1), "{file}: {t:?}");
        let packets: u64 = states.iter().map(|s| u64::from(s.packets)).sum();
        assert_eq!(packets, frames.len() as u64, "{file}");
        for s in &states {
            assert!(s.score.is_none_or(|v| v.is_finite() && v >= 0.0), "{file}");
            assert!(
                s.confidence.is_none_or(|c| (0.0..=1.0).contains(&c)),
                "{file}"
            );
        }
        // A capture with enough packets per second gets scores.
        if frames.len() as u64 >= 10 * states.len() as u64 {
            assert!(states.iter().any(|s| s.score.is_some()), "{file}");
        }
    }
    assert!(multi_antenna >= 3, "Intel and Atheros captures are 3x3");
}

#[test]
fn long_multi_antenna_captures_calibrate() {
    // The Intel 5300 3x3 recordings last over 30 s: calibration finishes and later seconds
    // carry thresholds.
    for file in ["csiread/sample_0x1_ap.dat", "csiread/rx_by_iwl5300.csi"] {
        let states = sense(SenseConfig::default(), &frames(file));
        assert!(states.len() > 10, "{file}");
        let after = states.iter().filter(|s| !s.calibrating).count();
        assert!(after > 0, "{file}");
        assert!(
            states
                .iter()
                .filter(|s| !s.calibrating && s.score.is_some())
                .all(|s| s.enter_threshold.unwrap() > s.exit_threshold.unwrap()),
            "{file}"
        );
    }
}
