//! The steps a [`PipelineConfig`](super::PipelineConfig) can name, one module each.
//!
//! A step is two things: its settings (a serde struct, the value of its one-key map in YAML)
//! implement [`StepSpec`] — which form of the sample the step needs, what it checks of the
//! configuration and how it is built for a stream's layout — and what they build implements
//! [`Step`], which transforms one sample at a time or drops it. The pipeline knows the steps
//! through these two traits only, but for two it reaches by type: `resample`, where packets
//! become uniform samples, and `background`, which `Pipeline::calibrate_background` fills.
//!
//! Adding a step: a module `steps/NAME.rs` with its settings (every field with a default, so
//! `NAME: {}` reads), both impls and its tests, and its row in the `steps!` table below (beside
//! the `mod NAME;` line). The row makes the [`StepConfig`] variant, the YAML/JSON key and the
//! dispatch; its place in the table is where the key comes in an error's list of steps. A new
//! counter is a field of `PipelineStats`, which the step increments through [`Run`].

mod align;
mod amplitude;
pub(crate) mod background;
mod conjugate;
mod hampel;
mod iforest;
mod lowpass;
mod moving_average;
pub(crate) mod resample;
mod running_norm;
mod sample;
mod sanitize;
pub(crate) mod unwrap;

pub(crate) use sample::{Domain, Sample};

use super::amplitude::AmplitudeConfig;
use super::background::{Background, BackgroundConfig};
use super::filter::{LowpassConfig, MovingAverageConfig};
use super::hampel::HampelConfig;
use super::iforest::IforestConfig;
use super::normalize::RunningNormConfig;
use super::phase::{ConjugateConfig, SanitizeConfig};
use super::resample::ResampleConfig;
use super::{Channels, ConfigError, PipelineStats, Shape};
pub use align::AlignConfig;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::ops::Range;
use unwrap::UnwrapConfig;

/// The form of the sample a step works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Either: the step follows the sample's current form.
    Any,
    /// Interleaved complex values: the step must come before any polar step.
    Complex,
    /// Amplitude and phase planes: the pipeline converts the sample before the step.
    Polar,
}

/// What the steps before a step established, for checking a configuration without data.
#[derive(Debug, Clone, Default)]
pub(crate) struct Upstream {
    /// A resample step came before: the time axis has a rate.
    pub rate_known: bool,
    /// That rate, when the configuration fixes it.
    pub rate_hz: Option<f64>,
}

/// What a step is built for: the stream's layout and what the steps before it established.
pub(crate) struct Layout<'a> {
    /// The packets' dimensions.
    pub shape: &'a Shape,
    /// The sample's form at this step.
    pub domain: Domain,
    /// The rate a resample step before this one fixes in its configuration.
    pub rate_hz: Option<f64>,
    /// A background learnt from an empty room for this layout, when one was calibrated.
    pub calibrated_background: Option<&'a Background>,
}

impl Layout<'_> {
    /// Complex values per sample.
    pub fn n_values(&self) -> usize {
        self.shape.n_values()
    }

    /// Where `channels` are in the sample: in complex form (before any polar step) the whole
    /// interleaved sample, in polar form the amplitude plane, the phase plane or both.
    pub fn range(&self, channels: Channels) -> Range<usize> {
        let n = self.n_values();
        match (self.domain, channels) {
            (Domain::Complex, _) | (Domain::Polar, Channels::Both) => 0..2 * n,
            (Domain::Polar, Channels::Amplitude) => 0..n,
            (Domain::Polar, Channels::Phase) => n..2 * n,
        }
    }
}

/// What a running step may read and count besides the sample.
pub(crate) struct Run<'a> {
    /// The resampler's rate, once known (configured or estimated).
    pub rate_hz: Option<f64>,
    /// The pipeline only learns an empty room (see `Pipeline::calibrate_background`).
    pub calibrating: bool,
    /// The pipeline's counters.
    pub stats: &'a mut PipelineStats,
}

/// Whether a sample goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// On to the next step.
    Continue,
    /// Dropped, for this stable reason (reported in `PushReport::dropped`).
    Drop(&'static str),
}

/// A step's settings: what it needs, what it checks, what it builds.
pub(crate) trait StepSpec {
    /// The form of the sample the step works on.
    fn need(&self) -> Need {
        Need::Any
    }

