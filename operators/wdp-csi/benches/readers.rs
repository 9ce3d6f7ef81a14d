//! Reader throughput (packets/s) on the real captures, and csiread (the reference Python parser,
//! C++ inside) timed on the same files in the same run.
//!
//! `cargo bench -p wdp-csi --bench readers` (set `WDP_PYTHON` to a python with csiread; the
//! project's `.venv/bin/python` has it). Prints criterion's figures, then a Markdown table.

use criterion::{black_box, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: [&str; 9] = [
    "dhalperi/log.all_csi.6.7.6",
    "CSIKit/intel/example.dat",
    "csiread/sample_0x1_ap.dat",
    "csiread/ath_csi_1.dat",
    "nexmon_csi/example.pcap",
    "CSIKit/nexmon/example_43455c0.pcap",
    "ESP32-CSI-Tool/example_csi.csv",
    "CSIKit/esp32/example_data.csv",
    "csiread/rx_by_iwl5300.csi",
];

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/captures")
}

/// Reads a whole capture (file open and parse, as csiread's `read()` does) and counts frames.
fn read_all(path: &Path) -> u64 {
    let mut reader = wdp_csi::open(path, &Default::default()).expect("capture opens");
    let mut n = 0;
    while let Some(frame) = reader.next_frame() {
        black_box(frame.expect("frame"));
        n += 1;
    }
    n
}

fn packets_per_s(path: &Path, min_time: Duration) -> f64 {
    let (mut runs, mut packets) = (0u32, 0u64);
    let start = Instant::now();
    while start.elapsed() < min_time || runs < 3 {
        packets = read_all(path);
        runs += 1;
    }
    packets as f64 * f64::from(runs) / start.elapsed().as_secs_f64()
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut group = criterion.benchmark_group("read");
    for file in FILES {
        let path = captures().join(file);
        group.throughput(Throughput::Elements(read_all(&path)));
        group.bench_function(file, |b| b.iter(|| read_all(&path)));
    }
    group.finish();
    criterion.final_summary();

    let python = std::env::var("WDP_PYTHON").unwrap_or_else(|_| "python3".into());
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/csiread_readers.py");
    let peer = Command::new(&python)
        .arg(&script)
        .arg(captures())
        .args(["--min-time", "1"])
        .output();
    let peer: serde_json::Value = match peer {
        Ok(out) if out.status.success() => {
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
        }
        Ok(out) => {
            eprintln!(
                "csiread comparison skipped: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            serde_json::Value::Null
        }
        Err(e) => {
            eprintln!("csiread comparison skipped: cannot run {python}: {e}");
            serde_json::Value::Null
        }
    };
    println!("\n| file | packets | wdp-csi packets/s | csiread packets/s | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for file in FILES {
        let path = captures().join(file);
        let ours = packets_per_s(&path, Duration::from_secs(1));
        let theirs = peer[file]["packets_per_s"].as_f64();
        println!(
            "| {file} | {} | {ours:.0} | {} | {} |",
            read_all(&path),
            theirs.map_or("-".into(), |t| format!("{t:.0}")),
            theirs.map_or("-".into(), |t| format!("{:.1}x", ours / t)),
        );
    }
}
