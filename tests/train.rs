//! Training as a dataflow (`dataflows/train.yml`, the trainer node) on a small simulated
//! dataset: the loss falls, the checkpoint and its state file are written, every step's losses
//! are recorded, and `wdp-train eval` measures the result with the COCO/PCK/mIoU/UV report.
//! Live training from a running simulator (`dataflows/train-live.yml`), to `STEPS` or to the
//! dataflow's stop, and adaptation of the shipped model to an unseen room from its live,
//! unlabelled CSI (`dataflows/adapt.yml`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The training tool, built by the workspace build (`scripts/test.sh` builds before testing).
pub fn wdp_train() -> PathBuf {
    let p = common::root().join("target/release/wdp-train");
    assert!(p.is_file(), "{} missing: run scripts/setup.sh", p.display());
    p
}

fn simulate(room: &str, seconds: &str, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .args([
            "simulate",
            "--scene",
            room,
            "--duration-s",
            seconds,
            "--no-rgb",
        ])
        .arg("--out")
        .arg(out)
        .status()
        .expect("wdp runs");
    assert!(status.success(), "wdp simulate {room}");
}

/// A temporary folder and where a training dataflow writes into it.
struct Job {
    dir: tempfile::TempDir,
    checkpoint: PathBuf,
    losses: PathBuf,
}

impl Job {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self {
            checkpoint: dir.path().join("model/trained.safetensors"),
            losses: dir.path().join("losses"),
            dir,
        }
    }

    /// `dataflow` writing its checkpoint and loss recordings here, with `overrides`.
    fn prepare(&self, dataflow: &str, overrides: &[(&str, &str, &str)]) -> PathBuf {
        let mut all = vec![
            ("trainer", "OUT", self.checkpoint.to_str().expect("utf8")),
            (
                "csi-recorder",
                "OUT_DIR",
                self.losses.to_str().expect("utf8"),
            ),
        ];
        all.extend_from_slice(overrides);
        common::prepare(dataflow, self.dir.path(), &all)
    }
}

/// Terms of the trainer's `loss` output.
const TOTAL: usize = 0;
const MASK: usize = 1;
const UV: usize = 2;
const DISTILL: usize = 7;
const DOMAIN: usize = 8;
const TERMS: usize = 11;

/// Every recorded `loss` message in recording order: its step (`seq`) and its terms.
fn recorded_losses(dir: &Path) -> Vec<(u64, [f32; TERMS])> {
    wdp_record::read_dir(dir.join("loss"))
        .expect("loss recording")
        .iter()
        .map(|r| {
            assert_eq!(r.meta.shape, [TERMS]);
            let v = wdp_tensor::view::<f32>(r.values.as_ref(), &r.meta).expect("loss tensor");
            (r.meta.seq, std::array::from_fn(|i| v[[i]]))
        })
        .collect()
}

/// The state file beside a checkpoint.
fn state(checkpoint: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(checkpoint.with_extension("state.json")).expect("state file"),
    )
    .expect("state JSON")
}

/// The metrics lines beside a checkpoint.
fn metrics(checkpoint: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(checkpoint.with_extension("metrics.jsonl"))
        .expect("metrics file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("metrics line is JSON"))
        .collect()
}

/// Checks what a run that took `steps` steps saved: checkpoint, state at `steps` and the
/// metrics line of its last step.
fn check_saved(checkpoint: &Path, steps: u64) {
    assert!(checkpoint.is_file(), "checkpoint written");
    assert_eq!(state(checkpoint)["step"], steps);
    let lines = metrics(checkpoint);
    let last = lines.last().expect("a metrics line");
    assert_eq!(last["step"], steps - 1, "the last step's metrics");
}

/// Checks the recorded losses of the first `steps` steps: one per step, in order, finite.
fn check_recorded(losses: &Path, steps: u64) -> Vec<(u64, [f32; TERMS])> {
    let recorded = recorded_losses(losses);
    let seqs: Vec<u64> = recorded.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (0..steps).collect::<Vec<_>>(), "one loss per step");
    for (step, l) in &recorded {
        assert!(l.iter().all(|v| v.is_finite()), "step {step}: {l:?}");
    }
    recorded
}

