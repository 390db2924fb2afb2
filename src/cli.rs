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
pub enum Command {}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let _cli = Cli::parse();
    crate::error::exit::OK
}
