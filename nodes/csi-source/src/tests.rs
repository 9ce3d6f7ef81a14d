//! The node's source in dora's testing mode: a short simulated scene, CSI packets and ground
//! truth out; an input (it reads none) counted as unknown while it keeps going; `MAX_FRAMES`
//! and a `Stop` end it.

use crate::config::{Config, Mode};
use crate::source::CsiSource;
use serde_json::json;
use wdp_node::testing::run_source_test;

fn sim_config(duration_s: f64, max_frames: Option<u64>) -> Config {
    let mut scene = wdp_sim::Scene::preset("lab").expect("lab");
    scene.duration_s = Some(duration_s);
    if let Some(camera) = scene.camera.as_mut() {
        camera.rgb = false;
    }
    Config {
        mode: Mode::Sim {
            scene: Box::new(scene),
            speed: None,
        },
        read: Default::default(),
        room: "lab".into(),
        link: "link0".into(),
        max_frames,
    }
}

#[test]
fn simulated_packets_and_truth_out_inputs_ignored() {
    let tick = json!({"time_offset_secs": 0.0, "type": "Input", "id": "tick"});
    let mut source = CsiSource::new(sim_config(0.2, None)).expect("source");
    let run = run_source_test("csi-source", vec![tick], &mut source).expect("run");
    let csi = run.on("csi");
    assert!(csi.len() >= 10, "{} packets", csi.len());
    let first = &csi[0];
    assert_eq!(first.data_type, "Float32");
    assert!(first.numbers().iter().all(|v| v.is_finite()));
    assert!(!run.on("keypoints").is_empty(), "ground truth frames");
    assert_eq!(run.on("keypoints").len(), run.on("boxes").len());
    let c = &run.report.counts;
    assert_eq!(c.handled, csi.len() as u64);
    assert_eq!(c.unknown["tick"], 1);
    assert_eq!(c.dropped(), 0);
}

#[test]
fn max_frames_and_stop_end_the_source() {
    let mut source = CsiSource::new(sim_config(5.0, Some(7))).expect("source");
    let run = run_source_test("csi-source", vec![], &mut source).expect("run");
    assert_eq!(run.on("csi").len(), 7);
    // A stop after the first packets: the 60 s scene is not played to its end.
    let stop = json!({"time_offset_secs": 0.05, "type": "Stop"});
    let mut source = CsiSource::new(sim_config(60.0, None)).expect("source");
    let run = run_source_test("csi-source", vec![stop], &mut source).expect("run");
    assert!(run.on("csi").len() < 6000, "stopped early");
}
