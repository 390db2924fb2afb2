//! `vipsetup init [FILE]`: write a commented starter blueprint (or print it).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::output::Ctx;
use crate::error::exit;

/// The starter blueprint: every field, commented, with placeholder OCIDs, for the pair
/// `STARTER_NAME`; every other name in it (nodes, dynamic group, policy) derives from that one.
pub const STARTER: &str = include_str!("../../templates/init.yaml");
const STARTER_NAME: &str = "web-vip";

/// The starter for pair `name`.
pub fn starter(name: &str) -> String {
    STARTER.replace(STARTER_NAME, name)
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write it; prints to stdout when left out
    pub file: Option<PathBuf>,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// The pair's name; the nodes, dynamic group and policy are named after it
    /// [default: FILE's name without .yaml when it is a valid pair name, else web-vip]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub fn run(args: InitArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let from_file = args
        .file
        .as_ref()
        .and_then(|f| f.file_stem())
        .and_then(|s| s.to_str())
        .filter(|s| crate::blueprint::is_pair_name(s));
    let name = match &args.name {
        Some(n) if !crate::blueprint::is_pair_name(n) => anyhow::bail!(
            "--name {n}: a pair name is 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen; choose another"
        ),
        Some(n) => n.as_str(),
        None => from_file.unwrap_or(STARTER_NAME),
    };
    let text = starter(name);
    let Some(path) = args.file else {
        if ctx.json() {
            ctx.print_json(&serde_json::json!({ "blueprint": text }))?;
        } else {
            std::io::stdout().write_all(text.as_bytes())?;
        }
        return Ok(exit::OK);
    };
    if path.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; choose another name, or pass --force to overwrite it",
            path.display()
        );
    }
    crate::render::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if ctx.json() {
        ctx.print_json(&serde_json::json!({ "file": path.display().to_string() }))?;
    }
    eprintln!(
        "wrote {}: fill in your OCIDs and ssh key, then run `vipsetup validate {}`",
        path.display(),
        path.display()
    );
    Ok(exit::OK)
}
