//! `vipsetup status BLUEPRINT`.

use clap::Args;

use super::output::Ctx;
use super::target_args::{runtime, TargetArgs};
use crate::error::exit;
use crate::ops::status::status;

/// Show each resource's live state and which node holds the VIP
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: StatusArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let opts = args.target.options()?;
    let report = runtime()?.block_on(status(&opts));
    ctx.lookups_done();
    let report = report?;
    if ctx.json() {
        ctx.print_json(&report)?;
    } else {
        print!("{}", report.render_text());
    }
    Ok(exit::OK)
}
