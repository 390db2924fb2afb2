//! `vipsetup init [FILE]`: write a commented starter blueprint (or print it).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::error::exit;

/// The starter blueprint: every field, commented, with placeholder OCIDs.
pub const STARTER: &str = include_str!("../../templates/init.yaml");

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write it; prints to stdout when left out
    pub file: Option<PathBuf>,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<i32> {
    let Some(path) = args.file else {
        std::io::stdout().write_all(STARTER.as_bytes())?;
        return Ok(exit::OK);
    };
    if path.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; choose another name, or pass --force to overwrite it",
            path.display()
        );
    }
    crate::render::write_atomic(&path, STARTER.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "wrote {}: fill in your OCIDs and ssh key, then run `vipsetup validate {}`",
        path.display(),
        path.display()
    );
    Ok(exit::OK)
}
