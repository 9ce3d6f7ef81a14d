//! The room-state figures on the simulator's scene sequences (`operators/wdp-sim/scenes/`):
//! presence (F1, flicker, delays to detect entering and leaving) and breathing from the
//! signal-level sensor beside the moving-variance baseline, in the same run; falls from the
//! simulator's true poses through `wdp_room::Room` (recall, delay, false alarms per hour).
//!
//! ```text
//! cargo run --release -p wdp-room --example scenes -- [--dir operators/wdp-sim/scenes] \
//!     [--sense-config YAML] [--room-config YAML] [--only SEQUENCE] [--write-scenes DIR]
//! ```
//!
//! Presence is scored for three detectors in the same run: ours (`wdp_sense::Sensor`'s
//! presence), the baseline (moving variance of the mean amplitude against its fixed threshold,
//! per second, no hold) and the baseline's feature with our calibration, hysteresis and holds.
//! `SCENES_TRACE=1` prints our detector's seconds on stderr.
//!
//! `--write-scenes DIR` also writes every segment as a plain scene file
//! (`DIR/<sequence>-<k>.yaml`) and prints the `wdp simulate` command for each, to run the
//! model's dataset-level evaluation (`wdp eval`: count and floor) on the same segments.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use wdp_room::{EventKind, PoseObservation, Room, RoomConfig};
use wdp_sense::{Feature, SenseConfig, Sensor};
use wdp_sim::{Motion, Scene, SimEvent, Simulator};

type Res<T> = Result<T, Box<dyn Error>>;

const NS: f64 = 1e9;

/// One segment of a sequence: its scene (people, seed, duration set) and start time.
struct Segment {
    scene: Scene,
    start_s: f64,
    duration_s: f64,
}

fn load(path: &Path) -> Res<Vec<Segment>> {
    let text = std::fs::read_to_string(path)?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let base = doc.get("scene").ok_or("no `scene`")?.clone();
    let segments = doc
        .get("segments")
        .and_then(|s| s.as_sequence())
        .ok_or("no `segments`")?;
    let mut out = Vec::new();
    let mut start_s = 0.0;
    for seg in segments {
        let mut m = base.clone();
        let map = m.as_mapping_mut().ok_or("`scene` is not a mapping")?;
        let get = |k: &str| seg.get(k).cloned().ok_or(format!("segment without `{k}`"));
        map.insert("people".into(), get("people")?);
        map.insert("seed".into(), get("seed")?);
        let duration_s = get("duration_s")?.as_f64().ok_or("duration_s")?;
        let mut scene = Scene::from_yaml_str(&serde_yaml::to_string(&m)?)?;
        scene.duration_s = Some(duration_s);
        out.push(Segment {
            scene,
            start_s,
            duration_s,
        });
        start_s += duration_s;
    }
    Ok(out)
}

fn segment_at(segments: &[Segment], t_s: f64) -> Option<&Segment> {
    segments
        .iter()
        .find(|s| t_s >= s.start_s && t_s < s.start_s + s.duration_s)
}

/// The breathing rate of a segment whose people are one standing person (bpm), else None.
fn still_breathing_bpm(scene: &Scene) -> Option<f64> {
    match scene.people.as_slice() {
        [p] => match &p.motion {
            Motion::Stand { breathing_hz, .. } => Some(60.0 * breathing_hz),
            _ => None,
        },
        _ => None,
    }
}

/// Per-second answers of one detector against the truth.
#[derive(Default)]
struct Presence {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
    flicker: u32,
    enter_delays: Vec<Option<u64>>,
    leave_delays: Vec<Option<u64>>,
}

impl Presence {
    fn f1(&self) -> f64 {
        let (tp, fp, fn_) = (f64::from(self.tp), f64::from(self.fp), f64::from(self.fn_));
        2.0 * tp / (2.0 * tp + fp + fn_).max(1.0)
    }
}

