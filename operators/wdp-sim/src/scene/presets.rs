//! Named room presets: the training and the held-out rooms, each a YAML file of the crate's
//! `presets` directory compiled into the library and parsed like any scene file.

use super::Scene;
use crate::error::SimError;

/// Rooms used for training.
pub const TRAIN_PRESETS: [&str; 4] = ["lab", "office", "living-room", "kitchen"];
/// Rooms held out from training (different sizes, materials, radios and layouts).
pub const HELD_OUT_PRESETS: [&str; 2] = ["corridor", "bedroom"];

impl Scene {
    /// A named preset, or a scene file when `name` ends in `.yml` or `.yaml`, read from
    /// `path(name)` (e.g. relative to a dataflow's folder).
    pub fn load(
        name: &str,
        path: impl FnOnce(&str) -> std::path::PathBuf,
    ) -> Result<Scene, SimError> {
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            Scene::from_file(&path(name))
        } else {
            Scene::preset(name)
        }
    }

    /// All preset names: training rooms then held-out rooms.
    pub fn preset_names() -> Vec<&'static str> {
        TRAIN_PRESETS
            .iter()
            .chain(HELD_OUT_PRESETS.iter())
            .copied()
            .collect()
    }

    /// A named room preset. `lab` is the default room: 6 x 5 x 3 m, one person wandering,
    /// Intel 5300 3x3 at 5.32 GHz, 100 packets/s, camera at 20 fps. `generated-<seed>` is a
    /// room drawn from the seed ([`Scene::generated`]).
    pub fn preset(name: &str) -> Result<Scene, SimError> {
        if let Some(seed) = Scene::generated_seed(name) {
            return Ok(Scene::generated(seed));
        }
        let text = match name {
            "lab" => include_str!("../../presets/lab.yaml"),
            "office" => include_str!("../../presets/office.yaml"),
            "living-room" => include_str!("../../presets/living-room.yaml"),
            "kitchen" => include_str!("../../presets/kitchen.yaml"),
            "corridor" => include_str!("../../presets/corridor.yaml"),
            "bedroom" => include_str!("../../presets/bedroom.yaml"),
            _ => {
                return Err(SimError::UnknownPreset(
                    name.to_string(),
                    format!(
                        "{}, or {}<seed> for a generated room",
                        Scene::preset_names().join(", "),
                        super::GENERATED_PREFIX
                    ),
                ))
            }
        };
        let mut scene = Scene::from_yaml_str(text)?;
        if scene.name.is_empty() {
            scene.name = name.to_string();
        }
        Ok(scene)
    }
}
