//! `wdp run`: a dataflow through the pinned dora CLI.
//!
//! The terminal shows the nodes' own lines and the runtime's warnings and errors
//! ([`crate::quiet`]); the dora CLI's whole output goes to `out/<dataflow>.log` beside the
//! dataflow. `--verbose`, `RUST_LOG` or a dora log option (`--log-level`, `--log-filter`,
//! `--log-format`, or their `DORA_LOG_*` variables) show everything, as `dora run` prints it.
//! The run ends with where the nodes wrote their outputs and where the log is.

use crate::project;
use crate::quiet::{strip_ansi, Filter, Stream};
use eyre::{bail, Context, Result};
use std::io::{BufRead, BufReader, LineWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;

/// The `env:` keys that name a node's output file or folder.
const OUTPUT_KEYS: [&str; 3] = ["OUT_DIR", "OUT", "OUT_FILE"];

/// Whether the user asked for the runtime's whole output.
fn wants_everything(verbose: bool, dora_args: &[String]) -> bool {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    verbose
        || set("RUST_LOG")
        || ["DORA_LOG_LEVEL", "DORA_LOG_FILTER", "DORA_LOG_FORMAT"]
            .iter()
            .any(|v| set(v))
        || dora_args.iter().any(|a| {
            ["--log-level", "--log-filter", "--log-format"]
                .iter()
                .any(|o| a == o || a.starts_with(&format!("{o}=")))
        })
}

/// `path` with `dir/..` pairs removed (no file system access): `dataflows/../data/x` is
/// `data/x`.
fn tidy(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// The outputs the dataflow's nodes name in their `env:` (`OUT_DIR`, `OUT`, `OUT_FILE`),
/// relative to the dataflow's folder (the nodes' working folder), as `(node, path)`.
fn outputs(dataflow: &Path, dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(text) = std::fs::read_to_string(dataflow) else {
        return Vec::new();
    };
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for node in doc["nodes"].as_sequence().into_iter().flatten() {
        let id = node["id"].as_str().unwrap_or("?");
        for key in OUTPUT_KEYS {
            if let Some(value) = node["env"][key].as_str().filter(|v| !v.is_empty()) {
                found.push((id.to_owned(), tidy(&dir.join(value))));
            }
        }
    }
    found
}

/// Sends every line of `from` (lossy UTF-8, without its line ending) to `to`.
fn forward(from: impl Read, stream: Stream, to: mpsc::Sender<(Stream, String)>) {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if to.send((stream, line)).is_err() {
                    break;
                }
            }
        }
    }
}

/// Writes `line` to our stdout or stderr; a closed terminal or pipe does not stop the run.
fn show(stream: Stream, line: &str) {
    let _ = match stream {
        Stream::Out => writeln!(std::io::stdout().lock(), "{line}"),
        Stream::Err => writeln!(std::io::stderr().lock(), "{line}"),
    };
}

pub fn run(dataflow: &Path, dora_args: &[String], verbose: bool) -> Result<ExitCode> {
    if !dataflow.is_file() {
        bail!("{}: no such dataflow file", dataflow.display());
    }
    let root = project::root(dataflow.parent()).ok_or_else(|| {
        eyre::eyre!("cannot find the wifi-densepose project (set WDP_HOME to its folder)")
    })?;
    let venv = project::venv(&root);
    let dora = venv.join("bin/dora");
    if !dora.is_file() {
        bail!(
            "{} is missing: run scripts/setup.sh first (it installs dora-rs-cli=={})",
            dora.display(),
            project::DORA_VERSION
        );
    }
    // `--verbose` after the dataflow is ours too (`dora run` has no such option).
    let mut verbose = verbose;
    let dora_args: Vec<String> = dora_args
        .iter()
        .filter(|a| {
            let ours = *a == "--verbose";
            verbose |= ours;
            !ours
        })
        .cloned()
        .collect();
    let everything = wants_everything(verbose, &dora_args);

    let dir = match dataflow.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = dataflow
        .file_stem()
        .map_or("dataflow".into(), |s| s.to_string_lossy());
    let log_path = tidy(&dir.join("out").join(format!("{stem}.log")));
    let mut log = match std::fs::create_dir_all(dir.join("out"))
        .and_then(|()| std::fs::File::create(&log_path))
    {
        Ok(f) => Some(LineWriter::new(f)),
        Err(e) => {
            eprintln!(
                "wdp: cannot write the log {} ({e}); the runtime's DEBUG/INFO lines are not kept",
                log_path.display()
            );
            None
        }
    };

    // Ctrl-C reaches dora too (same process group): it stops the dataflow gracefully and
    // prints the nodes' last lines, which we keep showing until it exits.
    let _ = ctrlc::set_handler(|| {});
    let mut child = Command::new(&dora)
        .arg("run")
        .arg(dataflow)
        .args(&dora_args)
        .envs(project::node_environment(&venv))
        .env("WDP_HOME", &root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .wrap_err_with(|| format!("starting {}", dora.display()))?;
    if !everything {
        show(
            Stream::Out,
            &format!(
                "wdp: running {}; the runtime's full log: {} (--verbose shows it here)",
                dataflow.display(),
                log_path.display()
            ),
        );
    }
    let (tx, rx) = mpsc::channel();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || forward(out, Stream::Out, tx)));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || forward(err, Stream::Err, tx)));
    }
    drop(tx);
    let mut filter = Filter::default();
    for (stream, line) in rx {
        if let Some(f) = log.as_mut() {
            if writeln!(f, "{}", strip_ansi(&line)).is_err() {
                log = None;
            }
        }
        if everything {
            show(stream, &line);
        } else {
            for shown in filter.line(stream, &line) {
                show(stream, &shown);
            }
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child
        .wait()
        .wrap_err_with(|| format!("waiting for {}", dora.display()))?;
    for shown in filter.finish() {
        show(Stream::Out, &shown);
    }
    if let Some(mut f) = log.take() {
        let _ = f.flush();
    }
    let log_note = if log_path.is_file() {
        format!("log: {}", log_path.display())
    } else {
        "log: none".to_owned()
    };
    if status.success() {
        for (node, path) in outputs(dataflow, &dir) {
            if path.exists() {
                show(
                    Stream::Out,
                    &format!("outputs: {} ({node})", path.display()),
                );
            }
        }
        show(Stream::Out, &log_note);
    } else {
        let how = status
            .code()
            .map_or("was killed".to_owned(), |c| format!("exited with code {c}"));
        show(
            Stream::Err,
            &format!("wdp: the dataflow failed (dora run {how}); {log_note}"),
        );
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_tidied_without_the_file_system() {
        assert_eq!(
            tidy(Path::new("dataflows/../data/x")),
            PathBuf::from("data/x")
        );
        assert_eq!(tidy(Path::new("./out/a")), PathBuf::from("out/a"));
        assert_eq!(tidy(Path::new("../a/./b")), PathBuf::from("../a/b"));
        assert_eq!(tidy(Path::new("/a/b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn outputs_are_read_from_the_nodes_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let flow = dir.path().join("f.yml");
        std::fs::write(
            &flow,
            "nodes:\n  - id: a\n    env: { OUT_DIR: out/a, MODE: sim }\n  - id: b\n    env:\n      OUT: ../m.safetensors\n  - id: c\n",
        )
        .expect("write");
        let found = outputs(&flow, Path::new("flows"));
        assert_eq!(
            found,
            [
                ("a".to_owned(), PathBuf::from("flows/out/a")),
                ("b".to_owned(), PathBuf::from("m.safetensors")),
            ]
        );
    }
}
