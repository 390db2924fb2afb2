//! `vipsetup validate FILE`: check a blueprint offline and report every problem in it.

use std::path::PathBuf;

use super::output::Ctx;
use crate::blueprint;
use crate::error::{exit, DiagnosticJson};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The blueprint to check
    pub file: PathBuf,
}

/// `--output json` on success.
#[derive(serde::Serialize)]
struct Valid {
    file: String,
    pair: String,
    nodes: [String; 2],
    vip: String,
    /// Every VIP: the IPv4 ones (the first is `vip`), then the IPv6 ones.
    vips: Vec<String>,
    /// Problems that do not stop the pair from working (each with file, line, column).
    warnings: Vec<DiagnosticJson>,
}

pub fn run(args: ValidateArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    // Problems go to the one error printer (text on stderr, or the JSON failure document).
    let bp = blueprint::load(&args.file)?;
    let vips: Vec<String> = bp
        .network
        .vips
        .iter()
        .map(|v| v.to_string())
        .chain(bp.network.vip6.iter().map(|v| v.to_string()))
        .collect();
    if ctx.json() {
        ctx.print_json(&Valid {
            file: args.file.display().to_string(),
            pair: bp.name.clone(),
            nodes: bp.nodes.clone().map(|n| n.name),
            vip: bp.network.vip.to_string(),
            vips: vips.clone(),
            warnings: bp.warnings.iter().map(DiagnosticJson::from).collect(),
        })?;
    } else {
        for w in &bp.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "{}: ok (pair {}, nodes {} and {}, {} {})",
            args.file.display(),
            bp.name,
            bp.nodes[0].name,
            bp.nodes[1].name,
            if vips.len() > 1 { "VIPs" } else { "VIP" },
            vips.join(", ")
        );
    }
    Ok(exit::OK)
}
