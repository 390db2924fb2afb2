//! `vipsetup plan BLUEPRINT`.

use clap::Args;

use super::target_args::{print_json, runtime, OutputFormat, TargetArgs};
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
    /// Output format: text for people, json for scripts
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: OutputFormat,
}

pub fn run(args: PlanArgs) -> anyhow::Result<i32> {
    let opts = PlanOptions {
        target: args.target.options(),
        replace: args.replace.clone(),
        destroy: args.destroy,
    };
    let plan = runtime()?.block_on(plan(&opts))?;
    match args.output {
        OutputFormat::Json => print_json(&plan)?,
        OutputFormat::Text => print!("{}", plan.render_text()),
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
