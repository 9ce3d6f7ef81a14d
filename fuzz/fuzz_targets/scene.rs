//! Fuzzes the simulator's scene files: any YAML the parser accepts must be written back and
//! read as the same scene, and simulate its first packets and ground truth without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wdp_sim::{Scene, Simulator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scene) = Scene::from_yaml_str(text) else {
        return;
    };
    let again = Scene::from_yaml_str(&scene.to_yaml_string()).expect("a written scene reads back");
    assert_eq!(again, scene);
    let Ok(mut sim) = Simulator::new(scene) else {
        return;
    };
    for _ in 0..4 {
        let Some(frame) = sim.next_packet() else {
            break;
        };
        assert!(frame.is_consistent());
    }
    let _ = sim.next_ground_truth();
});
