//! `vipsetup state push|pull BLUEPRINT`: move the pair's state between the local file and the
//! Object Storage bucket the blueprint's `state:` key names.

use clap::{Args, Subcommand};

use super::output::Ctx;
use super::target_args::{runtime, TargetArgs};
use crate::error::exit;
use crate::ops::state_admin;

/// Move the pair's state between the local file and Object Storage
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the local state file to the bucket of the blueprint's `state:` key, then rename the
    /// local file to <FILE>.pushed (refused if the bucket already holds the pair's state)
    Push(TargetArgs),
    /// Copy the pair's state from the bucket to the local file, then delete it from the bucket
    /// (refused if the local file exists); remove the `state:` key afterwards
    Pull(TargetArgs),
}

pub fn run(args: StateArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let (m, pushed) = match args.command {
        StateCommand::Push(t) => (rt.block_on(state_admin::push(&t.options()?))?, true),
        StateCommand::Pull(t) => (rt.block_on(state_admin::pull(&t.options()?))?, false),
    };
    if ctx.json() {
        ctx.print_json(&serde_json::json!({
            "from": m.from,
            "to": m.to,
            "old_copy": m.old_copy.as_ref().map(|p| p.display().to_string()),
        }))?;
        return Ok(exit::OK);
    }
    println!("moved the state from {} to {}", m.from, m.to);
    if let Some(old) = m.old_copy {
        println!(
            "the local copy is kept as {} (no longer read); delete it once you are sure",
            old.display()
        );
    }
    if !pushed {
        println!("now remove the `state:` key from the blueprint, so runs use the local file");
    }
    Ok(exit::OK)
}
