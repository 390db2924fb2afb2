//! `vipsetup force-unlock BLUEPRINT`: remove a lock left by a run that died, saying whose it was.

use clap::Args;

use super::target_args::{runtime, TargetArgs};
use crate::error::exit;
use crate::ops::state_admin;

/// Remove the pair's lock (only when no other vipsetup is working on it)
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: ForceUnlockArgs) -> anyhow::Result<i32> {
    let opts = args.target.options();
    let (place, removed) = runtime()?.block_on(state_admin::force_unlock(&opts))?;
    match removed {
        Some(r) => println!("removed {r} from {place}"),
        None => println!("no lock to remove at {place}"),
    }
    Ok(exit::OK)
}
