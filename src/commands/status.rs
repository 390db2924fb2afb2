//! `vipsetup status BLUEPRINT [--wait[=DURATION]] [--watch]`.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;

use super::output::Ctx;
use super::target_args::{parse_duration, runtime, TargetArgs};
use crate::error::exit;
use crate::ops::ready::{ready_poll, status, StatusView};

/// Show each resource's live state, which node holds the VIP, and whether the pair is ready
/// (exit 0 ready, 4 not ready)
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Wait until the pair is ready (default 15m; e.g. --wait=5m), saying what each node waits
    /// for; exit 4 if it is not ready by then
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "15m",
        value_parser = parse_duration
    )]
    pub wait: Option<Duration>,
    /// Redraw both views (the API's and the agents') every few seconds until interrupted
    #[arg(long, conflicts_with = "wait")]
    pub watch: bool,
}

pub fn run(args: StatusArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let opts = args.target.options()?;
    let rt = runtime()?;
    let json = ctx.json();
    let say = move |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if args.watch {
        let clear = !json && std::io::stdout().is_terminal();
        loop {
            let view = rt.block_on(status(&opts, None, &say));
            ctx.lookups_done();
            let view = view?;
            if json {
                println!("{}", serde_json::to_string(&view)?);
            } else {
                if clear {
                    // Clear the screen and home the cursor (VT100), as `watch` does.
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", view.render_text());
                println!("(every {}s; Ctrl-C to stop)", ready_poll().as_secs().max(1));
            }
            std::thread::sleep(ready_poll());
        }
    }
    let view = rt.block_on(status(&opts, args.wait, &say));
    ctx.lookups_done();
    let view = view?;
    print_view(&view, ctx)?;
    Ok(exit_code(&view))
}

pub fn print_view(view: &StatusView, ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.json() {
        ctx.print_json(view)
    } else {
        print!("{}", view.render_text());
        Ok(())
    }
}

/// 0 ready, 4 not ready (or not ready in time).
pub fn exit_code(view: &StatusView) -> i32 {
    if view.ready {
        exit::OK
    } else {
        exit::NOT_READY
    }
}
