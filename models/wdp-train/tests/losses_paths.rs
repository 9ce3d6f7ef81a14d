//! The optional terms of the training loop run and contribute: distillation of a `gfl` student
//! from a `lite` teacher checkpoint (seed 000's and seed 003's terms), the domain-alignment
//! methods against a second room; and a resumed run continues exactly.
#![allow(clippy::unwrap_used)]

use wdp_train::trainer::Weights;
use wdp_train::{
    load_dataset, make_batch, make_sequence_batch, predict, predict_sequence, sequence_starts,
    DomainMethod, LoadOptions, Sample, TrainConfig, Trainer,
};

/// libtorch's random generator is global to the process: tests that seed it for repeatable
/// dropout must not interleave with tests that draw from it.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn room(name: &str, dir: &std::path::Path) -> Vec<Sample> {
    room_with(name, dir, &LoadOptions::default())
}

/// 2.5 s of the preset room `name` written to `dir`, every frame loaded with `load`.
fn room_with(name: &str, dir: &std::path::Path, load: &LoadOptions) -> Vec<Sample> {
    let scene = wdp_sim::Scene::preset(name).unwrap();
    let options = wdp_sim::DatasetOptions {
        duration_s: 2.5,
        include_rgb: false,
        ..wdp_sim::DatasetOptions::default()
    };
    wdp_sim::write_dataset(&scene, dir, &options).unwrap();
    load_dataset(dir, load).unwrap().0
}

/// A shipped training configuration (`models/train/NAME`), its preset path made absolute.
fn shipped_config(name: &str) -> TrainConfig {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("models/train").join(name)).unwrap();
    let mut config: TrainConfig = serde_yaml::from_str(&text).unwrap();
    config.preset = root.join(&config.preset).to_string_lossy().into_owned();
    config
}

