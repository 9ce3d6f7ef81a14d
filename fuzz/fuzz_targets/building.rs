//! Fuzzes the building description and the dataflow written from it (`wdp building`): any
//! description the checks accept, with any machine count, split and paths, must give a
//! dataflow that reads as YAML with every room's nodes on the right machines, its scene and
//! room-fusion's inline description read back as written.
//!
//! Input: the description's text, then after a 0 byte the machine count and split (one byte
//! each) and the compute machine, binaries folder and fusion configuration, 0-separated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;
use wdp_building::{dataflow_yaml, BuildingPlan, DataflowPlan, Split};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let Ok(mut building) = BuildingPlan::from_yaml_str(text) else {
        return;
    };
    // The description written back reads as the same building.
    let again = BuildingPlan::from_yaml_str(&building.to_yaml("header\nof two lines"))
        .expect("a written description reads back");
    assert_eq!(again, building);

    let opts = parts.next().unwrap_or_default();
    let machines = opts.first().map_or(2, |b| (b % 4) as usize);
    let split = [Split::Csi, Split::Window, Split::Pose][opts.get(1).map_or(0, |b| b % 3) as usize];
    let mut text_part = |default: &'static str| -> Option<String> {
        match parts.next() {
            None => Some(default.to_owned()),
            Some(b) => std::str::from_utf8(b).ok().map(str::to_owned),
        }
    };
    let (Some(compute), Some(bin), Some(fusion)) = (
        text_part("compute"),
        text_part("../target/release"),
        text_part("{stale_after_s: 2.0}"),
    ) else {
        return;
    };
    building.place(machines);
    let plan = DataflowPlan {
        building: &building,
        description: "fuzz.rooms.yaml",
        machines,
        compute: &compute,
        split,
        working_dir: "/srv/wdp/dataflows",
        bin: &bin,
        models: "../models",
        state_file: "out/fuzz.jsonl",
        fusion_config: Some(&fusion),
    };
    if plan.validate().is_err() {
        return;
    }
    let flow = dataflow_yaml(&plan);
    let doc: Value = serde_yaml::from_str(&flow).expect("the dataflow reads as YAML");
    let nodes = doc["nodes"].as_sequence().expect("nodes");
    assert_eq!(nodes.len(), 4 * building.rooms.len() + 1);
    let node = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("no node {id}"))
    };
    for room in &building.rooms {
        let source = node(&format!("{}-source", room.name));
        let scene = room.scene.as_deref().unwrap_or("lab");
        assert_eq!(source["env"]["SCENE"].as_str(), Some(scene));
        assert_eq!(source["env"]["ROOM"].as_str(), Some(room.name.as_str()));
        let path = format!("{bin}/csi-source");
        assert_eq!(source["path"].as_str(), Some(path.as_str()));
        let machine = source["deploy"]["machine"].as_str();
        if machines == 0 {
            assert_eq!(machine, None);
        } else {
            assert_eq!(machine, Some(room.host.as_deref().unwrap_or(&compute)));
        }
    }
    let fusion_node = node("room-fusion");
    assert_eq!(fusion_node["env"]["FUSION_CONFIG"].as_str(), Some(fusion.as_str()));
    let inline = fusion_node["env"]["BUILDING"].as_str().expect("BUILDING");
    assert_eq!(
        BuildingPlan::from_yaml_str(inline).expect("room-fusion's description reads"),
        building
    );
});
