//! Gradient tests: every trainable parameter of the whole model (lite and gfl presets)
//! gets a finite, non-zero gradient from the total loss on a tiny batch.
#![allow(clippy::unwrap_used)]

use tch::{nn, Device, Kind, Tensor};
use wdp_models::{
    decode::center_targets,
    losses::{self, LossWeights},
    model::{densepose_loss, DensePoseTargets},
    InputDims, Preset, WifiDensePose,
};

fn total_loss(model: &WifiDensePose, dims: InputDims) -> Tensor {
    let opts = (Kind::Float, Device::Cpu);
    let window = Tensor::randn([2, 2, dims.antennas, dims.subcarriers, dims.window], opts);
    // Three people over two images, boxes in the 96x128 translated frame. The centre
    // size/offset losses are L1, whose gradient on the last bias is a sum of signs over
    // the centre cells: an odd count can never cancel to an exact zero.
    let boxes = [
        Tensor::from_slice(&[20f32, 10., 80., 90., 0., 60., 30., 94.]).view([2, 4]),
        Tensor::from_slice(&[40f32, 20., 110., 80.]).view([1, 4]),
    ];
    let rois =
        Tensor::from_slice(&[0f32, 20., 10., 80., 90., 1., 40., 20., 110., 80.]).view([2, 5]);
    let out = model.forward_t(&window, Some(&rois), true).unwrap();
    let r = model.stage.output_size();
    let targets = DensePoseTargets {
        center: center_targets(&boxes, (24, 32), model.stage.stride()).unwrap(),
        part_index: Tensor::randint(25, [2, r, r], (Kind::Int64, Device::Cpu)),
        uv: Tensor::rand([2, 2, r, r], opts),
        keypoint_heatmaps: Tensor::rand([2, 17, r, r], opts),
        keypoint_visible: Some(Tensor::ones([2, 17], opts)),
    };
    let dp = densepose_loss(&out.stage, &targets, &LossWeights::default()).unwrap();
    for t in [
        &dp.mask,
        &dp.uv,
        &dp.keypoint,
        &dp.center,
        &dp.center_regression,
    ] {
        assert!(t.double_value(&[]).is_finite() && t.double_value(&[]) > 0.0);
    }
    // Temporal module over the two frames as a sequence [1, 2, F].
    let seq = model.temporal_t(&out.features.unsqueeze(0), true).unwrap();
    let temporal = losses::temporal_smoothness(&seq, 1.0, 0.5).unwrap();
    let distill = losses::feature_distillation(&seq, &Tensor::randn([1, 2, 256], opts)).unwrap();
    let soft = losses::soft_target_kl(
        &out.stage.densepose.mask_logits,
        &Tensor::randn([2, 25, r, r], opts),
        3.0,
        1,
    )
    .unwrap();
    let domain = losses::mmd(
        &out.features.narrow(0, 0, 1),
        &out.features.narrow(0, 1, 1),
        &[],
    )
    .unwrap();
    dp.total + temporal * 0.2 + distill * 0.3 + soft * 0.3 + domain * 0.1
}

fn check_all_gradients(preset_name: &str) {
    tch::manual_seed(7);
    let preset = Preset::load(preset_name).unwrap();
    let dims = InputDims::new(1, 56, 50);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
    let loss = total_loss(&model, dims);
    assert!(loss.double_value(&[]).is_finite());
    loss.backward();
    let mut bad = Vec::new();
    let mut vars: Vec<_> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(vars.len() > 50);
    for (name, var) in &vars {
        let g = var.grad();
        if !g.defined() {
            bad.push(format!("{name}: no gradient"));
            continue;
        }
        let finite = g.isfinite().all().int64_value(&[]) == 1;
        let magnitude = g.abs().sum(Kind::Double).double_value(&[]);
        if !finite || magnitude == 0.0 {
            bad.push(format!("{name}: finite={finite} |grad|={magnitude}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{preset_name}: parameters without a usable gradient:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_parameter_gets_a_gradient_lite() {
    check_all_gradients("lite");
}

#[test]
fn every_parameter_gets_a_gradient_gfl() {
    check_all_gradients("gfl");
}

#[test]
fn a_few_sgd_steps_reduce_the_loss() {
    tch::manual_seed(3);
    let preset = Preset::load("lite").unwrap();
    let dims = InputDims::new(1, 56, 50);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
    let opts = (Kind::Float, Device::Cpu);
    let window = Tensor::randn([2, 2, 1, 56, 50], opts);
    let rois =
        Tensor::from_slice(&[0f32, 20., 10., 80., 90., 1., 40., 20., 110., 80.]).view([2, 5]);
    let boxes = [
        rois.narrow(0, 0, 1).narrow(1, 1, 4),
        rois.narrow(0, 1, 1).narrow(1, 1, 4),
    ];
    let r = model.stage.output_size();
    let targets = DensePoseTargets {
        center: center_targets(&boxes, (24, 32), 4).unwrap(),
        part_index: Tensor::randint(25, [2, r, r], (Kind::Int64, Device::Cpu)),
        uv: Tensor::rand([2, 2, r, r], opts),
        keypoint_heatmaps: Tensor::rand([2, 17, r, r], opts),
        keypoint_visible: None,
    };
    let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 1e-3).unwrap();
    let mut losses = Vec::new();
    for _ in 0..8 {
        let out = model.forward_t(&window, Some(&rois), true).unwrap();
        let loss = densepose_loss(&out.stage, &targets, &LossWeights::default())
            .unwrap()
            .total;
        losses.push(loss.double_value(&[]));
        opt.backward_step(&loss);
    }
    assert!(losses[7] < losses[0], "{losses:?}");
}
