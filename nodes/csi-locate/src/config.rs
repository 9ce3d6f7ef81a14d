//! Configuration from the `env:` block of the dataflow YAML.

use eyre::{bail, eyre, Context, Result};
use wdp_locate::{simulated_background, Background, LocatorSettings, RadioGeometry};
use wdp_node::env::{dataflow_path, inline_or_file, var};

/// What the node is configured with.
pub struct Config {
    pub geometry: RadioGeometry,
    pub settings: LocatorSettings,
    /// The empty room's channel the still image compares with: `EMPTY_ROOM`'s, or with
    /// `SCENE` the simulated room's own calibration; `None` without either.
    pub background: Option<Background>,
}

/// The radio geometry (`RADIO_GEOMETRY`, or the `SCENE`'s), the locator's settings
/// (`WDP_LOCATOR_CONFIG`, or the defaults) and the empty room's background.
pub fn from_env() -> Result<Config> {
    let settings = match inline_or_file("WDP_LOCATOR_CONFIG")? {
        Some(text) => {
            LocatorSettings::from_yaml_str(&text).map_err(|e| eyre!("WDP_LOCATOR_CONFIG: {e}"))?
        }
        None => LocatorSettings::default(),
    };
    settings
        .validate()
        .map_err(|e| eyre!("WDP_LOCATOR_CONFIG: {e}"))?;
    let recorded = match inline_or_file("EMPTY_ROOM")? {
        Some(text) => Some(Background::from_yaml_str(&text).map_err(|e| eyre!("EMPTY_ROOM: {e}"))?),
        None => None,
    };
    let (geometry, background) = match (inline_or_file("RADIO_GEOMETRY")?, var("SCENE")) {
        (Some(_), Some(_)) => bail!("RADIO_GEOMETRY and SCENE are both set: give one"),
        (Some(text), None) => (
            RadioGeometry::from_yaml_str(&text).map_err(|e| eyre!("RADIO_GEOMETRY: {e}"))?,
            recorded,
        ),
        (None, Some(name)) => {
            let scene = wdp_sim::Scene::load(&name, dataflow_path)
                .wrap_err_with(|| format!("SCENE={name}"))?;
            let background = match recorded {
                Some(b) => Some(b),
                None => simulated_background(&scene, &settings)
                    .map_err(|e| eyre!("SCENE={name}: the empty room's background: {e}"))?,
            };
            (RadioGeometry::from_scene(&scene), background)
        }
        (None, None) => bail!(
            "no antenna geometry: set RADIO_GEOMETRY (tx, rx arrays, carrier_hz, room_m) or \
             SCENE (a simulator scene)"
        ),
    };
    Ok(Config {
        geometry,
        settings,
        background,
    })
}
