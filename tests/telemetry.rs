//! OpenTelemetry end to end: the main job run by the dora CLI with an OTLP endpoint set, and
//! the project's OTLP/gRPC receiver (`examples/otlp_receiver.rs`, on the protocol's own
//! definitions) started by the test. One frame must be one trace from the radio packet to the
//! sink, across every node, and every node must export its metrics.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nodes a frame crosses in `inference.yml`, radio to sink.
const CHAIN: [&str; 7] = [
    "csi-source",
    "csi-preprocess",
    "encoder",
    "upsampler",
    "densepose",
    "temporal",
    "pose-sink",
];

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The receiver example, built by `cargo build --release --all-targets` beside the binaries.
fn receiver_binary() -> PathBuf {
    let wdp = PathBuf::from(env!("CARGO_BIN_EXE_wdp"));
    let path = wdp
        .parent()
        .expect("binaries folder")
        .join("examples/otlp_receiver");
    assert!(
        path.is_file(),
        "{} missing: cargo build --release --workspace --all-targets",
        path.display()
    );
    path
}

/// Starts the receiver on a free loopback port writing `out`; returns it and its endpoint.
fn start_receiver(out: &Path) -> (Process, String) {
    let mut child = Command::new(receiver_binary())
        .args(["--listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("receiver starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("receiver says where it listens");
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the receiver: {line:?}"))
        .to_owned();
    (Process(child), endpoint)
}

/// What the receiver has written so far: spans, and (service, metric) pairs.
fn read(out: &Path) -> (Vec<Value>, BTreeSet<(String, String)>) {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut spans = Vec::new();
    let mut metrics = BTreeSet::new();
    // The last line may be half written.
    for line in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let service = line["service"].as_str().unwrap_or_default().to_owned();
        match line["metric"].as_str() {
            Some(metric) => {
                metrics.insert((service, metric.to_owned()));
            }
            None => spans.push(line),
        }
    }
    (spans, metrics)
}

fn text<'a>(span: &'a Value, key: &str) -> &'a str {
    span[key].as_str().unwrap_or_default()
}

/// A trace that crosses every node of the chain, each span's parent in the same trace, with
/// one root: the source's send of a radio packet.
fn complete_trace(spans: &[Value]) -> Option<Vec<Value>> {
    let mut traces: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for s in spans {
        traces.entry(text(s, "trace")).or_default().push(s);
    }
    traces.into_values().find_map(|t| {
        let services: BTreeSet<&str> = t.iter().map(|s| text(s, "service")).collect();
        if !CHAIN.iter().all(|n| services.contains(n)) {
            return None;
        }
        let ids: BTreeSet<&str> = t.iter().map(|s| text(s, "id")).collect();
        let linked = t
            .iter()
            .all(|s| text(s, "parent").is_empty() || ids.contains(text(s, "parent")));
        let roots: Vec<&&Value> = t.iter().filter(|s| text(s, "parent").is_empty()).collect();
        let rooted = roots.len() == 1
            && text(roots[0], "service") == "csi-source"
            && text(roots[0], "name") == "send csi";
        (linked && rooted).then(|| t.into_iter().cloned().collect())
    })
}

#[test]
fn one_frame_is_one_trace_from_the_radio_to_the_sink_and_every_node_exports_its_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let received = dir.path().join("otlp.jsonl");
    let (_receiver, endpoint) = start_receiver(&received);
    let out_dir = dir.path().join("out").to_string_lossy().into_owned();
    let flow = common::prepare(
        "inference.yml",
        dir.path(),
        &[("pose-sink", "OUT_DIR", out_dir.as_str())],
    );
    let log_path = dir.path().join("dora.log");
    let mut run = Process(
        common::dora_run(&flow, &log_path)
            .env("DORA_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .spawn()
            .expect("dora starts"),
    );
    let dora_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // Spans leave each node in batches every few seconds, metrics every second: wait for a
    // whole frame's trace and for every node's latency metric.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (trace, metrics) = loop {
        let (spans, metrics) = read(&received);
        let exported = |node: &str, metric: &str| metrics.contains(&(node.into(), metric.into()));
        let latencies = CHAIN[1..].iter().all(|n| exported(n, "wdp.node.latency"));
        if let Some(trace) = complete_trace(&spans).filter(|_| latencies) {
            break (trace, metrics);
        }
        if let Some(status) = run.0.try_wait().expect("wait") {
            panic!(
                "the dataflow ended ({status}) before a whole trace arrived:\n{}",
                dora_log()
            );
        }
        if Instant::now() > deadline {
            let services: BTreeSet<&str> = spans.iter().map(|s| text(s, "service")).collect();
            panic!(
                "no whole trace across {CHAIN:?} in 300 s ({} spans from {services:?}; metrics {metrics:?}):\n{}",
                spans.len(),
                dora_log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    // In every node after the source: receive -> compute -> send (the sink sends nothing).
    for node in &CHAIN[1..] {
        let names: BTreeSet<&str> = trace
            .iter()
            .filter(|s| text(s, "service") == *node)
            .map(|s| text(s, "name"))
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("receive ")),
            "{node}: no receive span in the trace: {names:?}"
        );
        assert!(
            names.contains("compute"),
            "{node}: no compute span: {names:?}"
        );
        if *node != "pose-sink" {
            assert!(
                names.iter().any(|n| n.starts_with("send ")),
                "{node}: no send span: {names:?}"
            );
        }
    }
    let messages: Vec<&Value> = trace
        .iter()
        .filter(|s| text(s, "name").starts_with("receive ") || text(s, "name").starts_with("send "))
        .collect();
    assert!(
        messages.iter().all(|s| s["seq"].is_i64()),
        "every receive and send span carries its message's seq: {messages:?}"
    );
    // Spans nest in time: the sink receives after the source sent.
    let at = |node: &str, edge: &str| {
        trace
            .iter()
            .filter(|s| text(s, "service") == node)
            .filter_map(|s| s[edge].as_u64())
            .min()
            .expect("timestamps")
    };
    assert!(at("pose-sink", "start_ns") >= at("csi-source", "start_ns"));
    assert!(
        metrics.contains(&("csi-source".into(), "wdp.node.messages".into())),
        "the source counts what it sends: {metrics:?}"
    );
}
