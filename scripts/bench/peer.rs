//! Runs a benchmark's Python peer (`scripts/bench/<name>.py`) and reads the one JSON line it
//! prints. Shared by the crates' criterion benches (`#[path]`-included): the peer runs in the
//! same run as the Rust side, on one BLAS thread, with the interpreter of `WDP_PYTHON`
//! (default `python3`). `None`, with the reason printed, when it cannot run: the Rust figures
//! still stand and the comparison says it was skipped.

use std::path::Path;
use std::process::Command;

/// `python scripts/bench/<script> <args>`; its JSON output, or `None` after printing why not.
pub fn run_peer(script: &str, args: &[String]) -> Option<serde_json::Value> {
    let python = std::env::var("WDP_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/bench")
        .join(script);
    let out = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            println!("{script} comparison skipped: cannot run {python} ({e})");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!(
            "{script} comparison skipped: {}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    match serde_json::from_str(stdout.trim()) {
        Ok(v) => Some(v),
        Err(_) => {
            println!("{script} comparison skipped: unexpected output {stdout}");
            None
        }
    }
}
