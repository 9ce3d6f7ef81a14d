//! Writes an Arrow IPC training dataset for one room preset (or scene file).
//!
//! ```text
//! cargo run --release -p wdp-sim --example dataset -- [PRESET|scene.yaml] [SECONDS] [OUT_DIR]
//! ```
//!
//! `lab 60 out/lab` writes about 1200 rows (one per camera frame) of 5-packet CSI windows with
//! their keypoints, boxes, part masks, UV maps and RGB frames; see `SCHEMA.md`.

use std::path::PathBuf;
use wdp_sim::{write_dataset, DatasetOptions, Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("lab");
    let seconds: f64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let out = PathBuf::from(args.get(2).map(String::as_str).unwrap_or("sim-dataset"));
    let scene = if which.ends_with(".yaml") || which.ends_with(".yml") {
        Scene::from_file(std::path::Path::new(which))?
    } else {
        Scene::preset(which)?
    };
    let start = std::time::Instant::now();
    let summary = write_dataset(
        &scene,
        &out,
        &DatasetOptions {
            duration_s: seconds,
            ..Default::default()
        },
    )?;
    println!(
        "{} rows, {} packets, {} shard(s) in {:.2} s; csi {:?}, masks {:?}, rgb {:?}",
        summary.rows,
        summary.packets,
        summary.shards.len(),
        start.elapsed().as_secs_f64(),
        summary.csi_shape,
        summary.mask_hw,
        summary.rgb_hw
    );
    Ok(())
}
