//! The preprocessing pipeline over every real capture in the shared data folder: no errors,
//! finite windows of the capture's own dimensions.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wdp_csi::dsp::{Output, Packet, Pipeline, PipelineConfig};
use wdp_csi::CaptureError;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");

fn capture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            capture_files(&path, out);
        } else if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "mat" | "datstp")
        ) {
            // .mat files are MATLAB exports and .datstp timestamp side files, not captures.
            out.push(path);
        }
    }
}

/// Small windows so that even the shortest sample captures (29 packets) make some; the rate
/// is each capture's own packet rate.
fn config() -> PipelineConfig {
    serde_yaml::from_str(
        r#"
steps:
  - amplitude: {agc: true}
  - resample: {rate_hz: null, estimate_packets: 8}
  - sanitize: {}
  - unwrap: {axis: time}
  - hampel: {window: 5, n_sigma: 3}
  - lowpass: {cutoff_hz: 20, order: 4}
window: {length: 8, hop: 4}
output: both
spectrogram: {segment: 8, hop: 4, frames: 2}
"#,
    )
    .expect("config parses")
}

#[test]
fn pipeline_runs_over_every_real_capture() {
    let mut files = Vec::new();
    capture_files(Path::new(CAPTURES), &mut files);
    assert!(!files.is_empty(), "no captures under {CAPTURES}");
    let mut processed = 0;
    for path in &files {
        let mut reader = match wdp_csi::open(path, &Default::default()) {
            Ok(r) => r,
            Err(e @ CaptureError::UnknownFormat { .. }) => {
                eprintln!("skip {}: {e}", path.display());
                continue;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let mut pipeline = Pipeline::new(config()).expect("valid config");
        let (mut frames, mut windows, mut spectrograms, mut refused) = (0, 0, 0, 0);
        while let Some(frame) = reader.next_frame() {
            let frame = frame.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            frames += 1;
            match pipeline.push(&Packet::from(&frame)) {
                Ok(_) => {}
                // Refused packets are part of the contract (counted, stream goes on).
                Err(_) => refused += 1,
            }
            while let Some(out) = pipeline.pop() {
                match out {
                    Output::Window(w) => {
                        let shape = pipeline.shape().expect("shape known");
                        assert_eq!(
                            w.data.shape(),
                            &[2, shape.n_links(), shape.n_subcarriers(), 8],
                            "{}",
                            path.display()
                        );
                        assert!(
                            w.data.iter().all(|v| v.is_finite()),
                            "{}: non-finite window",
                            path.display()
                        );
                        windows += 1;
                    }
                    Output::Spectrogram(s) => {
                        assert!(s.power.iter().all(|v| v.is_finite() && *v >= 0.0));
                        spectrograms += 1;
                    }
                }
            }
        }
        let stats = pipeline.stats();
        eprintln!(
            "{}: {frames} frames, {windows} windows, {spectrograms} spectrograms, {refused} refused, \
             {} resets, rate {:?} Hz, loss {:.3}, duplicates {}",
            path.display(),
            stats.resets,
            pipeline.rate_hz().map(|r| r.round()),
            stats.resample.loss_fraction(),
            stats.resample.duplicates,
        );
        assert_eq!(stats.packets, frames);
        assert_eq!(
            stats.malformed + stats.non_finite + stats.zero_amplitude,
            refused
        );
        if frames >= 30 && stats.resets == 0 {
            assert!(
                windows > 0,
                "{}: no window from {frames} frames",
                path.display()
            );
        }
        processed += 1;
    }
    assert!(processed >= 5, "only {processed} captures could be read");
}