#[test]
fn distillation_and_domain_terms_train() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
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

    // Seed 003's terms one at a time: keypoint tokens, visual tokens, coordinate classes.
    let only = |pick: fn(&mut Weights)| {
        let mut w = Weights {
            feature_distill: 0.0,
            soft_distill: 0.0,
            keypoint_token: 0.0,
            visual_token: 0.0,
            coordinate: 0.0,
            ..Weights::default()
        };
        pick(&mut w);
        w
    };
    for (name, weights) in [
        ("keypoint tokens", only(|w| w.keypoint_token = 1.0)),
        ("visual tokens", only(|w| w.visual_token = 1.0)),
        ("coordinate classification", only(|w| w.coordinate = 1.0)),
        ("none", only(|_| {})),
    ] {
        let mut s = Trainer::new(
            TrainConfig {
                preset: "gfl".into(),
                weights,
                ..base.clone()
            },
            dims,
            cpu,
        )
        .unwrap();
        s.set_teacher("lite", &teacher_path, dims).unwrap();
        let l = s.step(&batch, None).unwrap();
        if name == "none" {
            assert_eq!(l.distill, 0.0, "no weight, no term");
        } else {
            assert!(l.distill.is_finite() && l.distill > 0.0, "{name}: {l:?}");
        }
    }

    // A teacher node's features of the same frames (live training) drive the transfer term
    // without a teacher checkpoint.
    let mut plain = Trainer::new(base.clone(), dims, cpu).unwrap();
    let mut with_features = make_batch(&picked, &plain.geometry, cpu).unwrap();
    assert!(
        with_features.teacher_features.is_none(),
        "shards carry none"
    );
    with_features.teacher_features = Some(tch::Tensor::randn([4, 256], (tch::Kind::Float, cpu)));
    let l = plain.step(&with_features, None).unwrap();
    assert!(l.distill.is_finite() && l.distill > 0.0, "{l:?}");

    let target_picked: Vec<&Sample> = target.iter().rev().take(4).collect();
    for method in [
        DomainMethod::Mmd,
        DomainMethod::Lmmd,
        DomainMethod::Adversarial,
    ] {
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
    // Weights and BatchNorm statistics alike: a frozen module runs as at inference.
    let frozen_names: Vec<String> = frozen
        .vs
        .variables()
        .into_keys()
        .filter(|n| {
            ["encoder.", "upsampler.", "backbone."]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .collect();
    assert!(frozen_names.iter().any(|n| n.contains("running_mean")));
    let before: Vec<tch::Tensor> = frozen_names
        .iter()
        .map(|n| frozen.vs.variables()[n].copy())
        .collect();
    let batch = make_batch(&picked, &frozen.geometry, cpu).unwrap();
    frozen.step(&batch, None).unwrap();
    let after = frozen.vs.variables();
    for (name, b) in frozen_names.iter().zip(&before) {
        assert!(b.equal(&after[name]), "frozen {name} moved");
    }
}

#[test]
fn a_resumed_run_continues_with_its_optimiser_state() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = room("lab", &tmp.path().join("lab"));
    let w = data[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    let cpu = tch::Device::Cpu;
    let config = TrainConfig {
        batch_size: 2,
        steps: 4,
        augment: None,
        warmup_steps: 1,
        ..TrainConfig::default()
    };
    let batches: Vec<_> = (0..4)
        .map(|i| {
            let picked: Vec<&Sample> = data.iter().skip(2 * i).take(2).collect();
            make_batch(
                &picked,
                &Trainer::new(config.clone(), dims, cpu).unwrap().geometry,
                cpu,
            )
            .unwrap()
        })
        .collect();
    // Dropout draws from libtorch's generator: seed it per step so both runs see the same masks.
    let run = |t: &mut Trainer, steps: std::ops::Range<usize>| {
        for i in steps {
            tch::manual_seed(1000 + i as i64);
            t.step(&batches[i], None).unwrap();
        }
    };
    // Largest difference over every weight of two models.
    let gap_between = |a: &Trainer, b: &Trainer| {
        let b = b.vs.variables();
        a.vs.variables()
            .iter()
            .map(|(name, t)| (t - &b[name]).abs().max().double_value(&[]))
            .fold(0.0f64, f64::max)
    };

    let mut whole = Trainer::new(config.clone(), dims, cpu).unwrap();
    run(&mut whole, 0..4);

    let path = tmp.path().join("run.safetensors");
    let mut first = Trainer::new(config.clone(), dims, cpu).unwrap();
    run(&mut first, 0..2);
    first.save(&path).unwrap();
    assert!(wdp_train::trainer::optimizer_path(&path).is_file());
    let mut resumed = Trainer::new(config.clone(), dims, cpu).unwrap();
    resumed.resume(&path).unwrap();
    assert_eq!(resumed.step, 2);
    assert_eq!(
        gap_between(&resumed, &first),
        0.0,
        "the checkpoint holds the weights"
    );
    run(&mut resumed, 2..4);
    let diff = gap_between(&resumed, &whole);
    assert!(
        diff < 1e-5,
        "resumed run differs from the uninterrupted one by {diff}"
    );

    // Starting from the same weights without the moments is a different run.
    let mut restarted = Trainer::new(config.clone(), dims, cpu).unwrap();
    restarted.init_from(&path).unwrap();
    restarted.step = 2;
    run(&mut restarted, 2..4);
    let gap = gap_between(&restarted, &whole);
    assert!(
        gap > 1e-5,
        "fresh moments move the weights differently ({gap})"
    );

    // Weights trained on other windows are refused as an init (before any data would load),
    // unless the run says it fine-tunes them onto its own preprocessing.
    let mut other = config.clone();
    other.preprocess.window.length += 1;
    let err = wdp_train::trainer::same_preprocess(&other, &path).unwrap_err();
    assert!(err.to_string().contains("--init-new-preprocess"), "{err}");
    let mut refused = Trainer::new(other.clone(), dims, cpu).unwrap();
    assert!(refused.init_from(&path).is_err());
    let mut moved = Trainer::new(other, dims, cpu).unwrap();
    moved.new_preprocess = true;
    moved.init_from(&path).unwrap();
    assert_eq!(gap_between(&moved, &first), 0.0, "the weights are taken");
}

#[test]
fn sequence_training_trains_and_saves_the_temporal_module() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut data = room("lab", &tmp.path().join("lab"));
    let n = data.len();
    // A second recording after the first: no sequence may straddle the two.
    let mut other = room("office", &tmp.path().join("office"));
    data.append(&mut other);
    let length = 4;
    let starts = sequence_starts(&data, length);
    assert!(!starts.is_empty());
    assert!(
        starts.iter().all(|&s| s + length <= n || s >= n),
        "sequences stay inside one recording"
    );
    assert_eq!(starts.len(), data.len() - 2 * (length - 1));

    let w = data[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    let cpu = tch::Device::Cpu;
    let mut t = Trainer::new(
        TrainConfig {
            batch_size: 2,
            steps: 2,
            sequence: length,
            augment: None,
            freeze: vec!["encoder".into()],
            ..TrainConfig::default()
        },
        dims,
        cpu,
    )
    .unwrap();
    let before = t.vs.variables()["temporal.output_projection.weight"].copy();
    let batch = make_sequence_batch(&data, &starts[..2], length, &t.geometry, cpu).unwrap();
    assert_eq!(batch.windows.size()[0], 2 * length as i64);
    let l = t.step_sequence(&batch, None).unwrap();
    assert!(l.temporal.is_finite() && l.temporal > 0.0, "{l:?}");
    assert!(l.total.is_finite() && l.mask > 0.0, "{l:?}");
    let after = &t.vs.variables()["temporal.output_projection.weight"];
    assert!(!before.equal(after), "the temporal module learns");

    let path = tmp.path().join("seq.safetensors");
    t.save(&path).unwrap();
    let stages = wdp_train::trainer::stages_in(&path).unwrap();
    assert!(stages.contains(&"temporal"), "{stages:?}");

    // Evaluation with the module over each recording's frames, and frame by frame.
    let refs: Vec<&Sample> = data.iter().take(6).collect();
    let seq = predict_sequence(&t.model, &refs, 4, cpu, length).unwrap();
    let frame = predict(&t.model, &refs, 4, cpu).unwrap();
    assert_eq!(seq.len(), refs.len());
    assert_eq!(frame.len(), refs.len());
}

/// The floor head (`models/train/lite-floor.yaml`) trains on the people's floor positions: its
/// term falls over steps on one batch, and every detection then carries a floor point.
#[test]
fn the_floor_head_trains_on_positions() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = shipped_config("lite-floor.yaml");
    config.batch_size = 4;
    config.augment = None;
    config.lr = 1e-3;
    config.warmup_steps = 0;
    let tmp = tempfile::tempdir().unwrap();
    let load = LoadOptions::with(config.preprocess.clone(), 1);
    let samples = room_with("lab", tmp.path(), &load);
    let picked: Vec<&Sample> = samples.iter().rev().take(4).collect();
    assert!(picked
        .iter()
        .all(|s| s.people.iter().all(|p| p.position_m.is_some())));
    let w = picked[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    let cpu = tch::Device::Cpu;
    tch::manual_seed(0);
    let mut t = Trainer::new(config, dims, cpu).unwrap();
    let batch = make_batch(&picked, &t.geometry, cpu).unwrap();
    assert!(batch.floor_xy.iter().any(|xy| !xy.is_empty()));
    let first = t.step(&batch, None).unwrap().floor;
    let mut last = first;
    for _ in 0..30 {
        last = t.step(&batch, None).unwrap().floor;
    }
    assert!(first.is_finite() && first > 0.0, "{first}");
    assert!(last < first * 0.8, "floor term {first} -> {last}");
    let detections = predict(&t.model, &picked, 4, cpu).unwrap();
    // The count head learnt the batch's one person too.
    assert!(detections.iter().flatten().count() > 0, "{detections:?}");
    for d in detections.iter().flatten() {
        assert!(d.floor_m.is_some(), "{d:?}");
    }
}

/// `train --heads-only` (`wdp_train::heads`): the floor and count heads and the encoder's
/// signature branch fit on features computed once (their terms fall), and nothing else moves.
#[test]
fn fitting_the_heads_moves_only_the_heads() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = shipped_config("lite-floor-sig.yaml");
    config.lr = 3e-3;
    config.warmup_steps = 0;
    let tmp = tempfile::tempdir().unwrap();
    let load = LoadOptions::with(config.preprocess.clone(), 1);
    let samples = room_with("lab", tmp.path(), &load);
    let w = samples[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    tch::manual_seed(0);
    let mut t = Trainer::new(config, dims, tch::Device::Cpu).unwrap();
    let before: Vec<(String, tch::Tensor)> =
        t.vs.variables()
            .into_iter()
            .map(|(n, v)| (n, v.detach().copy()))
            .collect();
    let mut losses = Vec::new();
    let options = wdp_train::heads::HeadsOptions {
        steps: 60,
        batch: 16,
        validate_every: 20,
    };
    // The last frames stand in for other sequences: the kept step is one of the checks.
    let (fit, validation) = samples.split_at(samples.len() - 4);
    let summary =
        wdp_train::heads::fit_heads(&mut t, fit, validation, &options, |_, floor, count| {
            losses.push((floor, count))
        })
        .unwrap();
    assert_eq!(summary.frames, fit.len());
    assert!(
        matches!(summary.best_step, Some(20 | 40 | 60)),
        "{summary:?}"
    );
    assert!(summary.validation_floor_loss.is_some_and(f64::is_finite));
    assert!(summary.frames_with_people > 0);
    let (first, last) = (losses[0], summary.floor_loss);
    assert!(last < first.0 * 0.8, "floor term {} -> {last}", first.0);
    assert!(
        summary.count_loss < first.1,
        "count term {} -> {}",
        first.1,
        summary.count_loss
    );
    let now = t.vs.variables();
    let mut moved = Vec::new();
    for (name, old) in &before {
        if !now[name].equal(old) {
            moved.push(name.clone());
        }
    }
    assert!(!moved.is_empty());
    for name in &moved {
        assert!(
            wdp_train::heads::HEAD_MODULES
                .iter()
                .any(|m| name.starts_with(m)),
            "{name} moved"
        );
    }
    for m in wdp_train::heads::HEAD_MODULES {
        assert!(
            moved.iter().any(|n| n.starts_with(m)),
            "nothing of {m} moved"
        );
    }
}

/// With a preset that weighs the radio's floor image, `--heads-only` fits the floor head through
/// the fusion it runs with: on the same untrained head, the first step's floor term is lower
/// with the frames' images than without them (the lab's images point at its person).
#[test]
fn the_heads_are_fitted_through_the_radio_image() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = shipped_config("lite-floor.yaml");
    let mut preset = wdp_models::Preset::load(&config.preset).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A light weight: an untrained head fused with a sharp image pays the image's confident
    // misses (the shipped weight, 32, gave 7.9 nats against 7.1 without images on this clip),
    // which says nothing about whether the fit sees the images.
    preset
        .upsampler
        .floor
        .as_mut()
        .expect("lite-floor has a floor head")
        .radio_map_weight = 2.0;
    let preset_path = tmp.path().join("preset.yaml");
    std::fs::write(&preset_path, serde_yaml::to_string(&preset).unwrap()).unwrap();
    config.preset = preset_path.to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let mut load = LoadOptions::with(config.preprocess.clone(), 1);
    load.locator = wdp_train::data::locator_for(&preset);
    assert!(load.locator.is_some(), "lite-floor weighs the image");
    let with = room_with("lab", tmp.path(), &load);
    assert!(with.iter().filter(|s| s.radio_map.is_some()).count() * 2 > with.len());
    let without: Vec<Sample> = with
        .iter()
        .cloned()
        .map(|mut s| {
            s.radio_map = None;
            s
        })
        .collect();
    let w = with[0].window_shape.map(|d| d as i64);
    let dims = wdp_models::InputDims::from_window_shape(&w).unwrap();
    let first_floor = |samples: &[Sample]| {
        tch::manual_seed(0);
        let mut t = Trainer::new(config.clone(), dims, tch::Device::Cpu).unwrap();
        let options = wdp_train::heads::HeadsOptions {
            steps: 1,
            batch: 256,
            validate_every: 1,
        };
        let mut first = f64::NAN;
        wdp_train::heads::fit_heads(&mut t, samples, &[], &options, |_, floor, _| first = floor)
            .unwrap();
        first
    };
    let (a, b) = (first_floor(&with), first_floor(&without));
    assert!(a < b, "floor term with the images {a}, without {b}");
}
