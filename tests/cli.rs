//! The `wdp` tool itself: `doctor` reports a sound set-up and names what is missing in a broken
//! one; `run` runs a dataflow through the project's pinned dora CLI.

mod common;

use std::process::Command;

fn wdp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wdp"));
    cmd.env("WDP_HOME", common::root()).env_remove("WDP_VENV");
    cmd
}

#[test]
fn doctor_passes_on_the_set_up_project() {
    let out = wdp().arg("doctor").output().expect("wdp runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("dora-rs-cli 1.1.0"), "{text}");
    assert!(text.contains("torch 2.13.0"), "{text}");
    assert!(text.contains("checks passed"), "{text}");
}

#[test]
fn doctor_names_a_missing_venv_and_how_to_fix_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = wdp()
        .arg("doctor")
        .env("WDP_VENV", dir.path().join("no-venv"))
        .output()
        .expect("wdp runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("FAIL  venv") && text.contains("scripts/setup.sh"),
        "{text}"
    );
    assert!(text.contains("FAIL  dora"), "{text}");
}

#[test]
fn run_executes_a_dataflow_with_the_pinned_dora() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("rec");
    let capture = common::captures().join("CSIKit/intel/example.dat");
    let flow = common::prepare(
        "replay.yml",
        dir.path(),
        &[
            ("csi-source", "CAPTURE", capture.to_str().expect("utf8")),
            ("csi-recorder", "OUT_DIR", out_dir.to_str().expect("utf8")),
        ],
    );
    let out = wdp()
        .arg("run")
        .arg(&flow)
        .args(["--stop-after", "60s"])
        .output()
        .expect("wdp runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    let records = wdp_record::read_dir(out_dir.join("csi")).expect("recorded");
    assert_eq!(records.len(), 26, "{log}");
}

#[test]
fn run_explains_a_missing_dataflow() {
    let out = wdp()
        .args(["run", "no/such/flow.yml"])
        .output()
        .expect("wdp runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/flow.yml"), "{err}");
}
