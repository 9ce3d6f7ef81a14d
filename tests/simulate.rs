//! `wdp simulate`: a dataset a Python user reads with pyarrow alone (the snippet of
//! operators/wdp-sim/SCHEMA.md, run as written), and pictures on request.

mod common;

use common::python;
use std::process::Command;

#[test]
fn dataset_reads_back_in_python_with_pyarrow_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ds");
    let status = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .args([
            "simulate",
            "--scene",
            "corridor",
            "--duration-s",
            "2",
            "--pictures",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .status()
        .expect("wdp runs");
    assert!(status.success());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("dataset.json")).expect("dataset.json"),
    )
    .expect("json");
    assert!(summary.is_object());
    assert!(out.join("pictures/frame-00000.png").is_file());
    assert!(out.join("pictures/frame-00001.png").is_file());

    // The snippet from SCHEMA.md, unchanged but for the shard's path.
    let schema = std::fs::read_to_string(common::root().join("operators/wdp-sim/SCHEMA.md"))
        .expect("SCHEMA.md");
    let snippet = schema
        .split("```python")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a python snippet in SCHEMA.md")
        .replace(
            "\"shard-00000.arrow\"",
            &format!(
                "{:?}",
                out.join("shard-00000.arrow").to_str().expect("utf8")
            ),
        );
    let run = Command::new(python())
        .arg("-c")
        .arg(&snippet)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("corridor "), "{stdout}");
    assert!(
        stdout.contains("(5, 3, 3, 30)"),
        "complex CSI window: {stdout}"
    );
    assert!(stdout.contains("(1, 17, 3)"), "keypoints: {stdout}");
}

#[test]
fn scene_errors_name_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scene = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(common::root().join("operators/wdp-sim/presets/lab.yaml"))
        .expect("preset")
        .replace("speed_mps: 0.9", "speed_mps: -1");
    std::fs::write(&scene, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .args(["simulate", "--duration-s", "1", "--out"])
        .arg(dir.path().join("ds"))
        .arg("--scene")
        .arg(&scene)
        .output()
        .expect("wdp runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("speed_mps") && err.contains("line"), "{err}");
}
