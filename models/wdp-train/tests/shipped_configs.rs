//! Every training configuration in `models/train/` parses, and its preset (a built-in name or a
//! file of `models/presets/`) loads and builds a model for its preprocessing's windows; every
//! preset file loads. A field renamed in code and not in a YAML file fails here, not an hour
//! into a training run.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use wdp_models::{InputDims, Preset, WifiDensePose};
use wdp_train::TrainConfig;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap_or_else(|e| panic!("{dir}: {e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load_preset(name_or_path: &str) -> Preset {
    // Paths in configurations are relative to the repository root, where scripts run.
    let path = root().join(name_or_path);
    let arg = if path.exists() {
        path.to_string_lossy().into_owned()
    } else {
        name_or_path.to_string()
    };
    Preset::load(&arg).unwrap_or_else(|e| panic!("preset {name_or_path}: {e}"))
}

#[test]
fn every_training_configuration_builds_its_model() {
    let files = yaml_files("models/train");
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let config: TrainConfig =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        config
            .preprocess
            .validate()
            .unwrap_or_else(|e| panic!("{}: preprocess: {e}", path.display()));
        let preset = load_preset(&config.preset);
        // A window of the configured length from a 3x3-antenna, 30-subcarrier radio.
        let dims = InputDims::new(9, 30, config.preprocess.window.length as i64);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        WifiDensePose::new(&vs.root(), &preset, dims)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn every_preset_file_loads() {
    let files = yaml_files("models/presets");
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        Preset::load(&path.to_string_lossy()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
