//! Configuration from the `env:` block of the dataflow YAML.

use eyre::{Context, Result};
use std::path::{Path, PathBuf};
use wdp_csi::dsp::{Packet, Pipeline, PipelineConfig};

/// The pipeline described by `WDP_PREPROCESS_CONFIG`, its background calibrated from
/// `CALIBRATION_CAPTURE` when given.
pub fn pipeline_from_env() -> Result<Pipeline> {
    let mut pipeline = Pipeline::new(config_from_env()?).wrap_err("WDP_PREPROCESS_CONFIG")?;
    if let Some(capture) = var("CALIBRATION_CAPTURE") {
        calibrate(&mut pipeline, &resolve(&capture)).wrap_err("CALIBRATION_CAPTURE")?;
    }
    Ok(pipeline)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Relative paths are taken from the dataflow's folder, as csi-source does.
fn resolve(path: &str) -> PathBuf {
    let p = PathBuf::from(path.trim());
    match var("WDP_DATAFLOW_DIR") {
        Some(dir) if p.is_relative() => PathBuf::from(dir).join(p),
        _ => p,
    }
}

fn config_from_env() -> Result<PipelineConfig> {
    let Some(value) = var("WDP_PREPROCESS_CONFIG") else {
        return Ok(PipelineConfig::default());
    };
    let is_path = !value.contains('\n') && !value.contains('{') && !value.contains(": ");
    let text = if is_path {
        let path = resolve(&value);
        std::fs::read_to_string(&path).wrap_err_with(|| format!("reading {}", path.display()))?
    } else {
        value
    };
    serde_yaml::from_str(&text).wrap_err("WDP_PREPROCESS_CONFIG is not a valid pipeline config")
}

fn calibrate(pipeline: &mut Pipeline, capture: &Path) -> Result<()> {
    let mut reader = wdp_csi::open(capture, &Default::default())?;
    let frames: Vec<_> = std::iter::from_fn(|| reader.next_frame()).collect::<Result<_, _>>()?;
    let n = pipeline.calibrate_background(frames.iter().map(Packet::from))?;
    tracing::info!(
        "background calibrated on {n} samples of {}",
        capture.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_yaml_is_a_config() {
        std::env::set_var(
            "WDP_PREPROCESS_CONFIG",
            "steps: [{resample: {rate_hz: 50}}, {sanitize: {}}]\nwindow: {length: 20, hop: 5}",
        );
        let c = config_from_env().expect("config");
        assert_eq!((c.steps.len(), c.window.length, c.window.hop), (2, 20, 5));
        std::env::set_var("WDP_PREPROCESS_CONFIG", "steps: [{nope: {}}]");
        assert!(config_from_env().is_err());
        std::env::set_var("WDP_PREPROCESS_CONFIG", "no-such-file.yml");
        assert!(config_from_env().is_err());
        std::env::remove_var("WDP_PREPROCESS_CONFIG");
        assert_eq!(
            config_from_env().expect("default"),
            PipelineConfig::default()
        );
    }
}
