//! The malformed sweep on the Python nodes (csi-stats, teacher-mediapipe, teacher-sync), as the
//! Rust nodes get it in their own tests: each node runs alone in dora's testing mode
//! (`DORA_TEST_WITH_INPUTS`, which dora's Python API honours as the Rust one does) fed with the
//! same bad messages (`wdp_node::testing`): a cut array, NaN and infinity storms, an empty array,
//! f64 for f32, no `shape`, other dims, another layout, an input it does not have, a missing
//! `seq`. Each must be dropped and counted under the field at fault (the summary line is the
//! Rust runtime's), while the good messages around them still give their outputs.

mod common;

use common::{python, teacher_python};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use wdp_node::testing::{bad_tensor_events, malformed_tensor_events, tensor_event};
use wdp_node::Counts;
use wdp_tensor::{MetaValue, TensorMeta};

/// What a Python node did in testing mode.
struct PyRun {
    outputs: Vec<Value>,
    log: String,
    counts: Counts,
}

impl PyRun {
    fn on(&self, id: &str) -> Vec<&Value> {
        self.outputs.iter().filter(|o| o["id"] == id).collect()
    }
}

/// Runs the Python node `script` as `name` on `events`; its summary line gives the counts.
fn run_python(
    python: &Path,
    script: &str,
    name: &str,
    events: Vec<Value>,
    env: &[(&str, &str)],
    dir: &Path,
) -> PyRun {
    let inputs = dir.join(format!("{name}-inputs.json"));
    let outputs = dir.join(format!("{name}-outputs.jsonl"));
    std::fs::write(&inputs, json!({"id": name, "events": events}).to_string()).expect("inputs");
    let out = Command::new(python)
        .arg(common::root().join(script))
        .env("DORA_TEST_WITH_INPUTS", &inputs)
        .env("DORA_TEST_WRITE_OUTPUTS_TO", &outputs)
        .env("DORA_TEST_NO_OUTPUT_TIME_OFFSET", "1")
        .envs(env.iter().copied())
        .output()
        .expect("python runs");
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name} failed:\n{log}");
    let outputs = std::fs::read_to_string(&outputs)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an output line"))
        .collect();
    let counts = summary_counts(name, &log);
    PyRun {
        outputs,
        log,
        counts,
    }
}

/// The counts of the summary line `NAME: H messages handled, D dropped (bad: input/field n,
/// ...; failed: F), unknown inputs ignored: `id` n`.
fn summary_counts(name: &str, log: &str) -> Counts {
    let prefix = format!("{name}: ");
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with(&prefix) && l.contains(" messages handled, "))
        .unwrap_or_else(|| panic!("no summary line of {name} in:\n{log}"));
    let number = |s: &str| -> u64 { s.trim().parse().unwrap_or_else(|_| panic!("{s} in {line}")) };
    let mut counts = Counts {
        handled: number(line[prefix.len()..].split(' ').next().unwrap_or_default()),
        ..Counts::default()
    };
    if let Some(bad) = line.split("(bad: ").nth(1) {
        let (bad, rest) = bad.split_once("; failed: ").expect("failed count");
        counts.failed = number(rest.split(')').next().unwrap_or_default());
        for entry in bad.split(", ").filter(|e| !e.is_empty()) {
            let (key, n) = entry.rsplit_once(' ').expect("key and count");
            counts.bad.insert(key.to_owned(), number(n));
        }
    }
    if let Some(unknown) = line.split("unknown inputs ignored: ").nth(1) {
        for entry in unknown.split(", ") {
            let (key, n) = entry.rsplit_once(' ').expect("id and count");
            counts
                .unknown
                .insert(key.trim_matches('`').to_owned(), number(n));
        }
    }
    counts
}

fn bad(counts: &Counts) -> BTreeMap<&str, u64> {
    counts.bad.iter().map(|(k, n)| (k.as_str(), *n)).collect()
}

