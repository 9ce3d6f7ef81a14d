//! `wdp simulate`: a dataset of simulated CSI windows with ground truth, as Arrow IPC shards,
//! and on request a picture per camera frame.

use eyre::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use wdp_sim::{DatasetOptions, Scene, SimEvent, Simulator};

/// Arguments of `wdp simulate`.
#[derive(clap::Args)]
pub struct Args {
    /// A room preset (lab, office, living-room, kitchen, corridor, bedroom), `generated-<seed>`
    /// (a room drawn from the seed: size, materials, furniture, radios, camera) or a scene file.
    #[arg(long, default_value = "lab")]
    scene: String,
    /// Output folder for the shards and dataset.json (schema: operators/wdp-sim/SCHEMA.md).
    #[arg(long)]
    out: PathBuf,
    /// Simulated seconds.
    #[arg(long, default_value_t = 60.0)]
    duration_s: f64,
    /// Sequence seed: motions, packet timing and loss, impairments and noise (defaults to the
    /// scene's own). The room's static multipath and the bodies keep their own seeds.
    #[arg(long)]
    seed: Option<u64>,
    /// Replace the scene's people by MIN..MAX (both included, at most 5) people drawn from the
    /// sequence seed: heights, bodies and motions (mostly wandering over the whole floor, some
    /// standing, waving, squatting, sitting or turning somewhere), e.g. `--random-people 0..3`.
    #[arg(long, value_name = "MIN..MAX")]
    random_people: Option<wdp_sim::PeopleRange>,
    /// CSI packets per row (defaults to packets per camera frame).
    #[arg(long)]
    window: Option<usize>,
    /// Rows per shard file.
    #[arg(long, default_value_t = 1000)]
    shard_rows: usize,
    /// Leave the rendered RGB frames out of the dataset.
    #[arg(long)]
    no_rgb: bool,
    /// Leave the UV maps out of the dataset.
    #[arg(long)]
    no_uv: bool,
    /// Also write the first N camera frames as PNG pictures (frame, skeleton, part colours)
    /// into OUT/pictures.
    #[arg(long, value_name = "N")]
    pictures: Option<usize>,
}

fn load_scene(name: &str) -> Result<Scene> {
    Scene::load(name, |p: &str| std::path::PathBuf::from(p))
        .wrap_err_with(|| format!("--scene {name}"))
}

pub fn simulate(args: &Args) -> Result<ExitCode> {
    let mut scene = load_scene(&args.scene)?;
    if let Some(seed) = args.seed {
        scene.seed = seed;
    }
    if let Some(range) = args.random_people {
        scene.people = wdp_sim::random_people(&scene, scene.seed, range.min, range.max)
            .wrap_err("--random-people")?;
    }
    let options = DatasetOptions {
        duration_s: args.duration_s,
        window: args.window,
        shard_rows: args.shard_rows.max(1),
        include_rgb: !args.no_rgb,
        include_uv: !args.no_uv,
        ..DatasetOptions::default()
    };
    let started = std::time::Instant::now();
    // Simulated milliseconds: the bar says how far the simulation is and how fast it runs.
    let bar = crate::progress::bar(
        (args.duration_s.max(0.0) * 1e3) as u64,
        "simulating [{bar:30}] {secs}/{len_secs} s, {speedup} real time, ETA {eta}",
    );
    let summary = wdp_sim::write_dataset_observed(&scene, &args.out, &options, |t_ns| {
        bar.set_position((t_ns.max(0) / 1_000_000) as u64);
    });
    bar.finish_and_clear();
    let summary =
        summary.wrap_err_with(|| format!("writing the dataset to {}", args.out.display()))?;
    println!(
        "{}: {} rows in {} shard(s) from {} packets, {} people, csi {:?} per row, masks {:?}, \
         {:.1} s",
        args.out.display(),
        summary.rows,
        summary.shards.len(),
        summary.packets,
        scene.people.len(),
        summary.csi_shape,
        summary.mask_hw,
        started.elapsed().as_secs_f64()
    );
    if let Some(count) = args.pictures {
        let dir = args.out.join("pictures");
        std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        if let Some(camera) = scene.camera.as_mut() {
            camera.rgb = true;
        }
        let mut sim = Simulator::new(scene)?;
        let bar = crate::progress::bar(
            count as u64,
            "pictures [{bar:30}] {pos}/{len}, {rate}, ETA {eta}",
        );
        let mut written = 0;
        while written < count {
            match sim.next_event() {
                Some(SimEvent::Frame(truth)) => {
                    let path = dir.join(format!("frame-{:05}.png", truth.frame_index));
                    wdp_sim::render_overlay(&truth).write_png(&path)?;
                    written += 1;
                    bar.inc(1);
                }
                Some(SimEvent::Packet(_)) => {}
                None => break,
            }
        }
        bar.finish_and_clear();
        println!("{}: {written} pictures", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
