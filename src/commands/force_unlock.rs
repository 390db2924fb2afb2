//! `vipsetup force-unlock BLUEPRINT`: remove a lock left by a run that died on another host.

use std::path::PathBuf;

use clap::Args;

use super::output::Ctx;
use crate::engine::lock::Lock;
use crate::engine::state;
use crate::error::exit;

/// Remove the pair's lock (only when no other vipsetup is working on it)
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The pair's blueprint
    pub blueprint: PathBuf,
    /// State file [default: <BLUEPRINT>.state.json]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

pub fn run(args: ForceUnlockArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let path = args
        .state
        .unwrap_or_else(|| state::default_path(&args.blueprint));
    let removed = Lock::force_unlock(&path)?;
    if ctx.json() {
        ctx.print_json(&serde_json::json!({ "removed": removed }))?;
        return Ok(exit::OK);
    }
    match removed {
        Some(info) => println!(
            "removed the lock held by `{}` (pid {} on {})",
            info.command, info.pid, info.host
        ),
        None => println!("no lock to remove"),
    }
    Ok(exit::OK)
}