fn csi_meta(t_ns: i64, seq: u64, shape: &[usize]) -> TensorMeta {
    TensorMeta::new(shape, ["tx", "rx", "subcarrier", "complex"])
        .with_time_ns(t_ns)
        .with_seq(seq)
        .with_room("lab")
        .with_link("ap0")
}

/// A packet whose every amplitude is `amp` (re = amp, im = 0).
fn packet(shape: &[usize], amp: f32) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n).map(|i| if i % 2 == 0 { amp } else { 0.0 }).collect()
}

/// `event` with metadata `key` removed.
fn without(mut event: Value, key: &str) -> Value {
    if let Some(m) = event["metadata"].as_object_mut() {
        m.remove(key);
    }
    event
}

#[test]
fn csi_stats_drops_and_counts_every_malformed_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shape = [1usize, 2, 4, 2];
    let good = |t_s: f64, seq: u64, amp: f32| {
        let t_ns = (t_s * 1e9) as i64;
        tensor_event(
            t_s,
            "csi",
            &csi_meta(t_ns, seq, &shape),
            &packet(&shape, amp),
        )
    };
    let meta = csi_meta(20_000_000, 2, &shape);
    // Another layout the node cannot take: no re/im axis.
    let other = TensorMeta::new(&[1, 2, 8], ["tx", "rx", "subcarrier"]);
    let mut events = vec![good(0.0, 0, 1.0), good(0.01, 1, 3.0)];
    events.extend(bad_tensor_events(
        0.02,
        "csi",
        &meta,
        &packet(&shape, 1.0),
        &other,
        "frame",
    ));
    events.extend(malformed_tensor_events(
        0.02,
        "csi",
        &meta,
        &packet(&shape, 1.0),
    ));
    events.extend([good(0.2, 3, 5.0), good(0.21, 4, 7.0)]);
    let run = run_python(
        &python(),
        "nodes/csi-stats-py/csi_stats.py",
        "csi-stats",
        events,
        &[("REPORT_EVERY", "2")],
        dir.path(),
    );

    // The good packets still give their reports: mean amplitude (1+3)/2 and (5+7)/2.
    let stats: Vec<Vec<f64>> = run
        .on("stats")
        .iter()
        .map(|o| {
            o["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|v| v.as_f64().expect("finite"))
                .collect()
        })
        .collect();
    assert_eq!(
        stats,
        [vec![2.0, 2.0], vec![6.0, 6.0]],
        "reports of the good packets only:\n{}",
        run.log
    );
    assert_eq!(run.counts.handled, 4, "{}", run.log);
    // The cut and other-layout messages add two `shape`s and the NaN one a `values`.
    wdp_node::testing::assert_malformed_dropped(&run.counts, "csi", [2, 1, 0, 0]);
    assert_eq!(run.counts.unknown.get("frame"), Some(&1), "{}", run.log);
    let lines = run.log.lines().filter(|l| l.contains("dropping `csi`"));
    assert_eq!(
        lines.count(),
        8,
        "one line per dropped message:\n{}",
        run.log
    );
}

