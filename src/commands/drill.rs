//! `vipsetup drill BLUEPRINT [--node NAME] [--method softstop|stop|softreset] [--auto-approve]`.

use std::io::{BufRead, Write};

use clap::Args;

use super::confirm::check_can_confirm;
use super::output::Ctx;
use super::target_args::{runtime, TargetArgs};
use crate::error::exit;
use crate::ops::drill::{drill, DrillOptions, DrillPlan, Method};

/// Fail the pair over on purpose and time it: stop the VIP's owner, watch the peer take over,
/// start the node again (exit 0 passed, 1 refused, 5 failed)
#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The node to stop (name or node1/node2) [default: the one holding the VIP]
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// How to stop it: softstop (ACPI shutdown), stop (power off) or softreset (ACPI reboot)
    #[arg(long, value_enum, default_value = "softstop")]
    pub method: Method,
    /// Go ahead without asking (needed when stdin is not a terminal, e.g. in CI)
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(args: DrillArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    check_can_confirm(args.auto_approve, "drill")?;
    let json = ctx.json();
    let opts = DrillOptions {
        target: args.target.options()?,
        node: args.node.clone(),
        method: args.method,
    };
    let spinner = ctx.spinner.clone();
    let auto = args.auto_approve;
    let confirm = move |plan: &DrillPlan| {
        if let Some(s) = &spinner {
            s.stop();
        }
        if !json {
            print!("{}", plan.render_text());
        }
        if auto {
            return true;
        }
        eprint!("\nDo you want to run this drill? Only 'yes' is accepted: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim() == "yes"
    };
    let say = move |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("  {line}");
        }
    };
    let record = runtime()?.block_on(drill(&opts, &confirm, &say));
    ctx.lookups_done();
    let record = record?;
    if json {
        ctx.print_json(&record)?;
    } else {
        print!("\n{}", record.render_text());
    }
    Ok(if record.passed {
        exit::OK
    } else {
        exit::DRILL_FAILED
    })
}
