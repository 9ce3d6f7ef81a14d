//! `matches_pytorch`: the committed PyTorch reference (`scripts/reference_model.py`,
//! scripted by PyTorch 2.13 with `$WDP_PYTHON`, default `python3`) has the same
//! parameter names and shapes as the Rust model, and with the same weights both give
//! the same outputs (eval mode) for the `lite` and `gfl` presets.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use tch::{nn, CModule, Device, IValue, Kind, Tensor};
use wdp_models::{InputDims, Preset, WifiDensePose};

fn python() -> String {
    std::env::var("WDP_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn torch_available() -> bool {
    let ok = matches!(Command::new(python()).args(["-c", "import torch"]).output(), Ok(o) if o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: `{} -c 'import torch'` failed; set WDP_PYTHON to a python with torch 2.13",
            python()
        );
    }
    ok
}

fn export_reference(preset: &Preset, dims: InputDims, dir: &Path) -> std::path::PathBuf {
    let config = dir.join(format!("{}.json", preset.name));
    std::fs::write(&config, serde_json::to_string(preset).unwrap()).unwrap();
    let out = dir.join(format!("{}.pt", preset.name));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference_model.py");
    let status = Command::new(python())
        .arg(script)
        .arg("--config")
        .arg(&config)
        .args(["--antennas", &dims.antennas.to_string()])
        .args(["--subcarriers", &dims.subcarriers.to_string()])
        .args(["--window", &dims.window.to_string()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "reference export failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn matches_pytorch_reference() {
    if !torch_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dims = InputDims::new(9, 30, 100);
    for name in ["lite", "gfl"] {
        let preset = Preset::load(name).unwrap();
        let reference = CModule::load(export_reference(&preset, dims, dir.path())).unwrap();
        let torch_params: HashMap<String, Tensor> =
            reference.named_parameters().unwrap().into_iter().collect();

        let vs = nn::VarStore::new(Device::Cpu);
        let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
        let rust_params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        // Same names, same shapes, nothing left over on either side.
        assert_eq!(
            rust_params.len(),
            torch_params.len(),
            "{name}: parameter counts differ"
        );
        tch::no_grad(|| {
            for (n, var) in &rust_params {
                let src = torch_params
                    .get(n)
                    .unwrap_or_else(|| panic!("{name}: `{n}` not in the PyTorch module"));
                assert_eq!(src.size(), var.size(), "{name}: `{n}`");
                var.shallow_clone().copy_(src);
            }
        });

        tch::manual_seed(5);
        let window = Tensor::randn([2, 2, 9, 30, 100], (Kind::Float, Device::Cpu));
        let rois = Tensor::from_slice(&[
            0f32, 10., 8., 70., 90., 1., 50., 20., 126., 80., 1., 0., 0., 30., 30.,
        ])
        .view([3, 5]);
        let IValue::Tuple(outs) = reference
            .forward_is(&[
                IValue::Tensor(window.shallow_clone()),
                IValue::Tensor(rois.shallow_clone()),
            ])
            .unwrap()
        else {
            panic!("{name}: reference did not return a tuple")
        };
        let t: Vec<Tensor> = outs
            .into_iter()
            .map(|v| match v {
                IValue::Tensor(t) => t,
                other => panic!("not a tensor: {other:?}"),
            })
            .collect();
        let (ours, temporal) = tch::no_grad(|| {
            let o = model.forward_t(&window, Some(&rois), false).unwrap();
            let temporal = model.temporal_t(&o.features.unsqueeze(0), false).unwrap();
            (o, temporal)
        });
        let s = &ours.stage;
        let pairs = [
            ("features", &ours.features, &t[0]),
            ("spatial", &ours.spatial, &t[1]),
            ("center_logits", &s.person.center_logits, &t[2]),
            ("size", &s.person.size, &t[3]),
            ("offset", &s.person.offset, &t[4]),
            ("mask_logits", &s.densepose.mask_logits, &t[5]),
            ("uv", &s.densepose.uv, &t[6]),
            ("keypoint_heatmaps", &s.densepose.keypoint_heatmaps, &t[7]),
            ("temporal", &temporal, &t[8]),
        ];
        for (what, a, b) in pairs {
            let d = max_abs_diff(a, b);
            let peak = b.abs().max().double_value(&[]);
            let scale = peak.max(1.0);
            eprintln!(
                "{name}: {what}: max |rust - pytorch| = {d:.3e} (max |pytorch| = {peak:.3e})"
            );
            // f32 with different op orderings (e.g. attention packing): 1e-4 relative.
            assert!(
                d <= 1e-4 * scale,
                "{name}: {what} differs from PyTorch by {d} (scale {scale})"
            );
        }
    }
}
