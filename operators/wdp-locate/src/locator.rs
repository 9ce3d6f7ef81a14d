//! The locator on a packet stream: its own preprocessing (aligned, complex, not normalised
//! windows), then the back-projection of every window.

use crate::{
    BackProjector, Background, BackgroundBuilder, FloorMap, LocateError, LocatorConfig,
    RadioGeometry,
};
use serde::{Deserialize, Serialize};
use wdp_csi::dsp::normalize::WindowNormalize;
use wdp_csi::dsp::{
    Output, Packet, Pipeline, PipelineConfig, PipelineStats, StepConfig, Window, WindowChannels,
};

/// The default windows imaged: the gain undone, every packet brought to one phase (`align`),
/// on a 100 Hz grid, 0.3 s long (a walking person moves 0.3 m in it: longer windows smear the
/// image, shorter ones are noisier; 0.2, 0.3, 0.5, 1 and 2 s measured, 0.3 best), one every 5
/// packets (the model's windows), left as complex values and not normalised (z-scoring each
/// part would bend the phases the image reads).
const DEFAULT_PREPROCESS: &str = "
steps:
  - amplitude: {agc: true}
  - align: {}
  - resample: {rate_hz: 100}
window: {length: 30, hop: 5}
normalize: none
channels: complex
";

/// The locator's settings: the windows it images and the grid it images them on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocatorSettings {
    /// Preprocessing of the packets into windows: must align the packets and leave complex,
    /// unnormalised windows.
    pub preprocess: PipelineConfig,
    /// The floor grid and the image's settings.
    pub grid: LocatorConfig,
    /// Seconds of the empty room averaged into the background of a simulated room (a scene:
    /// [`crate::simulated_background`]), which lets the still image see people who do not
    /// move; 0 leaves a simulated room without one. A real room's background is recorded from
    /// its radio with nobody in it ([`Locator::calibrate`]) and given as a file.
    pub empty_room_s: f64,
}

impl Default for LocatorSettings {
    fn default() -> Self {
        Self {
            preprocess: serde_yaml::from_str(DEFAULT_PREPROCESS)
                .expect("the default locator preprocessing is valid YAML"),
            grid: LocatorConfig::default(),
            // 200 windows: their average's noise is far below a person's paths.
            empty_room_s: 10.0,
        }
    }
}

