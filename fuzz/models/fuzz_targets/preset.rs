//! Fuzzes the model presets: any YAML the checks accept must write back and read as the same
//! preset, and a preset of a size a CPU can build (every number at most 256, the translated
//! picture at most 128 x 128) must build the whole model for the input dims the input's first
//! bytes name and run one window through it without a panic, every output of the contract's
//! shape.
//!
//! Input: three bytes of dims (antenna pairs, subcarriers, window), then the preset's YAML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;
use tch::{nn, Device, Kind, Tensor};
use wdp_models::{InputDims, Preset, WifiDensePose};

/// Every number in the preset at most `max`.
fn small(v: &Value, max: f64) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() <= max),
        Value::Sequence(s) => s.iter().all(|v| small(v, max)),
        Value::Mapping(m) => m.values().all(|v| small(v, max)),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, s, t, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(preset) = Preset::from_yaml("fuzz", text) else {
        return;
    };
    let written = serde_yaml::to_string(&preset).expect("a preset serialises");
    assert_eq!(Preset::from_yaml("written", &written).expect("reads back"), preset);

    let value = serde_yaml::to_value(&preset).expect("a preset is a YAML value");
    let u = &preset.upsampler;
    if !small(&value, 256.0) || u.out_height * u.out_width > 128 * 128 {
        return;
    }
    let dims = InputDims::new(1 + i64::from(a % 9), 1 + i64::from(s % 64), 4 + i64::from(t % 61));
    tch::set_num_threads(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let Ok(model) = WifiDensePose::new(&vs.root(), &preset, dims) else {
        return;
    };
    let window = Tensor::zeros([2, dims.antennas, dims.subcarriers, dims.window], (Kind::Float, Device::Cpu));
    let frames = tch::no_grad(|| model.infer(&window)).expect("a window of the preset's dims runs");
    assert_eq!(frames.len(), 1);
    for f in &frames {
        let p = f.keypoints.size()[0];
        assert_eq!(f.keypoints.size(), [p, 17, 3]);
        assert_eq!(f.boxes.size(), [p, 5]);
        assert_eq!(f.part_index.size()[0], p);
        assert_eq!(f.uv.size()[..2], [p, 2]);
    }
});
