//! `wdp sense`: signal-level motion and presence over a capture file, one line per second.

use eyre::{bail, Result, WrapErr};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use wdp_csi::{NexmonChip, ReadOptions};
use wdp_sense::{SecondState, SenseConfig, Sensor};

/// Arguments of `wdp sense`.
#[derive(clap::Args)]
pub struct Args {
    /// The capture file (any format `wdp inspect` reads, detected from its content).
    capture: PathBuf,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Detector configuration (YAML; missing fields keep their documented defaults).
    #[arg(long, value_name = "YAML")]
    config: Option<PathBuf>,
    /// Force the format instead of detecting it.
    #[arg(long)]
    format: Option<String>,
    /// Nexmon chip (4339, 43455c0, 4358, 4366c0) when the file does not identify it.
    #[arg(long)]
    nexmon_chip: Option<NexmonChip>,
}

fn text_line(s: &SecondState) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3e}"));
    let yes = |b: bool| if b { "yes" } else { "no" };
    let baseline = format!(
        "baseline={} (var {} thr {})",
        yes(s.baseline.motion),
        opt(s.baseline.score),
        s.baseline.threshold
    );
    if s.calibrating {
        return format!(
            "t={:>5}s calibrating  packets={:<4} score={} {baseline}",
            s.t_s,
            s.packets,
            opt(s.score)
        );
    }
    format!(
        "t={:>5}s motion={:<3} presence={:<3} confidence={} packets={:<4} score={} enter={} exit={} {baseline}",
        s.t_s,
        yes(s.motion),
        yes(s.presence),
        s.confidence.map_or("-".to_owned(), |c| format!("{c:.2}")),
        s.packets,
        opt(s.score),
        opt(s.enter_threshold),
        opt(s.exit_threshold),
    )
}

pub fn sense(args: &Args) -> Result<ExitCode> {
    let config = match &args.config {
        None => SenseConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading {}", path.display()))?;
            SenseConfig::from_yaml_str(&text).wrap_err_with(|| path.display().to_string())?
        }
    };
    let options = ReadOptions {
        format: crate::inspect::parse_format(args.format.as_deref())?,
        nexmon_chip: args.nexmon_chip,
        ..ReadOptions::default()
    };
    let mut sensor = Sensor::new(config)?;
    let mut reader = wdp_csi::open(&args.capture, &options)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut emit = |s: &SecondState| -> std::io::Result<()> {
        if args.json {
            let line = serde_json::to_string(s).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")
        } else {
            writeln!(out, "{}", text_line(s))
        }
    };
    let mut fatal = None;
    let mut closed = false;
    'read: while let Some(next) = reader.next_frame() {
        match next {
            Ok(frame) => {
                for s in sensor.push(&frame) {
                    if let Err(e) = emit(&s) {
                        // A closed pipe (`| head`) ends the run quietly.
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            closed = true;
                            break 'read;
                        }
                        return Err(e.into());
                    }
                }
            }
            Err(e) => {
                // Keep what was sensed before the error, and say what ended the stream.
                fatal = Some(e.to_string());
                break;
            }
        }
    }
    if !closed {
        if let Some(s) = sensor.finish() {
            emit(&s)?;
        }
        out.flush()?;
    }
    let stats = reader.stats();
    let summary = sensor.summary();
    let reasons: Vec<String> = stats
        .skipped
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    eprintln!(
        "wdp sense: {} packets read, {} corrupt skipped{}, {} unusable (no link with enough \
         non-zero subcarriers), {} seconds: motion {}, presence {}, baseline motion {}; \
         calibrated quiet level {}{}",
        stats.good,
        stats.skipped_total(),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        },
        summary.unusable_packets,
        summary.seconds,
        summary.motion_seconds,
        summary.presence_seconds,
        summary.baseline_motion_seconds,
        summary.calibrated_level.map_or(
            "none (capture shorter than the calibration)".to_owned(),
            |l| { format!("{l:.3e}") }
        ),
        if summary.discontinuities > 0 {
            format!(
                ", {} clock discontinuities (time axis continued)",
                summary.discontinuities
            )
        } else {
            String::new()
        }
    );
    if let Some(e) = fatal {
        bail!("{}: {e}", args.capture.display());
    }
    Ok(ExitCode::SUCCESS)
}
