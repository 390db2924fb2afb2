//! `vipsetup doctor BLUEPRINT`: what this tenancy lacks for the pair, read-only.

use clap::Args;

use super::output::Ctx;
use super::target_args::{runtime, TargetArgs};
use crate::ops::doctor::doctor;

/// Check, read-only, everything the pair needs from this tenancy (credentials, network,
/// addresses, shape, limits, image, IAM, state bucket); exit 0 all ok, 1 a problem, 2 could not
/// tell
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: DoctorArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let report = runtime()?.block_on(doctor(&args.target.options()?));
    ctx.lookups_done();
    let report = report?;
    let code = report.exit_code();
    if ctx.json() {
        // The report is the document whatever it found: `ok` is true only when every check
        // passed, `exit_code` is the process's.
        let mut v = serde_json::to_value(&report)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("ok".into(), serde_json::Value::Bool(code == 0));
            m.insert("exit_code".into(), code.into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(code)
}
