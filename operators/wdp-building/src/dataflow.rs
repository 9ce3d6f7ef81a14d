//! The dataflow of a building: per room the simulator (`csi-source` in the room's scene) on
//! the room's machine, then `csi-preprocess`, the model (`densepose-fused`) and `temporal`,
//! placed by the [`Split`]; `room-fusion` on the compute machine merges the rooms. With no
//! machines no node has a `deploy:` section: the same building on one machine (`dora run`).

use crate::description::{is_line, is_machine_id, yaml_scalar, BuildingPlan};
use std::fmt::Write as _;

/// Where a room's pipeline is cut between its machine and the compute machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Split {
    /// The room sends its raw CSI packets.
    Csi,
    /// The room sends preprocessed windows.
    Window,
    /// The room runs the model too and sends poses.
    Pose,
}

impl Split {
    /// The name `wdp building --split` takes.
    pub fn name(self) -> &'static str {
        match self {
            Split::Csi => "csi",
            Split::Window => "window",
            Split::Pose => "pose",
        }
    }
}

/// Everything the dataflow's text depends on.
#[derive(Debug, Clone)]
pub struct DataflowPlan<'a> {
    /// The building (checked by [`BuildingPlan::validate`]); a room with no host runs on the
    /// compute machine.
    pub building: &'a BuildingPlan,
    /// The description's file name, for the header.
    pub description: &'a str,
    /// Room machines; 0: everything on one machine, no `deploy:` sections.
    pub machines: usize,
    /// The compute machine's id (model, tracking, room-fusion).
    pub compute: &'a str,
    /// What crosses from a room's machine to the compute machine.
    pub split: Split,
    /// The nodes' working folder on every machine (over several machines).
    pub working_dir: &'a str,
    /// Folder of the node binaries, relative to the dataflow's folder.
    pub bin: &'a str,
    /// Folder of the model files (presets/, weights/), relative to the dataflow's folder.
    pub models: &'a str,
    /// room-fusion's JSON-lines file, relative to the dataflow's folder.
    pub state_file: &'a str,
    /// room-fusion's `FUSION_CONFIG` (inline YAML).
    pub fusion_config: Option<&'a str>,
}

impl DataflowPlan<'_> {
    /// The building valid, the compute machine a machine id, every path and the fusion
    /// configuration one line of text.
    pub fn validate(&self) -> Result<(), String> {
        self.building.validate()?;
        if !is_machine_id(self.compute) {
            return Err(format!(
                "compute machine {:?}: letters, digits, '-', '_' and '.'",
                self.compute
            ));
        }
        for (what, v) in [
            ("working folder", self.working_dir),
            ("binaries folder", self.bin),
            ("models folder", self.models),
            ("state file", self.state_file),
            ("description file name", self.description),
        ]
        .into_iter()
        .chain(self.fusion_config.map(|f| ("fusion configuration", f)))
        {
            if !is_line(v) {
                return Err(format!("{what} {v:?}: one line of text, not empty"));
            }
        }
        Ok(())
    }
}

fn deploy(s: &mut String, machine: Option<&str>, working_dir: &str) {
    // A process that crashes is started again by its daemon (a node that finishes because its
    // inputs closed, e.g. when a room's machine died, is not).
    let _ = writeln!(s, "    restart_policy: on-failure");
    if let Some(m) = machine {
        let _ = writeln!(
            s,
            "    deploy:\n      machine: {}\n      working_dir: {}",
            yaml_scalar(m),
            yaml_scalar(working_dir)
        );
    }
}

/// A node input from `source`, with a queue of `size` and, when given, its policy.
fn input(s: &mut String, id: &str, source: &str, size: usize, backpressure: bool) {
    let _ = writeln!(
        s,
        "      {id}: {{ source: {source}, queue_size: {size}{} }}",
        if backpressure {
            ", queue_policy: backpressure"
        } else {
            ""
        }
    );
}

/// The pose ports every room's model and tracker send, each the stream of its name.
const POSE: [(&str, &str); 2] = [("keypoints", "keypoints"), ("boxes", "boxes")];

/// `output_types:` or `input_types:` (`key`) of `ports`, each (port id, the stream it carries),
/// typed as the contract says (`wdp_tensor::streams`).
fn types<P: AsRef<str>>(s: &mut String, key: &str, ports: &[(P, &str)]) {
    let _ = writeln!(s, "    {key}:");
    for (port, stream) in ports {
        let port = port.as_ref();
        let urn = wdp_tensor::streams::dora_type(stream).unwrap_or_else(|| {
            unreachable!("the generator wires only the contract's streams, not `{stream}`")
        });
        let _ = writeln!(s, "      {port}: {urn}");
    }
}

