//! Faults injected into the running main job (`dataflows/inference.yml`, the real dora CLI):
//! every stage between the radio and the sink is killed with SIGKILL in turn while frames flow.
//! dora's restart policy brings each back, the poses resume, and every frame that never reached
//! the sink's file is counted (a `seq` gap in the sink's stop line, or an incomplete frame):
//! nothing is lost silently.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Killed in this order: the model stages first, then the two that read the radio (when
/// csi-preprocess restarts, its window counter starts over: a `seq` restart downstream).
const STAGES: [&str; 6] = [
    "encoder",
    "upsampler",
    "densepose",
    "temporal",
    "csi-preprocess",
    "csi-locate",
];

/// Frames the sink must write after each restart before the next kill.
const RESUMED_FRAMES: usize = 20;

fn frames(poses: &Path) -> Vec<i64> {
    std::fs::read_to_string(poses)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["seq"].as_i64())
        .collect()
}

/// Counters skipped and times the counter went back, over a sequence of `seq`s (the rule of
/// `wdp_node::SeqGaps`, applied to the file).
fn gaps(seqs: &[i64]) -> (u64, u64) {
    let (mut missing, mut restarts) = (0, 0);
    for w in seqs.windows(2) {
        if w[1] > w[0] + 1 {
            missing += (w[1] - w[0] - 1) as u64;
        } else if w[1] < w[0] {
            restarts += 1;
        }
    }
    (missing, restarts)
}

/// The number before `suffix` in `text` after `label`, e.g. `` `keypoints` 3 missing``.
fn number_after(line: &str, label: &str) -> Option<u64> {
    let rest = &line[line.find(label)? + label.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

struct Dataflow {
    child: Child,
}

impl Drop for Dataflow {
    fn drop(&mut self) {
        // The whole process group: dora and every node it spawned.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--"])
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig])
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -s {sig} {pid}");
}

#[test]
fn every_stage_killed_in_turn_restarts_and_what_was_in_flight_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let out_s = out.to_string_lossy().into_owned();
    let flow = common::prepare(
        "inference.yml",
        dir.path(),
        &[
            ("pose-sink", "OUT_DIR", &out_s),
            ("pose-sink", "PNG_EVERY", "0"),
            ("pose-sink", "GIF_FRAMES", "0"),
            ("csi-source", "RGB", "false"),
        ],
    );
    let log_path = dir.path().join("dora.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let venv_bin = common::dora().parent().expect("bin").to_path_buf();
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut dataflow = Dataflow {
        child: Command::new(common::dora())
            .arg("run")
            .arg(&flow)
            .args(["--stop-after", "900s"])
            .env("PATH", path)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dora starts"),
    };
    let show_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let poses = out.join("poses.jsonl");
    let count = || frames(&poses).len();

    let started = common::wait_for(Duration::from_secs(240), || {
        (count() >= RESUMED_FRAMES).then_some(())
    });
    assert!(started.is_some(), "no poses at start:\n{}", show_log());
    let mut figures = Vec::new();
    for stage in STAGES {
        let pid = common::wait_for(Duration::from_secs(60), || common::node_pid(stage, stage))
            .unwrap_or_else(|| panic!("{stage} is not running:\n{}", show_log()));
        let before = count();
        signal(pid, "KILL");
        let restarted = common::wait_for(Duration::from_secs(120), || {
            common::node_pid(stage, stage).filter(|&p| p != pid)
        });
        assert!(
            restarted.is_some(),
            "{stage} was not restarted:\n{}",
            show_log()
        );
        let resumed = common::wait_for(Duration::from_secs(180), || {
            (count() >= before + RESUMED_FRAMES).then_some(())
        });
        assert!(
            resumed.is_some(),
            "no poses after {stage} restarted ({} before the kill, {} now):\n{}",
            before,
            count(),
            show_log()
        );
        figures.push((stage, before));
    }

    // Stop as a user does (Ctrl-C): every node finishes and prints its stop line.
    signal(dataflow.child.id(), "INT");
    let ended = common::wait_for(Duration::from_secs(120), || {
        dataflow.child.try_wait().ok().flatten()
    });
    let log = show_log();
    assert!(ended.is_some(), "dora run did not stop:\n{log}");

    let seqs = frames(&poses);
    let (file_missing, file_restarts) = gaps(&seqs);
    let summary = log
        .lines()
        .find(|l| l.contains("pose-sink: ") && l.contains("messages handled"))
        .unwrap_or_else(|| panic!("no stop line from pose-sink:\n{log}"));
    let sink_missing = number_after(summary, "`keypoints`").unwrap_or(0);
    let sink_restarts = summary
        .find("`keypoints`")
        .and_then(|i| number_after(&summary[i..], "missing ("))
        .unwrap_or(0);
    let files_line = log
        .lines()
        .find(|l| l.contains("pose-sink: ") && l.contains(" incomplete, "))
        .unwrap_or_else(|| panic!("no files line from pose-sink:\n{log}"));
    let incomplete = number_after(files_line, "frames (").unwrap_or(0);
    let stale = number_after(files_line, "dropped, ").unwrap_or(0);
    eprintln!(
        "{} frames written, {file_missing} missing in the file, {file_restarts} seq restarts; \
         pose-sink: keypoints {sink_missing} missing ({sink_restarts} restarts), {incomplete} \
         incomplete frames, {stale} stale messages; frames written before each kill: \
         {figures:?}",
        seqs.len()
    );
    for line in log.lines().filter(|l| l.contains("seq gaps")) {
        eprintln!("{line}");
    }
    // Only csi-preprocess numbers the windows: its restart, and only it, starts `seq` over.
    assert_eq!(file_restarts, 1, "{summary}\n{log}");
    assert_eq!(sink_restarts, 1, "{summary}");
    // Every frame missing from the file is counted: it never reached the sink (a gap in its
    // input's `seq`), or reached it incomplete or late.
    assert!(
        sink_missing <= file_missing && file_missing <= sink_missing + incomplete + stale,
        "{file_missing} frames missing in the file, the sink counted {sink_missing} missing, \
         {incomplete} incomplete, {stale} stale:\n{summary}\n{files_line}"
    );
    // Each stage's stop line (its last life's) is there.
    for stage in STAGES {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("{stage}: ")) && l.contains("messages handled")),
            "no stop line from {stage}:\n{log}"
        );
    }
}
