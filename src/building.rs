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

use eyre::{bail, eyre, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The simulator's scene presets, in the order rooms get them.
const SCENES: [&str; 6] = [
    "living-room",
    "kitchen",
    "office",
    "bedroom",
    "lab",
    "corridor",
];

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
    /// `host`, doors); see nodes/room-fusion/src/plan.rs.
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

/// Where a room's pipeline is cut between its machine and the compute machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The room sends its raw CSI packets.
    Csi,
    /// The room sends preprocessed windows.
    Window,
    /// The room runs the model too and sends poses.
    Pose,
}

/// One room of the description (the fields the generator reads; room-fusion reads the same
/// file and checks it fully).
#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Room {
    name: String,
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    host: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Door {
    rooms: [String; 2],
    #[serde(default)]
    at: BTreeMap<String, [f32; 2]>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Building {
    #[serde(default)]
    name: Option<String>,
    rooms: Vec<Room>,
    #[serde(default)]
    doors: Vec<Door>,
}

/// N rooms in a row, each sharing a door with the next, given to M machines in turn.
fn generated(rooms: usize, machines: usize) -> Result<Building> {
    if rooms == 0 {
        bail!("--rooms: a building needs at least one room");
    }
    let rooms: Vec<Room> = (0..rooms)
        .map(|i| {
            let scene = SCENES[i % SCENES.len()];
            let round = i / SCENES.len();
            Room {
                name: if round == 0 {
                    scene.to_owned()
                } else {
                    format!("{scene}-{}", round + 1)
                },
                scene: Some(scene.to_owned()),
                host: (machines > 0).then(|| format!("room-host-{}", i % machines + 1)),
            }
        })
        .collect();
    let doors = rooms
        .windows(2)
        .map(|w| Door {
            rooms: [w[0].name.clone(), w[1].name.clone()],
            at: BTreeMap::new(),
        })
        .collect();
    Ok(Building {
        name: Some(format!("{}-rooms", rooms.len())),
        rooms,
        doors,
    })
}

/// The description as YAML (what room-fusion's `BUILDING` reads).
fn description_yaml(b: &Building, machines: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# A building for room-fusion and `wdp building --building`: its rooms (the simulator's\n\
         # scene and the machine capturing each) and which rooms share a door. A door may give\n\
         # its position in each room's floor frame (metres): `at: {{ROOM: [x, y], ...}}`.\n\
         # Made by `wdp building --rooms {} --machines {machines}`.",
        b.rooms.len()
    );
    if let Some(name) = &b.name {
        let _ = writeln!(s, "name: {name}");
    }
    let _ = writeln!(s, "rooms:");
    for r in &b.rooms {
        let _ = write!(s, "  - name: {}", r.name);
        if let Some(scene) = &r.scene {
            let _ = write!(s, "\n    scene: {scene}");
        }
        if let Some(host) = &r.host {
            let _ = write!(s, "\n    host: {host}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "doors:");
    if b.doors.is_empty() {
        s.truncate(s.len() - "doors:\n".len());
        let _ = writeln!(s, "doors: []");
    }
    for d in &b.doors {
        let _ = writeln!(s, "  - rooms: [{}, {}]", d.rooms[0], d.rooms[1]);
        if !d.at.is_empty() {
            let at: Vec<String> =
                d.at.iter()
                    .map(|(k, v)| format!("{k}: [{}, {}]", v[0], v[1]))
                    .collect();
            let _ = writeln!(s, "    at: {{{}}}", at.join(", "));
        }
    }
    s
}

fn check(b: &Building) -> Result<()> {
    if b.rooms.is_empty() {
        bail!("the building has no room");
    }
    let mut names = std::collections::BTreeSet::new();
    for r in &b.rooms {
        let ok = !r.name.is_empty()
            && r.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            bail!("room name {:?}: use letters, digits, '-' and '_'", r.name);
        }
        if !names.insert(r.name.as_str()) {
            bail!("room {:?} is listed twice", r.name);
        }
    }
    for d in &b.doors {
        for r in &d.rooms {
            if !names.contains(r.as_str()) {
                bail!("door {}-{}: no room {r:?}", d.rooms[0], d.rooms[1]);
            }
        }
    }
    Ok(())
}

/// Everything the dataflow's text depends on.
struct Plan<'a> {
    building: &'a Building,
    /// The description's file name (for the header).
    description: String,
    /// The description's text (given to room-fusion inline).
    description_text: String,
    /// The nodes' working folder over several machines.
    working_dir: String,
    machines: usize,
    compute: &'a str,
    split: Split,
    bin: &'a str,
    models: &'a str,
    state_file: &'a str,
    fusion_config: Option<&'a str>,
}

fn deploy(s: &mut String, machine: Option<&str>, working_dir: &str) {
    // A process that crashes is started again by its daemon (a node that finishes because its
    // inputs closed, e.g. when a room's machine died, is not).
    let _ = writeln!(s, "    restart_policy: on-failure");
    if let Some(m) = machine {
        let _ = writeln!(
            s,
            "    deploy:\n      machine: {m}\n      working_dir: {working_dir}"
        );
    }
}

/// The dataflow YAML.
fn dataflow_yaml(p: &Plan) -> String {
    let mut s = String::new();
    let names: Vec<&str> = p.building.rooms.iter().map(|r| r.name.as_str()).collect();
    let placed = p.machines > 0;
    let _ = writeln!(
        s,
        "# A building of {} rooms ({}), written by\n\
         #   wdp building --rooms {} --machines {} --split {}\n\
         # Per room the simulator in its own scene runs on the room's machine; {} crosses to the\n\
         # `{}` machine, which runs the rest of each room's pipeline and room-fusion (the building\n\
         # view: people per room with building-level ids handed over at doors, occupancy, each\n\
         # room's health). The rooms and doors: {}.\n\
         # {}\n\
         # docs/BUILDING.md says how to deploy it.",
        names.len(),
        names.join(", "),
        names.len(),
        p.machines,
        split_name(p.split),
        match p.split {
            Split::Csi => "its raw CSI",
            Split::Window => "its preprocessed windows",
            Split::Pose => "only its poses",
        },
        p.compute,
        p.description,
        if placed {
            "Every node runs in the project's dataflows folder on its machine (`working_dir`), so\n\
             # paths are relative to it. Start a coordinator and one daemon per machine\n\
             # (`--machine-id`), then `dora start` this file (scripts/building-local.sh does it all\n\
             # on this machine)."
        } else {
            "Everything on one machine: `wdp run` this file (paths relative to this folder)."
        },
    );
    let _ = writeln!(s, "nodes:");
    for room in &p.building.rooms {
        let r = &room.name;
        let scene = room.scene.as_deref().unwrap_or("lab");
        let host = placed.then(|| room.host.as_deref().unwrap_or(p.compute));
        let compute = placed.then_some(p.compute);
        let (pre_at, model_at) = match p.split {
            Split::Csi => (compute, compute),
            Split::Window => (host, compute),
            Split::Pose => (host, host),
        };
        let _ = writeln!(s, "  # {r}: scene {scene}");
        let _ = writeln!(s, "  - id: {r}-source");
        deploy(&mut s, host, &p.working_dir);
        let _ = writeln!(
            s,
            "    path: {bin}/csi-source\n    outputs:\n      - csi\n    env:\n      MODE: sim\n      SCENE: {scene}\n      ROOM: {r}\n      PACING: recorded\n",
            bin = p.bin
        );
        let _ = writeln!(s, "  - id: {r}-preprocess");
        deploy(&mut s, pre_at, &p.working_dir);
        let _ = writeln!(
            s,
            "    path: {bin}/csi-preprocess\n    inputs:\n      csi: {{ source: {r}-source/csi, queue_size: 100000, queue_policy: backpressure }}\n    outputs:\n      - window\n    env:\n      WDP_PREPROCESS_CONFIG: {models}/weights/lite-floor.preprocess.yaml\n",
            bin = p.bin,
            models = p.models
        );
        let _ = writeln!(s, "  - id: {r}-model");
        deploy(&mut s, model_at, &p.working_dir);
        let _ = writeln!(
            s,
            "    path: {bin}/densepose-fused\n    inputs:\n      window: {{ source: {r}-preprocess/window, queue_size: 1000, queue_policy: backpressure }}\n    outputs:\n      - keypoints\n      - boxes\n    env:\n      PRESET: {models}/presets/lite-floor.yaml\n      CHECKPOINT: {models}/weights/lite-floor.safetensors\n      THREADS: \"1\"\n      SCENE: {scene}\n",
            bin = p.bin,
            models = p.models
        );
        let _ = writeln!(s, "  - id: {r}-temporal");
        deploy(&mut s, model_at, &p.working_dir);
        let _ = writeln!(
            s,
            "    path: {bin}/temporal\n    inputs:\n      keypoints: {{ source: {r}-model/keypoints, queue_size: 1000, queue_policy: backpressure }}\n      boxes: {{ source: {r}-model/boxes, queue_size: 1000, queue_policy: backpressure }}\n    outputs:\n      - keypoints\n      - boxes\n",
            bin = p.bin
        );
    }
    let _ = writeln!(s, "  - id: room-fusion");
    deploy(&mut s, placed.then_some(p.compute), &p.working_dir);
    let _ = writeln!(s, "    path: {}/room-fusion\n    inputs:", p.bin);
    for r in &names {
        let _ = writeln!(
            s,
            "      {r}_keypoints: {{ source: {r}-temporal/keypoints, queue_size: 1000 }}\n      {r}_boxes: {{ source: {r}-temporal/boxes, queue_size: 1000 }}"
        );
    }
    let _ = writeln!(
        s,
        "      tick: dora/timer/millis/500\n    outputs:\n      - building_state\n      - events\n    env:\n      OUT_FILE: {}\n      # The building description ({}), inline so that it is the same on every machine.\n      BUILDING: |",
        p.state_file, p.description
    );
    for line in p
        .description_text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
    {
        let _ = writeln!(s, "        {line}");
    }
    if let Some(f) = p.fusion_config {
        let _ = writeln!(s, "      FUSION_CONFIG: \"{}\"", f.replace('"', "\\\""));
    }
    s
}

fn split_name(s: Split) -> &'static str {
    match s {
        Split::Csi => "csi",
        Split::Window => "window",
        Split::Pose => "pose",
    }
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
    let (building, description_file) = match &args.building {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut b: Building =
                serde_yaml::from_str(&text).map_err(|e| eyre!("{}: {e}", path.display()))?;
            if args.machines > 0 {
                for (i, r) in b.rooms.iter_mut().enumerate() {
                    if r.host.is_none() {
                        r.host = Some(format!("room-host-{}", i % args.machines + 1));
                    }
                }
            } else {
                for r in &mut b.rooms {
                    r.host = None;
                }
            }
            (b, path.clone())
        }
        None => {
            let b = generated(args.rooms, args.machines)?;
            let path = description_path(&args.out);
            std::fs::create_dir_all(out_dir)
                .with_context(|| format!("creating {}", out_dir.display()))?;
            std::fs::write(&path, description_yaml(&b, args.machines))
                .with_context(|| format!("writing {}", path.display()))?;
            (b, path)
        }
    };
    check(&building)?;
    let plan = Plan {
        building: &building,
        description: description_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description_text: description_yaml(&building, args.machines),
        working_dir: format!("{}/dataflows", args.root.trim_end_matches('/')),
        machines: args.machines,
        compute: &args.compute,
        split: args.split,
        bin: &args.bin_dir,
        models: &args.models_dir,
        state_file: &args.state_file,
        fusion_config: args.fusion_config.as_deref(),
    };
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
        split_name(args.split),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan_text(rooms: usize, machines: usize, split: Split) -> String {
        let b = generated(rooms, machines).unwrap();
        dataflow_yaml(&Plan {
            building: &b,
            description: "b.rooms.yaml".into(),
            description_text: description_yaml(&b, machines),
            working_dir: "/srv/wdp/dataflows".into(),
            machines,
            compute: "compute",
            split,
            bin: "../target/release",
            models: "../models",
            state_file: "out/b.jsonl",
            fusion_config: Some("{stale_after_s: 2.0}"),
        })
    }

    #[test]
    fn rooms_machines_and_doors() {
        let b = generated(8, 3).unwrap();
        let names: Vec<&str> = b.rooms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[..2], ["living-room", "kitchen"]);
        assert_eq!(names[6..], ["living-room-2", "kitchen-2"]);
        assert_eq!(b.rooms[3].host.as_deref(), Some("room-host-1"));
        assert_eq!(b.doors.len(), 7);
        let text = description_yaml(&b, 3);
        let back: Building = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, b);
        assert!(generated(0, 1).is_err());
    }

    #[test]
    fn the_dataflow_places_each_node() {
        let doc: serde_yaml::Value = serde_yaml::from_str(&plan_text(3, 2, Split::Csi)).unwrap();
        let nodes = doc["nodes"].as_sequence().unwrap();
        assert_eq!(nodes.len(), 3 * 4 + 1);
        let machine = |id: &str| {
            let n = nodes.iter().find(|n| n["id"].as_str() == Some(id)).unwrap();
            n["deploy"]["machine"].as_str().map(str::to_owned)
        };
        assert_eq!(
            machine("living-room-source").as_deref(),
            Some("room-host-1")
        );
        assert_eq!(machine("kitchen-source").as_deref(), Some("room-host-2"));
        assert_eq!(machine("office-source").as_deref(), Some("room-host-1"));
        assert_eq!(machine("office-preprocess").as_deref(), Some("compute"));
        assert_eq!(machine("room-fusion").as_deref(), Some("compute"));
        let fusion = nodes.last().unwrap();
        assert_eq!(
            fusion["inputs"]["kitchen_keypoints"]["source"].as_str(),
            Some("kitchen-temporal/keypoints")
        );
        let inline: Building =
            serde_yaml::from_str(fusion["env"]["BUILDING"].as_str().unwrap()).unwrap();
        assert_eq!(inline, generated(3, 2).unwrap());
        assert_eq!(
            nodes[0]["deploy"]["working_dir"].as_str(),
            Some("/srv/wdp/dataflows")
        );

        let doc: serde_yaml::Value = serde_yaml::from_str(&plan_text(2, 2, Split::Window)).unwrap();
        let pre = &doc["nodes"][1];
        assert_eq!(pre["deploy"]["machine"].as_str(), Some("room-host-1"));
        assert_eq!(
            doc["nodes"][2]["deploy"]["machine"].as_str(),
            Some("compute")
        );

        let doc: serde_yaml::Value = serde_yaml::from_str(&plan_text(2, 0, Split::Csi)).unwrap();
        assert!(doc["nodes"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|n| n.get("deploy").is_none()));
    }
}
