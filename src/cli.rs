//! Command-line layer: the only module that knows about clap (and indicatif, in `commands`).

use clap::{Parser, Subcommand};

use crate::commands;
use crate::commands::output::{print_failure, wants_json, Ctx, OutputFormat};
use crate::commands::progress::{CallSpinner, SpinnerObserver};
use crate::error::{exit, ErrorInfo, UsageError};
use crate::oci::log;

#[derive(Debug, Parser)]
#[command(
    name = "vipsetup",
    version,
    about = "A highly available virtual IP on Oracle Cloud, from a YAML blueprint",
    after_help = "Exit codes: 0 success, 1 error (usage errors included), 2 changes present \
                  (plan --detailed-exitcode only) or some check could not tell (doctor only), \
                  3 locked by another run, 4 not ready (status; apply/status --wait timed out), \
                  5 drill failed."
)]
pub struct Cli {
    /// Output format: text for people, json for scripts (one JSON document on stdout, also on
    /// failure)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub output: OutputFormat,
    /// Log every OCI API call to stderr: operation, method, URL, status, opc-request-id, time
    /// and retries (never keys, tokens or signatures); also VIPSETUP_LOG=debug
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a blueprint offline and report every problem in it
    Validate(commands::validate::ValidateArgs),
    /// Write each node's cloud-init user data (keepalived + failover agent), offline
    Render(commands::render::RenderArgs),
    /// Write a commented starter blueprint (to stdout without FILE)
    Init(commands::init::InitArgs),
    Plan(commands::plan::PlanArgs),
    Apply(commands::apply::ApplyArgs),
    Destroy(commands::destroy::DestroyArgs),
    Status(commands::status::StatusArgs),
    Drill(commands::drill::DrillArgs),
    Doctor(commands::doctor::DoctorArgs),
    ForceUnlock(commands::force_unlock::ForceUnlockArgs),
    State(commands::state::StateArgs),
    /// The local OCI simulator (for tests and first runs)
    #[command(hide = true)]
    Simulator(commands::simulator::SimulatorArgs),
}

/// Runs the CLI and returns the process exit code (see `error::exit`).
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, wants_json(&args)),
    };
    let debug =
        cli.debug || std::env::var("VIPSETUP_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("debug"));
    let spinner = if debug {
        log::set_observer(Box::new(log::StderrLog));
        None
    } else if cli.output == OutputFormat::Text
        && matches!(
            cli.command,
            Command::Plan(_)
                | Command::Apply(_)
                | Command::Destroy(_)
                | Command::Status(_)
                | Command::Drill(_)
                | Command::Doctor(_)
        )
    {
        let spinner = CallSpinner::on_terminal();
        if let Some(s) = &spinner {
            log::set_observer(Box::new(SpinnerObserver(s.clone())));
        }
        spinner
    } else {
        None
    };
    let ctx = Ctx {
        output: cli.output,
        spinner,
        ..Ctx::default()
    };
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(args, &ctx),
        Command::Render(args) => commands::render::run(args, &ctx),
        Command::Init(args) => commands::init::run(args, &ctx),
        Command::Plan(args) => commands::plan::run(args, &ctx),
        Command::Apply(args) => commands::apply::run(args, &ctx),
        Command::Destroy(args) => commands::destroy::run(args, &ctx),
        Command::Status(args) => commands::status::run(args, &ctx),
        Command::Drill(args) => commands::drill::run(args, &ctx),
        Command::Doctor(args) => commands::doctor::run(args, &ctx),
        Command::ForceUnlock(args) => commands::force_unlock::run(args, &ctx),
        Command::State(args) => commands::state::run(args, &ctx),
        Command::Simulator(args) => commands::simulator::run(args),
    };
    ctx.lookups_done();
    match result {
        Ok(code) => code,
        Err(err) => {
            let info = ErrorInfo::of(&err);
            if ctx.json() {
                print_failure(&info, ctx.journal.done());
            }
            // People (and CI logs) still get the text on stderr.
            crate::error::report(&err);
            info.exit_code()
        }
    }
}

/// clap's help and version go to stdout with exit 0; every other parse failure is a usage
/// error, which exits 1 (clap's own 2 would read as "changes present" to a script).
fn usage_error(e: &clap::Error, json: bool) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            exit::OK
        }
        _ => {
            if json {
                let err = anyhow::Error::new(UsageError(e.render().to_string()));
                let mut info = ErrorInfo::of(&err);
                info.message = e.render().to_string().trim_end().to_string();
                print_failure(&info, Vec::new());
            }
            let _ = e.print();
            exit::ERROR
        }
    }
}