/// A finished run of `steps` steps: saved, and every step's losses recorded.
fn check_run(checkpoint: &Path, losses: &Path, steps: u64) -> Vec<(u64, [f32; TERMS])> {
    check_saved(checkpoint, steps);
    check_recorded(losses, steps)
}

#[test]
fn live_training_from_a_running_simulator_takes_its_steps_and_drops_misshapen_windows() {
    // Also a teacher node's features of the same moments: the shipped model's encoder on the
    // same windows, distilled into the student without a teacher checkpoint.
    let job = Job::new();
    let flow = job.prepare(
        "train-live.yml",
        &[
            ("csi-source", "DURATION_S", "15"),
            ("trainer", "STEPS", "12"),
        ],
    );
    // A second preprocessing with shorter windows feeds `target_window`: every one of its
    // windows breaks the model's input shape and must be reported and dropped while the
    // training goes on (no DOMAIN: target windows are only checked).
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&flow).expect("flow")).expect("YAML");
    let nodes = doc["nodes"].as_sequence_mut().expect("nodes");
    let preprocess = nodes
        .iter()
        .find(|n| n["id"] == "csi-preprocess")
        .expect("csi-preprocess node")
        .clone();
    let mut short = preprocess.clone();
    short["id"] = "short-preprocess".into();
    short["env"]["WDP_PREPROCESS_CONFIG"] = "window: {length: 50, hop: 5}".into();
    nodes.push(short);
    let trainer = nodes
        .iter_mut()
        .find(|n| n["id"] == "trainer")
        .expect("trainer node");
    trainer["inputs"]["target_window"] = "short-preprocess/window".into();
    trainer["inputs"]["teacher_features"] = serde_yaml::from_str(
        "{source: teacher-encoder/features, queue_size: 1000, queue_policy: backpressure}",
    )
    .expect("input");
    let checkpoint = common::root().join("models/weights/lite-sim.safetensors");
    let teacher: serde_yaml::Value = serde_yaml::from_str(&format!(
        "{{id: teacher-encoder, path: {:?}, inputs: {{window: {{source: csi-preprocess/window, queue_size: 1000, queue_policy: backpressure}}}}, outputs: [features], env: {{PRESET: lite, CHECKPOINT: {:?}, THREADS: '1'}}}}",
        common::root().join("target/release/encoder"),
        checkpoint
    ))
    .expect("node");
    nodes.push(teacher);
    std::fs::write(&flow, serde_yaml::to_string(&doc).expect("YAML")).expect("write flow");

    let run = common::run_dataflow(&flow, Duration::from_secs(90));
    assert!(run.success, "live training dataflow failed:\n{}", run.log);
    let recorded = check_run(&job.checkpoint, &job.losses, 12);
    for (step, l) in &recorded {
        assert!(
            l[DISTILL] > 0.0,
            "step {step}: transfer term from the teacher's features"
        );
    }
    assert!(
        run.log.contains("teacher features:") && run.log.contains("frames matched"),
        "teacher features counted:\n{}",
        run.log
    );
    assert!(
        run.log.contains("trainer: 12 steps"),
        "summary line:\n{}",
        run.log
    );
    assert!(
        run.log.contains(
            "dropping `target_window` message: window: shape [2, 9, 30, 50] differs from [2, 9, 30, 100]"
        ),
        "misshapen windows reported:\n{}",
        run.log
    );
    assert!(
        run.log.contains("`target_window`") && run.log.contains("dropped bad messages:"),
        "dropped windows counted:\n{}",
        run.log
    );
}

