//! `wdp`: the wifi-densepose command-line tool.
//!
//! - `wdp run DATAFLOW.yml [-- dora run options]` runs a dataflow with the project's pinned dora
//!   CLI and the environment its nodes need; it shows the nodes' lines and the runtime's
//!   warnings and errors (`--verbose`: everything) and keeps the full log in `out/`.
//! - `wdp doctor` checks the set-up and says exactly what is wrong.
//! - `wdp inspect CAPTURE [--json] [--packets A..B]` summarises a capture file of any format.
//! - `wdp simulate --scene ROOM --out DIR` writes a simulated dataset.
//! - `wdp sense CAPTURE [--json]` reports signal-level motion and presence per second.
//! - `wdp building --rooms N --machines M` writes a building's dataflow over several machines.
//! - `wdp empty-room CAPTURE --geometry G --out F` records the empty room's background for
//!   csi-locate's still image.

mod building;
mod doctor;
mod empty_room;
mod inspect;
mod progress;
mod project;
mod quiet;
mod run;
mod sense;
mod simulate;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "wdp",
    version,
    about = "wifi-densepose: WiFi CSI to dense human pose, as dora dataflows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a dataflow with the pinned dora CLI (extra arguments go to `dora run`): shows the
    /// nodes' lines and the runtime's warnings and errors, keeps its full log in the dataflow's
    /// `out/` folder, and ends with where the outputs are.
    Run {
        /// Show the runtime's whole output (DEBUG/INFO too), as `dora run` prints it; so do
        /// `RUST_LOG` and dora's `--log-level`/`--log-filter`/`--log-format`.
        #[arg(long, short)]
        verbose: bool,
        /// The dataflow YAML file.
        dataflow: PathBuf,
        /// Options for `dora run`, e.g. `--stop-after 30s`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        dora_args: Vec<String>,
    },
    /// Check the set-up: venv, dora CLI version, shared memory, torch, built nodes.
    Doctor,
    /// Read a capture file (format detected from its content) and summarise it.
    Inspect(inspect::Args),
    /// Write a simulated dataset (Arrow IPC shards of CSI windows with ground truth).
    Simulate(simulate::Args),
    /// Signal-level motion and presence over a capture file, one line per second of capture
    /// time (no trained model; calibrates on the first seconds, which should be quiet).
    Sense(sense::Args),
    /// Record the empty room's background (csi-locate's `EMPTY_ROOM`) from a capture of the
    /// room with nobody in it.
    EmptyRoom(empty_room::Args),
    /// Write the dataflow of a building: N rooms on M room machines and a compute machine,
    /// merged by room-fusion (`wdp building --help`).
    Building(building::Args),
    /// Train, fine-tune or adapt a model on dataset folders (`wdp train --help`).
    #[command(disable_help_flag = true)]
    Train {
        /// Arguments of `wdp-train train`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Evaluate a checkpoint on labelled dataset folders (`wdp eval --help`).
    #[command(disable_help_flag = true)]
    Eval {
        /// Arguments of `wdp-train eval`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            verbose,
            dataflow,
            dora_args,
        } => run::run(&dataflow, &dora_args, verbose),
        Command::Doctor => doctor::doctor(),
        Command::Inspect(args) => inspect::inspect(&args),
        Command::Simulate(args) => simulate::simulate(&args),
        Command::Sense(args) => sense::sense(&args),
        Command::EmptyRoom(args) => empty_room::empty_room(&args),
        Command::Building(args) => building::building(&args),
        Command::Train { args } => train::run("train", &args),
        Command::Eval { args } => train::run("eval", &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wdp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
