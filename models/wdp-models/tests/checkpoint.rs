//! Checkpoint round trip (whole model saved once, each stage loaded from its prefix
//! into its own VarStore) and clear errors for missing or mis-shaped tensors.
#![allow(clippy::unwrap_used)]

use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
use wdp_models::{
    checkpoint, CsiEncoder, DensePoseStage, InputDims, ModelError, Preset, SpatialUpsampler,
    TemporalModule, WifiDensePose,
};

#[test]
fn save_whole_model_load_each_stage_outputs_identical() {
    tch::manual_seed(1);
    let preset = Preset::load("lite").unwrap();
    let dims = InputDims::new(9, 30, 100);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");

    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
    // A training pass moves the BatchNorm running statistics away from their init.
    let window = Tensor::randn([2, 2, 9, 30, 100], (Kind::Float, Device::Cpu));
    let _ = model.forward_t(&window, None, true).unwrap();
    checkpoint::save(&vs, &path).unwrap();
    let names: Vec<String> = checkpoint::tensor_shapes(&path)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for prefix in checkpoint::STAGE_PREFIXES {
        assert!(
            names.iter().any(|n| n.starts_with(&format!("{prefix}."))),
            "no {prefix}. tensors"
        );
    }
    assert!(names
        .iter()
        .any(|n| n == "encoder.amplitude_norm.running_mean"));

    // Fresh, differently initialised stage stores.
    tch::manual_seed(2);
    let mut enc_vs = nn::VarStore::new(Device::Cpu);
    let enc = CsiEncoder::new(enc_vs.root(), &preset.encoder, dims).unwrap();
    checkpoint::load_prefix(&mut enc_vs, &path, "encoder").unwrap();
    let mut up_vs = nn::VarStore::new(Device::Cpu);
    let up = SpatialUpsampler::new(up_vs.root(), &preset.upsampler, 256).unwrap();
    checkpoint::load_prefix(&mut up_vs, &path, "upsampler").unwrap();
    let mut dp_vs = nn::VarStore::new(Device::Cpu);
    let stage =
        DensePoseStage::new(dp_vs.root() / "backbone", dp_vs.root() / "head", &preset).unwrap();
    checkpoint::load_prefix(&mut dp_vs, &path, "").unwrap();
    let mut t_vs = nn::VarStore::new(Device::Cpu);
    let temporal = TemporalModule::new(t_vs.root(), &preset.temporal, 256).unwrap();
    checkpoint::load_prefix(&mut t_vs, &path, "temporal").unwrap();

    tch::no_grad(|| {
        let whole = model.forward_t(&window, None, false).unwrap();
        let features = enc.forward_t(&window, false);
        assert!(features.equal(&whole.features));
        let spatial = up.forward_t(&features, false);
        assert!(spatial.equal(&whole.spatial));
        let staged = stage.forward_t(&spatial, None, false).unwrap();
        assert!(staged
            .person
            .center_logits
            .equal(&whole.stage.person.center_logits));
        assert!(staged
            .densepose
            .mask_logits
            .equal(&whole.stage.densepose.mask_logits));
        let seq = whole.features.unsqueeze(0);
        assert!(temporal
            .forward_t(&seq, false)
            .equal(&model.temporal_t(&seq, false).unwrap()));
    });
    let a = model.infer(&window).unwrap();
    let b =
        tch::no_grad(|| stage.infer(&up.forward_t(&enc.forward_t(&window, false), false))).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.boxes.equal(&y.boxes)
                && x.keypoints.equal(&y.keypoints)
                && x.part_index.equal(&y.part_index)
        );
    }
}

#[test]
fn mis_shaped_and_missing_tensors_are_named() {
    let preset = Preset::load("lite").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let vs = nn::VarStore::new(Device::Cpu);
    let _model = WifiDensePose::new(&vs.root(), &preset, InputDims::new(9, 30, 100)).unwrap();
    checkpoint::save(&vs, &path).unwrap();

    // An encoder for 56 subcarriers cannot take 30-subcarrier weights.
    let mut enc_vs = nn::VarStore::new(Device::Cpu);
    let _enc = CsiEncoder::new(enc_vs.root(), &preset.encoder, InputDims::new(9, 56, 100)).unwrap();
    let err = checkpoint::load_prefix(&mut enc_vs, &path, "encoder").unwrap_err();
    match &err {
        ModelError::ShapeMismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "encoder.amplitude_encoder.0.weight");
            assert_eq!(expected, &vec![16, 9 * 56, 7]);
            assert_eq!(found, &vec![16, 9 * 30, 7]);
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("encoder.amplitude_encoder.0.weight")
            && msg.contains("[16, 504, 7]")
            && msg.contains("[16, 270, 7]"),
        "{msg}"
    );

    // A GFL backbone finds no `backbone.patch_embed...` in a ResNet-FPN checkpoint.
    let gfl = Preset::load("gfl").unwrap();
    let mut g_vs = nn::VarStore::new(Device::Cpu);
    let _stage = DensePoseStage::new(g_vs.root() / "backbone", g_vs.root() / "head", &gfl).unwrap();
    let err = checkpoint::load_prefix(&mut g_vs, &path, "").unwrap_err();
    assert!(
        matches!(&err, ModelError::MissingTensor { name, .. } if name.starts_with("backbone.")),
        "{err}"
    );

    // Wrong prefix, wrong extension.
    let mut t_vs = nn::VarStore::new(Device::Cpu);
    let _t = TemporalModule::new(t_vs.root(), &preset.temporal, 256).unwrap();
    assert!(matches!(
        checkpoint::load_prefix(&mut t_vs, &path, "encoder"),
        Err(ModelError::MissingTensor { .. })
    ));
    assert!(checkpoint::save(&vs, dir.path().join("model.pt")).is_err());
}

/// Fine-tuning a model that has a head its checkpoint has not: that head (every tensor of its
/// modules absent) starts fresh and is named; everything else loads; a module the checkpoint
/// has only part of is still an error.
#[test]
fn a_head_the_checkpoint_lacks_starts_fresh_and_is_named() {
    let dims = InputDims::new(3, 8, 40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let mut preset = Preset::load("lite").unwrap();
    preset.upsampler.locator_hidden = 8;
    let old_vs = nn::VarStore::new(Device::Cpu);
    let _old = WifiDensePose::new(&old_vs.root(), &preset, dims).unwrap();
    checkpoint::save(&old_vs, &path).unwrap();

    preset.upsampler.count_classes = 3;
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _new = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
    let fresh = vs.variables()["upsampler.count.out.weight"].copy();
    let new =
        checkpoint::load_stages_keeping_new(&mut vs, &path, &["encoder", "upsampler"]).unwrap();
    assert_eq!(new, ["upsampler.count.norm", "upsampler.count.out"]);
    let vars = vs.variables();
    assert!(vars["upsampler.count.out.weight"].equal(&fresh));
    let stored = old_vs.variables();
    for name in [
        "upsampler.locator.2.weight",
        "upsampler.projection.0.weight",
        "encoder.amplitude_encoder.0.weight",
    ] {
        assert!(vars[name].equal(&stored[name]), "{name} not loaded");
    }
    // Strict loading still names the missing tensor.
    let err = checkpoint::load_stages(&mut vs, &path, &["upsampler"]).unwrap_err();
    assert!(err.to_string().contains("upsampler.count"), "{err}");
}