impl LocatorSettings {
    /// Reads settings from YAML (every field optional), checked.
    pub fn from_yaml_str(text: &str) -> Result<Self, LocateError> {
        let s: Self = serde_yaml::from_str(text)
            .map_err(|e| LocateError::config("locator settings", e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks that the windows are what the image reads.
    pub fn validate(&self) -> Result<(), LocateError> {
        self.grid.validate()?;
        if !(self.empty_room_s >= 0.0 && self.empty_room_s.is_finite()) {
            return Err(LocateError::config(
                "locator.empty_room_s",
                format!("must be 0 or more seconds, got {}", self.empty_room_s),
            ));
        }
        let p = &self.preprocess;
        if p.channels != WindowChannels::Complex {
            return Err(LocateError::config(
                "locator.preprocess.channels",
                "must be `complex`: the image reads the phases",
            ));
        }
        if p.normalize != WindowNormalize::None {
            return Err(LocateError::config(
                "locator.preprocess.normalize",
                "must be `none`: z-scoring the real and imaginary parts apart bends the phases",
            ));
        }
        if !p.steps.iter().any(|s| matches!(s, StepConfig::Align(_))) {
            return Err(LocateError::config(
                "locator.preprocess.steps",
                "needs an `align` step: without it every packet has its own random phase",
            ));
        }
        Pipeline::new(p.clone())
            .map(|_| ())
            .map_err(|e| LocateError::config("locator.preprocess", e.to_string()))
    }
}

/// One imaged window.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// Capture time of the window's newest packet, ns.
    pub t_ns: i64,
    /// Window counter of the locator's pipeline.
    pub seq: u64,
    /// What the locator says: the cell-wise larger of [`Self::moving`] and [`Self::still`]
    /// (each normalised to its peak: the two see different people, a mover and someone
    /// standing); `None` when neither has anything.
    pub map: Option<FloorMap>,
    /// The image of what changed in the window; `None` when nothing did.
    pub moving: Option<FloorMap>,
    /// The image of what the window holds beyond the empty room (people moving or not); `None`
    /// without a background or when the window matches it.
    pub still: Option<FloorMap>,
}

/// Packets in, floor images out.
#[derive(Debug)]
pub struct Locator {
    pipeline: Pipeline,
    projector: BackProjector,
    subcarriers: Vec<i32>,
    background: Option<Background>,
    newest: Newest,
}

impl Locator {
    /// A locator for a radio of `geometry` reporting `subcarriers` (indices).
    pub fn new(
        geometry: &RadioGeometry,
        subcarriers: &[i32],
        settings: &LocatorSettings,
    ) -> Result<Self, LocateError> {
        settings.validate()?;
        let pipeline = Pipeline::new(settings.preprocess.clone())
            .map_err(|e| LocateError::config("locator.preprocess", e.to_string()))?;
        let projector = BackProjector::new(geometry, subcarriers, settings.grid.clone())?;
        Ok(Self {
            pipeline,
            projector,
            subcarriers: subcarriers.to_vec(),
            background: None,
            newest: Newest::None,
        })
    }

    /// The locator comparing every window with the empty room's `background` too
    /// ([`Located::still`]); refused when it was recorded with another layout.
    pub fn set_background(&mut self, background: Background) -> Result<(), LocateError> {
        background.validate()?;
        let (links, sub) = (self.projector.links(), self.projector.subcarriers());
        if background.links != links || background.subcarriers.len() != sub {
            return Err(LocateError::config(
                "background",
                format!(
                    "recorded for {} links x {} subcarriers, the radio has {links} x {sub}",
                    background.links,
                    background.subcarriers.len()
                ),
            ));
        }
        self.background = Some(background);
        Ok(())
    }

    /// The empty room's background this locator compares with, if any.
    pub fn background(&self) -> Option<&Background> {
        self.background.as_ref()
    }

    /// Records the empty room: feeds one packet of a calibration stream (nobody in the room)
    /// through the locator's preprocessing into `builder`, one window mean per window.
    pub fn calibrate(
        &mut self,
        packet: &Packet<'_>,
        builder: &mut BackgroundBuilder,
    ) -> Result<(), LocateError> {
        let _ = self.pipeline.push(packet);
        while let Some(out) = self.pipeline.pop() {
            if let Output::Window(w) = out {
                let s = w.data.shape();
                let data = w.data.as_standard_layout();
                let values = data.as_slice().unwrap_or_default();
                builder.add(
                    &self
                        .projector
                        .window_mean(values, [s[0], s[1], s[2], s[3]])?,
                )?;
            }
        }
        Ok(())
    }

    /// A builder of this locator's layout for [`Self::calibrate`].
    pub fn background_builder(&self) -> BackgroundBuilder {
        BackgroundBuilder::new(self.projector.links(), &self.subcarriers)
    }

    /// The projector (its grid and layout).
    pub fn projector(&self) -> &BackProjector {
        &self.projector
    }

    /// The preprocessing's counters (packets dropped and why).
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// Feeds one packet; the newest window it completed, imaged, if it completed one. A packet
    /// the preprocessing refuses (NaN, zeros, out of order) is counted in [`Self::stats`] and
    /// yields nothing; a window of another layout than the geometry's is an error naming the
    /// mismatch, and the locator keeps going with the next packet.
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<Option<Located>, LocateError> {
        if !self.feed(packet) {
            return Ok(None);
        }
        self.locate_newest()
    }

    /// Feeds one packet without imaging: true when it completed a window, which
    /// [`Self::locate_newest`] images on demand. A reader that keeps one frame in several (an
    /// evaluation's `--every`) images only the windows it keeps.
    pub fn feed(&mut self, packet: &Packet<'_>) -> bool {
        let _ = self.pipeline.push(packet);
        let mut completed = false;
        while let Some(out) = self.pipeline.pop() {
            if let Output::Window(w) = out {
                self.newest = Newest::Pending(w);
                completed = true;
            }
        }
        completed
    }

    /// The image of the newest window fed, computed once however often it is asked for; `None`
    /// before the first window.
    pub fn locate_newest(&mut self) -> Result<Option<Located>, LocateError> {
        if let Newest::Pending(w) = &self.newest {
            let s = w.data.shape();
            let shape = [s[0], s[1], s[2], s[3]];
            // The pipeline's windows are standard layout: imaged in place, copied only if not.
            let data = w.data.as_standard_layout();
            let values = data.as_slice().unwrap_or_default();
            // The window is read once for both images.
            let imaged = self
                .projector
                .locate_both(values, shape, self.background.as_ref());
            let (moving, still) = match imaged {
                Ok(images) => images,
                Err(e) => {
                    self.newest = Newest::None;
                    return Err(e);
                }
            };
            let map = FloorMap::combined(moving.as_ref(), still.as_ref());
            self.newest = Newest::Imaged(Located {
                t_ns: w.t_ns,
                seq: w.seq,
                map,
                moving,
                still,
            });
        }
        Ok(match &self.newest {
            Newest::Imaged(l) => Some(l.clone()),
            _ => None,
        })
    }
}

/// The newest window of a locator: not yet imaged, or its image.
#[derive(Debug, Default)]
enum Newest {
    #[default]
    None,
    Pending(Window),
    Imaged(Located),
}