#[test]
fn live_training_from_a_camera_teacher_labelling_the_simulated_camera() {
    // The labeller is a camera teacher instead of the simulator's truth: MediaPipe on the
    // simulator's rendered frames, its `labels` struct into the trainer's `labels` input.
    let job = Job::new();
    let flow = job.prepare(
        "train-live.yml",
        &[
            ("csi-source", "DURATION_S", "15"),
            ("csi-source", "RGB", "true"),
            ("trainer", "STEPS", "4"),
        ],
    );
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&flow).expect("flow")).expect("YAML");
    let nodes = doc["nodes"].as_sequence_mut().expect("nodes");
    let source = nodes
        .iter_mut()
        .find(|n| n["id"] == "csi-source")
        .expect("csi-source node");
    source["outputs"]
        .as_sequence_mut()
        .expect("outputs")
        .push("frame".into());
    let teacher: serde_yaml::Value = serde_yaml::from_str(&format!(
        "{{id: teacher, path: {:?}, inputs: {{frame: {{source: csi-source/frame, queue_size: 1000, queue_policy: backpressure}}}}, outputs: [labels], env: {{PYTHON: {:?}, MODE: video}}}}",
        common::root().join("nodes/teacher-mediapipe/teacher-mediapipe"),
        common::teacher_python(),
    ))
    .expect("node");
    nodes.push(teacher);
    let trainer = nodes
        .iter_mut()
        .find(|n| n["id"] == "trainer")
        .expect("trainer node");
    let inputs = trainer["inputs"].as_mapping_mut().expect("inputs");
    for output in ["keypoints", "boxes", "parts", "uv"] {
        inputs.remove(format!("labels_{output}"));
    }
    inputs.insert(
        "labels".into(),
        serde_yaml::from_str(
            "{source: teacher/labels, queue_size: 1000, queue_policy: backpressure}",
        )
        .expect("input"),
    );
    std::fs::write(&flow, serde_yaml::to_string(&doc).expect("YAML")).expect("write flow");

    let run = common::run_dataflow(&flow, Duration::from_secs(90));
    assert!(
        run.success,
        "camera-teacher training dataflow failed:\n{}",
        run.log
    );
    let recorded = check_run(&job.checkpoint, &job.losses, 4);
    for (step, l) in &recorded {
        // The teacher gives person masks without parts or UV: no UV term.
        assert_eq!(l[UV], 0.0, "step {step}: no UV from a camera teacher");
        assert!(l[TOTAL] > 0.0 && l[MASK].is_finite(), "step {step}: {l:?}");
    }
    // The teacher found people, and its frames were paired with windows and trained on.
    let number_after = |key: &str| -> u64 {
        run.log
            .lines()
            .rev()
            .find_map(|l| l.split(key).nth(1))
            .and_then(|rest| rest.trim_start().split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("`{key}` in:\n{}", run.log))
    };
    assert!(
        number_after("frames labelled (") > 0,
        "people found:\n{}",
        run.log
    );
    assert!(
        number_after("labelled frames:") > 0,
        "frames paired:\n{}",
        run.log
    );
    assert!(
        run.log.contains("trainer: 4 steps"),
        "summary line:\n{}",
        run.log
    );
    assert!(
        run.log.contains("labelled frames:"),
        "pairing counted:\n{}",
        run.log
    );
}

#[test]
fn a_live_run_stopped_by_the_dataflow_saves_what_it_has() {
    let job = Job::new();
    let flow = job.prepare("train-live.yml", &[("trainer", "STEPS", "100000")]);
    let run = common::run_dataflow(&flow, Duration::from_secs(20));
    assert!(run.success, "live training dataflow failed:\n{}", run.log);
    let (checkpoint, losses) = (&job.checkpoint, &job.losses);
    let steps = state(checkpoint)["step"].as_u64().expect("step");
    assert!(
        (1..100000).contains(&steps),
        "stopped part way: {steps} steps"
    );
    check_saved(checkpoint, steps);
    // The recorder stops with the dataflow: the loss of the step under way at the stop (and
    // one still in flight) may miss it; every earlier one is there.
    let recorded = recorded_losses(losses).len() as u64;
    assert!(
        recorded <= steps && recorded + 2 >= steps,
        "{recorded} losses recorded of {steps} steps"
    );
    check_recorded(losses, recorded);
}

