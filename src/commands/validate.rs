//! `vipsetup validate FILE`: check a blueprint offline and report every problem in it.

use std::path::PathBuf;

use crate::blueprint;
use crate::error::exit;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The blueprint to check
    pub file: PathBuf,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    match blueprint::load(&args.file) {
        Ok(bp) => {
            println!(
                "{}: ok (pair {}, nodes {} and {}, VIP {})",
                args.file.display(),
                bp.name,
                bp.nodes[0].name,
                bp.nodes[1].name,
                bp.network.vip
            );
            Ok(exit::OK)
        }
        Err(diags) => {
            print_diagnostics(&diags);
            Ok(exit::ERROR)
        }
    }
}

/// Prints each problem as `error: file:line:col: field: message` plus its help line.
pub fn print_diagnostics(diags: &blueprint::Diagnostics) {
    for d in diags.iter() {
        eprintln!("error: {d}");
    }
    if diags.len() > 1 {
        eprintln!("{} problems found; fix them and run again", diags.len());
    }
}
