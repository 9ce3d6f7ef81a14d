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

use super::amplitude::{self, AmplitudeConfig, AmplitudeScale};
use super::background::{Background, BackgroundConfig};
use super::filter::{
    butterworth_lowpass, DesignError, LowpassConfig, MovingAverage, MovingAverageConfig, Sos,
    SosFilter,
};
use super::hampel::{Hampel, HampelConfig};
use super::iforest::{packet_features, IforestConfig, IforestFilter, Verdict};
use super::normalize::{RunningNorm, RunningNormConfig, WindowNormalize};
use super::phase::{
    atan2_fast, conjugate_multiply, ConjugateConfig, SanitizeConfig, Sanitizer, TimeUnwrap,
};
use super::resample::{ResampleConfig, ResampleStats, Resampler};
use super::stft::{band_power, Stft, StftConfig};
use super::window::{WindowConfig, Windower};
use super::{Channels, ConfigError, Packet, PacketError, Shape};
use ndarray::{Array2, Array4};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::ops::Range;

/// Axis of the `unwrap` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnwrapAxis {
    /// Along subcarriers within a packet, over their real indices (see
    /// [`Sanitizer::unwrap`](super::phase::Sanitizer::unwrap)).
    #[default]
    Subcarrier,
    /// Along time, per antenna pair and subcarrier.
    Time,
}

/// Settings of the `unwrap` step.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnwrapConfig {
    /// Which axis.
    pub axis: UnwrapAxis,
}

/// One step of the pipeline, with its parameters. In YAML or JSON each is a one-key map:
/// `{hampel: {window: 7}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum StepConfig {
    /// Uniform resampling from packet timestamps (at most once).
    Resample(ResampleConfig),
    /// AGC/RSSI compensation and linear/dB scale.
    Amplitude(AmplitudeConfig),
    /// Phase unwrapping along subcarriers or time.
    Unwrap(UnwrapConfig),
    /// Linear phase sanitization over the real subcarrier indices.
    Sanitize(SanitizeConfig),
    /// Conjugate multiplication between receive antennas (complex data: before any polar step).
    Conjugate(ConjugateConfig),
    /// Hampel outlier filter over time.
    Hampel(HampelConfig),
    /// Isolation-forest packet filter.
    Iforest(IforestConfig),
    /// Causal moving average.
    MovingAverage(MovingAverageConfig),
    /// Causal Butterworth low-pass.
    Lowpass(LowpassConfig),
    /// Background model subtraction.
    Background(BackgroundConfig),
    /// Running z-score per stream.
    RunningNorm(RunningNormConfig),
}

/// The one-key map form of [`StepConfig`] (serde_yaml 0.9 reads enums only from YAML tags;
/// a map with optional fields reads the same from YAML and JSON).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StepMap {
    #[serde(skip_serializing_if = "Option::is_none")]
    resample: Option<ResampleConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amplitude: Option<AmplitudeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unwrap: Option<UnwrapConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sanitize: Option<SanitizeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conjugate: Option<ConjugateConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hampel: Option<HampelConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iforest: Option<IforestConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moving_average: Option<MovingAverageConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lowpass: Option<LowpassConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    background: Option<BackgroundConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    running_norm: Option<RunningNormConfig>,
}

impl TryFrom<StepMap> for StepConfig {
    type Error = String;
    fn try_from(m: StepMap) -> Result<Self, String> {
        let steps: Vec<StepConfig> = [
            m.resample.map(StepConfig::Resample),
            m.amplitude.map(StepConfig::Amplitude),
            m.unwrap.map(StepConfig::Unwrap),
            m.sanitize.map(StepConfig::Sanitize),
            m.conjugate.map(StepConfig::Conjugate),
            m.hampel.map(StepConfig::Hampel),
            m.iforest.map(StepConfig::Iforest),
            m.moving_average.map(StepConfig::MovingAverage),
            m.lowpass.map(StepConfig::Lowpass),
            m.background.map(StepConfig::Background),
            m.running_norm.map(StepConfig::RunningNorm),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[StepConfig; 1]>::try_from(steps) {
            Ok([step]) => Ok(step),
            Err(v) => Err(format!(
                "each step is a map with exactly one key (the step name), found {}",
                v.len()
            )),
        }
    }
}

impl From<StepConfig> for StepMap {
    fn from(s: StepConfig) -> Self {
        let mut m = StepMap::default();
        match s {
            StepConfig::Resample(c) => m.resample = Some(c),
            StepConfig::Amplitude(c) => m.amplitude = Some(c),
            StepConfig::Unwrap(c) => m.unwrap = Some(c),
            StepConfig::Sanitize(c) => m.sanitize = Some(c),
            StepConfig::Conjugate(c) => m.conjugate = Some(c),
            StepConfig::Hampel(c) => m.hampel = Some(c),
            StepConfig::Iforest(c) => m.iforest = Some(c),
            StepConfig::MovingAverage(c) => m.moving_average = Some(c),
            StepConfig::Lowpass(c) => m.lowpass = Some(c),
            StepConfig::Background(c) => m.background = Some(c),
            StepConfig::RunningNorm(c) => m.running_norm = Some(c),
        }
        m
    }
}

impl<'de> Deserialize<'de> for StepConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StepMap::deserialize(d)
            .and_then(|m| StepConfig::try_from(m).map_err(serde::de::Error::custom))
    }
}

impl Serialize for StepConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StepMap::from(self.clone()).serialize(s)
    }
}

/// What the pipeline emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Windows `[2, tx*rx, subcarrier, time]`.
    #[default]
    Window,
    /// Spectrograms `[tx*rx, subcarrier, freq, frames]` of the amplitude.
    Spectrogram,
    /// Both.
    Both,
}

