//! Time to image one window on the floor (what `csi-locate` does per window: the moving image,
//! the still image against the empty room, their cell-wise maximum), on one core, compared in
//! the same run with the same computation in numpy (`scripts/bench/locate_numpy.py`).
//!
//! ```text
//! WDP_PYTHON=path/to/venv/bin/python cargo bench -p wdp-locate --bench locate
//! ```
//!
//! Data: the `lab` preset simulated (3x3 Intel 5300 at 5.32 GHz, 30 subcarriers, two people:
//! one wandering, one waving), its empty room's background simulated as `csi-locate` does, and
//! the windows of the locator's default preprocessing (0.3 s at 100 Hz, one every 5 packets)
//! on the default grid (32 x 24 cells of 0.25 m, 3 x 3 points per cell).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../scripts/bench/peer.rs"]
mod peer;

use criterion::{Criterion, Throughput};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wdp_csi::dsp::{Output, Pipeline};
use wdp_locate::{
    packet_of, simulated_background, BackProjector, Background, FloorMap, LocatorSettings,
    RadioGeometry,
};
use wdp_sim::scene::{Motion, Person};
use wdp_sim::{Scene, Simulator};

/// Windows imaged per run.
const WINDOWS: usize = 200;

struct Data {
    geometry: RadioGeometry,
    subcarriers: Vec<i32>,
    settings: LocatorSettings,
    background: Background,
    /// `[2, links, sub, t]` windows, row-major.
    windows: Vec<Vec<f32>>,
    shape: [usize; 4],
}

fn simulate() -> Data {
    let mut scene = Scene::preset("lab").unwrap();
    scene.people.push(Person {
        height_m: 1.7,
        reflectivity: 1.0,
        motion: Motion::Wave {
            position_m: [4.0, 1.5],
            facing_deg: 180.0,
            period_s: 2.0,
        },
        body_seed: Some(9),
    });
    scene.duration_s = Some(16.0);
    scene.seed = 2024;
    let settings = LocatorSettings::default();
    let geometry = RadioGeometry::from_scene(&scene);
    let background = simulated_background(&scene, &settings).unwrap().unwrap();
    let mut sim = Simulator::new(scene).unwrap();
    let subcarriers = sim.subcarriers().to_vec();
    let mut pipeline = Pipeline::new(settings.preprocess.clone()).unwrap();
    let (mut windows, mut shape) = (Vec::new(), [0; 4]);
    // The first 4 s are skipped: the alignment's reference settles.
    while let Some(f) = sim.next_packet() {
        let _ = pipeline.push(&packet_of(&f));
        while let Some(out) = pipeline.pop() {
            if let Output::Window(w) = out {
                if w.t_ns > 4_000_000_000 && windows.len() < WINDOWS {
                    let s = w.data.shape();
                    shape = [s[0], s[1], s[2], s[3]];
                    windows.push(w.data.iter().copied().collect());
                }
            }
        }
    }
    assert_eq!(windows.len(), WINDOWS, "the scene is long enough");
    Data {
        geometry,
        subcarriers,
        settings,
        background,
        windows,
        shape,
    }
}

/// Images every window; the maps.
fn run(p: &BackProjector, data: &Data) -> Vec<Vec<f32>> {
    data.windows
        .iter()
        .map(|w| {
            let (moving, still) = p
                .locate_both(w, data.shape, Some(&data.background))
                .unwrap();
            FloorMap::combined(moving.as_ref(), still.as_ref())
                .map(|m| m.values)
                .unwrap_or_default()
        })
        .collect()
}

/// Writes what the numpy side reads: the geometry and grid as JSON, the windows and the
/// background as little-endian f32, and Rust's maps to compare with.
fn export(data: &Data, maps: &[Vec<f32>], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let g = &data.geometry;
    let links: Vec<[[f64; 3]; 2]> = g
        .links()
        .iter()
        .map(|(t, r)| [[t.x, t.y, t.z], [r.x, r.y, r.z]])
        .collect();
    let grid = &data.settings.grid;
    let meta = serde_json::json!({
        "links": links,
        "carrier_hz": g.carrier_hz,
        "subcarrier_spacing_hz": g.subcarrier_spacing_hz,
        "subcarriers": data.subcarriers,
        "room_m": g.room_m,
        "cell_m": grid.cell_m,
        "cells": grid.cells,
        "oversample": grid.oversample,
        "height_m": grid.height_m,
        "shape": data.shape,
        "windows": data.windows.len(),
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    let write = |name: &str, values: &mut dyn Iterator<Item = f32>| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
        for v in values {
            f.write_all(&v.to_le_bytes()).unwrap();
        }
    };
    write("windows.f32", &mut data.windows.iter().flatten().copied());
    write(
        "background.f32",
        &mut data
            .background
            .re
            .iter()
            .chain(&data.background.im)
            .copied(),
    );
    write("maps.f32", &mut maps.iter().flatten().copied());
}

fn main() {
    let data = simulate();
    let projector = BackProjector::new(
        &data.geometry,
        &data.subcarriers,
        data.settings.grid.clone(),
    )
    .unwrap();
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut g = c.benchmark_group("locate");
    g.throughput(Throughput::Elements(WINDOWS as u64));
    g.bench_function("both_images_3x3x30_t30_grid32x24x9", |b| {
        b.iter(|| run(&projector, &data))
    });
    g.finish();
    c.final_summary();

    // Headline: best of 5 runs.
    let maps = run(&projector, &data);
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        std::hint::black_box(run(&projector, &data));
        best = best.min(start.elapsed());
    }
    let rust_ms = best.as_secs_f64() * 1e3 / WINDOWS as f64;
    let [_, links, sub, t] = data.shape;
    println!(
        "\n== locate: {WINDOWS} windows [2, {links}, {sub}, {t}], both images on {} x {} cells",
        data.settings.grid.cells[0], data.settings.grid.cells[1]
    );
    println!("rust (1 core):  {rust_ms:>8.3} ms per window");

    let dir: PathBuf = std::env::temp_dir().join("wdp-locate-bench");
    export(&data, &maps, &dir);
    let args = ["--data".to_string(), dir.to_string_lossy().into_owned()];
    let Some(v) = peer::run_peer("locate_numpy.py", &args) else {
        return;
    };
    let numpy_ms = v["ms_per_window"].as_f64().unwrap_or(f64::NAN);
    println!(
        "numpy (1 core): {numpy_ms:>8.3} ms per window   rust is {:.1}x",
        numpy_ms / rust_ms
    );
    println!(
        "numpy vs rust maps: max |diff| {} (mean {}), same best cell in {} of {WINDOWS} windows",
        v["max_abs_diff"], v["mean_abs_diff"], v["same_best_cell"]
    );
}
