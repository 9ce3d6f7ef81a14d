//! `wdp train` and `wdp eval`: the `wdp-train` tool (built beside `wdp`) with the environment it
//! needs (torch's libraries on the library path), so users never set it themselves.

use crate::project;
use eyre::{bail, Context, Result};
use std::process::{Command, ExitCode};

pub fn run(subcommand: &str, args: &[String]) -> Result<ExitCode> {
    let tool = std::env::current_exe()
        .wrap_err("locating the wdp binary")?
        .with_file_name("wdp-train");
    if !tool.is_file() {
        bail!(
            "{} is missing: run scripts/setup.sh (it builds every tool)",
            tool.display()
        );
    }
    let root = project::root(None).ok_or_else(|| {
        eyre::eyre!("cannot find the wifi-densepose project (set WDP_HOME to its folder)")
    })?;
    let venv = project::venv(&root);
    let status = Command::new(&tool)
        .arg(subcommand)
        .args(args)
        .envs(project::node_environment(&venv))
        .status()
        .wrap_err_with(|| format!("starting {}", tool.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
