//! Signal-level motion and presence from CSI, without a trained model.
//!
//! What a home user's single ESP32 (one antenna, 64 subcarriers) can answer reliably, and what
//! a multi-antenna NIC (Intel 5300, Atheros) answers the same way: is someone moving, is
//! someone there. One [`SecondState`] per second of capture time, with the score, the
//! thresholds in force and a confidence; beside it, in the same run, the baseline a user would
//! otherwise run.
//!
//! ```no_run
//! let mut sensor = wdp_sense::Sensor::new(wdp_sense::SenseConfig::default())?;
//! let mut reader = wdp_csi::open("capture.csv", &Default::default())?;
//! while let Some(frame) = reader.next_frame() {
//!     for second in sensor.push(&frame?) {
//!         println!("{} motion={} presence={}", second.t_s, second.motion, second.presence);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The detector
//!
//! 1. **Per packet and link, a gain-free feature**: the coefficient of variation (std / mean)
//!    of the link's subcarrier amplitudes, the "spatial turbulence" of the ESPectre project
//!    divided by the mean amplitude. The receiver's gain (AGC, with or without gain lock, the
//!    ESP32's 6 dB steps) multiplies every amplitude alike and cancels; what remains is how
//!    frequency-selective the multipath is, which a moving body changes. Subcarriers reported
//!    as exact zeros (null, DC and guard tones) are skipped; dimensions come from each frame.
//! 2. **Moving variance** of that feature over the last [`SenseConfig::window_s`] of capture
//!    time, per link, averaged over links: the packet's score. A second's score is the median
//!    of its packets' scores (robust to a single odd packet).
//! 3. **Self-calibration on the quiet start**: the median packet score of the first
//!    [`SenseConfig::calibration_s`] seconds is the quiet level. After that, while nobody is
//!    present, the level follows the room (quickly down, slowly up), so a start disturbed by
//!    the installer leaving does not leave the detector deaf.
//! 4. **Hysteresis and holds**: motion starts at `enter_ratio` x level and stops after
//!    `motion_hold_s` seconds below `exit_ratio` x level. Presence starts with motion and
//!    lasts while seconds keep reaching `presence_ratio` x level, then `presence_hold_s` more,
//!    unless the room looks empty again sooner: [`empty`] compares each second's amplitude
//!    profile with the empty room's (measured during calibration), and `empty.release_s`
//!    seconds that match it end the presence.
//!
//! # How the thresholds were chosen
//!
//! Not from any recording: every threshold is a ratio of the room's own quiet level, measured
//! at the start, and the ratios come from what the score is. A quiet room's score is the
//! variance of receiver noise and slow drift; as a variance estimate of a correlated series it
//! wanders by a factor of about 1.5-2 from second to second. The entry ratio 4 (+6 dB) is
//! above that wander with margin, the exit ratio 2 (+3 dB) halves the band in the log domain.
//! A person moving in the room changes paths that carry a sizeable share of the received power,
//! which raises the variance of the frequency selectivity by an order of magnitude or more,
//! far above either. The times come from human movement (pauses of a second while walking,
//! minutes of sitting still) and the usual occupancy timeouts of home automation. Each field of
//! [`SenseConfig`] documents its default. The recordings used by the tests were not used to
//! pick them, and the tests check them with the defaults unchanged.
//!
//! # The baseline
//!
//! [`BaselineState`]: the moving variance (same window) of the mean amplitude against a fixed
//! threshold in raw units ([`BaselineConfig::threshold`]), what ESP32 motion detectors do. Its
//! weakness is what the feature above removes: a gain step moves the mean amplitude as much as
//! a person does, and a raw threshold means something else on every chip.

pub mod breathing;
mod config;
pub mod empty;
pub mod feature;
mod sensor;

pub use breathing::{BreathingConfig, BreathingEstimate, BreathingEstimator};
pub use config::{BaselineConfig, ConfigError, EmptyConfig, Feature, SenseConfig};
pub use sensor::{BaselineState, SecondState, SenseSummary, Sensor};

use std::path::Path;
use wdp_csi::{CaptureError, CsiFrame, ReadOptions, ReadStats};

/// Reads every frame of a capture file (format detected from its content); corrupt records
/// are skipped and counted in the returned statistics.
pub fn read_capture(
    path: &Path,
    options: &ReadOptions,
) -> Result<(Vec<CsiFrame>, ReadStats), CaptureError> {
    let mut reader = wdp_csi::open(path, options)?;
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame() {
        frames.push(frame?);
    }
    Ok((frames, reader.stats().clone()))
}

/// Appends the frames of another capture after `frames` on one time axis: `next` is shifted
/// to start at the first whole second (from the first frame of `frames`) after the last frame
/// of `frames`, so that no second of the result mixes the two. Returns the capture time at
/// which `next` starts.
pub fn append_capture(frames: &mut Vec<CsiFrame>, next: Vec<CsiFrame>) -> i64 {
    const NS_PER_S: i64 = 1_000_000_000;
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        let start = next.first().map_or(0, |f| f.timestamp_ns);
        frames.extend(next);
        return start;
    };
    let origin = first.timestamp_ns;
    let start = origin + ((last.timestamp_ns - origin) / NS_PER_S + 1) * NS_PER_S;
    let shift = next.first().map_or(0, |f| start - f.timestamp_ns);
    frames.extend(next.into_iter().map(|mut f| {
        f.timestamp_ns += shift;
        f
    }));
    start
}