/// The dataflow YAML of a plan checked by [`DataflowPlan::validate`].
pub fn dataflow_yaml(p: &DataflowPlan) -> String {
    let mut s = String::new();
    let names: Vec<&str> = p.building.rooms.iter().map(|r| r.name.as_str()).collect();
    let placed = p.machines > 0;
    let q = yaml_scalar;
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
        p.split.name(),
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
    let bin = |node: &str| q(&format!("{}/{node}", p.bin));
    let model_file = |file: &str| q(&format!("{}/{file}", p.models));
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
        deploy(&mut s, host, p.working_dir);
        let _ = writeln!(
            s,
            "    path: {}\n    outputs:\n      - csi",
            bin("csi-source")
        );
        types(&mut s, "output_types", &[("csi", "csi")]);
        let _ = writeln!(
            s,
            "    env:\n      MODE: sim\n      SCENE: {}\n      ROOM: {}\n      PACING: recorded\n",
            q(scene),
            q(r)
        );
        let _ = writeln!(s, "  - id: {r}-preprocess");
        deploy(&mut s, pre_at, p.working_dir);
        let _ = writeln!(s, "    path: {}\n    inputs:", bin("csi-preprocess"));
        input(&mut s, "csi", &format!("{r}-source/csi"), 100_000, true);
        types(&mut s, "input_types", &[("csi", "csi")]);
        let _ = writeln!(s, "    outputs:\n      - window");
        types(&mut s, "output_types", &[("window", "window")]);
        let _ = writeln!(
            s,
            "    env:\n      WDP_PREPROCESS_CONFIG: {}\n",
            model_file("weights/lite-floor.preprocess.yaml")
        );
        let _ = writeln!(s, "  - id: {r}-model");
        deploy(&mut s, model_at, p.working_dir);
        let _ = writeln!(s, "    path: {}\n    inputs:", bin("densepose-fused"));
        input(
            &mut s,
            "window",
            &format!("{r}-preprocess/window"),
            1000,
            true,
        );
        types(&mut s, "input_types", &[("window", "window")]);
        let _ = writeln!(s, "    outputs:\n      - keypoints\n      - boxes");
        types(&mut s, "output_types", &POSE);
        let _ = writeln!(
            s,
            "    env:\n      PRESET: {}\n      CHECKPOINT: {}\n      THREADS: \"1\"\n      SCENE: {}\n",
            model_file("presets/lite-floor.yaml"),
            model_file("weights/lite-floor.safetensors"),
            q(scene)
        );
        let _ = writeln!(s, "  - id: {r}-temporal");
        deploy(&mut s, model_at, p.working_dir);
        let _ = writeln!(s, "    path: {}\n    inputs:", bin("temporal"));
        for port in ["keypoints", "boxes"] {
            input(&mut s, port, &format!("{r}-model/{port}"), 1000, true);
        }
        types(&mut s, "input_types", &POSE);
        let _ = writeln!(s, "    outputs:\n      - keypoints\n      - boxes");
        types(&mut s, "output_types", &POSE);
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "  - id: room-fusion");
    deploy(&mut s, placed.then_some(p.compute), p.working_dir);
    let _ = writeln!(s, "    path: {}\n    inputs:", bin("room-fusion"));
    for r in &names {
        for port in ["keypoints", "boxes"] {
            input(
                &mut s,
                &format!("{r}_{port}"),
                &format!("{r}-temporal/{port}"),
                1000,
                false,
            );
        }
    }
    let _ = writeln!(s, "      tick: dora/timer/millis/500");
    let fused: Vec<(String, &str)> = names
        .iter()
        .flat_map(|r| POSE.map(|(port, stream)| (format!("{r}_{port}"), stream)))
        .collect();
    types(&mut s, "input_types", &fused);
    let _ = writeln!(s, "    outputs:\n      - building_state\n      - events");
    types(
        &mut s,
        "output_types",
        &[("building_state", "building_state"), ("events", "events")],
    );
    let _ = writeln!(
        s,
        "    env:\n      OUT_FILE: {}\n      # The building description ({}), inline so that it is the same on every machine.\n      BUILDING: |",
        q(p.state_file),
        p.description
    );
    for line in p.building.to_yaml("").lines() {
        let _ = writeln!(s, "        {line}");
    }
    if let Some(f) = p.fusion_config {
        let _ = writeln!(s, "      FUSION_CONFIG: {}", q(f));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_yaml::Value;

    fn plan_text(b: &BuildingPlan, machines: usize, split: Split) -> String {
        let plan = DataflowPlan {
            building: b,
            description: "b.rooms.yaml",
            machines,
            compute: "compute",
            split,
            working_dir: "/srv/wdp/dataflows",
            bin: "../target/release",
            models: "../models",
            state_file: "out/b.jsonl",
            fusion_config: Some("{stale_after_s: 2.0}"),
        };
        plan.validate().unwrap();
        dataflow_yaml(&plan)
    }

    fn node<'a>(doc: &'a Value, id: &str) -> &'a Value {
        let nodes = doc["nodes"].as_sequence().unwrap();
        nodes.iter().find(|n| n["id"].as_str() == Some(id)).unwrap()
    }

    #[test]
    fn the_dataflow_places_each_node() {
        let b = BuildingPlan::generated(3, 2).unwrap();
        let doc: Value = serde_yaml::from_str(&plan_text(&b, 2, Split::Csi)).unwrap();
        assert_eq!(doc["nodes"].as_sequence().unwrap().len(), 3 * 4 + 1);
        let machine = |id: &str| {
            node(&doc, id)["deploy"]["machine"]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(
            machine("living-room-source").as_deref(),
            Some("room-host-1")
        );
        assert_eq!(machine("kitchen-source").as_deref(), Some("room-host-2"));
        assert_eq!(machine("office-source").as_deref(), Some("room-host-1"));
        assert_eq!(machine("office-preprocess").as_deref(), Some("compute"));
        assert_eq!(machine("room-fusion").as_deref(), Some("compute"));
        let fusion = node(&doc, "room-fusion");
        assert_eq!(
            fusion["inputs"]["kitchen_keypoints"]["source"].as_str(),
            Some("kitchen-temporal/keypoints")
        );
        let inline = BuildingPlan::from_yaml_str(fusion["env"]["BUILDING"].as_str().unwrap());
        assert_eq!(inline.unwrap(), b);
        assert_eq!(
            fusion["env"]["FUSION_CONFIG"].as_str(),
            Some("{stale_after_s: 2.0}")
        );
        assert_eq!(
            node(&doc, "kitchen-source")["deploy"]["working_dir"].as_str(),
            Some("/srv/wdp/dataflows")
        );
        assert_eq!(
            node(&doc, "kitchen-model")["path"].as_str(),
            Some("../target/release/densepose-fused")
        );

        let b2 = BuildingPlan::generated(2, 2).unwrap();
        let doc: Value = serde_yaml::from_str(&plan_text(&b2, 2, Split::Window)).unwrap();
        let machine = |id: &str| {
            node(&doc, id)["deploy"]["machine"]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(
            machine("living-room-preprocess").as_deref(),
            Some("room-host-1")
        );
        assert_eq!(machine("living-room-model").as_deref(), Some("compute"));

        let b0 = BuildingPlan::generated(2, 0).unwrap();
        let doc: Value = serde_yaml::from_str(&plan_text(&b0, 0, Split::Csi)).unwrap();
        assert!(doc["nodes"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|n| n.get("deploy").is_none()));
    }

    #[test]
    fn scenes_and_hosts_yaml_would_misread_keep_their_value() {
        let b = BuildingPlan::from_yaml_str(
            "rooms:\n  - {name: a, scene: \"scenes/my room: big.yaml\", host: \"10.0.0.7\"}\n  - {name: b, scene: \"null\"}",
        )
        .unwrap();
        let doc: Value = serde_yaml::from_str(&plan_text(&b, 1, Split::Pose)).unwrap();
        let env = &node(&doc, "a-source")["env"];
        assert_eq!(env["SCENE"].as_str(), Some("scenes/my room: big.yaml"));
        assert_eq!(
            node(&doc, "a-model")["deploy"]["machine"].as_str(),
            Some("10.0.0.7")
        );
        assert_eq!(node(&doc, "b-model")["env"]["SCENE"].as_str(), Some("null"));
        // A room with no host runs on the compute machine.
        assert_eq!(
            node(&doc, "b-source")["deploy"]["machine"].as_str(),
            Some("compute")
        );
    }

    #[test]
    fn a_plan_with_a_broken_path_or_machine_is_refused() {
        let b = BuildingPlan::generated(1, 0).unwrap();
        let plan = DataflowPlan {
            building: &b,
            description: "b.rooms.yaml",
            machines: 1,
            compute: "gpu box",
            split: Split::Csi,
            working_dir: "/srv",
            bin: "bin",
            models: "models",
            state_file: "s.jsonl",
            fusion_config: None,
        };
        assert!(plan.validate().unwrap_err().contains("compute machine"));
        let plan = DataflowPlan {
            compute: "gpu",
            bin: "bin\nrm",
            ..plan
        };
        assert!(plan.validate().unwrap_err().contains("binaries folder"));
    }
}
