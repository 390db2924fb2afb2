//! `vipsetup force-unlock BLUEPRINT`: remove a lock left by a run that died, saying whose it was.

use clap::Args;

use super::output::Ctx;
use super::target_args::{runtime, TargetArgs};
use crate::engine::lock::Removed;
use crate::error::exit;
use crate::ops::state_admin;

/// Remove the pair's lock (only when no other vipsetup is working on it)
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: ForceUnlockArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let opts = args.target.options()?;
    let (place, removed) = runtime()?.block_on(state_admin::force_unlock(&opts))?;
    if ctx.json() {
        let holder = match &removed {
            Some(Removed::Holder(info)) => serde_json::to_value(info)?,
            _ => serde_json::Value::Null,
        };
        ctx.print_json(&serde_json::json!({
            "lock": place,
            "removed": removed.is_some(),
            "holder": holder,
            "description": removed.as_ref().map(ToString::to_string),
        }))?;
        return Ok(exit::OK);
    }
    match removed {
        Some(r) => println!("removed {r} from {place}"),
        None => println!("no lock to remove at {place}"),
    }
    Ok(exit::OK)
}
