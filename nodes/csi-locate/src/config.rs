//! Configuration from the `env:` block of the dataflow YAML.

use eyre::{bail, eyre, Context, Result};
use wdp_locate::{LocatorSettings, RadioGeometry};
use wdp_node::env::{dataflow_path, inline_or_file, var};

/// The radio geometry (`RADIO_GEOMETRY`, or the `SCENE`'s) and the locator's settings
/// (`WDP_LOCATOR_CONFIG`, or the defaults).
pub fn from_env() -> Result<(RadioGeometry, LocatorSettings)> {
    let geometry = match (inline_or_file("RADIO_GEOMETRY")?, var("SCENE")) {
        (Some(_), Some(_)) => bail!("RADIO_GEOMETRY and SCENE are both set: give one"),
        (Some(text), None) => {
            RadioGeometry::from_yaml_str(&text).map_err(|e| eyre!("RADIO_GEOMETRY: {e}"))?
        }
        (None, Some(name)) => RadioGeometry::from_scene(&scene(&name)?),
        (None, None) => bail!(
            "no antenna geometry: set RADIO_GEOMETRY (tx, rx arrays, carrier_hz, room_m) or \
             SCENE (a simulator scene)"
        ),
    };
    let settings = match inline_or_file("WDP_LOCATOR_CONFIG")? {
        Some(text) => {
            LocatorSettings::from_yaml_str(&text).map_err(|e| eyre!("WDP_LOCATOR_CONFIG: {e}"))?
        }
        None => LocatorSettings::default(),
    };
    settings
        .validate()
        .map_err(|e| eyre!("WDP_LOCATOR_CONFIG: {e}"))?;
    Ok((geometry, settings))
}

/// A scene preset by name, or a scene file (relative to the dataflow folder).
fn scene(name: &str) -> Result<wdp_sim::Scene> {
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        wdp_sim::Scene::from_file(&dataflow_path(name))
    } else {
        wdp_sim::Scene::preset(name)
    }
    .wrap_err_with(|| format!("SCENE={name}"))
}
