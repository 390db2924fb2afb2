//! `vipsetup status BLUEPRINT`.

use clap::Args;

use super::target_args::{print_json, runtime, OutputFormat, TargetArgs};
use crate::error::exit;
use crate::ops::status::status;

/// Show each resource's live state and which node holds the VIP
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: text for people, json for scripts
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: OutputFormat,
}

pub fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let report = runtime()?.block_on(status(&args.target.options()))?;
    match args.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => print!("{}", report.render_text()),
    }
    Ok(exit::OK)
}
