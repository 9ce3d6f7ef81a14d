//! Forward-pass latency of the whole network in tch, compared in the same run with PyTorch
//! eager on the same architecture (`scripts/bench_pytorch.py`, built from
//! `scripts/reference_model.py`).
//!
//! ```text
//! WDP_PYTHON=path/to/venv/bin/python cargo bench -p wdp-models --bench forward -- \
//!     --warm-up-time 1 --measurement-time 3
//! WDP_BENCH_SKIP_PAPER=1 cargo bench -p wdp-models --bench forward
//! ```
//!
//! One frame `[1, 2, 9, 30, 100]` (3x3 antennas, 30 subcarriers, 100 packets), seeded weights,
//! 2 intra-op threads on both sides, eval mode, no autograd. Two cases per preset:
//!
//! - `infer`: `WifiDensePose::infer` with the score threshold at 0, so it always decodes
//!   `max_people` (5) people and runs ROIAlign and the DensePose head on 5 boxes; PyTorch runs
//!   the same layers on 5 fixed boxes (decoding, a max-pool and a top-k, is not on its side);
//! - `dense`: encoder + upsampler + backbone + person head (identical work on both sides).
//!
//! `lite` and `gfl` go through criterion; `paper` (~785 GFLOPs a frame) is timed by hand over
//! a few iterations (skip it with `WDP_BENCH_SKIP_PAPER=1`). The table at the end uses the
//! median of single calls on both sides (the same method), not criterion's estimate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use criterion::Criterion;
use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
use wdp_models::{count_parameters, InputDims, Preset, WifiDensePose};

const THREADS: i32 = 2;
const TABLE_ITERATIONS: usize = 30;
const PAPER_ITERATIONS: usize = 5;

struct Built {
    params: i64,
    model: WifiDensePose,
    window: Tensor,
    _vs: nn::VarStore,
}

fn build(name: &'static str) -> Built {
    let dims = InputDims::new(9, 30, 100);
    let mut preset = Preset::load(name).unwrap();
    // Every peak becomes a person: infer always decodes `max_people` boxes.
    preset.person.score_threshold = 0.0;
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
    let window = Tensor::randn(
        [1, 2, dims.antennas, dims.subcarriers, dims.window],
        (Kind::Float, Device::Cpu),
    );
    Built {
        params: count_parameters(&vs),
        model,
        window,
        _vs: vs,
    }
}

fn infer(b: &Built) {
    let poses = b.model.infer(&b.window).unwrap();
    assert_eq!(poses[0].boxes.size()[0], b.model.preset().person.max_people);
}

fn dense(b: &Built) {
    tch::no_grad(|| {
        let features = b.model.encoder.forward_t(&b.window, false);
        let spatial = b.model.upsampler.forward_t(&features, false);
        let no_rois = Tensor::zeros([0, 5], (Kind::Float, Device::Cpu));
        drop(
            b.model
                .stage
                .forward_t(&spatial, Some(&no_rois), false)
                .unwrap(),
        );
    });
}

/// Sorted milliseconds of `n` single calls after one warm-up call.
fn time_ms(n: usize, f: impl Fn()) -> Vec<f64> {
    f();
    let mut ms: Vec<f64> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn median(ms: &[f64]) -> f64 {
    let n = ms.len();
    if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    }
}

struct Row {
    name: &'static str,
    params: i64,
    infer_ms: f64,
    dense_ms: f64,
    iterations: usize,
}

fn python() -> String {
    std::env::var("WDP_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs `bench_pytorch.py`; `None` (with the reason printed) if torch is not there or it fails.
fn pytorch(presets: &[&str]) -> Option<serde_json::Value> {
    let py = python();
    let ok = matches!(
        Command::new(&py).args(["-c", "import torch, yaml"]).output(),
        Ok(o) if o.status.success()
    );
    if !ok {
        println!("PyTorch: `{py} -c 'import torch, yaml'` failed; set WDP_PYTHON to a python with torch 2.13 and PyYAML. tch figures only.");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_pytorch.py");
    let out = Command::new(&py)
        .arg(script)
        .arg("--presets")
        .args(presets)
        .args(["--threads", &THREADS.to_string()])
        .args(["--iterations", &TABLE_ITERATIONS.to_string()])
        .args(["--paper-iterations", &PAPER_ITERATIONS.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "PyTorch bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    tch::set_num_threads(THREADS);
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();

    for name in ["lite", "gfl"] {
        let b = build(name);
        let mut g = c.benchmark_group(name);
        g.bench_function("infer", |bch| bch.iter(|| infer(&b)));
        g.bench_function("dense", |bch| bch.iter(|| dense(&b)));
        g.finish();
        if bench_mode {
            let i = time_ms(TABLE_ITERATIONS, || infer(&b));
            let d = time_ms(TABLE_ITERATIONS, || dense(&b));
            rows.push(Row {
                name,
                params: b.params,
                infer_ms: median(&i),
                dense_ms: median(&d),
                iterations: TABLE_ITERATIONS,
            });
        }
    }
    c.final_summary();
    if !bench_mode {
        return;
    }

    let skip_paper = std::env::var("WDP_BENCH_SKIP_PAPER").is_ok_and(|v| v == "1");
    if skip_paper {
        println!("paper: skipped (WDP_BENCH_SKIP_PAPER=1)");
    } else {
        let b = build("paper");
        let i = time_ms(PAPER_ITERATIONS, || infer(&b));
        let d = time_ms(PAPER_ITERATIONS, || dense(&b));
        println!(
            "paper: infer {:?} ms, dense {:?} ms ({PAPER_ITERATIONS} iterations after 1 warm-up)",
            i, d
        );
        rows.push(Row {
            name: "paper",
            params: b.params,
            infer_ms: median(&i),
            dense_ms: median(&d),
            iterations: PAPER_ITERATIONS,
        });
    }

    let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    let py = pytorch(&names);
    println!();
    println!(
        "Forward pass, 1 frame [1, 2, 9, 30, 100], {THREADS} threads, median of single calls:"
    );
    println!();
    println!("| preset | params | case | tch ms/frame | PyTorch eager ms/frame | tch / PyTorch | iterations (tch / PyTorch) |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | --- |");
    for r in &rows {
        let p = py.as_ref().and_then(|v| v.get(r.name));
        let py_params = p.and_then(|p| p["params"].as_i64());
        let params = match py_params {
            Some(n) if n == r.params => format!("{:.3} M", r.params as f64 / 1e6),
            Some(n) => format!("{} (PyTorch {n}: MISMATCH)", r.params),
            None => format!("{:.3} M", r.params as f64 / 1e6),
        };
        let py_iters = p
            .and_then(|p| p["iterations"].as_u64())
            .map_or("-".to_string(), |n| n.to_string());
        for (case, ours, key) in [
            ("infer, 5 people", r.infer_ms, "ms_median"),
            (
                "encoder+upsampler+backbone+person head",
                r.dense_ms,
                "dense_ms_median",
            ),
        ] {
            let theirs = p.and_then(|p| p[key].as_f64());
            let (theirs_s, ratio) = match theirs {
                Some(t) => (format!("{t:.2}"), format!("{:.2}x", ours / t)),
                None => ("-".to_string(), "-".to_string()),
            };
            println!(
                "| `{}` | {params} | {case} | {ours:.2} | {theirs_s} | {ratio} | {} / {py_iters} |",
                r.name, r.iterations
            );
        }
        if let Some(n) = py_params {
            assert_eq!(
                n, r.params,
                "{}: PyTorch reference has {n} parameters, Rust {}",
                r.name, r.params
            );
        }
    }
}
