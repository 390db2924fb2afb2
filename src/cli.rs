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
    /// Check a blueprint offline and report every problem in it
    Validate(commands::validate::ValidateArgs),
    /// Write each node's cloud-init user data (keepalived + failover agent), offline
    Render(commands::render::RenderArgs),
    /// Write a commented starter blueprint (to stdout without FILE)
    Init(commands::init::InitArgs),
    Plan(commands::plan::PlanArgs),
    Apply(commands::apply::ApplyArgs),
    Destroy(commands::destroy::DestroyArgs),
    Status(commands::status::StatusArgs),
    ForceUnlock(commands::force_unlock::ForceUnlockArgs),
    State(commands::state::StateArgs),
    /// The local OCI simulator (for tests and first runs)
    #[command(hide = true)]
    Simulator(commands::simulator::SimulatorArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(args),
        Command::Render(args) => commands::render::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Apply(args) => commands::apply::run(args),
        Command::Destroy(args) => commands::destroy::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::ForceUnlock(args) => commands::force_unlock::run(args),
        Command::State(args) => commands::state::run(args),
        Command::Simulator(args) => commands::simulator::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::error::report(&err);
            crate::error::code(&err)
        }
    }
}
