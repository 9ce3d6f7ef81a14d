//! Loads TorchScript stages exported by PyTorch (the committed
//! `scripts/export_torchscript.py`, run with `$WDP_PYTHON`, default `python3`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use tch::{Device, Kind, Tensor};
use wdp_models::{InputDims, ModelError, StageContract, TorchScriptStage};

fn python() -> String {
    std::env::var("WDP_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Exports the modules into `dir`; `false` (with a message) if torch is not importable.
fn export(dir: &Path) -> bool {
    let py = python();
    let probe = Command::new(&py).args(["-c", "import torch"]).output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        eprintln!("SKIPPED: `{py} -c 'import torch'` failed; set WDP_PYTHON to a python with torch 2.13 to run this test");
        return false;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/export_torchscript.py");
    let out = Command::new(&py)
        .arg(&script)
        .args([
            "--out",
            dir.to_str().unwrap(),
            "--feature-dim",
            "256",
            "--height",
            "96",
            "--width",
            "128",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn torchscript_stages_keep_or_break_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    if !export(dir.path()) {
        return;
    }
    let dims = InputDims::new(9, 30, 100);
    let enc = TorchScriptStage::load(
        dir.path().join("encoder.pt"),
        StageContract::Encoder {
            dims,
            feature_dim: 256,
        },
    )
    .unwrap();
    let window = Tensor::ones([3, 2, 9, 30, 100], (Kind::Float, Device::Cpu));
    let features = enc.forward(&window).unwrap();
    assert_eq!(features.size(), [3, 256]);
    // Fixed weights in the script: 1 * mean(amplitude) + 2 * mean(phase) + 0.5.
    assert!(features.allclose(
        &Tensor::full([3, 256], 3.5, (Kind::Float, Device::Cpu)),
        1e-5,
        1e-5,
        false
    ));
    // Input of other dims is rejected with the contract in the message.
    let err = enc
        .forward(&Tensor::ones(
            [1, 2, 9, 56, 100],
            (Kind::Float, Device::Cpu),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("encoder") && err.contains("[1, 2, 9, 30, 100]"),
        "{err}"
    );

    let up = TorchScriptStage::load(
        dir.path().join("upsampler.pt"),
        StageContract::Upsampler {
            feature_dim: 256,
            height: 96,
            width: 128,
        },
    )
    .unwrap();
    assert_eq!(up.forward(&features).unwrap().size(), [3, 3, 96, 128]);

    // Same module, different contract (H, W): refused at load.
    let err = TorchScriptStage::load(
        dir.path().join("upsampler.pt"),
        StageContract::Upsampler {
            feature_dim: 256,
            height: 720,
            width: 1280,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, ModelError::TorchScript { stage, .. } if stage == "upsampler"),
        "{err}"
    );
    assert!(
        err.to_string().contains("[2, 3, 96, 128]")
            && err.to_string().contains("[2, 3, 720, 1280]"),
        "{err}"
    );

    // A module whose output breaks the contract is refused at load with both shapes.
    let err = TorchScriptStage::load(
        dir.path().join("encoder_broken.pt"),
        StageContract::Encoder {
            dims,
            feature_dim: 256,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("[2, 257]") && err.contains("[2, 256]"),
        "{err}"
    );

    // The densepose stage: one frame in, the pose tuple out.
    let contract = StageContract::DensePose {
        height: 96,
        width: 128,
        num_keypoints: 17,
    };
    let dp = TorchScriptStage::load(dir.path().join("densepose.pt"), contract).unwrap();
    let spatial = Tensor::full([1, 3, 96, 128], 0.25, (Kind::Float, Device::Cpu));
    let pose = dp.forward_pose(&spatial).unwrap();
    assert_eq!(pose.boxes.size(), [2, 5]);
    assert_eq!(pose.keypoints.size(), [2, 17, 3]);
    assert_eq!(pose.part_index.size(), [2, 8, 8]);
    assert_eq!(pose.part_index.kind(), Kind::Uint8);
    assert!((pose.uv.mean(Kind::Float).double_value(&[]) - 0.25).abs() < 1e-6);
    assert_eq!(
        Vec::<f32>::try_from(&pose.boxes.get(1)).unwrap(),
        vec![64.0, 48.0, 128.0, 96.0, 0.8]
    );
    assert!(
        dp.forward(&spatial).is_err(),
        "tuple stages go through forward_pose"
    );
    let err = dp
        .forward_pose(&Tensor::zeros([2, 3, 96, 128], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    assert!(err.to_string().contains("[1, 3, 96, 128]"), "{err}");
    let err = TorchScriptStage::load(dir.path().join("densepose_broken.pt"), contract)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("part_index") && err.contains("Int64") && err.contains("Uint8"),
        "{err}"
    );

    // A missing file is a load error naming the stage.
    let err = TorchScriptStage::load(
        dir.path().join("nope.pt"),
        StageContract::Temporal { feature_dim: 256 },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("temporal") && err.to_string().contains("cannot load"),
        "{err}"
    );
}
