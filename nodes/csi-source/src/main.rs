//! # csi-source
//!
//! Emits one CSI message per received packet, from a capture file of any supported format
//! (Intel 5300, Atheros, Nexmon, ESP32, PicoScenes; detected from its content) or a live radio.
//!
//! ## Outputs
//! - `csi`: Float32, shape `[tx, rx, subcarrier, 2]` (re, im; raw values as the radio reports
//!   them), dims `tx,rx,subcarrier,complex`; metadata `t_ns` (capture time, ns), `seq`, `room`,
//!   `link`, `subcarriers` (real indices), `format`, `rssi_dbm`, `noise_dbm` and every field the
//!   format carries (e.g. `agc`, `perm`, `rate`).
//!
//! In `sim` mode, per camera frame (dora-hub conventions beside ours; `t_ns` on the packets'
//! clock, `frame_index`, `track_ids` and `image_wh` in the metadata):
//! - `keypoints`: Float32 `[P, 17, 3]` (x, y in pixels, COCO visibility 0/1/2)
//! - `boxes`: Float32 `[P, 5]` (x1, y1, x2, y2, score = 1), `format: xyxy`
//! - `parts`: UInt8 `[P, h, w]` (0 background, 1-24 DensePose parts)
//! - `uv`: Float32 `[P, 2, h, w]`
//! - `frame`: UInt8 `[H, W, 3]` rendered RGB (`encoding: rgb8`, `width`, `height`,
//!   `primitive: image`), when the scene renders RGB
//!
//! ## Inputs
//! None needed. Any input (e.g. a `dora/timer`) is ignored; `Stop` ends the node.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `MODE` | `file`, `live` or `sim` | `file` |
//! | `SCENE` | simulated scene: a preset (`lab`, `office`, `living-room`, `kitchen`, `corridor`, `bedroom`) or a scene file | `lab` |
//! | `SEED`, `DURATION_S`, `RGB` | override the scene's seed, length (s) and RGB rendering | the scene's |
//! | `CAPTURE` | capture file (mode `file`) | required |
//! | `PACING` | `recorded` (the file's own timing; real time for `sim`) or `fast` | `recorded` |
//! | `SPEED` | replay speed factor with recorded pacing | `1.0` |
//! | `LOOP` | start again at the end of the file | `false` |
//! | `INPUT` | `serial:DEVICE[@BAUD]`, `udp:ADDR:PORT` or `stdin` (mode `live`) | required |
//! | `FORMAT` | force a format (`intel5300`, `atheros`, `nexmon`, `esp32`, `picoscenes`) | detected; `esp32` live |
//! | `NEXMON_CHIP`, `NEXMON_BANDWIDTH_MHZ`, `ENDIAN` | reader options | inferred |
//! | `ROOM`, `LINK` | names put on every message | `default` (the scene's name in `sim`), `link0` |
//! | `MAX_FRAMES` | stop after this many frames | unlimited |
//!
//! At the end it logs the counts of good and skipped packets, with the reasons.

mod config;
mod input;
mod truth;

use config::{Config, Mode};
use dora_node_api::{DoraNode, Event, EventStream, TryRecvError};
use eyre::{Context, Result};
use input::{next_from_file, Live, Next};
use std::time::{Duration, Instant};
use wdp_csi::{CsiFrame, ReadStats};
use wdp_tensor::TensorMeta;

fn main() -> Result<()> {
    let config = Config::from_env().wrap_err("csi-source configuration")?;
    let (node, events) = DoraNode::init_from_env()?;
    run(node, events, config)
}

