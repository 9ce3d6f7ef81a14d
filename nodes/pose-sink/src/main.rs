//! # pose-sink
//!
//! The end of an inference pipeline: everything a person or another system needs from the
//! poses, and the pipeline's latency.
//!
//! ## Inputs
//! - `keypoints`, `boxes`, `parts`, `uv`: the pose contract (densepose, densepose-fused or
//!   temporal); `parts`/`uv` optional.
//! - `frame` (optional): a camera picture, UInt8 `[H, W, 3]` (e.g. the simulator's rendered
//!   camera); overlays are drawn on the latest one, else on a dark canvas.
//!
//! ## Writes into `OUT_DIR`
//! - `poses.jsonl`: one JSON object per frame (time, seq, room, model, untrained, people with
//!   track id, keypoints, box).
//! - `arrow/<output>/*.arrow`: the four pose messages as received (Arrow IPC, `wdp-record`).
//! - `png/frame-<seq>.png`: an overlay every `PNG_EVERY` frames (skeleton, part colours or UV,
//!   boxes, track ids; a red border when the weights are untrained).
//! - `summary.gif`: an animated summary of up to `GIF_FRAMES` overlays.
//! - `latency.json`: per-stage processing and transfer times (p50/p99) from the latency trace
//!   the stages append to each message, end-to-end latency and throughput; also printed at
//!   stop.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OUT_DIR` | output folder | `out/poses` |
//! | `PNG_EVERY` | one PNG per this many frames (0: none) | `10` |
//! | `GIF_FRAMES` | most frames in the animated summary (0: none) | `100` |
//! | `DENSE` | `parts`, `uv` or `none` | `parts` |

mod latency;

use dora_node_api::{DoraNode, Event};
use eyre::{eyre, Context, Result};
use std::io::Write;
use std::path::PathBuf;
use wdp_pose::{DenseStyle, GifWriter, PoseFrame, RenderOptions, RgbImage};
use wdp_record::{Recorder, RecorderOptions};

struct Config {
    out_dir: PathBuf,
    png_every: u64,
    gif_frames: usize,
    dense: DenseStyle,
}

fn config_from_env() -> Result<Config> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let number = |name: &str, default: u64| -> Result<u64> {
        var(name).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .wrap_err_with(|| format!("{name}={v}: expected a whole number"))
        })
    };
    let dense = match var("DENSE").as_deref().map(str::trim) {
        None | Some("parts") => DenseStyle::Parts,
        Some("uv") => DenseStyle::Uv,
        Some("none") => DenseStyle::None,
        Some(other) => return Err(eyre!("DENSE={other}: expected parts, uv or none")),
    };
    Ok(Config {
        out_dir: PathBuf::from(var("OUT_DIR").unwrap_or_else(|| "out/poses".into())),
        png_every: number("PNG_EVERY", 10)?,
        gif_frames: number("GIF_FRAMES", 100)? as usize,
        dense,
    })
}

struct Sink {
    config: Config,
    jsonl: std::io::BufWriter<std::fs::File>,
    recorder: Recorder,
    gif: Option<GifWriter<std::io::BufWriter<std::fs::File>>>,
    gif_size: (usize, usize),
    camera: Option<RgbImage>,
    latency: latency::Latency,
    frames: u64,
    pngs: u64,
}

impl Sink {
    fn create(config: Config) -> Result<Self> {
        let dir = &config.out_dir;
        std::fs::create_dir_all(dir.join("png"))
            .wrap_err_with(|| format!("OUT_DIR={}", dir.display()))?;
        let jsonl = std::io::BufWriter::new(
            std::fs::File::create(dir.join("poses.jsonl"))
                .wrap_err_with(|| format!("creating {}", dir.join("poses.jsonl").display()))?,
        );
        let recorder = Recorder::create(dir.join("arrow"), RecorderOptions::default())?;
        Ok(Self {
            config,
            jsonl,
            recorder,
            gif: None,
            gif_size: (0, 0),
            camera: None,
            latency: latency::Latency::default(),
            frames: 0,
            pngs: 0,
        })
    }

