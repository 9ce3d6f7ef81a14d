//! One safetensors file for the whole model, with stage prefixes
//! (`encoder.`, `upsampler.`, `backbone.`, `head.`, `temporal.`), and loading of
//! one prefix into a stage's own VarStore.

use std::collections::HashMap;
use std::path::Path;

use tch::{nn::VarStore, Tensor};

use crate::error::{ModelError, Result};

/// The stage prefixes of a whole-model checkpoint.
pub const STAGE_PREFIXES: [&str; 5] = ["encoder", "upsampler", "backbone", "head", "temporal"];

fn check_extension(path: &Path) -> Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(ModelError::Checkpoint {
            path: path.display().to_string(),
            message: "checkpoints are safetensors files; the name must end in `.safetensors`"
                .into(),
        });
    }
    Ok(())
}

/// Saves every variable of `vs` (names as in the store) to a safetensors file.
pub fn save(vs: &VarStore, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    check_extension(path)?;
    vs.save(path)?;
    Ok(())
}

/// Names and shapes of the tensors in a checkpoint, sorted by name.
pub fn tensor_shapes(path: impl AsRef<Path>) -> Result<Vec<(String, Vec<i64>)>> {
    let path = path.as_ref();
    check_extension(path)?;
    let mut out: Vec<_> = Tensor::read_safetensors(path)?
        .into_iter()
        .map(|(n, t)| (n, t.size()))
        .collect();
    out.sort();
    Ok(out)
}

/// Fills every variable of `vs` from the checkpoint tensor `"{prefix}.{name}"`
/// (`"{name}"` if `prefix` is empty). Tensors of other prefixes are ignored.
///
/// A stage node builds its module on `vs.root()` and loads its prefix, e.g.
/// `load_prefix(&mut vs, path, "encoder")`. Fails, before changing anything, on
/// the first missing or mis-shaped tensor (sorted by name), naming it with both shapes.
pub fn load_prefix(vs: &mut VarStore, path: impl AsRef<Path>, prefix: &str) -> Result<()> {
    load_filtered(vs, path.as_ref(), prefix, |_| true)
}

/// Fills the variables of `vs` that belong to `stages` (the first segment of their name, e.g.
/// `encoder` in `encoder.fusion.weight`) from the same names in the checkpoint; the store's
/// other variables keep their values. Errors as [`load_prefix`]. Stored tensors are converted to
/// each variable's kind, so a half-precision checkpoint loads into a float model.
pub fn load_stages(vs: &mut VarStore, path: impl AsRef<Path>, stages: &[&str]) -> Result<()> {
    load_filtered(vs, path.as_ref(), "", |name| {
        stages.contains(&name.split('.').next().unwrap_or(""))
    })
}

/// [`load_stages`] for fine-tuning a model that has modules its checkpoint does not: a module
/// (a variable's name without its last segment) of which the checkpoint holds no tensor at all
/// keeps its fresh values and is named in the result; every other variable loads as in
/// [`load_stages`], its errors included.
pub fn load_stages_keeping_new(
    vs: &mut VarStore,
    path: impl AsRef<Path>,
    stages: &[&str],
) -> Result<Vec<String>> {
    let path = path.as_ref();
    let stored = read(path)?;
    let module = |name: &str| name.rsplit_once('.').map_or("", |(m, _)| m).to_owned();
    let mut new: Vec<String> = vs
        .variables()
        .keys()
        .map(|n| module(n))
        .filter(|m| {
            stages.contains(&m.split('.').next().unwrap_or(""))
                && !stored.keys().any(|s| s.starts_with(&format!("{m}.")))
        })
        .collect();
    new.sort();
    new.dedup();
    load_from(vs, path, &stored, "", |name| {
        stages.contains(&name.split('.').next().unwrap_or("")) && !new.contains(&module(name))
    })?;
    Ok(new)
}

/// Every tensor of the checkpoint at `path`, by name.
fn read(path: &Path) -> Result<HashMap<String, Tensor>> {
    check_extension(path)?;
    Ok(Tensor::read_safetensors(path)?.into_iter().collect())
}

fn load_filtered(
    vs: &mut VarStore,
    path: &Path,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<()> {
    load_from(vs, path, &read(path)?, prefix, keep)
}

/// [`load_filtered`] from the tensors `stored` already read from `path`.
fn load_from(
    vs: &mut VarStore,
    path: &Path,
    stored: &HashMap<String, Tensor>,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<()> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(name, _)| keep(name))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let full_name = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let mut pairs = Vec::with_capacity(vars.len());
    for (name, var) in vars {
        let full = full_name(&name);
        let src = stored.get(&full).ok_or_else(|| ModelError::MissingTensor {
            path: path.display().to_string(),
            name: full.clone(),
            expected: var.size(),
        })?;
        if src.size() != var.size() {
            return Err(ModelError::ShapeMismatch {
                path: path.display().to_string(),
                name: full,
                expected: var.size(),
                found: src.size(),
            });
        }
        pairs.push((var, src));
    }
    tch::no_grad(|| -> Result<()> {
        for (mut var, src) in pairs {
            var.f_copy_(&src.to_kind(var.kind()).to_device(var.device()))?;
        }
        Ok(())
    })
}
