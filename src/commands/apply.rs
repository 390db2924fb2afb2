//! `vipsetup apply BLUEPRINT`.

use std::path::PathBuf;

use clap::Args;

use super::confirm::{check_can_confirm, confirmer};
use super::output::Ctx;
use super::progress::for_stdout;
use super::target_args::{node_names, runtime, TargetArgs};
use crate::engine::plan::Action;
use crate::engine::Resource;
use crate::error::exit;
use crate::ops::apply::{apply, ApplyOptions};

/// Build the pair, or bring it back in line with the blueprint; safe to run again
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Go ahead without asking (needed when stdin is not a terminal, e.g. in CI)
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow replacing this node (name or node1/node2), or force its replacement; repeatable
    #[arg(long, value_name = "NODE")]
    pub replace: Vec<String>,
    /// Where to write each node's rendered cloud-config [default: <BLUEPRINT>.rendered/]
    #[arg(long, value_name = "DIR")]
    pub user_data_dir: Option<PathBuf>,
    /// Run `vipsetup doctor`'s read-only checks first; change nothing if one finds a problem
    #[arg(long)]
    pub doctor: bool,
    /// With `image.os` + `version`: move nodes running an older image of it to the newest (a
    /// replacement). Without it a newer platform image is only shown as available
    #[arg(long)]
    pub upgrade_image: bool,
}

pub fn run(args: ApplyArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    check_can_confirm(args.auto_approve, "apply")?;
    let json = ctx.json();
    let opts = ApplyOptions {
        target: args.target.options()?,
        replace: args.replace.clone(),
        user_data_dir: args.user_data_dir.clone(),
        doctor: args.doctor,
        upgrade_image: args.upgrade_image,
    };
    let confirm = confirmer(
        args.auto_approve,
        !json,
        "apply",
        ctx.spinner.clone(),
        node_names(&opts.target, !json),
    );
    let progress = ctx.journal.recording(for_stdout(json), ctx.spinner.clone());
    let rt = runtime()?;
    {
        let _in_runtime = rt.enter();
        super::interrupt::install("apply")?;
    }
    let outcome = rt.block_on(apply(&opts, &confirm, progress.as_ref()));
    ctx.lookups_done();
    let outcome = outcome?;
    if json {
        ctx.print_json(&outcome)?;
    } else {
        if !outcome.plan.has_changes() {
            println!("no changes: the pair matches the blueprint");
            // With changes, the plan shown before confirming carried them.
            for w in &outcome.plan.warnings {
                println!("warning: {w}");
            }
        }
        print!("\n{}", outcome.report.render_text());
        let iam_changed = [Resource::DynamicGroup, Resource::Policy]
            .iter()
            .any(|r| outcome.plan.action(*r) != Action::NoOp);
        if iam_changed {
            println!(
                "\nnote: IAM changes take up to a few minutes to reach instance principals; \
                 the agents wait them out before they can move the VIP"
            );
        }
    }
    Ok(exit::OK)
}
