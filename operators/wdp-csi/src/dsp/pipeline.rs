//! The preprocessing pipeline: an ordered list of configured steps that consumes one packet at
//! a time and yields finished windows (and spectrograms).
//!
//! Data flows as one sample of `tx*rx*subcarrier` values, complex (interleaved `re, im`) until
//! the first step that needs amplitude and phase, polar (an amplitude plane, then a phase plane,
//! i.e. `[2, tx*rx, subcarrier]`) after it. The steps before `resample` run once per packet, the
//! steps after it once per uniform sample. Dimensions come from the packets: a packet whose
//! antenna or subcarrier layout differs from the previous one resets every step's state (and
//! the report says so).
//!
//! ```yaml
//! steps:
//!   - amplitude: {agc: true}
//!   - resample: {rate_hz: 100}
//!   - sanitize: {}
//!   - unwrap: {axis: time}
//!   - hampel: {window: 7, n_sigma: 3}
//!   - lowpass: {cutoff_hz: 20, order: 4}
//! window: {length: 100, hop: 10}
//! normalize: channel
//! output: window
//! ```
//!
//! Each step lives in its own module under `dsp/steps/` (settings checks, construction, the
//! per-sample work); this module is the orchestration: configuration, the per-packet and
//! per-sample passes, windowing, outputs and counts.

mod config;
mod spectrogram;
#[cfg(test)]
mod tests;

pub use super::steps::unwrap::{UnwrapAxis, UnwrapConfig};
pub use super::steps::{AlignConfig, StepConfig};
pub use config::{OutputKind, PipelineConfig, WindowChannels};

use super::background::Background;
use super::resample::{ResampleStats, Resampler};
use super::steps::background::BackgroundStep;
use super::steps::resample::Resample;
use super::steps::{Domain, Flow, Layout, Need, Run, Sample, Step};
use super::window::Windower;
use super::{ConfigError, Packet, PacketError, Shape};
use ndarray::{Array2, Array4};
use serde::Serialize;
use spectrogram::Spectrograms;
use std::any::Any;
use std::collections::VecDeque;
use std::ops::Range;

/// A finished window.
#[derive(Debug, Clone)]
pub struct Window {
    /// `[2, tx*rx, subcarrier, time]`: channel 0 amplitude, channel 1 phase (radians before
    /// normalization), time oldest first.
    pub data: Array4<f32>,
    /// Capture time of the newest packet in the window, ns.
    pub t_ns: i64,
    /// Time of the oldest sample, ns.
    pub t_first_ns: i64,
    /// Window counter (from 0, over the pipeline's life).
    pub seq: u64,
    /// Sample rate of the time axis, when resampled.
    pub rate_hz: Option<f64>,
}

/// A finished spectrogram.
#[derive(Debug, Clone)]
pub struct Spectrogram {
    /// `[tx*rx, subcarrier, freq, frames]`: one-sided power of the amplitude, frames oldest first.
    pub power: Array4<f32>,
    /// `[tx*rx, subcarrier]`: power of the newest frame in the breathing band.
    pub breathing_power: Array2<f32>,
    /// Width of a frequency bin in Hz (0 when the rate is unknown).
    pub bin_hz: f64,
    /// Capture time of the newest packet in it, ns.
    pub t_ns: i64,
    /// Spectrogram counter.
    pub seq: u64,
}

/// One output of the pipeline.
#[derive(Debug, Clone)]
pub enum Output {
    /// A window.
    Window(Window),
    /// A spectrogram.
    Spectrogram(Spectrogram),
}

/// The layout changed between two packets: every step was reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeChange {
    /// The previous layout.
    pub from: Shape,
    /// The new one.
    pub to: Shape,
}

/// What happened to one packet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushReport {
    /// Outputs queued by this packet (read them with [`Pipeline::pop`]).
    pub outputs: usize,
    /// Set when the packet's layout reset the pipeline.
    pub reset: Option<ShapeChange>,
    /// Why the packet was dropped by a step (`duplicate`, `out_of_order`, `outlier`,
    /// `warmup`), if it was.
    pub dropped: Option<&'static str>,
}

