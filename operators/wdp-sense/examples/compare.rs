//! Per-second accuracy of the detector and of the baselines on captures labelled quiet or
//! motion, appended on one time axis in the order given (the first should be quiet: the
//! detector calibrates on it).
//!
//! ```text
//! cargo run --release -p wdp-sense --example compare -- [--gain-walk] quiet:Q.csv motion:M.csv [quiet:...]
//! ```
//!
//! `--gain-walk` passes the frames through a receiver without gain lock first (the tests' AGC
//! random walk: 2 dB steps, 10% of packets, within ±8 dB, fixed seed).
//!
//! Prints one line per second, then for each detector the share of seconds after calibration
//! whose motion answer matches the label, over all, quiet and motion seconds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use wdp_sense::{append_capture, read_capture, Feature, SenseConfig, Sensor};

struct Tally {
    right: [u32; 2],
    total: [u32; 2],
}

impl Tally {
    fn add(&mut self, label: bool, answer: bool) {
        let i = usize::from(label);
        self.total[i] += 1;
        self.right[i] += u32::from(label == answer);
    }
    fn line(&self, name: &str) -> String {
        let pct = |r: u32, t: u32| {
            if t == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}% ({r}/{t})", 100.0 * f64::from(r) / f64::from(t))
            }
        };
        format!(
            "{name:<44} all {:<16} quiet {:<16} motion {}",
            pct(self.right[0] + self.right[1], self.total[0] + self.total[1]),
            pct(self.right[0], self.total[0]),
            pct(self.right[1], self.total[1])
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut frames = Vec::new();
    // (start time, label) of each appended capture
    let mut segments = Vec::new();
    let mut gain_walk = false;
    for arg in std::env::args().skip(1) {
        if arg == "--gain-walk" {
            gain_walk = true;
            continue;
        }
        let (label, path) = arg
            .split_once(':')
            .ok_or("arguments are quiet:FILE or motion:FILE")?;
        let motion = match label {
            "quiet" => false,
            "motion" => true,
            _ => return Err(format!("{arg}: label must be quiet or motion").into()),
        };
        let (next, stats) = read_capture(Path::new(path), &Default::default())?;
        eprintln!(
            "{path}: {} frames, {} skipped",
            next.len(),
            stats.skipped_total()
        );
        let start = append_capture(&mut frames, next);
        segments.push((start, motion));
    }
    if gain_walk {
        common::with_gain_walk(&mut frames, 2.0, 0.1, 8.0, 7);
    }
    let origin = frames.first().ok_or("no frames")?.timestamp_ns;
    let label_at = |t_s: u64| {
        let t = origin + t_s as i64 * 1_000_000_000;
        segments
            .iter()
            .rev()
            .find(|(start, _)| *start <= t)
            .map(|s| s.1)
    };
    let mut ours = Sensor::new(SenseConfig::default())?;
    let mut mean_calibrated = Sensor::new(SenseConfig {
        feature: Feature::MeanAmplitude,
        ..SenseConfig::default()
    })?;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for f in &frames {
        a.extend(ours.push(f));
        b.extend(mean_calibrated.push(f));
    }
    a.extend(ours.finish());
    b.extend(mean_calibrated.finish());
    let mut tallies = [(); 3].map(|_| Tally {
        right: [0; 2],
        total: [0; 2],
    });
    println!("t_s label  ours  score/level  mean-var-fixed  mean-var-calibrated");
    for (x, y) in a.iter().zip(&b) {
        let Some(label) = label_at(x.t_s) else {
            continue;
        };
        let ratio = match (x.score, x.level) {
            (Some(s), Some(l)) => format!("{:.1}", s / l),
            _ => "-".to_owned(),
        };
        println!(
            "{:>3} {:<6} {:<5} {:>11} {:<15} {}",
            x.t_s,
            if label { "motion" } else { "quiet" },
            if x.calibrating {
                "cal"
            } else if x.motion {
                "yes"
            } else {
                "no"
            },
            ratio,
            if x.baseline.motion { "yes" } else { "no" },
            if y.calibrating {
                "cal"
            } else if y.motion {
                "yes"
            } else {
                "no"
            },
        );
        if x.calibrating || x.packets == 0 {
            continue;
        }
        tallies[0].add(label, x.motion);
        tallies[1].add(label, x.baseline.motion);
        tallies[2].add(label, y.motion);
    }
    println!(
        "{}",
        tallies[0].line("ours (turbulence, calibrated, hysteresis)")
    );
    println!(
        "{}",
        tallies[1].line("baseline: mean-amplitude variance, fixed")
    );
    println!(
        "{}",
        tallies[2].line("mean-amplitude variance, our calibration")
    );
    Ok(())
}
