//! Fuzzes the training configuration: any YAML the checks accept must write back and read as
//! the same configuration, and give a learning-rate schedule that is a finite number between
//! 0 and the base rate at every step, long past the run's end included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wdp_train::{lr_at, TrainConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = TrainConfig::from_yaml("fuzz", text) else {
        return;
    };
    let written = serde_yaml::to_string(&config).expect("a configuration serialises");
    let again = TrainConfig::from_yaml("written", &written).expect("a written config reads back");
    assert_eq!(serde_yaml::to_string(&again).expect("again"), written);
    let steps = config.steps;
    let probes = (0..200)
        .chain([steps - 1, steps, steps.saturating_mul(3), usize::MAX / 2, usize::MAX])
        .chain([config.warmup_steps, config.warmup_steps.saturating_add(config.restart_period)]);
    for step in probes {
        let lr = lr_at(&config, step);
        assert!(
            lr.is_finite() && lr >= 0.0 && lr <= config.lr * (1.0 + 1e-12),
            "step {step}: lr {lr} with base {}",
            config.lr
        );
    }
});
