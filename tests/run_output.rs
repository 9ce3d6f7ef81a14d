//! What `wdp run` shows: the nodes' own lines and the runtime's warnings, not its DEBUG/INFO
//! stream, ending with the sink's summary, where the outputs are and where the full log is;
//! `--verbose` or `RUST_LOG` show the runtime's lines; a failing node fails the run with its
//! error on the terminal.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// `wdp run FLOW --stop-after 240s ARGS` (the dataflows end by themselves well before: the cap
/// only bounds a hung run) without any log setting of the caller's environment.
fn wdp_run(flow: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wdp"));
    cmd.env("WDP_HOME", common::root())
        .env_remove("WDP_VENV")
        .env_remove("RUST_LOG")
        .env_remove("DORA_LOG_LEVEL")
        .env_remove("DORA_LOG_FILTER")
        .env_remove("DORA_LOG_FORMAT")
        .envs(env.iter().copied())
        .arg("run")
        .arg(flow)
        .args(["--stop-after", "240s"])
        .args(args);
    cmd.output().expect("wdp runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A line of the runtime's own DEBUG/INFO stream (`HH:MM:SS DEBUG  node: ...`,
/// `node: DEBUG  building node`, or the daemon's `... INFO dora_daemon: ...`).
fn is_runtime_chatter(line: &str) -> bool {
    line.split_whitespace()
        .take(3)
        .any(|w| w == "DEBUG" || w == "INFO" || w == "TRACE")
}

/// The simulated lab recorded for one second: a cheap dataflow of two nodes.
fn sim_record(dir: &Path, overrides: &[(&str, &str, &str)]) -> std::path::PathBuf {
    let rec = dir.join("rec");
    let mut all = vec![
        ("csi-source", "PACING", "fast"),
        ("csi-source", "DURATION_S", "1"),
        ("csi-source", "RGB", "false"),
        ("csi-recorder", "OUT_DIR", rec.to_str().expect("utf8")),
    ];
    all.extend_from_slice(overrides);
    common::prepare("sim-record.yml", dir, &all)
}

#[test]
fn a_run_shows_the_nodes_lines_and_ends_with_the_summary_and_the_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let poses = dir.path().join("poses");
    let flow = common::prepare(
        "inference-fused.yml",
        dir.path(),
        &[
            ("csi-source", "PACING", "fast"),
            ("csi-source", "DURATION_S", "2"),
            ("pose-sink", "OUT_DIR", poses.to_str().expect("utf8")),
            ("pose-sink", "PNG_EVERY", "10"),
            ("pose-sink", "GIF_FRAMES", "4"),
        ],
    );
    let out = wdp_run(&flow, &[], &[]);
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert!(out.status.success(), "{all}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        !lines.iter().any(|l| is_runtime_chatter(l)),
        "runtime chatter shown:\n{all}"
    );
    assert!(lines.len() <= 40, "{} lines:\n{all}", lines.len());
    // The nodes' own lines: the sink's latency summary among them.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("pose-sink: ") && l.contains("end to end p50")),
        "{all}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("csi-source: sent")),
        "{all}"
    );
    // It ends with where the outputs and the full log are.
    let n = lines.len();
    assert!(n >= 2, "{all}");
    assert_eq!(
        lines[n - 2],
        format!("outputs: {} (pose-sink)", poses.display()),
        "{all}"
    );
    let log_path = dir.path().join("out/inference-fused.log");
    assert_eq!(
        lines[n - 1],
        format!("log: {}", log_path.display()),
        "{all}"
    );
    assert!(poses.join("poses.jsonl").is_file(), "{all}");
    // The log has everything: the runtime's DEBUG lines and the nodes' lines.
    let log = std::fs::read_to_string(&log_path).expect("the log is written");
    assert!(log.lines().any(is_runtime_chatter), "{log}");
    assert!(log.contains("end to end p50"), "{log}");
    assert!(!log.contains('\u{1b}'), "the log has no colour codes");
}

#[test]
fn verbose_or_rust_log_show_the_runtime_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = sim_record(dir.path(), &[]);

    let quiet = wdp_run(&flow, &[], &[]);
    let (stdout, stderr) = text(&quiet);
    assert!(quiet.status.success(), "{stdout}{stderr}");
    assert!(!stdout.lines().any(is_runtime_chatter), "{stdout}");
    assert!(stdout.contains("csi-recorder: recorded "), "{stdout}");

    for (args, env) in [
        (&["--verbose"][..], &[][..]),
        (&[][..], &[("RUST_LOG", "info")][..]),
    ] {
        let out = wdp_run(&flow, args, env);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?} {env:?}:\n{stdout}{stderr}");
        assert!(
            stdout
                .lines()
                .any(|l| l.contains("DEBUG") && l.contains("spawn")),
            "{args:?} {env:?} shows the runtime's DEBUG lines:\n{stdout}"
        );
        assert!(stdout.contains("csi-recorder: recorded "), "{stdout}");
    }
}

#[test]
fn a_failing_node_fails_the_run_with_its_error_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = sim_record(dir.path(), &[("csi-source", "SCENE", "no-such-room")]);
    let out = wdp_run(&flow, &[], &[]);
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert!(!out.status.success(), "{all}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("csi-source: ")
                && l.contains("unknown room preset `no-such-room`")),
        "the node's error is shown:\n{all}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ERROR ") && l.contains("csi-source")),
        "the runtime's error is shown:\n{all}"
    );
    assert!(!stdout.lines().any(is_runtime_chatter), "{all}");
    let log = dir.path().join("out/sim-record.log");
    assert!(
        stderr.contains("wdp: the dataflow failed") && stderr.contains(&*log.to_string_lossy()),
        "{all}"
    );
}
