//! The model's preprocessing travels with its checkpoint: training writes the pipeline it read
//! its windows through to `NAME.preprocess.yaml` beside `NAME.safetensors`, and evaluation, the
//! trainer's `--init` and the inference dataflows (csi-preprocess's `WDP_PREPROCESS_CONFIG`)
//! read that file, so a model never sees windows made another way than those it learned from.

use eyre::{Context, Result};
use std::path::{Path, PathBuf};
use wdp_csi::dsp::PipelineConfig;

/// `NAME.preprocess.yaml` beside `NAME.safetensors`.
pub fn sidecar_path(checkpoint: &Path) -> PathBuf {
    checkpoint.with_extension("preprocess.yaml")
}

/// The preprocessing a checkpoint was trained with: its sidecar file, or, for checkpoints
/// written before the sidecar existed, the default pipeline with one window per camera frame.
pub fn for_checkpoint(checkpoint: &Path) -> Result<PipelineConfig> {
    let path = sidecar_path(checkpoint);
    if !path.exists() {
        return Ok(crate::data::LoadOptions::default().pipeline);
    }
    let text =
        std::fs::read_to_string(&path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let config: PipelineConfig = serde_yaml::from_str(&text)
        .wrap_err_with(|| format!("{}: not a preprocessing config", path.display()))?;
    config
        .validate()
        .wrap_err_with(|| format!("{}: invalid preprocessing config", path.display()))?;
    Ok(config)
}

/// Writes `config` beside `checkpoint` (atomically: a reader never sees half a file).
pub fn save(checkpoint: &Path, config: &PipelineConfig) -> Result<()> {
    let path = sidecar_path(checkpoint);
    let tmp = path.with_extension("yaml.partial");
    let text = format!(
        "# The preprocessing {} was trained with (csi-preprocess WDP_PREPROCESS_CONFIG).\n{}",
        checkpoint
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        serde_yaml::to_string(config)?
    );
    std::fs::write(&tmp, text).wrap_err_with(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).wrap_err_with(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trips_and_defaults_for_old_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("m.safetensors");
        assert_eq!(sidecar_path(&ckpt), dir.path().join("m.preprocess.yaml"));
        let default = for_checkpoint(&ckpt).unwrap();
        assert_eq!(default.window.hop, 5);
        let mut c = default.clone();
        c.window.length = 64;
        c.steps.truncate(1);
        save(&ckpt, &c).unwrap();
        assert_eq!(for_checkpoint(&ckpt).unwrap(), c);
        std::fs::write(sidecar_path(&ckpt), "steps: [{nope: {}}]").unwrap();
        let err = format!("{:#}", for_checkpoint(&ckpt).unwrap_err());
        assert!(err.contains("m.preprocess.yaml"), "{err}");
    }

    #[test]
    fn the_shipped_checkpoint_names_the_pipeline_it_was_trained_with() {
        // The shipped model predates the sidecar: it was trained on the default pipeline with one
        // window per camera frame, which is what its sidecar (read by the dataflows) must say.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let shipped = for_checkpoint(&root.join("models/weights/lite-sim.safetensors")).unwrap();
        assert!(sidecar_path(&root.join("models/weights/lite-sim.safetensors")).exists());
        assert_eq!(shipped, crate::data::LoadOptions::default().pipeline);
        // Every preprocessing the ablation compares is a valid pipeline.
        let dir = root.join("models/preprocess");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let config: PipelineConfig =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            config.validate().unwrap();
            n += 1;
        }
        assert!(n >= 4, "{n} files in {}", dir.display());
    }
}
