//! Faults injected into running dataflows, with the real dora CLI.
//!
//! - The main job (`dataflows/inference.yml`): every stage between the radio and the sink is
//!   killed with SIGKILL in turn while frames flow. dora's restart policy brings each back, the
//!   poses resume, and every frame that never reached the sink's file is counted (a `seq` gap in
//!   the sink's stop line, or an incomplete or stale frame): nothing is lost silently. The run
//!   ends at its source, so every stage finishes what was queued.
//! - A slow consumer under each queue policy: what the queue drops is what the consumer counts
//!   missing, and what it received is all in its recording.

mod common;

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

/// A `dora run` of a dataflow file, its output in `log`; killed with its nodes when dropped.
struct Dataflow {
    child: Child,
    log: std::path::PathBuf,
}

impl Dataflow {
    fn start(flow: &Path, log: std::path::PathBuf) -> Self {
        let child = common::dora_run(flow, &log)
            .args(["--stop-after", "900s"])
            .spawn()
            .expect("dora starts");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The pid of node `id` (its binary of the same name) of this run: another dataflow may
    /// run the same nodes on the machine.
    fn node(&self, id: &str) -> Option<u32> {
        common::node_pid(id, id, Some(self.child.id()))
    }

    /// Kills node `id` with SIGKILL.
    fn kill(&self, id: &str) {
        let pid = self
            .node(id)
            .unwrap_or_else(|| panic!("no {id}:\n{}", self.log()));
        signal(pid, "KILL");
    }

    /// Waits for `dora run` to end (at most `timeout`); its log.
    fn wait_end(&mut self, timeout: Duration) -> String {
        let ended = common::wait_for(timeout, || self.child.try_wait().ok().flatten());
        let log = self.log();
        assert!(ended.is_some(), "dora run did not stop:\n{log}");
        log
    }
}

impl Drop for Dataflow {
    fn drop(&mut self) {
        // dora and every node it spawned (each node has a process group of its own).
        for pid in common::child_pids(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
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
    let mut dataflow = Dataflow::start(&flow, dir.path().join("dora.log"));
    let poses = out.join("poses.jsonl");
    let count = || frames(&poses).len();

    let started = common::wait_for(Duration::from_secs(240), || {
        (count() >= RESUMED_FRAMES).then_some(())
    });
    assert!(started.is_some(), "no poses at start:\n{}", dataflow.log());
    let mut figures = Vec::new();
    for stage in STAGES {
        let pid = common::wait_for(Duration::from_secs(60), || dataflow.node(stage))
            .unwrap_or_else(|| panic!("{stage} is not running:\n{}", dataflow.log()));
        let before = count();
        signal(pid, "KILL");
        let restarted = common::wait_for(Duration::from_secs(120), || {
            dataflow.node(stage).filter(|&p| p != pid)
        });
        assert!(
            restarted.is_some(),
            "{stage} was not restarted:\n{}",
            dataflow.log()
        );
        let resumed = common::wait_for(Duration::from_secs(180), || {
            (count() >= before + RESUMED_FRAMES).then_some(())
        });
        assert!(
            resumed.is_some(),
            "no poses after {stage} restarted ({} before the kill, {} now):\n{}",
            before,
            count(),
            dataflow.log()
        );
        figures.push((stage, before));
    }

    // The restarted csi-preprocess counts from 0: wait until frames of the new count reached
    // the file (a busy machine may still be working through what was queued).
    let caught_up = common::wait_for(Duration::from_secs(300), || {
        let seqs = frames(&poses);
        let restart = seqs.windows(2).position(|w| w[1] < w[0])?;
        (seqs.len() - restart > RESUMED_FRAMES).then_some(())
    });
    assert!(
        caught_up.is_some(),
        "the new count never reached the sink:\n{}",
        dataflow.log()
    );
    // End the stream at its source (not restarted): every stage then finishes what is queued
    // and stops, so the counts cover every frame sent.
    dataflow.kill("csi-source");
    let log = dataflow.wait_end(Duration::from_secs(300));

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

/// Runs `flow` (YAML text, node paths relative to the project's `target/release`) to its end in
/// `dir`; its log.
fn run_to_end(dir: &Path, flow: &str) -> String {
    let release = common::root().join("target/release");
    let flow = flow.replace("BIN/", &format!("{}/", release.display()));
    let path = dir.join("flow.yml");
    std::fs::write(&path, flow).expect("dataflow written");
    let run = common::run_dataflow(&path, Duration::from_secs(300));
    assert!(run.success, "{}", run.log);
    run.log
}

/// The stop line of dataflow node `name` (its runtime's summary; dora prefixes the node id).
fn stop_line<'a>(log: &'a str, name: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(&format!(" {name}: ")) && l.contains("messages handled"))
        .unwrap_or_else(|| panic!("no stop line from {name}:\n{log}"))
}

/// A consumer slower than its producer (fault injection: `WDP_FAULT_DELAY_MS` on a recorder,
/// 50 messages/s against the radio's 100 packets/s), under each of dora's queue policies: what
/// the queue drops is counted by the consumer as `seq` gaps, and what it received is all in its
/// recording.
#[test]
fn a_slow_consumer_loses_what_its_queue_policy_drops_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let recorder = |id: &str, queue: &str| {
        format!(
            "  - id: {id}\n    path: BIN/csi-recorder\n    inputs:\n      csi: {{ source: csi-source/csi, {queue} }}\n    env:\n      OUT_DIR: {}\n      WDP_FAULT_DELAY_MS: \"20\"\n",
            out.join(id).display()
        )
    };
    let flow = format!(
        "nodes:\n  - id: csi-source\n    path: BIN/csi-source\n    outputs: [csi]\n    env:\n      MODE: sim\n      SCENE: lab\n      DURATION_S: \"4\"\n      RGB: \"false\"\n{}{}{}",
        recorder("drop-oldest", "queue_size: 10"),
        recorder("backpressure-small", "queue_size: 10, queue_policy: backpressure"),
        recorder("backpressure-large", "queue_size: 1000, queue_policy: backpressure"),
    );
    let log = run_to_end(dir.path(), &flow);
    let sent = log
        .lines()
        .find_map(|l| number_after(l, "csi-source: sent "))
        .unwrap_or_else(|| panic!("no count from csi-source:\n{log}"));
    assert!(sent >= 300, "{sent} packets\n{log}");
    let mut figures = Vec::new();
    for id in ["drop-oldest", "backpressure-small", "backpressure-large"] {
        let line = stop_line(&log, id);
        let handled = number_after(line, "csi-recorder: ").expect("handled");
        let missing = number_after(line, "`csi`").unwrap_or(0);
        let recorded = wdp_record::read_dir(out.join(id).join("csi"))
            .unwrap_or_else(|e| panic!("{id}'s recording: {e}"));
        // Nothing received is lost, and what was not received is counted.
        assert_eq!(recorded.len() as u64, handled, "{line}");
        assert_eq!(handled + missing, sent, "{line}");
        let seqs: Vec<i64> = recorded.iter().map(|r| r.meta.seq as i64).collect();
        assert_eq!(gaps(&seqs), (missing, 0), "{line}");
        figures.push(format!(
            "{id}: {handled} received, {missing} counted missing"
        ));
    }
    eprintln!("{sent} packets sent; {}", figures.join("; "));
    let missing = |id| number_after(stop_line(&log, id), "`csi`").unwrap_or(0);
    // A queue of 10 dropping the oldest loses most of a 2x deficit; backpressure holds 10x its
    // size (100 here) before dora drops; a queue larger than the deficit loses nothing.
    assert!(missing("drop-oldest") > sent / 4, "{log}");
    assert!(missing("backpressure-small") > 0, "{log}");
    assert!(
        missing("backpressure-small") < missing("drop-oldest"),
        "{log}"
    );
    assert_eq!(missing("backpressure-large"), 0, "{log}");
}

/// A message larger than the sender's shared-memory pool (dora's 8 MB default; a 1920x1600 RGB
/// camera frame is 9.2 MB): the node says so once, naming the output, the sizes and the setting
/// to raise, and every frame is still delivered (through dora's slower heap path).
#[test]
fn a_message_larger_than_the_shared_memory_pool_is_named_and_still_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = std::fs::read_to_string(common::root().join("operators/wdp-sim/presets/lab.yaml"))
        .expect("lab preset");
    let scene = dir.path().join("big-camera.yaml");
    std::fs::write(
        &scene,
        lab.replace("resolution: [320, 240]", "resolution: [1920, 1600]"),
    )
    .expect("scene written");
    let out = dir.path().join("rec");
    let flow = format!(
        "nodes:\n  - id: csi-source\n    path: BIN/csi-source\n    outputs: [csi, frame]\n    env:\n      MODE: sim\n      SCENE: {}\n      DURATION_S: \"1\"\n      RGB: \"true\"\n  - id: csi-recorder\n    path: BIN/csi-recorder\n    inputs:\n      frame: {{ source: csi-source/frame, queue_size: 100, queue_policy: backpressure }}\n    env:\n      OUT_DIR: {}\n",
        scene.display(),
        out.display()
    );
    let log = run_to_end(dir.path(), &flow);
    let warning = log
        .lines()
        .find(|l| l.contains("output `frame`") && l.contains("shared-memory pool"))
        .unwrap_or_else(|| panic!("no word about the pool:\n{log}"));
    assert!(
        warning.contains("9.2 MB") && warning.contains("8.4 MB"),
        "{warning}"
    );
    assert!(warning.contains("shared_memory_pool_size"), "{warning}");
    assert_eq!(
        log.matches("output `frame`: a ").count(),
        1,
        "said once per output:\n{log}"
    );
    let line = stop_line(&log, "csi-recorder");
    let received = number_after(line, "csi-recorder: ").expect("handled");
    let frames = wdp_record::read_dir(out.join("frame")).expect("recording");
    assert!(received >= 10, "{line}");
    assert_eq!(frames.len() as u64, received, "{line}");
    assert_eq!(
        number_after(line, "`frame`"),
        None,
        "nothing missing: {line}"
    );
    eprintln!("{warning}\n{line}");
}

