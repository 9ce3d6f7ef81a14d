//! Configuration from the `env:` block of the dataflow YAML.

use eyre::{Context, Result};
use std::path::Path;
use wdp_csi::dsp::{Packet, Pipeline, PipelineConfig};
use wdp_node::env::{dataflow_path as resolve, var};

/// The pipeline described by `WDP_PREPROCESS_CONFIG`, its background calibrated from
/// `CALIBRATION_CAPTURE` when given.
pub fn pipeline_from_env() -> Result<Pipeline> {
    let mut pipeline = Pipeline::new(config_from_env()?).wrap_err("WDP_PREPROCESS_CONFIG")?;
    if let Some(capture) = var("CALIBRATION_CAPTURE") {
        calibrate(&mut pipeline, &resolve(&capture)).wrap_err("CALIBRATION_CAPTURE")?;
    }
    Ok(pipeline)
}

fn config_from_env() -> Result<PipelineConfig> {
    let Some(text) = wdp_node::env::inline_or_file("WDP_PREPROCESS_CONFIG")? else {
        return Ok(PipelineConfig::default());
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
