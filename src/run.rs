//! `wdp run`: a dataflow through the pinned dora CLI.

use crate::project;
use eyre::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, ExitCode};

pub fn run(dataflow: &Path, dora_args: &[String]) -> Result<ExitCode> {
    if !dataflow.is_file() {
        bail!("{}: no such dataflow file", dataflow.display());
    }
    let root = project::root(dataflow.parent()).ok_or_else(|| {
        eyre::eyre!("cannot find the wifi-densepose project (set WDP_HOME to its folder)")
    })?;
    let venv = project::venv(&root);
    let dora = venv.join("bin/dora");
    if !dora.is_file() {
        bail!(
            "{} is missing: run scripts/setup.sh first (it installs dora-rs-cli=={})",
            dora.display(),
            project::DORA_VERSION
        );
    }
    let status = Command::new(&dora)
        .arg("run")
        .arg(dataflow)
        .args(dora_args)
        .envs(project::node_environment(&venv))
        .env("WDP_HOME", &root)
        .status()
        .wrap_err_with(|| format!("starting {}", dora.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