/// Counts over the pipeline's life.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineStats {
    /// Packets offered.
    pub packets: u64,
    /// Packets refused as malformed.
    pub malformed: u64,
    /// Packets refused for NaN/infinite values.
    pub non_finite: u64,
    /// Packets refused because every value was zero.
    pub zero_amplitude: u64,
    /// Packets dropped by the isolation forest.
    pub outliers: u64,
    /// Layout changes (each reset the state).
    pub resets: u64,
    /// Samples that reached the windowing.
    pub samples: u64,
    /// Values replaced by Hampel filters.
    pub hampel_replaced: u64,
    /// Windows emitted.
    pub windows: u64,
    /// Spectrograms emitted.
    pub spectrograms: u64,
    /// The resampler's counts (duplicates, out of order, missing, loss).
    pub resample: ResampleStats,
}

/// The preprocessing pipeline. See the [module docs](self).
pub struct Pipeline {
    config: PipelineConfig,
    shape: Option<Shape>,
    /// One running step per configured step, same order.
    stages: Vec<Box<dyn Step>>,
    resample_at: Option<usize>,
    sample: Sample,
    windower: Option<Windower>,
    window_times: VecDeque<i64>,
    spec: Option<Spectrograms>,
    ready: VecDeque<Output>,
    seq_window: u64,
    seq_spectrogram: u64,
    packet_t_ns: i64,
    calibrating_background: bool,
    preset_background: Option<(Shape, Background)>,
    stats: PipelineStats,
    resample_done: ResampleStats,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("config", &self.config)
            .field("shape", &self.shape)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline from a validated configuration. Steps are built at the first packet, when
    /// the dimensions are known.
    pub fn new(config: PipelineConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            resample_at: config
                .steps
                .iter()
                .position(|s| matches!(s, StepConfig::Resample(_))),
            config,
            shape: None,
            stages: Vec::new(),
            sample: Sample::new(),
            windower: None,
            window_times: VecDeque::new(),
            spec: None,
            ready: VecDeque::new(),
            seq_window: 0,
            seq_spectrogram: 0,
            packet_t_ns: 0,
            calibrating_background: false,
            preset_background: None,
            stats: PipelineStats::default(),
            resample_done: ResampleStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The current stream layout, once a packet was seen.
    pub fn shape(&self) -> Option<&Shape> {
        self.shape.as_ref()
    }

    /// The sample rate of the window time axis, when known.
    pub fn rate_hz(&self) -> Option<f64> {
        self.resampler().and_then(Resampler::rate_hz)
    }

    /// Counts so far.
    pub fn stats(&self) -> PipelineStats {
        let mut s = self.stats.clone();
        let mut r = self.resample_done.clone();
        if let Some(rs) = self.resampler() {
            r.absorb(rs.stats());
        }
        s.resample = r;
        s
    }

    /// The next finished output, oldest first.
    pub fn pop(&mut self) -> Option<Output> {
        self.ready.pop_front()
    }

    /// Calibrates the background step from empty-room packets (e.g. a capture of the empty
    /// room): they run through the steps before `background`, which only learns from them.
    /// Returns the samples learnt from; the stream's own state is reset.
    pub fn calibrate_background<'a>(
        &mut self,
        packets: impl IntoIterator<Item = Packet<'a>>,
    ) -> Result<u64, ConfigError> {
        if !self
            .config
            .steps
            .iter()
            .any(|s| matches!(s, StepConfig::Background(_)))
        {
            return Err(ConfigError::new(
                "background",
                "no background step to calibrate",
            ));
        }
        let mut tmp = Pipeline::new(self.config.clone())?;
        tmp.calibrating_background = true;
        for p in packets {
            // Bad packets are simply skipped: they are counted in tmp's stats.
            let _ = tmp.push(&p);
        }
        let shape = tmp.shape.clone();
        let bg = tmp.stages.into_iter().find_map(|s| {
            let s: Box<dyn Any> = s;
            s.downcast::<BackgroundStep>().ok().map(|b| b.model)
        });
        match (shape, bg) {
            (Some(shape), Some(mut bg)) => {
                bg.finish_calibration();
                let n = tmp.stats.samples;
                self.preset_background = Some((shape, bg));
                self.shape = None;
                Ok(n)
            }
            _ => Err(ConfigError::new(
                "background",
                "no usable calibration packet",
            )),
        }
    }

