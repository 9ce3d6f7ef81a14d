//! Simulator throughput: CSI packets per second (one core) for the default room, for 1/3/5 people
//! and for 30/56/114 subcarriers, and the cost of one camera frame of ground truth.
//!
//! ```text
//! cargo bench -p wdp-sim --bench simulator -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wdp_sim::scene::Motion;
use wdp_sim::{Person, Scene, Simulator, SubcarrierLayout};

fn lab(people: usize, layout: SubcarrierLayout) -> Simulator {
    let mut scene = Scene::preset("lab").expect("lab preset");
    scene.radio.layout = layout;
    scene.people = (0..people)
        .map(|i| Person {
            height_m: 1.6 + 0.05 * i as f64,
            reflectivity: 1.0,
            motion: Motion::Wander {
                speed_mps: 1.0,
                pause_s: 1.0,
                margin_m: 0.6,
            },
            body_seed: None,
        })
        .collect();
    Simulator::new(scene).expect("valid scene")
}

fn packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet");
    g.throughput(Throughput::Elements(1));
    let mut sim = Simulator::new(Scene::preset("lab").expect("lab")).expect("sim");
    g.bench_function("default_lab", |b| b.iter(|| black_box(sim.next_packet())));
    for people in [1, 3, 5] {
        let mut sim = lab(people, SubcarrierLayout::Intel5300);
        g.bench_with_input(BenchmarkId::new("people_30sub", people), &people, |b, _| {
            b.iter(|| black_box(sim.next_packet()))
        });
    }
    for (n, layout) in [
        (30, SubcarrierLayout::Intel5300),
        (56, SubcarrierLayout::Ht20),
        (114, SubcarrierLayout::Ht40),
    ] {
        let mut sim = lab(1, layout);
        g.bench_with_input(BenchmarkId::new("subcarriers_1person", n), &n, |b, _| {
            b.iter(|| black_box(sim.next_packet()))
        });
    }
    g.finish();
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Elements(1));
    let mut sim = Simulator::new(Scene::preset("lab").expect("lab")).expect("sim");
    g.bench_function("lab_320x240_masks_uv_rgb", |b| {
        b.iter(|| black_box(sim.next_ground_truth()))
    });
    let mut scene = Scene::preset("lab").expect("lab");
    if let Some(c) = scene.camera.as_mut() {
        c.rgb = false;
    }
    let mut sim = Simulator::new(scene).expect("sim");
    g.bench_function("lab_320x240_masks_uv", |b| {
        b.iter(|| black_box(sim.next_ground_truth()))
    });
    g.finish();
}

criterion_group!(benches, packets, frames);
criterion_main!(benches);
