//! Reading a scene from YAML text or a file, and writing it back as YAML: a serde error or a
//! validation error is given the line of the field it names.

use super::location::{locate_field, locate_key_within};
use super::Scene;
use crate::error::SimError;
use std::path::Path;

impl Scene {
    /// Parses a scene from YAML and validates it. Errors carry the line and the field path.
    pub fn from_yaml_str(text: &str) -> Result<Scene, SimError> {
        let scene: Scene = serde_yaml::from_str(text).map_err(|e| yaml_error(text, &e))?;
        scene.validate().map_err(|e| match e {
            SimError::Invalid { field, message, .. } => SimError::Invalid {
                line: locate_field(text, &field),
                field,
                message,
            },
            other => other,
        })?;
        Ok(scene)
    }

    /// Reads and parses a scene file.
    pub fn from_file(path: &Path) -> Result<Scene, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::io(format!("reading scene {}", path.display()), e))?;
        Scene::from_yaml_str(&text)
    }

    /// The scene as YAML text.
    pub fn to_yaml_string(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

/// Converts a serde_yaml error. Errors inside tagged enums (motions, furniture) are reported by
/// serde_yaml at the enclosing item; for unknown fields the line of the field itself is found.
fn yaml_error(text: &str, e: &serde_yaml::Error) -> SimError {
    let loc = e.location();
    let mut line = loc.as_ref().map(|l| l.line());
    let mut column = loc.as_ref().map(|l| l.column());
    let mut message = e.to_string();
    if let Some((path, rest)) = message.split_once(": unknown field `") {
        if let Some((key, _)) = rest.split_once('`') {
            if let Some(l) = locate_key_within(text, path, key) {
                if Some(l) != line {
                    line = Some(l);
                    column = None;
                }
            }
        }
    }
    // the location is reported once, in the error's own format
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    SimError::Yaml {
        line,
        column,
        message,
    }
}
