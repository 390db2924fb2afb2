//! Opening a pair: the blueprint read into the engine's view, a renderer bound to it, and the
//! cloud to talk to (OCI through `oci::Client`, or the built-in simulator with `--simulate`).

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::executor::ExecOptions;
use crate::engine::resolve::PairSpec;
use crate::engine::state;
use crate::engine::Cloud;

use super::pair::{RenderFacts, RenderedUserData};

/// Flags shared by plan, apply, destroy and status.
#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    pub blueprint: PathBuf,
    /// Default: `<blueprint>.state.json`.
    pub state: Option<PathBuf>,
    /// Use the built-in OCI simulator (world kept next to the blueprint).
    pub simulate: bool,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    pub auth: Option<String>,
    pub endpoint: Option<String>,
}

impl TargetOptions {
    pub fn state_path(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| state::default_path(&self.blueprint))
    }
}

pub type BoxRenderer =
    Box<dyn Fn(&RenderFacts) -> Result<[RenderedUserData; 2], String> + Send + Sync>;

/// An opened pair: everything a `Session` borrows.
pub struct Target {
    pub spec: PairSpec,
    pub render: BoxRenderer,
    pub cloud: Box<dyn Cloud>,
    pub tenancy_id: String,
    pub exec: ExecOptions,
    /// Keeps an in-process simulator alive for as long as the target is.
    pub keep_alive: Option<Box<dyn std::any::Any + Send>>,
}

/// Poll interval override for tests and benchmarks (`VIPSETUP_POLL_MS`).
pub fn exec_options() -> ExecOptions {
    let mut o = ExecOptions::default();
    if let Some(ms) = std::env::var("VIPSETUP_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        o.poll_interval = Duration::from_millis(ms);
    }
    o
}

pub async fn open(opts: &TargetOptions) -> anyhow::Result<Target> {
    let _ = opts;
    anyhow::bail!(
        "opening a pair needs the blueprint, render, oci and simulator modules; not wired yet"
    )
}
