//! Throughput of the whole preprocessing pipeline on one core, compared in the same run with
//! the numpy/scipy implementation of the same steps (`scripts/bench/preprocess_numpy.py`).
//!
//! ```text
//! cargo bench -p wdp-csi --bench preprocess
//! WDP_PYTHON=path/to/venv/bin/python cargo bench -p wdp-csi --bench preprocess
//! ```
//!
//! Data: synthetic but realistic CSI, deterministic from a seed: 3x3 antennas, the Intel 5300's
//! 30 grouped subcarriers, 100 Hz packets with 5% timing jitter and 2% loss, a static multipath
//! channel plus a moving reflector, per-packet sampling-time offset and random packet phase,
//! AGC steps and noise. Pipeline: AGC compensation, resampling to 100 Hz, phase sanitization,
//! time unwrap, Hampel (7, 3σ), Butterworth low-pass (20 Hz, order 4), 100-sample windows with
//! a hop of 10, z-scored per channel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../scripts/bench/peer.rs"]
mod peer;

use criterion::{Criterion, Throughput};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wdp_csi::dsp::phase::layouts;
use wdp_csi::dsp::{CsiValues, Output, Packet, Pipeline, PipelineConfig, SplitMix64};

const N_TX: usize = 3;
const N_RX: usize = 3;
const PACKETS: usize = 6000;
const RATE_HZ: f64 = 100.0;
const WINDOW: usize = 100;
const HOP: usize = 10;

/// Interleaved `[tx, rx, sub, 2]` values per packet, timestamps and AGC.
struct Data {
    subcarriers: Vec<i32>,
    csi: Vec<f32>,
    t_ns: Vec<i64>,
    agc_db: Vec<f32>,
}

impl Data {
    fn n_values(&self) -> usize {
        N_TX * N_RX * self.subcarriers.len() * 2
    }

    fn packet(&self, i: usize) -> Packet<'_> {
        let n = self.n_values();
        Packet {
            n_tx: N_TX,
            n_rx: N_RX,
            subcarriers: &self.subcarriers,
            csi: CsiValues::Interleaved(&self.csi[i * n..(i + 1) * n]),
            t_ns: self.t_ns[i],
            agc_db: Some(self.agc_db[i]),
            rssi_dbm: None,
        }
    }

    fn len(&self) -> usize {
        self.t_ns.len()
    }
}

fn synthesize(seed: u64) -> Data {
    let mut rng = SplitMix64::new(seed);
    let subcarriers = layouts::intel5300_20mhz();
    let n_links = N_TX * N_RX;
    // Static channel: a few paths with random gains and delays per link.
    let paths: Vec<(f32, f32, f32)> = (0..n_links * 4)
        .map(|_| {
            (
                5.0 + 10.0 * rng.next_f64() as f32,
                std::f32::consts::TAU * rng.next_f64() as f32,
                0.2 * rng.next_f64() as f32,
            )
        })
        .collect();
    let (mut csi, mut t_ns, mut agc_db) = (Vec::new(), Vec::new(), Vec::new());
    let mut agc = 30.0f32;
    for n in 0..PACKETS {
        if n > 0 && rng.next_f64() < 0.02 {
            continue; // lost
        }
        let t = n as f64 / RATE_HZ;
        if rng.next_f64() < 0.005 {
            agc += if rng.next_f64() < 0.5 { -3.0 } else { 3.0 };
        }
        let gain = 10f32.powf(agc / 20.0) / 30.0;
        let sto = 0.08 * rng.normal() as f32;
        let cfo = std::f32::consts::TAU * rng.next_f64() as f32;
        let body = 0.8 * (std::f64::consts::TAU * 0.4 * t).sin() as f32;
        for l in 0..n_links {
            for &k in &subcarriers {
                let k = k as f32;
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for &(a, ph, tau) in &paths[l * 4..l * 4 + 4] {
                    let p = ph - tau * k;
                    re += a * p.cos();
                    im += a * p.sin();
                }
                // Moving reflector.
                let p = body * 4.0 + 0.07 * k + l as f32;
                re += 3.0 * p.cos();
                im += 3.0 * p.sin();
                // Packet impairments and noise.
                let rot = sto * k + cfo;
                let (c, s) = (rot.cos(), rot.sin());
                let (r2, i2) = (re * c - im * s, re * s + im * c);
                csi.push(gain * (r2 + 0.4 * rng.normal() as f32));
                csi.push(gain * (i2 + 0.4 * rng.normal() as f32));
            }
        }
        let jitter = rng.normal() * 0.05 / RATE_HZ;
        t_ns.push(((t + jitter) * 1e9) as i64 + 1_000_000_000);
        agc_db.push(agc);
    }
    Data {
        subcarriers,
        csi,
        t_ns,
        agc_db,
    }
}

