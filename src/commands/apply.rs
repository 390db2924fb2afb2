//! `vipsetup apply BLUEPRINT`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::confirm::{check_can_confirm, confirmer};
use super::output::Ctx;
use super::progress::for_stdout;
use super::target_args::{node_names, parse_duration, runtime, TargetArgs};
use crate::engine::plan::Action;
use crate::engine::Resource;
use crate::error::{exit, UsageError};
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
    /// Then wait until the pair is ready (default 15m; e.g. --wait=20m): both agents reporting,
    /// one MASTER holding the VIPs; exit 4 if it is not ready by then
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "15m",
        value_parser = parse_duration
    )]
    pub wait: Option<Duration>,
    /// With `image.os` + `version`: move nodes running an older image of it to the newest (a
    /// replacement). Without it a newer platform image is only shown as available
    #[arg(long)]
    pub upgrade_image: bool,
}

pub fn run(args: ApplyArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    if args.wait.is_some() && args.target.simulate {
        return Err(UsageError(
            "--wait needs running nodes: with --simulate no node runs keepalived or the agent, \
             so the pair never becomes ready; drop --wait (or --simulate)"
                .into(),
        )
        .into());
    }
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
    if let Some(limit) = args.wait {
        return wait_after(&opts, &outcome, limit, ctx);
    }
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

/// `apply --wait`: the apply's outcome, then the wait for readiness (its lines as it goes), then
/// the verdict; JSON: the outcome's keys plus status's verdict keys.
fn wait_after(
    opts: &ApplyOptions,
    outcome: &crate::ops::pair::Outcome,
    limit: Duration,
    ctx: &Ctx,
) -> anyhow::Result<i32> {
    let json = ctx.json();
    if !json {
        if !outcome.plan.has_changes() {
            println!("no changes: the pair matches the blueprint");
        }
        println!(
            "\nwaiting up to {}s for the pair to be ready:",
            limit.as_secs()
        );
    }
    let say = move |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("  {line}");
        }
    };
    let view = runtime()?.block_on(crate::ops::ready::status(&opts.target, Some(limit), &say))?;
    if json {
        let mut doc = serde_json::to_value(outcome)?;
        let verdict = serde_json::to_value(&view)?;
        if let (Some(d), Some(v)) = (doc.as_object_mut(), verdict.as_object()) {
            for k in ["ready", "problems", "waiting", "waited_secs", "timed_out"] {
                if let Some(x) = v.get(k) {
                    d.insert(k.into(), x.clone());
                }
            }
        }
        ctx.print_json(&doc)?;
    } else {
        print!("\n{}", view.render_text());
    }
    Ok(super::status::exit_code(&view))
}
