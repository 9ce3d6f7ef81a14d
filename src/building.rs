//! `wdp building`: writes the dataflow of a building of N rooms spread over M room machines
//! and one compute machine, and the building description it reads (rooms, their simulated
//! scenes and machines, which rooms share doors).
//!
//! Per room: the simulator (`csi-source`, the room's scene) on the room's machine; then
//! `csi-preprocess`, the model (`densepose-fused`) and `temporal`, placed by `--split`:
//! `csi` (default: the room sends its raw CSI, the cheapest stream that keeps the model on
//! the compute machine; docs/BENCHMARKS.md, "Building"), `window` (preprocessing on the room's
//! machine too, windows cross) or `pose` (the whole pipeline in the room, only poses cross).
//! `room-fusion` on the compute machine merges the rooms. With `--machines 0` no node has a
//! `deploy:` section: the same building on one machine (`dora run`).

use eyre::{eyre, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wdp_building::{dataflow_yaml, BuildingPlan, DataflowPlan, Split};

/// Arguments of `wdp building`.
#[derive(clap::Args)]
pub struct Args {
    /// Rooms (ignored with --building): named after the simulator's scenes in turn
    /// (living-room, kitchen, office, bedroom, lab, corridor, then living-room-2, ...), each
    /// sharing a door with the next.
    #[arg(long, default_value_t = 3)]
    rooms: usize,
    /// Room machines (`room-host-1` ...), rooms given to them in turn; 0: everything on one
    /// machine, no `deploy:` sections.
    #[arg(long, default_value_t = 3)]
    machines: usize,
    /// The compute machine's id (model, tracking, room-fusion).
    #[arg(long, default_value = "compute")]
    compute: String,
    /// A building description to use instead of generating one (rooms with `scene` and
    /// `host`, doors); see operators/wdp-building/src/description.rs.
    #[arg(long)]
    building: Option<PathBuf>,
    /// What crosses from a room's machine to the compute machine: csi, window or pose.
    #[arg(long, default_value = "csi")]
    split: Split,
    /// The dataflow to write; the generated description goes beside it as
    /// `NAME.rooms.yaml`.
    #[arg(long, short, default_value = "dataflows/building.yml")]
    out: PathBuf,
    /// The project's folder on every machine (the same path on each). Over several machines
    /// every node runs in ROOT/dataflows (`deploy: working_dir:`, since dora otherwise runs a
    /// remote node in a folder of its own), so the relative paths below mean the same on
    /// every machine as with `dora run`.
    #[arg(long, default_value = "/opt/wifi-densepose")]
    root: String,
    /// Folder of the node binaries, relative to the dataflow's folder.
    #[arg(long, default_value = "../target/release")]
    bin_dir: String,
    /// Folder of the model files (presets/, weights/), relative to the dataflow's folder.
    #[arg(long, default_value = "../models")]
    models_dir: String,
    /// The building state's JSON-lines file, relative to the dataflow's folder.
    #[arg(long, default_value = "out/building/building.jsonl")]
    state_file: String,
    /// room-fusion's `FUSION_CONFIG` (inline YAML), e.g. `{stale_after_s: 2.0}`.
    #[arg(long)]
    fusion_config: Option<String>,
}

/// The description file written beside `out`: `NAME.rooms.yaml`.
fn description_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "building".into());
    out.with_file_name(format!("{stem}.rooms.yaml"))
}

/// Runs `wdp building`.
pub fn building(args: &Args) -> Result<ExitCode> {
    let out_dir = args
        .out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (building, description_file, generated) = match &args.building {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut b =
                BuildingPlan::from_yaml_str(&text).map_err(|e| eyre!("{}: {e}", path.display()))?;
            b.place(args.machines);
            (b, path.clone(), false)
        }
        None => {
            let b = BuildingPlan::generated(args.rooms, args.machines).map_err(|e| eyre!(e))?;
            (b, description_path(&args.out), true)
        }
    };
    let description = description_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let working_dir = format!("{}/dataflows", args.root.trim_end_matches('/'));
    let plan = DataflowPlan {
        building: &building,
        description: &description,
        machines: args.machines,
        compute: &args.compute,
        split: args.split,
        working_dir: &working_dir,
        bin: &args.bin_dir,
        models: &args.models_dir,
        state_file: &args.state_file,
        fusion_config: args.fusion_config.as_deref(),
    };
    plan.validate().map_err(|e| eyre!(e))?;
    if generated {
        std::fs::create_dir_all(out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
        let header = format!(
            "A building for room-fusion and `wdp building --building`: its rooms (the simulator's\n\
             scene and the machine capturing each) and which rooms share a door. A door may give\n\
             its position in each room's floor frame (metres): `at: {{ROOM: [x, y], ...}}`.\n\
             Made by `wdp building --rooms {} --machines {}`.",
            args.rooms, args.machines
        );
        std::fs::write(&description_file, building.to_yaml(&header))
            .with_context(|| format!("writing {}", description_file.display()))?;
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    std::fs::write(&args.out, dataflow_yaml(&plan))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let hosts: std::collections::BTreeSet<&str> = building
        .rooms
        .iter()
        .filter_map(|r| r.host.as_deref())
        .collect();
    println!(
        "wrote {} ({} rooms, {} crossing; machines: {}) with {}",
        args.out.display(),
        building.rooms.len(),
        args.split.name(),
        if args.machines == 0 {
            "one".to_owned()
        } else {
            format!(
                "{}, {}",
                hosts.into_iter().collect::<Vec<_>>().join(", "),
                args.compute
            )
        },
        description_file.display()
    );
    Ok(ExitCode::SUCCESS)
}
