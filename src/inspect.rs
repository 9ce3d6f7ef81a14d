//! `wdp inspect`: what a capture file holds, as the readers see it.

use eyre::{bail, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use wdp_csi::{CaptureFormat, CsiFrame, Endian, NexmonChip, ReadOptions};

/// Arguments of `wdp inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The capture file (Intel 5300 .dat, Atheros, Nexmon pcap, ESP32 CSV, PicoScenes .csi).
    capture: PathBuf,
    /// Print one JSON object instead of a text summary.
    #[arg(long)]
    json: bool,
    /// Also print the frames with these indices (0-based, end exclusive), e.g. `0..5`.
    #[arg(long, value_name = "A..B")]
    packets: Option<String>,
    /// Force the format instead of detecting it.
    #[arg(long)]
    format: Option<String>,
    /// Nexmon chip (4339, 43455c0, 4358, 4366c0) when the file does not identify it.
    #[arg(long)]
    nexmon_chip: Option<NexmonChip>,
    /// Nexmon bandwidth in MHz when the payload length is ambiguous.
    #[arg(long)]
    nexmon_bandwidth_mhz: Option<u32>,
    /// Atheros byte order (little or big) when detection fails.
    #[arg(long)]
    endian: Option<String>,
}

/// `--format NAME` as a capture format (`None`: detected from the file's content).
pub fn parse_format(name: Option<&str>) -> Result<Option<CaptureFormat>> {
    name.map(|f| {
        CaptureFormat::from_name(f).ok_or_else(|| eyre::eyre!("--format {f}: unknown format"))
    })
    .transpose()
}

fn parse_range(text: &str) -> Result<std::ops::Range<usize>> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| eyre::eyre!("--packets {text}: expected A..B"))?;
    let a: usize = if a.is_empty() { 0 } else { a.parse()? };
    let b: usize = if b.is_empty() { usize::MAX } else { b.parse()? };
    if b < a {
        bail!("--packets {text}: end before start");
    }
    Ok(a..b)
}

/// Streaming summary statistics of a capture.
#[derive(Default)]
struct Summary {
    shapes: BTreeMap<String, u64>,
    first_ns: Option<i64>,
    last_ns: i64,
    intervals_ns: Vec<i64>,
    rssi: Vec<f32>,
}

impl Summary {
    fn add(&mut self, frame: &CsiFrame) {
        let shape = format!("{}x{}x{}", frame.n_tx, frame.n_rx, frame.n_subcarriers());
        *self.shapes.entry(shape).or_default() += 1;
        if self.first_ns.is_some() {
            self.intervals_ns.push(frame.timestamp_ns - self.last_ns);
        } else {
            self.first_ns = Some(frame.timestamp_ns);
        }
        self.last_ns = frame.timestamp_ns;
        if let Some(r) = frame.rssi_dbm {
            self.rssi.push(r);
        }
    }

    fn timing(&self) -> Value {
        let Some(first) = self.first_ns else {
            return Value::Null;
        };
        let mut sorted: Vec<i64> = self
            .intervals_ns
            .iter()
            .copied()
            .filter(|d| *d >= 0)
            .collect();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        let duration_s = (self.last_ns - first) as f64 / 1e9;
        // A gap is a pause of over three median intervals (lost packets or a stalled radio).
        let gaps = sorted
            .iter()
            .filter(|&&d| median > 0 && d > 3 * median)
            .count();
        let backwards = self.intervals_ns.iter().filter(|&&d| d < 0).count();
        json!({
            "duration_s": duration_s,
            "rate_hz": if median > 0 { 1e9 / median as f64 } else { 0.0 },
            "median_interval_ms": median as f64 / 1e6,
            "max_interval_ms": sorted.last().copied().unwrap_or(0) as f64 / 1e6,
            "gaps": gaps,
            "clock_steps_backwards": backwards,
        })
    }

    fn rssi(&self) -> Value {
        if self.rssi.is_empty() {
            return Value::Null;
        }
        let min = self.rssi.iter().copied().fold(f32::INFINITY, f32::min);
        let max = self.rssi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mean = self.rssi.iter().map(|&r| f64::from(r)).sum::<f64>() / self.rssi.len() as f64;
        json!({ "min_dbm": min, "mean_dbm": mean, "max_dbm": max })
    }
}