/// A recorder killed with SIGKILL mid-run: every completed file reads, and the file it was
/// writing keeps every batch it flushed, so at most the batch it held in memory is lost
/// (`BATCH_ROWS`, 16 here) — not the file (`ROTATE_ROWS`, 200).
#[test]
fn a_recorder_killed_mid_file_loses_at_most_its_unflushed_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let release = common::root().join("target/release");
    let flow = format!(
        "nodes:\n  - id: csi-source\n    path: {bin}/csi-source\n    outputs: [csi]\n    env:\n      MODE: sim\n      SCENE: lab\n      DURATION_S: \"120\"\n      RGB: \"false\"\n  - id: csi-recorder\n    path: {bin}/csi-recorder\n    inputs:\n      csi: {{ source: csi-source/csi, queue_size: 1000, queue_policy: backpressure }}\n    env:\n      OUT_DIR: {out}\n      BATCH_ROWS: \"16\"\n      ROTATE_ROWS: \"200\"\n",
        bin = release.display(),
        out = out.display()
    );
    let path = dir.path().join("flow.yml");
    std::fs::write(&path, flow).expect("dataflow written");
    let mut dataflow = Dataflow::start(&path, dir.path().join("dora.log"));
    let csi = out.join("csi");
    let files = |ext: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&csi)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(ext))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Two files completed, and the third has flushed batches of its own.
    let ready = common::wait_for(Duration::from_secs(120), || {
        let partial = files(".arrow.partial");
        let flushed = partial
            .first()
            .is_some_and(|p| wdp_record::read_partial(p).is_ok_and(|r| r.len() >= 32));
        (files(".arrow").len() >= 2 && flushed).then_some(())
    });
    assert!(ready.is_some(), "no files:\n{}", dataflow.log());
    dataflow.kill("csi-recorder");
    dataflow.kill("csi-source");
    dataflow.wait_end(Duration::from_secs(60));

    let completed = wdp_record::read_dir(&csi).expect("every completed file reads");
    let partial = files(".arrow.partial");
    assert_eq!(partial.len(), 1, "one file was being written: {partial:?}");
    let tail = wdp_record::read_partial(&partial[0]).expect("the torn file reads");
    assert_eq!(completed.len() % 200, 0, "whole files");
    assert!(completed.len() >= 400);
    assert!(
        !tail.is_empty() && tail.len() % 16 == 0 && tail.len() < 200,
        "{}",
        tail.len()
    );
    let seqs: Vec<i64> = completed
        .iter()
        .chain(&tail)
        .map(|r| r.meta.seq as i64)
        .collect();
    assert_eq!(gaps(&seqs), (0, 0), "one unbroken run of messages");
    eprintln!(
        "recorder killed: {} messages in completed files, {} more read back from the file being \
         written (whole batches of 16)",
        completed.len(),
        tail.len()
    );
}