    /// Consumes one packet. A refused packet (malformed, NaN/inf, all zero) is an error; the
    /// pipeline goes on with the next one. Finished outputs are queued for [`Pipeline::pop`].
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<PushReport, PacketError> {
        self.stats.packets += 1;
        let n_sub = packet.subcarriers.len();
        let expected = packet.n_tx * packet.n_rx * n_sub;
        if expected == 0 || packet.csi.len() != expected {
            self.stats.malformed += 1;
            return Err(PacketError::Malformed {
                n_tx: packet.n_tx,
                n_rx: packet.n_rx,
                n_subcarriers: n_sub,
                expected,
                got: packet.csi.len(),
            });
        }
        let values = &mut self.sample.values;
        packet.csi.copy_interleaved(values);
        let non_finite = values.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            self.stats.non_finite += 1;
            return Err(PacketError::NonFinite { count: non_finite });
        }
        if values.iter().all(|v| *v == 0.0) {
            self.stats.zero_amplitude += 1;
            return Err(PacketError::ZeroAmplitude);
        }
        let mut report = PushReport::default();
        if !self.shape.as_ref().is_some_and(|s| s.matches(packet)) {
            let to = Shape {
                n_tx: packet.n_tx,
                n_rx: packet.n_rx,
                subcarriers: packet.subcarriers.to_vec(),
            };
            if let Some(from) = self.shape.take() {
                self.stats.resets += 1;
                tracing::info!(%from, %to, "CSI layout changed: preprocessing state reset");
                report.reset = Some(ShapeChange {
                    from,
                    to: to.clone(),
                });
            }
            self.build(to);
        }
        self.sample.domain = Domain::Complex;
        self.sample.amp_db = false;
        self.sample.agc_db = packet.agc_db;
        self.sample.rssi_dbm = packet.rssi_dbm;
        self.packet_t_ns = packet.t_ns;
        let before = self.ready.len();
        let end = self.resample_at.unwrap_or(self.stages.len());
        if let Flow::Drop(reason) = self.run_stages(0..end, packet.t_ns) {
            report.dropped = Some(reason);
            return Ok(report);
        }
        match self.resample_at {
            Some(r) => report.dropped = self.resample(r, packet.t_ns),
            None => self.finish_sample(packet.t_ns),
        }
        report.outputs = self.ready.len() - before;
        Ok(report)
    }

    /// The resample step's resampler, when there is one and the steps are built.
    fn resampler(&self) -> Option<&Resampler> {
        resampler(&self.stages, self.resample_at?)
    }

    /// Builds every step for a new layout (the old steps' state is dropped; the resampler's
    /// counts are kept).
    fn build(&mut self, shape: Shape) {
        if let Some(rs) = self.resample_at.and_then(|r| resampler(&self.stages, r)) {
            self.resample_done.absorb(rs.stats());
        }
        let n = shape.n_values();
        let mut layout = Layout {
            shape: &shape,
            domain: Domain::Complex,
            rate_hz: None,
            calibrated_background: self
                .preset_background
                .as_ref()
                .filter(|(s, _)| *s == shape)
                .map(|(_, b)| b),
        };
        let mut stages = Vec::with_capacity(self.config.steps.len());
        for step in &self.config.steps {
            let spec = step.spec();
            if spec.need() == Need::Polar {
                layout.domain = Domain::Polar;
            }
            stages.push(spec.build(&mut layout));
        }
        self.stages = stages;
        self.windower = Some(Windower::new(2 * n, &self.config.window));
        self.window_times.clear();
        self.spec = (self.config.output != OutputKind::Window)
            .then(|| Spectrograms::new(n, &self.config.spectrogram));
        self.sample.reset(n);
        self.shape = Some(shape);
    }

    /// Runs the steps `range` on the current sample, stopping at the first that drops it.
    fn run_stages(&mut self, range: Range<usize>, t_ns: i64) -> Flow {
        let mut run = Run {
            rate_hz: self.rate_hz(),
            calibrating: self.calibrating_background,
            stats: &mut self.stats,
        };
        self.sample.t_ns = t_ns;
        for i in range {
            let (Some(step), Some(stage)) = (self.config.steps.get(i), self.stages.get_mut(i))
            else {
                break;
            };
            if step.spec().need() == Need::Polar {
                self.sample.ensure_polar();
            }
            if let Flow::Drop(reason) = stage.process(&mut self.sample, &mut run) {
                return Flow::Drop(reason);
            }
        }
        Flow::Continue
    }

    /// Gives the packet to the resampler at step `r`, then runs the steps after it on every
    /// uniform sample it completes. Returns why the packet itself was dropped, if it was.
    fn resample(&mut self, r: usize, t_ns: i64) -> Option<&'static str> {
        let s = &self.sample;
        let phase = (s.domain == Domain::Polar).then(|| s.n_values()..2 * s.n_values());
        let step: &mut dyn Any = self.stages.get_mut(r)?.as_mut();
        let rs = &mut step.downcast_mut::<Resample>()?.0;
        let before = rs.stats().clone();
        let k = rs.push(t_ns, &self.sample.values, phase);
        let after = rs.stats();
        let dropped = if after.duplicates > before.duplicates {
            Some("duplicate")
        } else if after.out_of_order > before.out_of_order {
            Some("out_of_order")
        } else if k == 0 && after.warmup > before.warmup {
            Some("warmup")
        } else {
            None
        };
        let (domain, amp_db) = (self.sample.domain, self.sample.amp_db);
        for j in 0..k {
            let Some((tg, v)) = resampler(&self.stages, r).and_then(|rs| rs.sample(j)) else {
                break;
            };
            self.sample.values.copy_from_slice(v);
            self.sample.domain = domain;
            self.sample.amp_db = amp_db;
            if let Flow::Continue = self.run_stages(r + 1..self.stages.len(), tg) {
                self.finish_sample(tg);
            }
        }
        dropped
    }

    /// A sample that went through every step: into the window and the spectrogram.
    fn finish_sample(&mut self, t_sample_ns: i64) {
        match self.config.channels {
            WindowChannels::Polar => self.sample.ensure_polar(),
            WindowChannels::Complex => self.sample.complex_planes(),
        }
        self.stats.samples += 1;
        let t_packet_ns = self.packet_t_ns;
        let rate_hz = self.rate_hz();
        let want_window = self.config.output != OutputKind::Spectrogram;
        if let Some(w) = self.windower.as_mut().filter(|_| want_window) {
            self.window_times.push_back(t_sample_ns);
            while self.window_times.len() > w.length() {
                self.window_times.pop_front();
            }
            if w.push(&self.sample.values) {
                let mut data = Vec::new();
                w.write_window_normalized(&mut data, 2, self.config.normalize);
                if let Some(shape) = &self.shape {
                    let dims = (2, shape.n_links(), shape.n_subcarriers(), w.length());
                    if let Ok(data) = Array4::from_shape_vec(dims, data) {
                        self.ready.push_back(Output::Window(Window {
                            data,
                            t_ns: t_packet_ns,
                            t_first_ns: self.window_times.front().copied().unwrap_or(t_sample_ns),
                            seq: self.seq_window,
                            rate_hz,
                        }));
                        self.seq_window += 1;
                        self.stats.windows += 1;
                    }
                }
            }
        }
        if let (Some(shape), Some(sp)) = (self.shape.as_ref(), self.spec.as_mut()) {
            let n = self.sample.n_values();
            if let Some(s) = sp.push(
                &self.sample.values[..n],
                shape,
                rate_hz,
                t_packet_ns,
                self.seq_spectrogram,
            ) {
                self.ready.push_back(Output::Spectrogram(s));
                self.seq_spectrogram += 1;
                self.stats.spectrograms += 1;
            }
        }
    }
}

/// The resampler of step `at` (the resample step is the one step the pipeline drives itself).
fn resampler(stages: &[Box<dyn Step>], at: usize) -> Option<&Resampler> {
    let step: &dyn Any = stages.get(at)?.as_ref();
    step.downcast_ref::<Resample>().map(|r| &r.0)
}