/// Scores per-second answers `(t_s, answer)` against `truth(t_s)`, over the seconds given.
fn score_presence(answers: &[(u64, bool)], truth: impl Fn(u64) -> bool) -> Presence {
    let mut p = Presence::default();
    for &(t, a) in answers {
        match (truth(t), a) {
            (true, true) => p.tp += 1,
            (false, true) => p.fp += 1,
            (true, false) => p.fn_ += 1,
            (false, false) => p.tn += 1,
        }
    }
    // Intervals of constant truth: the first change toward the truth is the response, every
    // other change of the answer inside the interval is flicker.
    let mut i = 0;
    while i < answers.len() {
        let v = truth(answers[i].0);
        let mut j = i;
        while j < answers.len() && truth(answers[j].0) == v {
            j += 1;
        }
        let starts_with_change = i > 0;
        let mut changes = 0;
        let mut response = None;
        for k in i..j {
            let prev = if k == 0 { false } else { answers[k - 1].1 };
            if k > 0 && answers[k].1 != prev {
                changes += 1;
            }
            if response.is_none() && answers[k].1 == v {
                response = Some(answers[k].0 - answers[i].0);
            }
        }
        let expected = u32::from(starts_with_change && answers[i - 1].1 != v && response.is_some());
        p.flicker += (changes as u32).saturating_sub(expected);
        if starts_with_change {
            if v {
                p.enter_delays.push(response);
            } else {
                p.leave_delays.push(response);
            }
        }
        i = j;
    }
    p
}