#[test]
fn adaptation_aligns_the_shipped_model_to_an_unseen_rooms_live_csi() {
    let job = Job::new();
    let data = job.dir.path().join("lab");
    simulate("lab", "4", &data);
    let flow = job.prepare(
        "adapt.yml",
        &[
            ("trainer", "DATASET", data.to_str().expect("utf8")),
            ("trainer", "STEPS", "6"),
            ("trainer", "EVERY", "1"),
            // The corridor's radio ends long before the steps: training goes on from the
            // windows the target buffer holds.
            ("target-source", "DURATION_S", "3"),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(90));
    assert!(run.success, "adaptation dataflow failed:\n{}", run.log);
    let recorded = check_run(&job.checkpoint, &job.losses, 6);
    assert_eq!(state(&job.checkpoint)["config"]["domain"], "mmd");
    for line in metrics(&job.checkpoint) {
        let domain = line["domain"].as_f64().expect("domain term");
        assert!(domain > 0.0, "the rooms' features differ: {line}");
    }
    assert!(
        recorded.iter().all(|(_, l)| l[DOMAIN] > 0.0),
        "{recorded:?}"
    );
    // Started from the shipped model, not from scratch: its part masks on a training room are
    // far better than chance (ln 25 = 3.2 nats).
    let (_, first) = recorded[0];
    assert!(first[MASK] < 2.5, "first step's mask loss {}", first[MASK]);
}

#[test]
fn a_short_training_dataflow_lowers_the_loss_and_the_model_is_evaluated() {
    let job = Job::new();
    let data = job.dir.path().join("data");
    simulate("lab", "8", &data);
    let flow = job.prepare(
        "train.yml",
        &[
            ("trainer", "DATASET", data.to_str().expect("utf8")),
            ("trainer", "STEPS", "40"),
            ("trainer", "EVERY", "1"),
        ],
    );
    let (checkpoint, losses, dir) = (&job.checkpoint, &job.losses, &job.dir);
    let run = common::run_dataflow(&flow, Duration::from_secs(300));
    assert!(run.success, "training dataflow failed:\n{}", run.log);
    assert!(checkpoint.is_file(), "checkpoint written");
    let state = state(checkpoint);
    assert_eq!(state["step"], 40);
    assert_eq!(state["config"]["preset"], "lite");

    // Every step's losses reached the recorder, `total` first.
    let recorded = recorded_losses(losses);
    assert_eq!(recorded.len(), 40);
    let totals: Vec<f32> = recorded.iter().map(|(_, l)| l[TOTAL]).collect();
    assert!(totals.iter().all(|t| t.is_finite()));
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&totals[..10]), mean(&totals[30..]));
    // 40 steps are still inside the 50-step warm-up of the shipped config: a clear fall, not convergence.
    assert!(
        last < 0.9 * first,
        "loss falls: first 10 steps {first}, last 10 {last}"
    );

    let report = dir.path().join("report");
    let out = Command::new(wdp_train())
        .args(["eval", "--every", "2"])
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--data")
        .arg(&data)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("wdp-train eval runs");
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("eval prints one JSON object");
    for key in ["ap", "ap50", "ap75", "ar"] {
        let v = summary["keypoints"][key].as_f64().expect(key);
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    let pck = summary["pck"].as_f64().expect("pck");
    assert!((0.0..=1.0).contains(&pck));
    let md = std::fs::read_to_string(report.join("report.md")).expect("report.md");
    assert!(md.contains("COCO OKS AP") && md.contains("lab"), "{md}");
    assert!(report.join("results.json").is_file());
    assert!(report.join("keypoints_pr.png").is_file());

    // Frame training leaves no temporal module: evaluating with one is refused by name.
    let out = Command::new(wdp_train())
        .args(["eval", "--every", "4", "--sequence", "8"])
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--data")
        .arg(&data)
        .arg("--report")
        .arg(dir.path().join("report-seq"))
        .output()
        .expect("wdp-train eval runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no trained temporal module"),
        "{err}"
    );
}