fn frame_json(index: usize, frame: &CsiFrame) -> Value {
    let csi: Vec<Value> = (0..frame.n_tx)
        .map(|tx| {
            Value::Array(
                (0..frame.n_rx)
                    .map(|rx| {
                        Value::Array(
                            (0..frame.n_subcarriers())
                                .map(|s| {
                                    let c = frame.get(tx, rx, s).unwrap_or_default();
                                    json!([c.re, c.im])
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut obj = Map::new();
    obj.insert("index".into(), json!(index));
    obj.insert("timestamp".into(), json!(frame.timestamp_ns));
    obj.insert(
        "shape".into(),
        json!([frame.n_tx, frame.n_rx, frame.n_subcarriers()]),
    );
    obj.insert("subcarriers".into(), json!(frame.subcarriers));
    obj.insert("rssi_dbm".into(), json!(frame.rssi_dbm));
    obj.insert("noise_dbm".into(), json!(frame.noise_dbm));
    for (k, v) in &frame.meta {
        obj.insert((*k).to_owned(), json!(v));
    }
    obj.insert("csi".into(), Value::Array(csi));
    Value::Object(obj)
}

pub fn inspect(args: &Args) -> Result<ExitCode> {
    let options = ReadOptions {
        format: parse_format(args.format.as_deref())?,
        endian: match args.endian.as_deref() {
            None => None,
            Some("little") => Some(Endian::Little),
            Some("big") => Some(Endian::Big),
            Some(other) => bail!("--endian {other}: expected little or big"),
        },
        nexmon_chip: args.nexmon_chip,
        nexmon_bandwidth_mhz: args.nexmon_bandwidth_mhz,
    };
    let range = args.packets.as_deref().map(parse_range).transpose()?;
    let mut reader = wdp_csi::open(&args.capture, &options)?;
    let mut summary = Summary::default();
    let mut frames = Vec::new();
    let mut fatal = None;
    let mut index = 0usize;
    while let Some(next) = reader.next_frame() {
        match next {
            Ok(frame) => {
                summary.add(&frame);
                if range.as_ref().is_some_and(|r| r.contains(&index)) {
                    frames.push(frame_json(index, &frame));
                }
                index += 1;
            }
            Err(e) => {
                // Keep what was read before the error, and say what ended the stream.
                fatal = Some(e.to_string());
                break;
            }
        }
    }
    let stats = reader.stats();
    let mut report = json!({
        "file": args.capture.display().to_string(),
        "format": reader.format().name(),
        "packets": stats.good,
        "skipped": { "count": stats.skipped_total(), "reasons": stats.skipped },
        "ignored": stats.ignored,
        "shapes": summary.shapes,
        "timing": summary.timing(),
        "rssi": summary.rssi(),
        "error": fatal,
    });
    if range.is_some() {
        report["frames"] = Value::Array(frames);
    }
    if args.json {
        println!("{report}");
    } else {
        print_text(&report);
    }
    Ok(if report["error"].is_null() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_text(r: &Value) {
    println!("file      {}", r["file"].as_str().unwrap_or_default());
    println!("format    {}", r["format"].as_str().unwrap_or_default());
    println!(
        "packets   {} good, {} skipped, {} ignored (records without CSI)",
        r["packets"], r["skipped"]["count"], r["ignored"]
    );
    if let Some(reasons) = r["skipped"]["reasons"].as_object() {
        for (reason, n) in reasons {
            println!("          skipped {n}: {reason}");
        }
    }
    if let Some(shapes) = r["shapes"].as_object() {
        let list: Vec<String> = shapes.iter().map(|(s, n)| format!("{s} ({n})")).collect();
        println!("shape     tx x rx x subcarriers: {}", list.join(", "));
    }
    let t = &r["timing"];
    if !t.is_null() {
        println!(
            "timing    {:.3} s, {:.1} packets/s (median interval {:.3} ms), {} gaps, longest {:.3} ms",
            t["duration_s"].as_f64().unwrap_or_default(),
            t["rate_hz"].as_f64().unwrap_or_default(),
            t["median_interval_ms"].as_f64().unwrap_or_default(),
            t["gaps"],
            t["max_interval_ms"].as_f64().unwrap_or_default()
        );
    }
    let rssi = &r["rssi"];
    if !rssi.is_null() {
        println!(
            "rssi      {:.1} / {:.1} / {:.1} dBm (min / mean / max)",
            rssi["min_dbm"].as_f64().unwrap_or_default(),
            rssi["mean_dbm"].as_f64().unwrap_or_default(),
            rssi["max_dbm"].as_f64().unwrap_or_default()
        );
    }
    if let Some(frames) = r["frames"].as_array() {
        for f in frames {
            println!("frame     {f}");
        }
    }
    if let Some(e) = r["error"].as_str() {
        println!("error     {e}");
    }
}