    /// Checks the settings against the steps before (`upstream`, which a step that changes
    /// the time axis updates). Errors name the step and the field: `hampel.n_sigma`.
    fn validate(&self, _upstream: &mut Upstream) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The running step for one stream (rebuilt when the packets' layout changes).
    fn build(&self, layout: &mut Layout<'_>) -> Box<dyn Step>;
}

/// A running step: transforms one sample in place, keeping its own state between samples.
/// `Any` lets the pipeline reach the one step it drives itself (`resample`) and the one it
/// calibrates (`background`).
pub(crate) trait Step: Any + Send + Sync {
    /// Transforms `sample`, or drops it.
    fn process(&mut self, sample: &mut Sample, run: &mut Run<'_>) -> Flow;
}

/// The step table: `key => Variant(Settings)`, with the variant's docs. It makes the
/// [`StepConfig`] enum, its one-key-map serde form and the dispatch to the settings' [`StepSpec`].
macro_rules! steps {
    ($($(#[$doc:meta])* $key:ident => $variant:ident($config:ty),)*) => {
        /// One step of the pipeline, with its parameters. In YAML or JSON each is a one-key map:
        /// `{hampel: {window: 7}}`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum StepConfig {
            $($(#[$doc])* $variant($config),)*
        }

        /// The one-key map form of [`StepConfig`] (serde_yaml 0.9 reads enums only from YAML
        /// tags; a map with optional fields reads the same from YAML and JSON).
        #[derive(Debug, Clone, Default, Serialize)]
        struct StepMap {
            $(
                #[serde(skip_serializing_if = "Option::is_none")]
                $key: Option<$config>,
            )*
        }

        /// Every step's key, in table order.
        const NAMES: &[&str] = &[$(stringify!($key),)*];

        // By hand rather than derived with `deny_unknown_fields`, so that an unknown key is
        // called an unknown step.
        impl<'de> Deserialize<'de> for StepMap {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Keys;
                impl<'de> serde::de::Visitor<'de> for Keys {
                    type Value = StepMap;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a map with one key, the step name: `{hampel: {window: 7}}`")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<StepMap, A::Error> {
                        use serde::de::Error;
                        let mut m = StepMap::default();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $(stringify!($key) => {
                                    if m.$key.is_some() {
                                        return Err(A::Error::duplicate_field(stringify!($key)));
                                    }
                                    m.$key = map.next_value()?;
                                })*
                                _ => {
                                    return Err(A::Error::custom(format_args!(
                                        "unknown step `{key}`, expected one of `{}`",
                                        NAMES.join("`, `")
                                    )))
                                }
                            }
                        }
                        Ok(m)
                    }
                }
                d.deserialize_struct("StepMap", NAMES, Keys)
            }
        }

        impl StepConfig {
            /// The step's key in YAML/JSON (`hampel`), as errors name it.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => stringify!($key),)*
                }
            }

            pub(crate) fn spec(&self) -> &dyn StepSpec {
                match self {
                    $(Self::$variant(c) => c,)*
                }
            }
        }

        impl TryFrom<StepMap> for StepConfig {
            type Error = String;
            fn try_from(m: StepMap) -> Result<Self, String> {
                let steps: Vec<StepConfig> = [$(m.$key.map(StepConfig::$variant),)*]
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
                    $(StepConfig::$variant(c) => m.$key = Some(c),)*
                }
                m
            }
        }
    };
}

steps! {
    /// Uniform resampling from packet timestamps (at most once).
    resample => Resample(ResampleConfig),
    /// AGC/RSSI compensation and linear/dB scale.
    amplitude => Amplitude(AmplitudeConfig),
    /// Phase unwrapping along subcarriers or time.
    unwrap => Unwrap(UnwrapConfig),
    /// Linear phase sanitization over the real subcarrier indices.
    sanitize => Sanitize(SanitizeConfig),
    /// Conjugate multiplication between receive antennas (complex data: before any polar step).
    conjugate => Conjugate(ConjugateConfig),
    /// One phase offset and slope per packet for all links, against the static channel
    /// (complex data: before any polar step).
    align => Align(AlignConfig),
    /// Hampel outlier filter over time.
    hampel => Hampel(HampelConfig),
    /// Isolation-forest packet filter.
    iforest => Iforest(IforestConfig),
    /// Causal moving average.
    moving_average => MovingAverage(MovingAverageConfig),
    /// Causal Butterworth low-pass.
    lowpass => Lowpass(LowpassConfig),
    /// Background model subtraction.
    background => Background(BackgroundConfig),
    /// Running z-score per stream.
    running_norm => RunningNorm(RunningNormConfig),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dsp::PipelineConfig;

    #[test]
    fn every_step_round_trips_through_yaml_and_json() {
        // Every row of the table, with its default settings (`{}`: every setting has one).
        for name in NAMES {
            let step: StepConfig = serde_yaml::from_str(&format!("{name}: {{}}")).unwrap();
            assert_eq!(step.name(), *name);
            let yaml = serde_yaml::to_string(&step).unwrap();
            assert_eq!(
                serde_yaml::from_str::<StepConfig>(&yaml).unwrap(),
                step,
                "{yaml}"
            );
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(
                serde_json::from_str::<StepConfig>(&json).unwrap(),
                step,
                "{json}"
            );
        }
        let hampel: StepConfig =
            serde_yaml::from_str("hampel: {window: 9, n_sigma: 2.5, channels: amplitude}").unwrap();
        let want = StepConfig::Hampel(HampelConfig {
            window: 9,
            n_sigma: 2.5,
            channels: Channels::Amplitude,
            ..Default::default()
        });
        assert_eq!(hampel, want);
        let yaml = serde_yaml::to_string(&hampel).unwrap();
        assert!(yaml.starts_with("hampel:\n"), "{yaml}");
        assert_eq!(serde_yaml::from_str::<StepConfig>(&yaml).unwrap(), want);
    }

    #[test]
    fn an_unknown_step_or_setting_is_named_in_the_error() {
        let yaml = "steps: [{hampel: {}}, {lowpas: {}}]";
        let err = serde_yaml::from_str::<PipelineConfig>(yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains("steps[1]: unknown step `lowpas`"), "{err}");
        assert!(
            err.contains("`moving_average`, `lowpass`, `background`"),
            "{err}"
        );
        let json = r#"{"steps": [{"lowpas": {}}]}"#;
        let err = serde_json::from_str::<PipelineConfig>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown step `lowpas`"), "{err}");
        let err = serde_yaml::from_str::<PipelineConfig>("steps: [{hampel: {windw: 3}}]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("steps[0].hampel: unknown field `windw`"),
            "{err}"
        );
        let err = serde_yaml::from_str::<PipelineConfig>("steps: [{sanitize: {}, hampel: {}}]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exactly one key (the step name), found 2"),
            "{err}"
        );
    }
}
