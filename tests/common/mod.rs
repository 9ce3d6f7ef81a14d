//! Helpers for the end-to-end tests: run a real dataflow of `dataflows/` with the real dora CLI,
//! with some node settings overridden, bounded in time.
#![allow(dead_code)]

use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The main venv's Python (`WDP_PYTHON`, else `.venv`).
pub fn python() -> PathBuf {
    std::env::var("WDP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv/bin/python"))
}

/// The teacher venv's Python (mediapipe, OpenCV, scikit-image, numpy < 2).
pub fn teacher_python() -> PathBuf {
    let python = root().join(".venv-teacher/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/setup.sh",
        python.display()
    );
    python
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared data folder beside the checkout.
pub fn captures() -> PathBuf {
    root().join("../shared/data/captures")
}

/// reference.json of the shared captures.
pub fn reference() -> serde_json::Value {
    let path = captures().join("reference.json");
    let text = std::fs::read_to_string(&path).expect("reference.json is readable");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

/// The reference entry of one capture file.
pub fn reference_entry(file: &str) -> serde_json::Value {
    reference()["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["file"] == file)
        .cloned()
        .unwrap_or_else(|| panic!("{file} is not in reference.json"))
}

/// The dora CLI of the project's venv.
pub fn dora() -> PathBuf {
    let venv = std::env::var("WDP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv"));
    let dora = venv.join("bin/dora");
    assert!(
        dora.is_file(),
        "{} missing: run scripts/setup.sh",
        dora.display()
    );
    dora
}

/// A copy of a dataflow of `dataflows/` with node paths made absolute and some `env:` entries
/// replaced, written into `dir`. Everything else (nodes, wiring, other settings) is the real file.
pub fn prepare(dataflow: &str, dir: &Path, overrides: &[(&str, &str, &str)]) -> PathBuf {
    prepare_with_taps(dataflow, dir, overrides, &[], dir)
}

/// [`prepare`], plus a recorder node (the real csi-recorder) subscribed to `taps`
/// (`(input name, "node/output")`) writing into `tap_dir`: a test sees intermediate outputs of
/// the unmodified pipeline.
#[allow(dead_code)]
pub fn prepare_with_taps(
    dataflow: &str,
    dir: &Path,
    overrides: &[(&str, &str, &str)],
    taps: &[(&str, &str)],
    tap_dir: &Path,
) -> PathBuf {
    let source = root().join("dataflows").join(dataflow);
    let base = source.parent().expect("dataflows folder").to_path_buf();
    let text = std::fs::read_to_string(&source).expect("dataflow readable");
    let mut doc: Value = serde_yaml::from_str(&text).expect("dataflow is YAML");
    let nodes = doc["nodes"].as_sequence_mut().expect("nodes list");
    for node in nodes.iter_mut() {
        let id = node["id"].as_str().unwrap_or_default().to_owned();
        if let Some(path) = node.get("path").and_then(Value::as_str) {
            if path.starts_with('.') {
                let abs = base.join(path);
                node["path"] = Value::String(abs.to_string_lossy().into_owned());
            }
        }
        let env = node
            .as_mapping_mut()
            .expect("node mapping")
            .entry(Value::String("env".into()))
            .or_insert_with(|| Value::Mapping(Default::default()));
        // Relative paths in env are relative to the dataflow's folder: keep them valid.
        if let Some(map) = env.as_mapping_mut() {
            for (_, v) in map.iter_mut() {
                if let Some(s) = v.as_str() {
                    if s.starts_with("../") && base.join(s).exists() {
                        *v = Value::String(base.join(s).to_string_lossy().into_owned());
                    }
                }
            }
        }
        for (node_id, key, value) in overrides {
            if *node_id == id {
                env[*key] = Value::String((*value).to_owned());
            }
        }
    }
    if !taps.is_empty() {
        let mut inputs = serde_yaml::Mapping::new();
        for (name, source) in taps {
            let mut input = serde_yaml::Mapping::new();
            input.insert("source".into(), Value::String((*source).to_owned()));
            input.insert("queue_size".into(), Value::Number(100_000.into()));
            input.insert("queue_policy".into(), Value::String("backpressure".into()));
            inputs.insert(Value::String((*name).to_owned()), Value::Mapping(input));
        }
        let mut env = serde_yaml::Mapping::new();
        env.insert(
            "OUT_DIR".into(),
            Value::String(tap_dir.to_string_lossy().into_owned()),
        );
        let mut node = serde_yaml::Mapping::new();
        node.insert("id".into(), Value::String("tap-recorder".into()));
        let recorder = base.join("../target/release/csi-recorder");
        node.insert(
            "path".into(),
            Value::String(recorder.to_string_lossy().into_owned()),
        );
        node.insert("inputs".into(), Value::Mapping(inputs));
        node.insert("env".into(), Value::Mapping(env));
        doc["nodes"]
            .as_sequence_mut()
            .expect("nodes list")
            .push(Value::Mapping(node));
    }
    let out = dir.join(dataflow);
    std::fs::write(&out, serde_yaml::to_string(&doc).expect("serialize")).expect("write dataflow");
    out
}

/// Output of a finished dataflow run.
pub struct Run {
    pub success: bool,
    pub log: String,
}

/// `dora run <dataflow>` with the project's venv first on `PATH` (dora resolves `uv` and
/// Python nodes through it) and its output written to `log`; callers add arguments and spawn.
pub fn dora_run(dataflow: &Path, log: &Path) -> Command {
    let venv_bin = dora().parent().expect("bin").to_path_buf();
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let file = std::fs::File::create(log).expect("log file");
    let mut command = Command::new(dora());
    command
        .arg("run")
        .arg(dataflow)
        .env("PATH", path)
        // Every send is checked against its port's declared type (tests/dataflow_types.rs).
        .env("DORA_RUNTIME_TYPE_CHECK", "error")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file);
    command
}

/// Runs `dora run` on a dataflow, stopping it after `stop_after` and killing it if it is still
/// running `stop_after + 60 s` later.
pub fn run_dataflow(dataflow: &Path, stop_after: Duration) -> Run {
    let log_path = dataflow.with_extension("log");
    let mut child = dora_run(dataflow, &log_path)
        .arg("--stop-after")
        .arg(format!("{}s", stop_after.as_secs().max(1)))
        .spawn()
        .expect("dora starts");
    let deadline = Instant::now() + stop_after + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    Run {
        success: status.is_some_and(|s| s.success()),
        log,
    }
}

/// Polls `check` every 200 ms until it gives a value or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The parent pid of process `pid`, from `/proc/<pid>/stat`.
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The pids of the processes whose parent is `pid` (the nodes `dora run` or a daemon spawned).
pub fn child_pids(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&p| parent_pid(p) == Some(pid))
                .collect()
        })
        .unwrap_or_default()
}

/// The pid of dataflow node `id`'s running process (binary name `comm`), from /proc: dora
/// hands every node its configuration in `DORA_NODE_CONFIG`. With `parent`, only among that
/// process's children: another dataflow running the same nodes on the machine is left alone.
pub fn node_pid(comm: &str, id: &str, parent: Option<u32>) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if parent.is_some() && parent_pid(pid) != parent {
                return None;
            }
            let dir = entry.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            if name.trim() != comm {
                return None;
            }
            // A process that has died has no environment left to read.
            let env = std::fs::read(dir.join("environ")).ok()?;
            String::from_utf8_lossy(&env)
                .split('\0')
                .any(|kv| kv.starts_with("DORA_NODE_CONFIG=") && kv.contains(id))
                .then_some(pid)
        })
}