/// Sends frames until the input ends, `MAX_FRAMES` is reached, or the dataflow stops.
fn run(mut node: DoraNode, mut events: EventStream, config: Config) -> Result<()> {
    let mut sent: u64 = 0;
    let stats = match &config.mode {
        Mode::File {
            capture,
            speed,
            looping,
        } => {
            let mut pacer = Pacer::new(*speed);
            let mut total = ReadStats::default();
            // Offset added on each loop so that t_ns keeps increasing.
            let mut loop_offset_ns = 0i64;
            loop {
                let mut reader = wdp_csi::open(capture, &config.read)?;
                tracing::info!("replaying {} ({})", capture.display(), reader.format());
                let mut first: Option<i64> = None;
                let mut last = 0i64;
                let stop = loop {
                    if stop_requested(&mut events) {
                        break true;
                    }
                    match next_from_file(reader.as_mut()) {
                        Next::Frame(mut frame) => {
                            first.get_or_insert(frame.timestamp_ns);
                            last = frame.timestamp_ns;
                            pacer.wait(frame.timestamp_ns);
                            frame.timestamp_ns += loop_offset_ns;
                            send(&mut node, &frame, &config, sent)?;
                            sent += 1;
                            if config.max_frames.is_some_and(|m| sent >= m) {
                                break true;
                            }
                        }
                        Next::Idle => {}
                        Next::End => break false,
                    }
                };
                merge(&mut total, reader.stats());
                if stop || !looping || first.is_none() {
                    break total;
                }
                loop_offset_ns += last - first.unwrap_or(last) + 1;
                pacer.restart();
            }
        }
        Mode::Sim { scene, speed } => {
            let mut sim = wdp_sim::Simulator::new(scene.as_ref().clone())?;
            let mut pacer = Pacer::new(*speed);
            tracing::info!("simulating room {}", scene.name);
            let mut frames = 0u64;
            loop {
                if stop_requested(&mut events) {
                    break;
                }
                match sim.next_event() {
                    Some(wdp_sim::SimEvent::Packet(frame)) => {
                        pacer.wait(frame.timestamp_ns);
                        send(&mut node, &frame, &config, sent)?;
                        sent += 1;
                        if config.max_frames.is_some_and(|m| sent >= m) {
                            break;
                        }
                    }
                    Some(wdp_sim::SimEvent::Frame(gt)) => {
                        pacer.wait(gt.t_ns);
                        let meta = TensorMeta::default()
                            .with_time_ns(gt.t_ns)
                            .with_seq(frames)
                            .with_room(&config.room)
                            .with_link(&config.link);
                        truth::send(&mut node, &gt, &meta)?;
                        frames += 1;
                    }
                    None => break,
                }
            }
            ReadStats {
                good: sent,
                ..ReadStats::default()
            }
        }
        Mode::Live { input, format } => {
            let mut live = Live::start(input.clone(), *format, config.read.clone())?;
            tracing::info!("reading live {format} from {input:?}");
            loop {
                if stop_requested(&mut events) {
                    break;
                }
                match live.next(Duration::from_millis(50)) {
                    Next::Frame(mut frame) => {
                        // Live frames are stamped with the host's clock on arrival.
                        frame.timestamp_ns = unix_now_ns();
                        send(&mut node, &frame, &config, sent)?;
                        sent += 1;
                        if config.max_frames.is_some_and(|m| sent >= m) {
                            break;
                        }
                    }
                    Next::Idle => {}
                    Next::End => break,
                }
            }
            live.stats().clone()
        }
    };
    report(&stats, sent);
    Ok(())
}

fn send(node: &mut DoraNode, frame: &CsiFrame, config: &Config, seq: u64) -> Result<()> {
    let meta = TensorMeta::default()
        .with_time_ns(frame.timestamp_ns)
        .with_seq(seq)
        .with_room(&config.room)
        .with_link(&config.link);
    let tensor = wdp_csi::frame_to_tensor(frame, meta);
    wdp_tensor::dora::send_tensor(node, "csi", tensor).wrap_err("sending csi")
}

/// True once the dataflow asked this node to stop. Other events are not for a source.
fn stop_requested(events: &mut EventStream) -> bool {
    loop {
        match events.try_recv() {
            Ok(Event::Stop(_)) | Err(TryRecvError::Closed) => return true,
            Ok(_) => continue,
            Err(TryRecvError::Empty) => return false,
        }
    }
}

fn merge(total: &mut ReadStats, stats: &ReadStats) {
    total.good += stats.good;
    total.ignored += stats.ignored;
    for (reason, n) in &stats.skipped {
        *total.skipped.entry(reason.clone()).or_default() += n;
    }
}

fn report(stats: &ReadStats, sent: u64) {
    let skipped: Vec<String> = stats
        .skipped
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    let line = format!(
        "csi-source: sent {sent} frames; read {} good, {} skipped [{}], {} ignored records",
        stats.good,
        stats.skipped_total(),
        skipped.join(", "),
        stats.ignored
    );
    tracing::info!("{line}");
    eprintln!("{line}");
}

fn unix_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Replays at the recorded timing: sleeps until a frame's offset from the first frame,
/// divided by the speed, has elapsed. Gaps and clock jumps are capped so that a wrapped or
/// reset radio clock never stalls the replay.
struct Pacer {
    speed: Option<f64>,
    start: Option<(Instant, i64)>,
    last_ns: i64,
}

impl Pacer {
    const MAX_GAP_NS: i64 = 1_000_000_000;

    fn new(speed: Option<f64>) -> Self {
        Self {
            speed,
            start: None,
            last_ns: 0,
        }
    }

    fn restart(&mut self) {
        self.start = None;
    }

    fn wait(&mut self, t_ns: i64) {
        let Some(speed) = self.speed else { return };
        let Some((wall, base)) = self.start else {
            self.start = Some((Instant::now(), t_ns));
            self.last_ns = t_ns;
            return;
        };
        let step = t_ns - self.last_ns;
        if !(0..=Self::MAX_GAP_NS).contains(&step) {
            // Re-anchor on a clock jump instead of waiting for it.
            self.start = Some((Instant::now(), t_ns));
            self.last_ns = t_ns;
            return;
        }
        self.last_ns = t_ns;
        let due = Duration::from_nanos(((t_ns - base) as f64 / speed) as u64);
        if let Some(remaining) = due.checked_sub(wall.elapsed()) {
            std::thread::sleep(remaining);
        }
    }
}
