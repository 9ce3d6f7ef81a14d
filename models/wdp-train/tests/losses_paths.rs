//! The optional terms of the training loop run and contribute: distillation of a `gfl` student
//! from a `lite` teacher checkpoint, and both domain-alignment methods against a second room.
#![allow(clippy::unwrap_used)]

use wdp_train::{
    load_dataset, make_batch, DomainMethod, LoadOptions, Sample, TrainConfig, Trainer,
};

fn room(name: &str, dir: &std::path::Path) -> Vec<Sample> {
    let scene = wdp_sim::Scene::preset(name).unwrap();
    let options = wdp_sim::DatasetOptions {
        duration_s: 2.5,
        include_rgb: false,
        ..wdp_sim::DatasetOptions::default()
    };
    wdp_sim::write_dataset(&scene, dir, &options).unwrap();
    load_dataset(dir, &LoadOptions::default()).unwrap().0
}

#[test]
fn distillation_and_domain_terms_train() {
    let tmp = tempfile::tempdir().unwrap();
    let source = room("office", &tmp.path().join("office"));
    let target = room("corridor", &tmp.path().join("corridor"));
    assert!(source.len() >= 4 && target.len() >= 4);
    let w = source[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    let cpu = tch::Device::Cpu;
    let base = TrainConfig {
        batch_size: 4,
        steps: 3,
        augment: None,
        ..TrainConfig::default()
    };

    // A lite teacher (its weights need not be good to test the plumbing), saved and reloaded.
    let teacher_path = tmp.path().join("teacher.safetensors");
    Trainer::new(base.clone(), dims, cpu)
        .unwrap()
        .save(&teacher_path)
        .unwrap();
    let mut student = Trainer::new(
        TrainConfig {
            preset: "gfl".into(),
            ..base.clone()
        },
        dims,
        cpu,
    )
    .unwrap();
    student.set_teacher("lite", &teacher_path, dims).unwrap();
    let picked: Vec<&Sample> = source.iter().rev().take(4).collect();
    let batch = make_batch(&picked, &student.geometry, cpu).unwrap();
    let l = student.step(&batch, None).unwrap();
    assert!(l.distill.is_finite() && l.distill > 0.0, "{l:?}");

    let target_picked: Vec<&Sample> = target.iter().rev().take(4).collect();
    for method in [DomainMethod::Mmd, DomainMethod::Adversarial] {
        let mut t = Trainer::new(
            TrainConfig {
                domain: Some(method),
                ..base.clone()
            },
            dims,
            cpu,
        )
        .unwrap();
        let tw = make_batch(&target_picked, &t.geometry, cpu).unwrap().window;
        let batch = make_batch(&picked, &t.geometry, cpu).unwrap();
        let l = t.step(&batch, Some(&tw)).unwrap();
        assert!(l.domain.is_finite() && l.domain > 0.0, "{method:?}: {l:?}");
        assert!(l.total.is_finite());
    }

    // Freezing modules leaves them untouched by a step.
    let mut frozen = Trainer::new(
        TrainConfig {
            freeze: vec!["encoder".into(), "upsampler".into(), "backbone".into()],
            ..base
        },
        dims,
        cpu,
    )
    .unwrap();
    let before = frozen.vs.variables()["encoder.amplitude_encoder.0.weight"].copy();
    let batch = make_batch(&picked, &frozen.geometry, cpu).unwrap();
    frozen.step(&batch, None).unwrap();
    let after = &frozen.vs.variables()["encoder.amplitude_encoder.0.weight"];
    assert!(before.equal(after), "a frozen module does not move");
}
