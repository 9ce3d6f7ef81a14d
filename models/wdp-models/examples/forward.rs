//! Builds a preset, runs one frame through it, and prints output shapes, parameter
//! counts per stage, GFLOPs and CPU latency.
//!
//! ```text
//! cargo run -p wdp-models --release --example forward -- [PRESET] [ANTENNAS SUBCARRIERS WINDOW [RUNS]]
//! cargo run -p wdp-models --release --example forward -- lite 9 30 100
//! ```
//! (needs libtorch's folder on `LD_LIBRARY_PATH`, see the crate README). `RUNS` (default 5)
//! is the number of timed runs; 0 skips timing (the `paper` preset takes seconds a frame).

use std::time::Instant;

use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
use wdp_models::{flops, roi::roi_align, InputDims, Preset, WifiDensePose};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("lite");
    let num = |i: usize, default: i64| -> Result<i64, std::num::ParseIntError> {
        args.get(i).map(|s| s.parse()).unwrap_or(Ok(default))
    };
    let dims = InputDims::new(num(1, 9)?, num(2, 30)?, num(3, 100)?);
    let mut preset = Preset::load(name)?;
    // Every peak becomes a person, so the printed shapes show P = max_people.
    preset.person.score_threshold = 0.0;
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), &preset, dims)?;

    println!("preset `{}`: {}", preset.name, preset.description);
    println!(
        "input window [2, {}, {}, {}]",
        dims.antennas, dims.subcarriers, dims.window
    );
    let mut total = 0i64;
    for prefix in wdp_models::checkpoint::STAGE_PREFIXES {
        let n: i64 = vs
            .variables()
            .iter()
            .filter(|(k, t)| k.starts_with(&format!("{prefix}.")) && t.requires_grad())
            .map(|(_, t)| t.numel() as i64)
            .sum();
        total += n;
        println!("params {prefix:<10} {:>12} ({:.3} M)", n, n as f64 / 1e6);
    }
    println!(
        "params total      {:>12} ({:.3} M)",
        total,
        total as f64 / 1e6
    );

    let window = Tensor::randn(
        [1, 2, dims.antennas, dims.subcarriers, dims.window],
        (Kind::Float, Device::Cpu),
    );
    let g = |f: u64| f as f64 / 1e9;
    tch::no_grad(|| -> Result<(), Box<dyn std::error::Error>> {
        let (features, f_enc) = flops::count(|| model.encoder.forward_t(&window, false));
        let (spatial, f_up) = flops::count(|| model.upsampler.forward_t(&features, false));
        let (dense, f_dense) = flops::count(|| {
            model.stage.forward_t(
                &spatial,
                Some(&Tensor::zeros([0, 5], (Kind::Float, Device::Cpu))),
                false,
            )
        });
        let dense = dense?;
        let h = &preset.head;
        let one_roi = Tensor::from_slice(&[0f32, 0., 0., 32., 32.]).view([1, 5]);
        let pooled = roi_align(
            &dense.backbone_features,
            &one_roi,
            1.0 / model.stage.stride() as f64,
            h.roi_size,
            h.sampling_ratio,
        )?;
        let (_, f_person) = flops::count(|| model.stage_head_forward(&pooled));
        let (_, f_temporal) = flops::count(|| {
            model
                .temporal
                .forward_t(&features.unsqueeze(0).repeat([1, 5, 1]), false)
        });
        println!(
            "features {:?}  spatial {:?}  backbone map {:?}",
            features.size(),
            spatial.size(),
            dense.backbone_features.size()
        );
        println!(
            "GFLOPs: encoder {:.4}  upsampler {:.3}  backbone+person head {:.3}  densepose head {:.3} per person  temporal {:.4} per 5 frames",
            g(f_enc), g(f_up), g(f_dense), g(f_person), g(f_temporal)
        );
        println!(
            "GFLOPs per frame: {:.3} (1 person), {:.3} ({} people)",
            g(f_enc + f_up + f_dense + f_person),
            g(f_enc + f_up + f_dense + f_person * preset.person.max_people as u64),
            preset.person.max_people
        );
        Ok(())
    })?;

    let poses = model.infer(&window)?;
    let p = &poses[0];
    println!(
        "pose: keypoints {:?}  boxes {:?}  part_index {:?} {:?}  uv {:?}",
        p.keypoints.size(),
        p.boxes.size(),
        p.part_index.size(),
        p.part_index.kind(),
        p.uv.size()
    );
    let runs = num(4, 5)?.max(0) as usize;
    if runs == 0 {
        return Ok(());
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            let _ = model.infer(&window);
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let time = |f: &dyn Fn()| {
        let mut v: Vec<f64> = (0..runs)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[runs / 2]
    };
    tch::no_grad(|| {
        let features = model.encoder.forward_t(&window, false);
        let spatial = model.upsampler.forward_t(&features, false);
        let none = Tensor::zeros([0, 5], (Kind::Float, Device::Cpu));
        println!(
            "stage latency (median ms): encoder {:.1}  upsampler {:.1}  backbone+person head {:.1}",
            time(&|| drop(model.encoder.forward_t(&window, false))),
            time(&|| drop(model.upsampler.forward_t(&features, false))),
            time(&|| drop(model.stage.forward_t(&spatial, Some(&none), false))),
        );
    });
    println!(
        "infer latency (1 frame, {} people, {} threads): median {:.1} ms over {runs} runs",
        preset.person.max_people,
        tch::get_num_threads(),
        ms[runs / 2]
    );
    Ok(())
}
