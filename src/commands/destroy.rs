//! `vipsetup destroy BLUEPRINT`.

use clap::Args;

use super::confirm::{check_can_confirm, confirmer};
use super::progress::for_stdout;
use super::target_args::{print_json, runtime, OutputFormat, TargetArgs};
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
    /// Output format: text for people, json for scripts
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: OutputFormat,
}

pub fn run(args: DestroyArgs) -> anyhow::Result<i32> {
    check_can_confirm(args.auto_approve, "destroy")?;
    let json = args.output == OutputFormat::Json;
    let confirm = confirmer(args.auto_approve, !json, "destroy");
    let progress = for_stdout(json);
    let outcome =
        runtime()?.block_on(destroy(&args.target.options(), &confirm, progress.as_ref()))?;
    if json {
        print_json(&outcome)?;
    } else if outcome.plan.has_changes() {
        println!("destroyed: {}", outcome.plan.summary());
    } else {
        println!("nothing to destroy: the pair is already gone");
    }
    Ok(exit::OK)
}
