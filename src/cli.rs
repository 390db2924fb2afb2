//! Command-line layer: the only module that knows about clap (and, later, indicatif).

use clap::{Parser, Subcommand};

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
    /// The local OCI simulator (for tests and first runs)
    #[command(hide = true)]
    Simulator(crate::commands::simulator::SimulatorArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulator(args) => crate::commands::simulator::run(args),
    };
    match result {
        Ok(()) => crate::error::exit::OK,
        Err(e) => {
            crate::error::report(&e);
            crate::error::exit::ERROR
        }
    }
}
