//! `vipsetup destroy BLUEPRINT`.

use clap::Args;

use super::confirm::{check_can_confirm, confirmer};
use super::output::Ctx;
use super::progress::for_stdout;
use super::target_args::{node_names, runtime, TargetArgs};
use crate::engine::plan::Action;
use crate::error::exit;
use crate::ops::destroy::destroy;

/// Delete the pair (VIP, instances, policy, dynamic group, security group); safe to run again
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Go ahead without asking (needed when stdin is not a terminal, e.g. in CI)
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(args: DestroyArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    check_can_confirm(args.auto_approve, "destroy")?;
    let json = ctx.json();
    let opts = args.target.options()?;
    let confirm = confirmer(
        args.auto_approve,
        !json,
        "destroy",
        ctx.spinner.clone(),
        node_names(&opts, false),
    );
    let progress = ctx.journal.recording(for_stdout(json), ctx.spinner.clone());
    let rt = runtime()?;
    {
        let _in_runtime = rt.enter();
        super::interrupt::install("destroy")?;
    }
    let outcome = rt.block_on(destroy(&opts, &confirm, progress.as_ref()));
    ctx.lookups_done();
    let outcome = outcome?;
    if json {
        ctx.print_json(&outcome)?;
    } else if outcome.plan.has_changes() {
        let count = |a| outcome.plan.steps.iter().filter(|s| s.action == a).count();
        let gone = count(Action::NoOp);
        println!(
            "destroyed: {} resources{}",
            count(Action::Delete),
            if gone > 0 {
                format!(" ({gone} were already gone)")
            } else {
                String::new()
            }
        );
    } else {
        println!("nothing to destroy: the pair is already gone");
    }
    Ok(exit::OK)
}
