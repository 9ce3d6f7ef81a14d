//! The files the sink writes: poses as JSON lines and Arrow, overlays, the summary GIF, the
//! latency report.

use eyre::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use wdp_node::env::{parse_or, var};
use wdp_pose::{DenseStyle, FloorMap, GifWriter, PoseFrame, RenderOptions, RgbImage};
use wdp_record::{Recorder, RecorderOptions};

use crate::latency::{self, Latency};

/// What the sink writes, and where.
pub struct Config {
    /// Output folder.
    pub out_dir: PathBuf,
    /// One PNG per this many frames (0: none).
    pub png_every: u64,
    /// Most frames in the animated summary.
    pub gif_frames: usize,
    /// Dense overlay.
    pub dense: DenseStyle,
}

/// The configuration from `env:`.
pub fn config_from_env() -> Result<Config> {
    let dense = match wdp_node::env::choice("DENSE", &["parts", "uv", "none"])?.as_str() {
        "uv" => DenseStyle::Uv,
        "none" => DenseStyle::None,
        _ => DenseStyle::Parts,
    };
    Ok(Config {
        out_dir: PathBuf::from(var("OUT_DIR").unwrap_or_else(|| "out/poses".into())),
        png_every: parse_or("PNG_EVERY", 10)?,
        gif_frames: parse_or("GIF_FRAMES", 100)?,
        dense,
    })
}

/// The files being written.
pub struct Sink {
    pub config: Config,
    jsonl: std::io::BufWriter<std::fs::File>,
    pub recorder: Recorder,
    gif: Option<GifWriter<std::io::BufWriter<std::fs::File>>>,
    gif_size: (usize, usize),
    pub camera: Option<RgbImage>,
    /// Where the true people stand (the latest truth), and the floor the inset shows.
    truth_floor: Vec<[f32; 2]>,
    floor_map: FloorMap,
    pub latency: Latency,
    frames: u64,
    pngs: u64,
}

impl Sink {
    /// Creates the output folder and files.
    pub fn create(config: Config) -> Result<Self> {
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
            truth_floor: Vec::new(),
            floor_map: FloorMap::default(),
            latency: Latency::default(),
            frames: 0,
            pngs: 0,
        })
    }

    /// The true people's floor positions until the next truth.
    pub fn set_truth_floor(&mut self, xy: Vec<[f32; 2]>) {
        self.floor_map.see(xy.iter().copied());
        self.truth_floor = xy;
    }

    /// Writes one complete frame that reached the sink at `received_ns`.
    pub fn frame(&mut self, frame: PoseFrame, received_ns: i64) -> Result<()> {
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
            let predicted = frame.people.iter().filter_map(|p| p.floor_m);
            self.floor_map.see(predicted.clone());
            if predicted.count() > 0 || !self.truth_floor.is_empty() {
                self.floor_map.draw(&mut img, &self.truth_floor, &frame);
            }
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

    /// Completes every file and says what was written; `dropped` messages were refused.
    pub fn finish(self, assembler: &wdp_pose::AssemblerStats, dropped: u64) -> Result<Vec<String>> {
        let Sink {
            config,
            mut jsonl,
            recorder,
            gif,
            latency,
            frames,
            pngs,
            ..
        } = self;
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
        let report = latency.report(frames);
        std::fs::write(
            config.out_dir.join("latency.json"),
            serde_json::to_vec_pretty(&report)?,
        )?;
        let mut lines = vec![format!(
            "{frames} frames ({} incomplete, {} invalid, {dropped} messages dropped{}); {pngs} PNG, {gif_frames} GIF frames in {}",
            assembler.incomplete_dropped,
            assembler.invalid_dropped,
            assembler.stale_and_restarts(),
            config.out_dir.display()
        )];
        lines.extend(latency::lines(&report));
        Ok(lines)
    }
}