    fn frame(&mut self, frame: PoseFrame, received_ns: i64) -> Result<()> {
        self.latency.record(&frame.meta, received_ns);
        writeln!(self.jsonl, "{}", frame.to_json_line())?;
        let want_png =
            self.config.png_every > 0 && self.frames.is_multiple_of(self.config.png_every);
        let want_gif = self.gif.as_ref().map_or(self.config.gif_frames > 0, |g| {
            g.frames() < self.config.gif_frames
        });
        if want_png || want_gif {
            let options = RenderOptions {
                dense: self.config.dense,
                ..RenderOptions::default()
            };
            let mut img = wdp_pose::render_overlay(&frame, self.camera.clone(), &options);
            if frame.untrained() == Some(true) {
                // Untrained weights: a red border, so no picture passes for a pose.
                let (w, h) = (img.width as f64, img.height as f64);
                for k in 0..3 {
                    let k = k as f64;
                    img.rect([k, k, w - 1.0 - k, h - 1.0 - k], [230, 30, 30]);
                }
            }
            if want_png {
                let path = self
                    .config
                    .out_dir
                    .join("png")
                    .join(format!("frame-{:06}.png", frame.seq()));
                img.write_png(&path)?;
                self.pngs += 1;
            }
            if want_gif {
                if self.gif.is_none() {
                    let path = self.config.out_dir.join("summary.gif");
                    self.gif = Some(GifWriter::create(&path, img.width, img.height)?);
                    self.gif_size = (img.width, img.height);
                }
                // An animation keeps one size: a picture of another size is left out.
                if let Some(g) = self
                    .gif
                    .as_mut()
                    .filter(|_| self.gif_size == (img.width, img.height))
                {
                    g.push(&img, frame.t_ns())?;
                }
            }
        }
        self.frames += 1;
        Ok(())
    }
}

fn main() -> Result<()> {
    let config = config_from_env()?;
    let (node, mut events) = DoraNode::init_from_env()?;
    let mut assembler = wdp_pose::dora::assembler_for(&node, 32);
    let mut sink = Sink::create(config)?;
    let mut dropped = 0u64;
    while let Some(event) = events.recv() {
        let (id, metadata, data) = match event {
            Event::Input { id, metadata, data } => (id, metadata, data),
            _ => continue,
        };
        let received_ns = wdp_tensor::wall_ns();
        let result = (|| -> Result<()> {
            match id.as_str() {
                "frame" => {
                    let r = wdp_tensor::dora::receive::<u8>(&metadata, &data)?;
                    r.meta.expect_dims(&["height", "width", "channel"])?;
                    let rgb = r
                        .data
                        .into_dimensionality::<wdp_tensor::ndarray::Ix3>()
                        .map_err(|e| eyre!("frame: {e}"))?;
                    sink.camera = Some(RgbImage::from_view(rgb));
                }
                pose @ ("keypoints" | "boxes" | "parts" | "uv") => {
                    let meta = wdp_tensor::dora::from_parameters(&metadata.parameters)?;
                    sink.recorder
                        .write(pose, data.as_array().as_ref(), &meta)
                        .wrap_err("recording")?;
                    sink.latency.arrived(meta.seq, received_ns);
                    assembler.push(wdp_pose::dora::receive(pose, &metadata, &data)?)?;
                    while let Some(frame) = assembler.pop() {
                        let at = sink.latency.arrival(frame.seq()).unwrap_or(received_ns);
                        sink.frame(frame, at)?;
                    }
                }
                other => return Err(eyre!("unknown input `{other}`")),
            }
            Ok(())
        })();
        if let Err(e) = result {
            dropped += 1;
            eprintln!("pose-sink: dropping `{id}` message: {e:#}");
            tracing::warn!("dropping `{id}` message: {e:#}");
        }
    }
    for frame in assembler.flush() {
        let at = sink
            .latency
            .arrival(frame.seq())
            .unwrap_or_else(wdp_tensor::wall_ns);
        sink.frame(frame, at)?;
    }
    let Sink {
        config,
        mut jsonl,
        recorder,
        gif,
        latency,
        frames,
        pngs,
        ..
    } = sink;
    jsonl.flush()?;
    recorder
        .finish()
        .wrap_err("completing the Arrow recording")?;
    let gif_frames = match gif {
        Some(g) => {
            let n = g.frames();
            g.finish()?.flush()?;
            n
        }
        None => 0,
    };
    let a = assembler.stats();
    let report = latency.report(frames);
    std::fs::write(
        config.out_dir.join("latency.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    let summary = format!(
        "pose-sink: {frames} frames ({} incomplete, {} invalid, {dropped} messages dropped); {pngs} PNG, {gif_frames} GIF frames in {}",
        a.incomplete_dropped,
        a.invalid_dropped,
        config.out_dir.display()
    );
    eprintln!("{summary}");
    tracing::info!("{summary}");
    for line in latency::lines(&report) {
        eprintln!("pose-sink: {line}");
        tracing::info!("{line}");
    }
    Ok(())
}