fn delays(d: &[Option<u64>]) -> String {
    d.iter()
        .map(|x| x.map_or("missed".to_owned(), |s| format!("{s} s")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The signal-level pass over one sequence: presence of ours and the baseline, breathing.
fn signal_pass(name: &str, segments: &[Segment], config: &SenseConfig) -> Res<()> {
    let mut sensor = Sensor::new(config.clone())?;
    let mut calibrated = Sensor::new(SenseConfig {
        feature: Feature::MeanAmplitude,
        ..config.clone()
    })?;
    let mut calibrated_states = Vec::new();
    let mut states = Vec::new();
    let mut packets = 0u64;
    for seg in segments {
        let mut scene = seg.scene.clone();
        scene.camera = None;
        let mut sim = Simulator::new(scene)?;
        let shift = (seg.start_s * NS).round() as i64;
        while let Some(mut f) = sim.next_packet() {
            f.timestamp_ns += shift;
            packets += 1;
            states.extend(sensor.push(&f));
            calibrated_states.extend(calibrated.push(&f));
        }
    }
    states.extend(sensor.finish());
    calibrated_states.extend(calibrated.finish());
    let mean_amplitude: Vec<(u64, bool)> = calibrated_states
        .iter()
        .filter(|s| !s.calibrating)
        .map(|s| (s.t_s, s.presence))
        .collect();
    if std::env::var_os("SCENES_TRACE").is_some() {
        for s in &states {
            eprintln!(
                "{} motion={} presence={} score={:?} level={:?} empty_ratio={:?} breathing={:?}",
                s.t_s, s.motion, s.presence, s.score, s.level, s.empty_ratio, s.breathing
            );
        }
    }
    let people = |t: u64| segment_at(segments, t as f64 + 0.5).map_or(0, |s| s.scene.people.len());
    let scored: Vec<_> = states.iter().filter(|s| !s.calibrating).collect();
    let ours: Vec<(u64, bool)> = scored.iter().map(|s| (s.t_s, s.presence)).collect();
    let baseline: Vec<(u64, bool)> = scored.iter().map(|s| (s.t_s, s.baseline.motion)).collect();
    println!(
        "\n## {name}: {} segments, {:.0} s, {packets} packets, {} seconds scored (after the 5 s calibration)",
        segments.len(),
        segments.iter().map(|s| s.duration_s).sum::<f64>(),
        scored.len()
    );
    println!("| detector | presence F1 | TP / FP / FN / TN s | flicker | entering detected after | leaving detected after |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, answers) in [
        ("ours (wdp-sense presence)", &ours),
        ("baseline (moving variance, fixed threshold)", &baseline),
        (
            "mean-amplitude variance, our calibration and holds",
            &mean_amplitude,
        ),
    ] {
        let p = score_presence(answers, |t| people(t) > 0);
        println!(
            "| {label} | {:.3} | {} / {} / {} / {} | {} | {} | {} |",
            p.f1(),
            p.tp,
            p.fp,
            p.fn_,
            p.tn,
            p.flicker,
            delays(&p.enter_delays),
            delays(&p.leave_delays)
        );
    }
    // Breathing: per still-breathing segment, the seconds with a rate and their error.
    let mut per_segment: BTreeMap<usize, (f64, Vec<f64>, u32)> = BTreeMap::new();
    let mut stray = Vec::new();
    for s in &states {
        let t = s.t_s as f64 + 0.5;
        let Some((k, seg)) = segments
            .iter()
            .enumerate()
            .find(|(_, g)| t >= g.start_s && t < g.start_s + g.duration_s)
        else {
            continue;
        };
        match still_breathing_bpm(&seg.scene) {
            Some(truth) => {
                let e = per_segment.entry(k).or_insert((truth, Vec::new(), 0));
                e.2 += 1;
                if let Some(b) = s.breathing_bpm {
                    e.1.push(b - truth);
                }
            }
            None => {
                if let Some(b) = s.breathing_bpm {
                    stray.push((s.t_s, b, seg.scene.people.len()));
                }
            }
        }
    }
    if !per_segment.is_empty() {
        println!("\n| still segment | truth bpm | seconds | seconds with a rate | median abs error bpm | max abs error bpm | within 1 bpm |");
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        let mut all = Vec::new();
        for (k, (truth, errors, seconds)) in &per_segment {
            let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
            abs.sort_by(f64::total_cmp);
            all.extend(abs.iter().copied());
            let within = abs.iter().filter(|e| **e <= 1.0).count();
            println!(
                "| {k} | {truth:.1} | {seconds} | {} | {} | {} | {} |",
                abs.len(),
                abs.get(abs.len() / 2)
                    .map_or("-".into(), |e| format!("{e:.2}")),
                abs.last().map_or("-".into(), |e| format!("{e:.2}")),
                if abs.is_empty() {
                    "-".into()
                } else {
                    format!("{within}/{}", abs.len())
                }
            );
        }
        all.sort_by(f64::total_cmp);
        println!(
            "\nbreathing: {} rated seconds, median abs error {} bpm; rates outside a single still person's segments: {} {:?}",
            all.len(),
            all.get(all.len() / 2).map_or("-".into(), |e| format!("{e:.2}")),
            stray.len(),
            &stray[..stray.len().min(5)]
        );
    }
    Ok(())
}

/// The pose pass: the simulator's true poses through a room's fall detector.
fn fall_pass(
    name: &str,
    segments: &[Segment],
    config: &RoomConfig,
    falls: &mut FallTally,
) -> Res<()> {
    let mut room = Room::new(name, config.clone())?;
    let mut events = Vec::new();
    let mut frames = 0u64;
    for (k, seg) in segments.iter().enumerate() {
        let mut sim = Simulator::new(seg.scene.clone())?;
        let shift = (seg.start_s * NS).round() as i64;
        while let Some(ev) = sim.next_event() {
            let SimEvent::Frame(gt) = ev else { continue };
            frames += 1;
            let people: Vec<PoseObservation> = gt
                .people
                .iter()
                .map(|p| PoseObservation {
                    score: 1.0,
                    floor_m: Some([p.position_m[0], p.position_m[1]]),
                    track_id: Some(k as u64 * 100 + u64::from(p.track_id)),
                    box_xyxy: Some(p.box_xyxy),
                    keypoints: Some(p.keypoints),
                })
                .collect();
            events.extend(
                room.push_pose(gt.t_ns + shift, &people)
                    .into_iter()
                    .filter(|e| e.event == EventKind::Fall),
            );
        }
    }
    // The true falls: (start, end) in seconds of the sequence.
    let truth: Vec<(f64, f64)> = segments
        .iter()
        .flat_map(|s| {
            s.scene.people.iter().filter_map(move |p| match &p.motion {
                Motion::Fall {
                    at_s, duration_s, ..
                } => Some((s.start_s + at_s, s.start_s + at_s + duration_s)),
                _ => None,
            })
        })
        .collect();
    let mut used = vec![false; events.len()];
    for &(start, end) in &truth {
        let hit = events.iter().enumerate().find(|(i, e)| {
            let t = e.t_ns as f64 / NS;
            !used[*i] && t >= start && t <= start + 5.0
        });
        match hit {
            Some((i, e)) => {
                used[i] = true;
                let t = e.t_ns as f64 / NS;
                falls.delays.push((t - start, t - end));
            }
            None => {
                falls.missed += 1;
                println!("missed the fall at {start:.1} s");
            }
        }
    }
    let false_alarms = used.iter().filter(|u| !**u).count();
    let hours = segments.iter().map(|s| s.duration_s).sum::<f64>() / 3600.0;
    falls.false_alarms += false_alarms as u32;
    falls.hours += hours;
    falls.falls += truth.len() as u32;
    println!(
        "{name}: {frames} true-pose frames, {:.2} h, {} falls, {} fall events, {false_alarms} false",
        hours,
        truth.len(),
        events.len()
    );
    Ok(())
}

#[derive(Default)]
struct FallTally {
    falls: u32,
    missed: u32,
    delays: Vec<(f64, f64)>,
    false_alarms: u32,
    hours: f64,
}

fn main() -> Res<()> {
    let mut dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../wdp-sim/scenes"));
    let mut write: Option<PathBuf> = None;
    let mut sense = SenseConfig::default();
    let mut only: Option<String> = None;
    let mut room_config = RoomConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir DIR")?),
            "--sense-config" => {
                let path = args.next().ok_or("--sense-config YAML")?;
                sense = SenseConfig::from_yaml_str(&std::fs::read_to_string(path)?)?;
            }
            "--room-config" => {
                let path = args.next().ok_or("--room-config YAML")?;
                room_config = RoomConfig::from_yaml_str(&std::fs::read_to_string(path)?)?;
            }
            "--only" => only = Some(args.next().ok_or("--only SEQUENCE")?),
            "--write-scenes" => {
                write = Some(PathBuf::from(args.next().ok_or("--write-scenes DIR")?))
            }
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let seq = |n: &str| -> Res<Vec<Segment>> { load(&dir.join(format!("{n}.yaml"))) };
    if let Some(out) = &write {
        std::fs::create_dir_all(out)?;
        for n in [
            "presence",
            "count",
            "breathing",
            "breathing-esp32",
            "falls",
            "daily",
        ] {
            for (k, s) in seq(n)?.iter().enumerate() {
                let file = out.join(format!("{n}-{k}.yaml"));
                let mut scene = s.scene.clone();
                scene.duration_s = None;
                std::fs::write(
                    &file,
                    format!(
                        "# {n}.yaml segment {k}: seed {}, {} s\n{}",
                        scene.seed,
                        s.duration_s,
                        scene.to_yaml_string()
                    ),
                )?;
                println!(
                    "wdp simulate --scene {} --seed {} --duration-s {} --out {}",
                    file.display(),
                    scene.seed,
                    s.duration_s,
                    out.join(format!("{n}-{k}")).display()
                );
            }
        }
        return Ok(());
    }
    println!("# Room state on the simulator's scene sequences");
    let wanted = |n: &str| only.as_deref().is_none_or(|o| o == n);
    for n in ["presence", "count", "breathing", "breathing-esp32"] {
        if wanted(n) {
            signal_pass(n, &seq(n)?, &sense)?;
        }
    }
    if !(wanted("falls") || wanted("daily")) {
        return Ok(());
    }
    println!("\n## Falls (the simulator's true poses, 20 frames/s)");
    let mut falls = FallTally::default();
    for n in ["falls", "daily"] {
        fall_pass(n, &seq(n)?, &room_config, &mut falls)?;
    }
    let mut from_start: Vec<f64> = falls.delays.iter().map(|d| d.0).collect();
    from_start.sort_by(f64::total_cmp);
    let within2 = from_start.iter().filter(|d| **d <= 2.0).count();
    println!(
        "falls found {}/{} (within 2 s of the fall's start: {within2}); delay from the start {:?} s, from the landing {:?} s; false alarms {} in {:.2} h = {:.2} per hour",
        falls.falls - falls.missed,
        falls.falls,
        from_start.iter().map(|d| (d * 100.0).round() / 100.0).collect::<Vec<_>>(),
        falls
            .delays
            .iter()
            .map(|d| (d.1 * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        falls.false_alarms,
        falls.hours,
        f64::from(falls.false_alarms) / falls.hours.max(1e-9)
    );
    Ok(())
}