/// The teacher on two good frames (a grey picture: nobody) around every malformed one.
#[test]
fn teacher_mediapipe_drops_and_counts_every_malformed_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (h, w) = (48usize, 64usize);
    let frame_meta = |seq: u64| {
        let mut meta = TensorMeta::new(&[h, w, 3], ["height", "width", "channel"])
            .with_time_ns(seq as i64 * 100_000_000)
            .with_seq(seq);
        meta.extra
            .insert("encoding".into(), MetaValue::Text("rgb8".into()));
        meta
    };
    let grey = vec![128u8; h * w * 3];
    let other = TensorMeta::new(&[h, w], ["height", "width"]);
    let mut events = vec![tensor_event(0.0, "frame", &frame_meta(0), &grey)];
    let bad_f32: Vec<f32> = grey.iter().map(|&v| f32::from(v)).collect();
    // The Rust sweep's messages, as u8 (its NaN case has no u8 form: it is sent as f32, a
    // wrong type here).
    events.extend(bad_tensor_events(
        0.1,
        "frame",
        &frame_meta(1),
        &bad_f32,
        &other,
        "csi",
    ));
    events.extend(malformed_tensor_events(0.1, "frame", &frame_meta(1), &grey));
    events.push(without(
        tensor_event(0.2, "frame", &frame_meta(2), &grey),
        "seq",
    ));
    let mut yuv = frame_meta(3);
    yuv.extra
        .insert("encoding".into(), MetaValue::Text("yuv420".into()));
    events.push(tensor_event(0.3, "frame", &yuv, &grey));
    events.push(tensor_event(0.4, "frame", &frame_meta(4), &grey));
    let run = run_python(
        &teacher_python(),
        "nodes/teacher-mediapipe/teacher_mediapipe.py",
        "teacher-mediapipe",
        events,
        &[("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "2")],
        dir.path(),
    );

    assert_eq!(
        run.on("labels").len(),
        2,
        "labels of the two good frames:\n{}",
        run.log
    );
    assert_eq!(run.counts.handled, 2, "{}", run.log);
    assert_eq!(
        bad(&run.counts),
        BTreeMap::from([
            // f32 frames (cut, NaN, another layout as f32) and the f64 one.
            ("frame/data type", 4),
            ("frame/dims", 1),
            ("frame/encoding", 1),
            ("frame/seq", 1),
            // The empty array and the one without `shape`.
            ("frame/shape", 2),
            // The storm of nulls.
            ("frame/values", 1),
        ]),
        "{}",
        run.log
    );
    assert_eq!(run.counts.unknown.get("csi"), Some(&1), "{}", run.log);
}

/// The labels contract: one row of keypoints [P,17,3], boxes [P,5], masks [P,h,w].
fn labels_event(t_s: f64, seq: u64, t_ns: i64, keypoint: Value) -> Value {
    let keypoints: Vec<Value> = (0..51).map(|_| keypoint.clone()).collect();
    json!({
        "time_offset_secs": t_s,
        "type": "Input",
        "id": "labels",
        "metadata": {
            "t_ns": {"Integer": t_ns},
            "seq": {"Integer": seq},
            "n_people": {"Integer": 1},
            "keypoints_shape": {"ListInt": [1, 17, 3]},
            "boxes_shape": {"ListInt": [1, 5]},
            "masks_shape": {"ListInt": [1, 2, 2]},
            "image_wh": {"ListInt": [4, 2]},
        },
        "data": [{"keypoints": keypoints, "boxes": [0.0, 0.0, 4.0, 2.0, 0.9], "masks": [1, 0, 0, 1]}],
    })
}

/// teacher-sync pairs the good packets, frames and labels into rows while every malformed
/// message of each input is dropped and counted, the bad packets among `skipped_packets`.
#[test]
fn teacher_sync_drops_and_counts_malformed_packets_frames_and_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let shape = [1usize, 2, 4, 2];
    let ms = 1_000_000i64;
    let mut events: Vec<Value> = (0..20u64)
        .map(|k| {
            let t_ns = 1_000 * ms + k as i64 * 10 * ms;
            tensor_event(
                k as f64 * 0.005,
                "csi",
                &csi_meta(t_ns, k, &shape),
                &packet(&shape, 1.0 + k as f32),
            )
        })
        .collect();
    let meta = csi_meta(1_100 * ms, 10, &shape);
    let other = TensorMeta::new(&[1, 2, 8], ["tx", "rx", "subcarrier"]);
    events.extend(bad_tensor_events(
        0.1,
        "csi",
        &meta,
        &packet(&shape, 1.0),
        &other,
        "depth",
    ));
    events.extend(malformed_tensor_events(
        0.1,
        "csi",
        &meta,
        &packet(&shape, 1.0),
    ));
    // A packet of another antenna layout than the recording's first.
    events.push(tensor_event(
        0.15,
        "csi",
        &csi_meta(1_195 * ms, 20, &[1, 3, 4, 2]),
        &packet(&[1, 3, 4, 2], 1.0),
    ));
    // Two frames with their labels, at radio times 1.095 s and 1.185 s (one clock).
    let frame = |seq: u64, t_ns: i64| {
        let mut m = TensorMeta::new(&[2, 4, 3], ["height", "width", "channel"])
            .with_time_ns(t_ns)
            .with_seq(seq);
        m.extra
            .insert("encoding".into(), MetaValue::Text("rgb8".into()));
        m
    };
    let pixels = vec![7u8; 24];
    for (k, (seq, t_ns)) in [(0u64, 1_095 * ms), (1, 1_185 * ms)]
        .into_iter()
        .enumerate()
    {
        let t_s = 0.2 + k as f64 * 0.05;
        events.push(tensor_event(t_s, "frame", &frame(seq, t_ns), &pixels));
        events.push(labels_event(t_s + 0.01, seq, t_ns, json!(1.0)));
    }
    events.extend(malformed_tensor_events(
        0.3,
        "frame",
        &frame(5, 1_190 * ms),
        &pixels,
    ));
    events.push(without(
        tensor_event(0.4, "frame", &frame(6, 1_190 * ms), &pixels),
        "t_ns",
    ));
    // Labels: NaN keypoints, shapes that disagree, not a struct, no seq.
    events.push(labels_event(0.41, 7, 1_190 * ms, json!("NaN")));
    let mut disagree = labels_event(0.42, 8, 1_190 * ms, json!(1.0));
    disagree["metadata"]["n_people"] = json!({"Integer": 2});
    events.push(disagree);
    events.push(tensor_event(0.43, "labels", &meta, &packet(&shape, 1.0)));
    events.push(without(
        labels_event(0.44, 9, 1_190 * ms, json!(1.0)),
        "seq",
    ));
    let env = [
        ("OUT_DIR", out.to_str().expect("utf8")),
        ("SYNC_CLOCK", "same"),
        ("WINDOW", "5"),
        ("TOLERANCE_MS", "50"),
    ];
    let run = run_python(
        &python(),
        "nodes/teacher-sync/teacher_sync.py",
        "teacher-sync",
        events,
        &env,
        dir.path(),
    );

    let ds: Value = serde_json::from_slice(
        &std::fs::read(out.join("dataset.json")).expect("dataset.json written"),
    )
    .expect("dataset.json");
    let sync = &ds["sync"];
    assert_eq!(sync["radio"]["packets"], 20, "{sync}\n{}", run.log);
    assert_eq!(
        sync["radio"]["skipped_packets"], 9,
        "8 malformed and 1 of another layout: {sync}"
    );
    assert_eq!(sync["camera"]["frames"], 2, "{sync}");
    assert_eq!(sync["camera"]["labels"], 2, "{sync}");
    assert_eq!(
        sync["matched"], 2,
        "both good frames are rows: {sync}\n{}",
        run.log
    );
    assert_eq!(run.counts.handled, 24, "{}", run.log);
    assert_eq!(
        bad(&run.counts),
        BTreeMap::from([
            ("csi/data type", 1),
            ("csi/dims", 1),
            // cut, another layout, empty, no shape, the recording's other antenna layout
            ("csi/shape", 5),
            ("csi/values", 2),
            ("frame/data type", 1),
            ("frame/dims", 1),
            ("frame/shape", 2),
            ("frame/t_ns", 1),
            ("frame/values", 1),
            ("labels/data type", 1),
            ("labels/seq", 1),
            ("labels/shape", 1),
            ("labels/values", 1),
        ]),
        "{}",
        run.log
    );
    assert_eq!(run.counts.unknown.get("depth"), Some(&1), "{}", run.log);
}
