//! `vipsetup plan BLUEPRINT`.

use clap::Args;

use super::output::Ctx;
use super::target_args::{node_names, runtime, TargetArgs};
use crate::engine::report::plan_text;
use crate::error::exit;
use crate::ops::plan::{plan, PlanOptions};

/// Show what apply would create, update, replace or leave (changes nothing)
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan a replacement of this node (name or node1/node2); repeatable
    #[arg(long, value_name = "NODE")]
    pub replace: Vec<String>,
    /// Show what destroy would delete instead
    #[arg(long)]
    pub destroy: bool,
    /// With `image.os` + `version`: move nodes running an older image of it to the newest (a
    /// replacement). Without it a newer platform image is only shown as available
    #[arg(long)]
    pub upgrade_image: bool,
}

pub fn run(args: PlanArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let opts = PlanOptions {
        target: args.target.options()?,
        replace: args.replace.clone(),
        destroy: args.destroy,
        upgrade_image: args.upgrade_image,
    };
    let plan = runtime()?.block_on(plan(&opts));
    ctx.lookups_done();
    let plan = plan?;
    if ctx.json() {
        ctx.print_json(&plan)?;
    } else {
        print!("{}", plan_text(&plan, &node_names(&opts.target, true)));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
