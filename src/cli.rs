//! Command-line layer: the only module that knows about clap (and indicatif, in `commands`).

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "vipsetup",
    version,
    about = "A highly available virtual IP on Oracle Cloud, from a YAML blueprint"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Plan(commands::plan::PlanArgs),
    Apply(commands::apply::ApplyArgs),
    Destroy(commands::destroy::DestroyArgs),
    Status(commands::status::StatusArgs),
    ForceUnlock(commands::force_unlock::ForceUnlockArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(a) => commands::plan::run(a),
        Command::Apply(a) => commands::apply::run(a),
        Command::Destroy(a) => commands::destroy::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::ForceUnlock(a) => commands::force_unlock::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::error::report(&e);
            crate::error::exit::ERROR
        }
    }
}
