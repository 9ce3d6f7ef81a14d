//! The three ways frames are produced (file, simulator, live radio), as a `wdp-node` source.

use crate::config::{Config, Mode};
use crate::input::{next_from_file, Live, Next};
use crate::pacer::Pacer;
use eyre::{Context as _, Result};
use std::time::Duration;
use wdp_csi::{CsiFrame, FrameReader, ReadStats};
use wdp_node::{Context, Source, Step};
use wdp_tensor::TensorMeta;

enum Producer {
    File {
        reader: Option<Box<dyn FrameReader>>,
        pacer: Pacer,
        total: ReadStats,
        /// Offset added on each loop so that t_ns keeps increasing.
        loop_offset_ns: i64,
        first: Option<i64>,
        last: i64,
    },
    Sim {
        sim: Box<wdp_sim::Simulator>,
        pacer: Pacer,
        frames: u64,
    },
    Live(Box<Live>),
}

/// The node's source: frames sent on `csi` (and ground truth in `sim` mode) until the input
/// ends, `MAX_FRAMES` is reached, or the dataflow stops.
pub struct CsiSource {
    config: Config,
    producer: Producer,
    sent: u64,
}

impl CsiSource {
    /// Opens the capture, starts the simulator or the radio.
    pub fn new(config: Config) -> Result<Self> {
        let producer = match &config.mode {
            Mode::File { speed, .. } => Producer::File {
                reader: None,
                pacer: Pacer::new(*speed),
                total: ReadStats::default(),
                loop_offset_ns: 0,
                first: None,
                last: 0,
            },
            Mode::Sim { scene, speed } => {
                tracing::info!("simulating room {}", scene.name);
                Producer::Sim {
                    sim: Box::new(wdp_sim::Simulator::new(scene.as_ref().clone())?),
                    pacer: Pacer::new(*speed),
                    frames: 0,
                }
            }
            Mode::Live { input, format } => {
                let live = Live::start(input.clone(), *format, config.read.clone())?;
                tracing::info!("reading live {format} from {input:?}");
                Producer::Live(Box::new(live))
            }
        };
        let mut source = Self {
            config,
            producer,
            sent: 0,
        };
        source.open_file()?;
        Ok(source)
    }

    /// (Re)opens the capture in file mode.
    fn open_file(&mut self) -> Result<()> {
        if let (Mode::File { capture, .. }, Producer::File { reader, .. }) =
            (&self.config.mode, &mut self.producer)
        {
            let r = wdp_csi::open(capture, &self.config.read)?;
            tracing::info!("replaying {} ({})", capture.display(), r.format());
            *reader = Some(r);
        }
        Ok(())
    }

    fn send(&mut self, ctx: &mut Context, frame: &CsiFrame) -> Result<Step> {
        let meta = TensorMeta::default()
            .with_time_ns(frame.timestamp_ns)
            .with_seq(self.sent)
            .with_room(&self.config.room)
            .with_link(&self.config.link);
        let tensor = wdp_csi::frame_to_tensor(frame, meta);
        wdp_tensor::dora::send_tensor(&mut ctx.node, "csi", tensor).wrap_err("sending csi")?;
        self.sent += 1;
        ctx.handled(1);
        Ok(match self.config.max_frames {
            Some(m) if self.sent >= m => Step::Done,
            _ => Step::Continue,
        })
    }
}

impl Source for CsiSource {
    fn step(&mut self, ctx: &mut Context) -> Result<Step> {
        let looping = matches!(self.config.mode, Mode::File { looping: true, .. });
        match &mut self.producer {
            Producer::File {
                reader,
                pacer,
                total,
                loop_offset_ns,
                first,
                last,
            } => {
                let Some(r) = reader.as_mut() else {
                    return Ok(Step::Done);
                };
                match next_from_file(r.as_mut()) {
                    Next::Frame(mut frame) => {
                        first.get_or_insert(frame.timestamp_ns);
                        *last = frame.timestamp_ns;
                        pacer.wait(frame.timestamp_ns);
                        frame.timestamp_ns += *loop_offset_ns;
                        self.send(ctx, &frame)
                    }
                    Next::Idle => Ok(Step::Continue),
                    Next::End => {
                        merge(total, r.stats());
                        *reader = None;
                        let Some(f) = first.take() else {
                            return Ok(Step::Done);
                        };
                        if !looping {
                            return Ok(Step::Done);
                        }
                        *loop_offset_ns += *last - f + 1;
                        pacer.restart();
                        self.open_file()?;
                        Ok(Step::Continue)
                    }
                }
            }
            Producer::Sim { sim, pacer, frames } => match sim.next_event() {
                Some(wdp_sim::SimEvent::Packet(frame)) => {
                    pacer.wait(frame.timestamp_ns);
                    self.send(ctx, &frame)
                }
                Some(wdp_sim::SimEvent::Frame(gt)) => {
                    pacer.wait(gt.t_ns);
                    let meta = TensorMeta::default()
                        .with_time_ns(gt.t_ns)
                        .with_seq(*frames)
                        .with_room(&self.config.room)
                        .with_link(&self.config.link);
                    crate::truth::send(&mut ctx.node, &gt, &meta)?;
                    *frames += 1;
                    Ok(Step::Continue)
                }
                None => Ok(Step::Done),
            },
            Producer::Live(live) => match live.next(Duration::from_millis(50)) {
                Next::Frame(mut frame) => {
                    // Live frames are stamped with the host's clock on arrival.
                    frame.timestamp_ns = unix_now_ns();
                    self.send(ctx, &frame)
                }
                Next::Idle => Ok(Step::Continue),
                Next::End => Ok(Step::Done),
            },
        }
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let stats = match &mut self.producer {
            Producer::File { reader, total, .. } => {
                if let Some(r) = reader.take() {
                    merge(total, r.stats());
                }
                total.clone()
            }
            Producer::Sim { .. } => ReadStats {
                good: self.sent,
                ..ReadStats::default()
            },
            Producer::Live(live) => live.stats().clone(),
        };
        let skipped: Vec<String> = stats
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        ctx.announce(&format!(
            "sent {} frames; read {} good, {} skipped [{}], {} ignored records",
            self.sent,
            stats.good,
            stats.skipped_total(),
            skipped.join(", "),
            stats.ignored
        ));
        Ok(())
    }
}

fn merge(total: &mut ReadStats, stats: &ReadStats) {
    total.good += stats.good;
    total.ignored += stats.ignored;
    for (reason, n) in &stats.skipped {
        *total.skipped.entry(reason.clone()).or_default() += n;
    }
}

fn unix_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