fn config() -> PipelineConfig {
    let mut c = PipelineConfig::default();
    c.window.length = WINDOW;
    c.window.hop = HOP;
    c
}

/// Runs every packet through a fresh pipeline; returns windows and the push latencies of the
/// packets that completed a window.
fn run(data: &Data, keep: bool) -> (Vec<Output>, Vec<Duration>) {
    let mut p = Pipeline::new(config()).unwrap();
    let mut out = Vec::new();
    let mut latencies = Vec::new();
    for i in 0..data.len() {
        let start = Instant::now();
        let r = p.push(&data.packet(i)).unwrap();
        let mut emitted = false;
        while let Some(o) = p.pop() {
            emitted = true;
            if keep {
                out.push(o);
            }
        }
        if emitted {
            latencies.push(start.elapsed());
        }
        let _ = r;
    }
    (out, latencies)
}

fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) {
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(bytes).unwrap();
}

fn export(data: &Data, windows: &[Output], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let s = data.subcarriers.len();
    write_npy(
        &dir.join("csi.npy"),
        "<f4",
        &[data.len(), N_TX, N_RX, s, 2],
        &f32s(&data.csi),
    );
    let t: Vec<u8> = data.t_ns.iter().flat_map(|x| x.to_le_bytes()).collect();
    write_npy(&dir.join("t_ns.npy"), "<i8", &[data.len()], &t);
    write_npy(
        &dir.join("agc_db.npy"),
        "<f4",
        &[data.len()],
        &f32s(&data.agc_db),
    );
    let k: Vec<u8> = data
        .subcarriers
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    write_npy(&dir.join("subcarriers.npy"), "<i4", &[s], &k);
    let mut w = Vec::new();
    for o in windows {
        if let Output::Window(win) = o {
            w.extend(win.data.iter().copied());
        }
    }
    let n_w = w.len() / (2 * N_TX * N_RX * s * WINDOW);
    write_npy(
        &dir.join("rust_windows.npy"),
        "<f4",
        &[n_w, 2, N_TX * N_RX, s, WINDOW],
        &f32s(&w),
    );
}

fn percentile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v.get(((v.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn main() {
    let data = synthesize(2024);
    let n = data.len();

    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut g = c.benchmark_group("preprocess");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("pipeline_3x3x30_w100_h10", |b| b.iter(|| run(&data, false)));
    g.finish();
    c.final_summary();

    // Headline figures: best of 5 full runs, per-window push latency over all of them.
    let (windows, _) = run(&data, true);
    let n_windows = windows.len();
    let mut best = Duration::MAX;
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let (_, mut lat) = run(&data, false);
        best = best.min(start.elapsed());
        latencies.append(&mut lat);
    }
    let rust_pps = n as f64 / best.as_secs_f64();
    let rust_wps = n_windows as f64 / best.as_secs_f64();
    let p50 = percentile(&mut latencies, 0.5);
    let p99 = percentile(&mut latencies, 0.99);
    println!("\n== preprocessing: {n} packets 3x3x30 -> {n_windows} windows [2, 9, 30, {WINDOW}] (hop {HOP})");
    println!(
        "rust (1 core):        {rust_pps:>10.0} packets/s {rust_wps:>8.0} windows/s   push latency of a window-completing packet p50 {:.1} µs, p99 {:.1} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );

    let dir: PathBuf = std::env::temp_dir().join("wdp-preprocess-bench");
    export(&data, &windows, &dir);
    let args: Vec<String> = [
        "--data",
        &dir.to_string_lossy(),
        "--rate-hz",
        &RATE_HZ.to_string(),
        "--window",
        &WINDOW.to_string(),
        "--hop",
        &HOP.to_string(),
        "--hampel-window",
        "7",
        "--n-sigma",
        "3",
        "--cutoff-hz",
        "20",
        "--order",
        "4",
    ]
    .map(String::from)
    .to_vec();
    let Some(v) = peer::run_peer("preprocess_numpy.py", &args) else {
        return;
    };
    for mode in ["stream", "batch"] {
        let pps = v[mode]["packets_per_s"].as_f64().unwrap_or(f64::NAN);
        let wps = v[mode]["windows_per_s"].as_f64().unwrap_or(f64::NAN);
        println!(
            "numpy/scipy {mode:<8} {pps:>10.0} packets/s {wps:>8.0} windows/s   rust is {:.1}x",
            rust_pps / pps
        );
    }
    println!(
        "numpy vs rust windows: {} vs {} windows, max |diff| {} (mean {})",
        v["windows"], n_windows, v["max_abs_diff"], v["mean_abs_diff"]
    );
}