/// What the two channels of a window hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowChannels {
    /// Amplitude and phase (radians).
    #[default]
    Polar,
    /// Real and imaginary parts. A phase that is only meaningful relative to another antenna
    /// (after `conjugate`) keeps no wrapping discontinuity this way, and a resampler or filter
    /// acting on it never averages angles.
    Complex,
}

/// The whole preprocessing configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Steps, in order.
    pub steps: Vec<StepConfig>,
    /// Window length and hop, in samples.
    pub window: WindowConfig,
    /// Z-scoring of each window.
    pub normalize: WindowNormalize,
    /// What the window's two channels hold.
    pub channels: WindowChannels,
    /// What to emit.
    pub output: OutputKind,
    /// Spectrogram settings (when emitted).
    pub spectrogram: StftConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            steps: vec![
                StepConfig::Amplitude(AmplitudeConfig::default()),
                StepConfig::Resample(ResampleConfig::default()),
                StepConfig::Sanitize(SanitizeConfig::default()),
                StepConfig::Unwrap(UnwrapConfig {
                    axis: UnwrapAxis::Time,
                }),
                StepConfig::Hampel(HampelConfig::default()),
                StepConfig::Lowpass(LowpassConfig::default()),
            ],
            window: WindowConfig::default(),
            normalize: WindowNormalize::Channel,
            channels: WindowChannels::Polar,
            output: OutputKind::Window,
            spectrogram: StftConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// Checks the configuration without data.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let resamples = self
            .steps
            .iter()
            .filter(|s| matches!(s, StepConfig::Resample(_)))
            .count();
        if resamples > 1 {
            return Err(ConfigError::new("steps", "at most one resample step"));
        }
        let mut polar_seen = false;
        let mut rate_known = false;
        // The output rate when the configuration fixes it: a low-pass filter is then designed
        // here, so a design that cannot work fails the configuration, not the stream.
        let mut fixed_rate_hz = None;
        for step in &self.steps {
            match need(step) {
                Need::Polar => polar_seen = true,
                Need::Complex if polar_seen => {
                    return Err(ConfigError::new(
                        "steps",
                        "conjugate works on complex CSI: put it before amplitude (dB), unwrap, \
                         sanitize and background steps",
                    ))
                }
                _ => {}
            }
            match step {
                StepConfig::Resample(r) => {
                    if r.rate_hz.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                        return Err(ConfigError::new("resample.rate_hz", "must be positive"));
                    }
                    rate_known = true;
                    fixed_rate_hz = r.rate_hz;
                }
                StepConfig::Lowpass(l) => {
                    if !rate_known {
                        return Err(ConfigError::new(
                            "lowpass",
                            "needs a sample rate: put a resample step before it",
                        ));
                    }
                    if l.order == 0 || l.cutoff_hz.is_nan() || l.cutoff_hz <= 0.0 {
                        return Err(ConfigError::new(
                            "lowpass",
                            format!("order {} cutoff {} Hz", l.order, l.cutoff_hz),
                        ));
                    }
                    // A configured rate: a cutoff the rate cannot carry is the configuration's
                    // mistake (an estimated rate only lowers it, said, at run time).
                    if let Some(rate_hz) = fixed_rate_hz {
                        if l.cutoff_hz >= rate_hz / 2.0 * NYQUIST_MARGIN {
                            return Err(ConfigError::new(
                                "lowpass.cutoff_hz",
                                format!(
                                    "{} Hz is at or above {}% of Nyquist of the {} Hz resample rate",
                                    l.cutoff_hz,
                                    NYQUIST_MARGIN * 100.0,
                                    rate_hz
                                ),
                            ));
                        }
                        lowpass_design(l, rate_hz)
                            .map_err(|e| ConfigError::new("lowpass", e.to_string()))?;
                    }
                }
                StepConfig::Hampel(h) if h.n_sigma.is_nan() || h.n_sigma < 0.0 => {
                    return Err(ConfigError::new("hampel.n_sigma", "must be >= 0"));
                }
                _ => {}
            }
        }
        if self.window.length == 0 || self.window.hop == 0 {
            return Err(ConfigError::new(
                "window",
                "length and hop must be at least 1",
            ));
        }
        if self.channels == WindowChannels::Complex && self.output != OutputKind::Window {
            return Err(ConfigError::new(
                "channels",
                "complex windows go with `output: window` (spectrograms are of the amplitude)",
            ));
        }
        if self.output != OutputKind::Window {
            let s = &self.spectrogram;
            if s.segment < 2 || s.hop == 0 || s.frames == 0 {
                return Err(ConfigError::new(
                    "spectrogram",
                    "segment >= 2, hop >= 1 and frames >= 1",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Any,
    Complex,
    Polar,
}

fn need(step: &StepConfig) -> Need {
    match step {
        StepConfig::Amplitude(a) if a.scale == AmplitudeScale::Db => Need::Polar,
        StepConfig::Unwrap(_) | StepConfig::Sanitize(_) | StepConfig::Background(_) => Need::Polar,
        StepConfig::Conjugate(_) => Need::Complex,
        _ => Need::Any,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    Complex,
    Polar,
}

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

struct Lowpass {
    config: LowpassConfig,
    filter: Option<SosFilter>,
    rate_hz: Option<f64>,
    range: Range<usize>,
    /// The design failed and was said (once).
    design_failed: bool,
}

/// A low-pass cutoff must stay below this fraction of Nyquist: nearer, the filter does nothing
/// useful and its sections are badly conditioned.
const NYQUIST_MARGIN: f64 = 0.95;

/// The second-order sections of `config` at `rate_hz`. A cutoff at or above
/// [`NYQUIST_MARGIN`] of Nyquist (only possible with an estimated rate: validation refuses it
/// for a configured one) is lowered to 90% of Nyquist, said.
fn lowpass_design(config: &LowpassConfig, rate_hz: f64) -> Result<Vec<Sos>, DesignError> {
    let nyquist_hz = rate_hz / 2.0;
    let mut cutoff_hz = config.cutoff_hz;
    if cutoff_hz >= nyquist_hz * NYQUIST_MARGIN {
        let clamped = nyquist_hz * 0.9;
        tracing::warn!(
            cutoff_hz,
            rate_hz,
            clamped,
            "lowpass cutoff at or above Nyquist: lowered"
        );
        cutoff_hz = clamped;
    }
    butterworth_lowpass(config.order, cutoff_hz, rate_hz)
}

enum Stage {
    Resample(Resampler),
    Amplitude(AmplitudeConfig),
    UnwrapSubcarrier(Sanitizer),
    UnwrapTime(TimeUnwrap),
    Sanitize(Sanitizer),
    Conjugate(ConjugateConfig),
    Hampel(Hampel, Range<usize>),
    Iforest(IforestFilter),
    MovingAverage(MovingAverage, Range<usize>),
    Lowpass(Lowpass),
    Background(Background, Range<usize>),
    RunningNorm(RunningNorm),
}

struct SpecState {
    stft: Stft,
    ring: Windower,
    segment_buf: Vec<f32>,
    column: Vec<f32>,
    /// `[frames][stream][freq]`, circular over frames.
    frames: Vec<f32>,
    breathing: Vec<f32>,
    frame_pos: usize,
    frames_filled: usize,
}

enum Flow {
    Continue,
    Drop(&'static str),
}

/// The preprocessing pipeline. See the [module docs](self).
pub struct Pipeline {
    config: PipelineConfig,
    shape: Option<Shape>,
    stages: Vec<Stage>,
    resample_at: Option<usize>,
    cur: Vec<f32>,
    domain: Domain,
    amp_db: bool,
    scratch: Vec<f32>,
    valid: Vec<bool>,
    features: Vec<f32>,
    windower: Option<Windower>,
    window_times: VecDeque<i64>,
    spec: Option<SpecState>,
    ready: VecDeque<Output>,
    seq_window: u64,
    seq_spectrogram: u64,
    agc_db: Option<f32>,
    rssi_dbm: Option<f32>,
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
            cur: Vec::new(),
            domain: Domain::Complex,
            amp_db: false,
            scratch: Vec::new(),
            valid: Vec::new(),
            features: Vec::new(),
            windower: None,
            window_times: VecDeque::new(),
            spec: None,
            ready: VecDeque::new(),
            seq_window: 0,
            seq_spectrogram: 0,
            agc_db: None,
            rssi_dbm: None,
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
        self.resample_at.and_then(|i| match self.stages.get(i) {
            Some(Stage::Resample(r)) => r.rate_hz(),
            _ => None,
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> PipelineStats {
        let mut s = self.stats.clone();
        let mut r = self.resample_done.clone();
        if let Some(Stage::Resample(rs)) = self.resample_at.and_then(|i| self.stages.get(i)) {
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
        let bg = tmp.stages.into_iter().find_map(|s| match s {
            Stage::Background(b, _) => Some(b),
            _ => None,
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
        packet.csi.copy_interleaved(&mut self.cur);
        let non_finite = self.cur.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            self.stats.non_finite += 1;
            return Err(PacketError::NonFinite { count: non_finite });
        }
        if self.cur.iter().all(|v| *v == 0.0) {
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
        self.domain = Domain::Complex;
        self.amp_db = false;
        self.agc_db = packet.agc_db;
        self.rssi_dbm = packet.rssi_dbm;
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

    fn build(&mut self, shape: Shape) {
        if let Some(Stage::Resample(rs)) = self.resample_at.and_then(|i| self.stages.get(i)) {
            self.resample_done.absorb(rs.stats());
        }
        let n = shape.n_values();
        let n_sub = shape.n_subcarriers();
        let mut domain = Domain::Complex;
        let mut rate_hz = None;
        let range_of = |domain: Domain, ch: Channels| match (domain, ch) {
            (Domain::Complex, _) | (Domain::Polar, Channels::Both) => 0..2 * n,
            (Domain::Polar, Channels::Amplitude) => 0..n,
            (Domain::Polar, Channels::Phase) => n..2 * n,
        };
        let mut stages = Vec::with_capacity(self.config.steps.len());
        for step in &self.config.steps {
            if need(step) == Need::Polar {
                domain = Domain::Polar;
            }
            stages.push(match step {
                StepConfig::Resample(c) => {
                    rate_hz = c.rate_hz;
                    Stage::Resample(Resampler::new(2 * n, c.clone()))
                }
                StepConfig::Amplitude(c) => Stage::Amplitude(c.clone()),
                StepConfig::Unwrap(c) => match c.axis {
                    UnwrapAxis::Subcarrier => Stage::UnwrapSubcarrier(Sanitizer::new(
                        &shape.subcarriers,
                        SanitizeConfig::default(),
                    )),
                    UnwrapAxis::Time => Stage::UnwrapTime(TimeUnwrap::new(n)),
                },
                StepConfig::Sanitize(c) => {
                    Stage::Sanitize(Sanitizer::new(&shape.subcarriers, c.clone()))
                }
                StepConfig::Conjugate(c) => Stage::Conjugate(c.clone()),
                StepConfig::Hampel(c) => {
                    let r = range_of(domain, c.channels);
                    Stage::Hampel(Hampel::new(r.len(), c), r)
                }
                StepConfig::Iforest(c) => Stage::Iforest(IforestFilter::new(n_sub, c.clone())),
                StepConfig::MovingAverage(c) => {
                    let r = range_of(domain, c.channels);
                    Stage::MovingAverage(MovingAverage::new(r.len(), c.window), r)
                }
                StepConfig::Lowpass(c) => Stage::Lowpass(Lowpass {
                    config: c.clone(),
                    filter: None,
                    rate_hz,
                    range: range_of(domain, c.channels),
                    design_failed: false,
                }),
                StepConfig::Background(c) => {
                    let r = range_of(domain, c.channels);
                    let preset = self
                        .preset_background
                        .as_ref()
                        .filter(|(s, b)| *s == shape && b.background().len() == r.len())
                        .map(|(_, b)| b.clone());
                    Stage::Background(
                        preset.unwrap_or_else(|| Background::new(r.len(), c.clone())),
                        r,
                    )
                }
                StepConfig::RunningNorm(c) => Stage::RunningNorm(RunningNorm::new(2 * n, c)),
            });
        }
        self.stages = stages;
        self.windower = Some(Windower::new(2 * n, &self.config.window));
        self.window_times.clear();
        self.spec = (self.config.output != OutputKind::Window).then(|| {
            let c = &self.config.spectrogram;
            let stft = Stft::new(c.segment, c.hop, c.window);
            let n_freq = stft.n_freq();
            SpecState {
                ring: Windower::new(
                    n,
                    &WindowConfig {
                        length: stft.segment(),
                        hop: c.hop,
                    },
                ),
                segment_buf: vec![0.0; n * stft.segment()],
                column: vec![0.0; n_freq],
                frames: vec![0.0; c.frames.max(1) * n * n_freq],
                breathing: vec![0.0; n],
                frame_pos: 0,
                frames_filled: 0,
                stft,
            }
        });
        self.scratch = Vec::with_capacity(2 * n);
        self.valid = vec![true; n];
        self.features = Vec::with_capacity(n_sub);
        self.shape = Some(shape);
    }

    fn n_values(&self) -> usize {
        self.cur.len() / 2
    }

    fn ensure_polar(&mut self) {
        if self.domain == Domain::Polar {
            return;
        }
        let n = self.n_values();
        self.scratch.clear();
        self.scratch.resize(2 * n, 0.0);
        let (amp, phase) = self.scratch.split_at_mut(n);
        for (((c, a), p), v) in self
            .cur
            .chunks_exact(2)
            .zip(amp.iter_mut())
            .zip(phase.iter_mut())
            .zip(self.valid.iter_mut())
        {
            // CSI magnitudes are far from f32 overflow: no need for hypot's scaling.
            *a = (c[0] * c[0] + c[1] * c[1]).sqrt();
            *p = atan2_fast(c[1], c[0]);
            *v = *a > 0.0;
        }
        std::mem::swap(&mut self.cur, &mut self.scratch);
        self.domain = Domain::Polar;
    }

    /// The sample as a real plane then an imaginary plane (the window's channel layout), from
    /// either domain. Only the last thing done to a sample: the steps see their own layout.
    fn complex_planes(&mut self) {
        let n = self.n_values();
        self.scratch.clear();
        self.scratch.resize(2 * n, 0.0);
        let (re, im) = self.scratch.split_at_mut(n);
        match self.domain {
            Domain::Complex => {
                for ((c, r), i) in self
                    .cur
                    .chunks_exact(2)
                    .zip(re.iter_mut())
                    .zip(im.iter_mut())
                {
                    *r = c[0];
                    *i = c[1];
                }
            }
            Domain::Polar => {
                let (amp, phase) = self.cur.split_at(n);
                for (((a, p), r), i) in amp.iter().zip(phase).zip(re.iter_mut()).zip(im.iter_mut())
                {
                    let (sin, cos) = p.sin_cos();
                    *r = a * cos;
                    *i = a * sin;
                }
            }
        }
        std::mem::swap(&mut self.cur, &mut self.scratch);
        self.domain = Domain::Polar;
    }

    fn run_stages(&mut self, range: Range<usize>, t_ns: i64) -> Flow {
        for i in range {
            let Some(step) = self.config.steps.get(i) else {
                break;
            };
            match need(step) {
                Need::Polar => self.ensure_polar(),
                Need::Complex | Need::Any => {}
            }
            if let Stage::Lowpass(lp) = &self.stages[i] {
                if lp.filter.is_none() {
                    if let Flow::Drop(reason) = self.design_lowpass(i) {
                        return Flow::Drop(reason);
                    }
                }
            }
            let n = self.n_values();
            let shape = match &self.shape {
                Some(s) => (s.n_tx, s.n_rx, s.n_subcarriers()),
                None => return Flow::Drop("no_shape"),
            };
            let (n_tx, n_rx, n_sub) = shape;
            match &mut self.stages[i] {
                Stage::Resample(_) => {}
                Stage::Amplitude(c) => {
                    let power = match self.domain {
                        Domain::Complex => amplitude::mean_power_interleaved(&self.cur),
                        Domain::Polar => amplitude::mean_power(&self.cur[..n]),
                    };
                    let g = c.gain_factor(self.agc_db, self.rssi_dbm, power);
                    let scaled = match self.domain {
                        Domain::Complex => &mut self.cur[..],
                        Domain::Polar => &mut self.cur[..n],
                    };
                    if g != 1.0 {
                        scaled.iter_mut().for_each(|v| *v *= g);
                    }
                    if c.scale == AmplitudeScale::Db {
                        amplitude::to_db(&mut self.cur[..n], c.floor_db);
                        self.amp_db = true;
                    }
                }
                Stage::UnwrapSubcarrier(s) => {
                    for (ph, valid) in self.cur[n..]
                        .chunks_exact_mut(n_sub)
                        .zip(self.valid.chunks_exact(n_sub))
                    {
                        s.unwrap(ph, valid);
                    }
                }
                Stage::Sanitize(s) => {
                    for (ph, valid) in self.cur[n..]
                        .chunks_exact_mut(n_sub)
                        .zip(self.valid.chunks_exact(n_sub))
                    {
                        s.sanitize(ph, valid);
                    }
                }
                Stage::UnwrapTime(u) => u.process(&mut self.cur[n..]),
                Stage::Conjugate(c) => {
                    conjugate_multiply(&mut self.cur, n_tx, n_rx, n_sub, c, &mut self.scratch)
                }
                Stage::Hampel(h, r) => {
                    self.stats.hampel_replaced += h.process(&mut self.cur[r.clone()]) as u64;
                }
                Stage::Iforest(f) => {
                    let n_links = n_tx * n_rx;
                    match self.domain {
                        Domain::Complex => {
                            self.scratch.clear();
                            self.scratch
                                .extend(self.cur.chunks_exact(2).map(|c| c[0].hypot(c[1])));
                            packet_features(&self.scratch, n_links, n_sub, &mut self.features);
                        }
                        Domain::Polar if self.amp_db => {
                            // Already logarithmic: average the dB values per subcarrier.
                            self.features.clear();
                            self.features.resize(n_sub, 0.0);
                            for l in 0..n_links {
                                for (s, f) in self.features.iter_mut().enumerate() {
                                    *f += self.cur[l * n_sub + s] / n_links as f32;
                                }
                            }
                        }
                        Domain::Polar => {
                            packet_features(&self.cur[..n], n_links, n_sub, &mut self.features)
                        }
                    }
                    if let Verdict::Outlier(_) = f.judge_features(&self.features) {
                        self.stats.outliers += 1;
                        return Flow::Drop("outlier");
                    }
                }
                Stage::MovingAverage(m, r) => m.process(&mut self.cur[r.clone()]),
                Stage::Lowpass(lp) => {
                    if let Some(f) = lp.filter.as_mut() {
                        f.process(&mut self.cur[lp.range.clone()]);
                    }
                }
                Stage::Background(b, r) => {
                    if self.calibrating_background {
                        b.calibrate(&self.cur[r.clone()]);
                        self.stats.samples += 1;
                        return Flow::Drop("calibration");
                    }
                    b.process(t_ns, &mut self.cur[r.clone()]);
                }
                Stage::RunningNorm(rn) => rn.process(&mut self.cur),
            }
        }
        Flow::Continue
    }

    /// Designs the low-pass filter of stage `i` once its rate is known. A design that fails
    /// (an estimated rate the configured cutoff cannot work with) drops the samples, counted
    /// as `lowpass_design` and said once, rather than passing them through unfiltered.
    fn design_lowpass(&mut self, i: usize) -> Flow {
        let resample_rate = self.rate_hz();
        let Some(Stage::Lowpass(lp)) = self.stages.get_mut(i) else {
            return Flow::Continue;
        };
        let Some(rate_hz) = lp.rate_hz.or(resample_rate) else {
            return Flow::Continue;
        };
        match lowpass_design(&lp.config, rate_hz) {
            Ok(sos) => {
                lp.filter = Some(SosFilter::new(sos, lp.range.len()));
                Flow::Continue
            }
            Err(e) => {
                if !lp.design_failed {
                    lp.design_failed = true;
                    tracing::error!(error = %e, rate_hz, "lowpass cannot be designed: dropping samples");
                }
                Flow::Drop("lowpass_design")
            }
        }
    }

    fn resample(&mut self, r: usize, t_ns: i64) -> Option<&'static str> {
        let phase = (self.domain == Domain::Polar).then(|| self.n_values()..2 * self.n_values());
        let Some(Stage::Resample(rs)) = self.stages.get_mut(r) else {
            return None;
        };
        let before = rs.stats().clone();
        let k = rs.push(t_ns, &self.cur, phase);
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
        let domain = self.domain;
        let amp_db = self.amp_db;
        for j in 0..k {
            let tg = match self.stages.get(r) {
                Some(Stage::Resample(rs)) => match rs.sample(j) {
                    Some((tg, v)) => {
                        self.cur.copy_from_slice(v);
                        tg
                    }
                    None => break,
                },
                _ => break,
            };
            self.domain = domain;
            self.amp_db = amp_db;
            if let Flow::Continue = self.run_stages(r + 1..self.stages.len(), tg) {
                self.finish_sample(tg);
            }
        }
        dropped
    }

    fn finish_sample(&mut self, t_sample_ns: i64) {
        match self.config.channels {
            WindowChannels::Polar => self.ensure_polar(),
            WindowChannels::Complex => self.complex_planes(),
        }
        self.stats.samples += 1;
        let t_packet_ns = self.packet_t_ns;
        let want_window = self.config.output != OutputKind::Spectrogram;
        if let Some(w) = self.windower.as_mut().filter(|_| want_window) {
            self.window_times.push_back(t_sample_ns);
            while self.window_times.len() > w.length() {
                self.window_times.pop_front();
            }
            if w.push(&self.cur) {
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
                            rate_hz: self.rate_hz(),
                        }));
                        self.seq_window += 1;
                        self.stats.windows += 1;
                    }
                }
            }
        }
        self.spectrogram_sample(t_packet_ns);
    }

    fn spectrogram_sample(&mut self, t_packet_ns: i64) {
        let rate_hz = self.rate_hz();
        let Some(shape) = self.shape.as_ref() else {
            return;
        };
        let Some(sp) = self.spec.as_mut() else {
            return;
        };
        let n = self.cur.len() / 2;
        if !sp.ring.push(&self.cur[..n]) {
            return;
        }
        let seg = sp.stft.segment();
        let n_freq = sp.stft.n_freq();
        let frames = self.config.spectrogram.frames.max(1);
        sp.ring.write_window(&mut sp.segment_buf);
        let [lo_hz, hi_hz] = self.config.spectrogram.breathing_band_hz;
        let base = sp.frame_pos * n * n_freq;
        for v in 0..n {
            sp.stft
                .power_spectrum(&sp.segment_buf[v * seg..(v + 1) * seg], &mut sp.column);
            sp.frames[base + v * n_freq..base + (v + 1) * n_freq].copy_from_slice(&sp.column);
            sp.breathing[v] = rate_hz.map_or(0.0, |r| band_power(&sp.column, seg, r, lo_hz, hi_hz));
        }
        sp.frame_pos = (sp.frame_pos + 1) % frames;
        sp.frames_filled = (sp.frames_filled + 1).min(frames);
        if sp.frames_filled < frames {
            return;
        }
        // [stream][freq][frame], frames oldest first (the oldest is at frame_pos).
        let mut power = vec![0.0f32; n * n_freq * frames];
        for f in 0..frames {
            let src = ((sp.frame_pos + f) % frames) * n * n_freq;
            for v in 0..n {
                for k in 0..n_freq {
                    power[(v * n_freq + k) * frames + f] = sp.frames[src + v * n_freq + k];
                }
            }
        }
        let (l, s) = (shape.n_links(), shape.n_subcarriers());
        let (Ok(power), Ok(breathing_power)) = (
            Array4::from_shape_vec((l, s, n_freq, frames), power),
            Array2::from_shape_vec((l, s), sp.breathing.clone()),
        ) else {
            return;
        };
        self.ready.push_back(Output::Spectrogram(Spectrogram {
            power,
            breathing_power,
            bin_hz: rate_hz.map_or(0.0, |r| r / seg as f64),
            t_ns: t_packet_ns,
            seq: self.seq_spectrogram,
        }));
        self.seq_spectrogram += 1;
        self.stats.spectrograms += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::phase::layouts;
    use crate::dsp::{CsiValues, SplitMix64};
    use crate::Complex32;

    /// Simulated CSI: a static multipath channel, a moving reflector, per-packet STO slope,
    /// CFO/random phase, noise, packet jitter.
    pub(crate) struct Sim {
        rng: SplitMix64,
        pub n_tx: usize,
        pub n_rx: usize,
        pub subcarriers: Vec<i32>,
        pub csi: Vec<Complex32>,
        n: i64,
    }

    impl Sim {
        pub fn new(n_tx: usize, n_rx: usize, subcarriers: Vec<i32>, seed: u64) -> Self {
            Self {
                rng: SplitMix64::new(seed),
                csi: vec![Complex32::new(0.0, 0.0); n_tx * n_rx * subcarriers.len()],
                n_tx,
                n_rx,
                subcarriers,
                n: 0,
            }
        }

        pub fn next(&mut self, rate_hz: f64) -> i64 {
            let t = self.n as f64 / rate_hz;
            self.n += 1;
            let sto = 0.05 * self.rng.normal() as f32;
            let cfo = std::f32::consts::TAU * self.rng.next_f64() as f32;
            let n_sub = self.subcarriers.len();
            for l in 0..self.n_tx * self.n_rx {
                for (s, &k) in self.subcarriers.iter().enumerate() {
                    let k = k as f32;
                    let stat = Complex32::from_polar(20.0, 0.3 * l as f32 + 0.11 * k);
                    let mov = Complex32::from_polar(
                        3.0,
                        (std::f64::consts::TAU * 0.7 * t) as f32 + 0.05 * k,
                    );
                    let noise = Complex32::new(
                        0.3 * self.rng.normal() as f32,
                        0.3 * self.rng.normal() as f32,
                    );
                    let h = (stat + mov) * Complex32::from_polar(1.0, sto * k + cfo) + noise;
                    self.csi[l * n_sub + s] = h;
                }
            }
            let jitter = (self.rng.normal() * 0.05 / rate_hz * 1e9) as i64;
            (t * 1e9) as i64 + jitter + 1_000_000_000
        }

        pub fn packet(&self, t_ns: i64) -> Packet<'_> {
            Packet {
                n_tx: self.n_tx,
                n_rx: self.n_rx,
                subcarriers: &self.subcarriers,
                csi: CsiValues::Complex(&self.csi),
                t_ns,
                agc_db: Some(30.0),
                rssi_dbm: Some(-40.0),
            }
        }
    }

    fn drain(p: &mut Pipeline) -> Vec<Output> {
        std::iter::from_fn(|| p.pop()).collect()
    }

    #[test]
    fn default_pipeline_makes_finite_normalized_windows_with_the_right_hop() {
        let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
        let mut sim = Sim::new(3, 3, layouts::intel5300_20mhz(), 1);
        let mut windows = Vec::new();
        for _ in 0..500 {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            windows.extend(drain(&mut p));
        }
        let windows: Vec<Window> = windows
            .into_iter()
            .filter_map(|o| match o {
                Output::Window(w) => Some(w),
                _ => None,
            })
            .collect();
        // ~500 samples at 100 Hz: first window after 100, then every 10.
        assert!(
            windows.len() >= 38 && windows.len() <= 41,
            "{}",
            windows.len()
        );
        for w in &windows {
            assert_eq!(w.data.shape(), &[2, 9, 30, 100]);
            assert!(w.data.iter().all(|v| v.is_finite()));
            let amp = w.data.index_axis(ndarray::Axis(0), 0);
            let mean = amp.mean().unwrap();
            assert!(mean.abs() < 1e-3, "{mean}");
        }
        for pair in windows.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1);
            let dt = pair[1].t_first_ns - pair[0].t_first_ns;
            assert_eq!(dt, 100_000_000, "hop of 10 samples at 100 Hz");
        }
        let s = p.stats();
        assert_eq!(s.windows as usize, windows.len());
        assert_eq!(s.resets, 0);
    }

    #[test]
    fn sanitized_phase_is_stable_despite_random_sto_and_cfo() {
        let config = PipelineConfig {
            steps: vec![StepConfig::Sanitize(SanitizeConfig::default())],
            window: WindowConfig {
                length: 50,
                hop: 50,
            },
            normalize: WindowNormalize::None,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(1, 2, layouts::ht20(), 2);
        for _ in 0..50 {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
        }
        let Some(Output::Window(w)) = p.pop() else {
            panic!("no window")
        };
        // Raw phase is uniformly random per packet; sanitized phase varies only by the
        // moving reflector and noise (std well below 1 rad).
        let phase = w.data.index_axis(ndarray::Axis(0), 1);
        for stream in phase.rows() {
            let m = stream.mean().unwrap();
            let sd = (stream.iter().map(|v| (v - m).powi(2)).sum::<f32>() / 50.0).sqrt();
            assert!(sd < 0.5, "{sd}");
        }
    }

    /// Relative std over time of each stream of a complex window's real part, for links `links`.
    fn complex_window_spread(conjugate: bool) -> f32 {
        let mut steps = vec![StepConfig::Resample(ResampleConfig::default())];
        if conjugate {
            steps.insert(
                0,
                StepConfig::Conjugate(ConjugateConfig {
                    reference_rx: Some(0),
                    keep_amplitude: true,
                }),
            );
        }
        let config = PipelineConfig {
            steps,
            window: WindowConfig {
                length: 50,
                hop: 50,
            },
            normalize: WindowNormalize::None,
            channels: WindowChannels::Complex,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(1, 3, layouts::ht20(), 4);
        let window = loop {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            if let Some(Output::Window(w)) = p.pop() {
                break w;
            }
        };
        assert_eq!(window.data.shape(), &[2, 3, 56, 50]);
        // Links 1 and 2 (receive antennas other than the reference): spread of the real part
        // over time relative to the magnitude.
        let re = window.data.index_axis(ndarray::Axis(0), 0);
        let im = window.data.index_axis(ndarray::Axis(0), 1);
        let mut worst = 0.0f32;
        for link in 1..3 {
            for s in 0..56 {
                let r = re.slice(ndarray::s![link, s, ..]);
                let i = im.slice(ndarray::s![link, s, ..]);
                let mag = r.iter().zip(i).map(|(a, b)| a.hypot(*b)).sum::<f32>() / 50.0;
                let m = r.mean().unwrap();
                let sd = (r.iter().map(|v| (v - m).powi(2)).sum::<f32>() / 50.0).sqrt();
                worst = worst.max(sd / mag);
            }
        }
        worst
    }

    #[test]
    fn complex_windows_relative_to_a_reference_antenna_cancel_the_random_phase() {
        // Raw complex CSI turns with the packet's random phase: its real part spreads like the
        // magnitude. Relative to receive antenna 0 only the moving reflector is left.
        let raw = complex_window_spread(false);
        let relative = complex_window_spread(true);
        assert!(raw > 0.5, "raw {raw}");
        assert!(relative < 0.35, "relative {relative}");
        let bad = PipelineConfig {
            channels: WindowChannels::Complex,
            output: OutputKind::Both,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn bad_packets_are_refused_and_counted_and_shape_changes_reset() {
        let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
        let mut sim = Sim::new(2, 3, layouts::ht20(), 3);
        let t = sim.next(100.0);
        p.push(&sim.packet(t)).unwrap();
        let t = sim.next(100.0);
        sim.csi[5].re = f32::NAN;
        assert!(matches!(
            p.push(&sim.packet(t)),
            Err(PacketError::NonFinite { count: 1 })
        ));
        sim.csi
            .iter_mut()
            .for_each(|c| *c = Complex32::new(0.0, 0.0));
        assert_eq!(p.push(&sim.packet(t)), Err(PacketError::ZeroAmplitude));
        let short = sim.csi[..10].to_vec();
        let mut bad = sim.packet(t);
        bad.csi = CsiValues::Complex(&short);
        assert!(matches!(p.push(&bad), Err(PacketError::Malformed { .. })));
        // Duplicate timestamp.
        let t = sim.next(100.0);
        p.push(&sim.packet(t)).unwrap();
        let r = p.push(&sim.packet(t)).unwrap();
        assert_eq!(r.dropped, Some("duplicate"));
        // 1x1 now: reset, then windows of the new shape.
        let mut sim2 = Sim::new(1, 1, layouts::esp32_64(), 4);
        let mut resets = 0;
        for _ in 0..200 {
            let t = sim2.next(100.0) + 10_000_000_000;
            if p.push(&sim2.packet(t)).unwrap().reset.is_some() {
                resets += 1;
            }
        }
        assert_eq!(resets, 1);
        let s = p.stats();
        assert_eq!(
            (s.non_finite, s.zero_amplitude, s.malformed, s.resets),
            (1, 1, 1, 1)
        );
        assert_eq!(s.resample.duplicates, 1);
        let outs = drain(&mut p);
        assert!(!outs.is_empty());
        for o in outs {
            if let Output::Window(w) = o {
                assert_eq!(w.data.shape(), &[2, 1, 64, 100]);
            }
        }
    }

    #[test]
    fn config_from_yaml() {
        let yaml = r#"
steps:
  - conjugate: {}
  - iforest: {calibration_packets: 50, n_trees: 20, seed: 3}
  - amplitude: {scale: db, agc: true}
  - resample: {rate_hz: 50}
  - sanitize: {}
  - unwrap: {axis: time}
  - hampel: {window: 7, n_sigma: 3}
  - moving_average: {window: 3, channels: amplitude}
  - lowpass: {cutoff_hz: 10, order: 4}
  - background: {calibration_s: 1.0, alpha: 0.01, update: no_motion}
  - running_norm: {alpha: 0.05}
window: {length: 32, hop: 8}
normalize: stream
output: both
spectrogram: {segment: 64, hop: 16, window: hann, frames: 2}
"#;
        let config: PipelineConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(config.steps.len(), 11);
        let mut p = Pipeline::new(config).unwrap();
        let mut sim = Sim::new(2, 2, layouts::intel5300_20mhz(), 5);
        let (mut windows, mut specs) = (0, 0);
        for _ in 0..400 {
            let t = sim.next(100.0);
            p.push(&sim.packet(t)).unwrap();
            for o in drain(&mut p) {
                match o {
                    Output::Window(w) => {
                        assert_eq!(w.data.shape(), &[2, 4, 30, 32]);
                        assert!(w.data.iter().all(|v| v.is_finite()));
                        windows += 1;
                    }
                    Output::Spectrogram(s) => {
                        assert_eq!(s.power.shape(), &[4, 30, 33, 2]);
                        assert!(s.power.iter().all(|v| v.is_finite() && *v >= 0.0));
                        assert!((s.bin_hz - 50.0 / 64.0).abs() < 1e-9);
                        specs += 1;
                    }
                }
            }
        }
        assert!(windows > 15 && specs > 5, "{windows} {specs}");
        // Unknown keys are refused, not ignored.
        assert!(serde_yaml::from_str::<PipelineConfig>("steps: [{hampel: {windw: 3}}]").is_err());
        assert!(serde_yaml::from_str::<PipelineConfig>("steps: [{nope: {}}]").is_err());
        assert!(
            serde_yaml::from_str::<PipelineConfig>("steps: [{sanitize: {}, hampel: {}}]").is_err()
        );
        // JSON reads the same, and a config survives a round trip.
        let json = serde_json::to_string(&PipelineConfig::default()).unwrap();
        let back: PipelineConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, PipelineConfig::default());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn dimensions_come_from_the_data(
            n_tx in 1usize..4,
            n_rx in 1usize..4,
            layout in 0usize..4,
            length in 2usize..30,
            hop in 1usize..15,
            seed in 0u64..1000,
        ) {
            let k = [layouts::intel5300_20mhz(), layouts::ht20(), layouts::ht40(), layouts::esp32_64()][layout].clone();
            let n_sub = k.len();
            let config = PipelineConfig {
                window: WindowConfig { length, hop },
                ..Default::default()
            };
            let mut p = Pipeline::new(config).unwrap();
            let mut sim = Sim::new(n_tx, n_rx, k, seed);
            let mut windows = 0;
            for _ in 0..60 {
                let t = sim.next(100.0);
                p.push(&sim.packet(t)).unwrap();
                while let Some(o) = p.pop() {
                    if let Output::Window(w) = o {
                        proptest::prop_assert_eq!(w.data.shape(), &[2, n_tx * n_rx, n_sub, length]);
                        proptest::prop_assert!(w.data.iter().all(|v| v.is_finite()));
                        windows += 1;
                    }
                }
            }
            let samples = p.stats().samples as usize;
            let expected = if samples >= length { (samples - length) / hop + 1 } else { 0 };
            proptest::prop_assert_eq!(windows, expected);
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        let lowpass_first = PipelineConfig {
            steps: vec![StepConfig::Lowpass(LowpassConfig::default())],
            ..Default::default()
        };
        assert!(Pipeline::new(lowpass_first).is_err());
        let conj_late = PipelineConfig {
            steps: vec![
                StepConfig::Sanitize(SanitizeConfig::default()),
                StepConfig::Conjugate(ConjugateConfig::default()),
            ],
            ..Default::default()
        };
        assert!(Pipeline::new(conj_late).is_err());
        // A cutoff the configured rate cannot carry fails the configuration, naming the field.
        let lowpass_above_nyquist = |cutoff_hz| PipelineConfig {
            steps: vec![
                StepConfig::Resample(ResampleConfig {
                    rate_hz: Some(20.0),
                    ..Default::default()
                }),
                StepConfig::Lowpass(LowpassConfig {
                    cutoff_hz,
                    ..Default::default()
                }),
            ],
            ..Default::default()
        };
        let Err(err) = Pipeline::new(lowpass_above_nyquist(10.0)) else {
            panic!("a 10 Hz cutoff at 20 Hz is refused");
        };
        assert!(err.to_string().contains("lowpass.cutoff_hz"), "{err}");
        assert!(Pipeline::new(lowpass_above_nyquist(4.0)).is_ok());
    }

    #[test]
    fn background_calibrated_from_an_empty_room_capture() {
        let config = PipelineConfig {
            steps: vec![
                StepConfig::Resample(ResampleConfig::default()),
                StepConfig::Background(BackgroundConfig::default()),
            ],
            window: WindowConfig {
                length: 10,
                hop: 10,
            },
            normalize: WindowNormalize::None,
            ..Default::default()
        };
        let mut p = Pipeline::new(config).unwrap();
        let sim = Sim::new(1, 1, layouts::ht20(), 6);
        let mut empty = sim.csi.clone();
        empty
            .iter_mut()
            .enumerate()
            .for_each(|(i, c)| *c = Complex32::from_polar(5.0 + i as f32 * 0.1, 0.0));
        let packets: Vec<Packet> = (0..50)
            .map(|n| Packet {
                n_tx: 1,
                n_rx: 1,
                subcarriers: &sim.subcarriers,
                csi: CsiValues::Complex(&empty),
                t_ns: n * 10_000_000,
                agc_db: None,
                rssi_dbm: None,
            })
            .collect();
        assert_eq!(p.calibrate_background(packets.iter().copied()).unwrap(), 50);
        // The same empty room, live: amplitude minus background is 0 from the first sample.
        for pk in packets.iter().take(10) {
            p.push(pk).unwrap();
        }
        let Some(Output::Window(w)) = p.pop() else {
            panic!("no window")
        };
        let amp = w.data.index_axis(ndarray::Axis(0), 0);
        assert!(amp.iter().all(|v| v.abs() < 1e-4), "{amp:?}");
    }
}
