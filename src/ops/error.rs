//! Every way an ops call fails, in one file below the rest of ops: a session's errors
//! (`OpsError`), opening a pair (`OpenError`), reading its blueprint (`BlueprintError`) and
//! moving its state (`MigrateError`). The CLI's `error` module classifies them for exit codes
//! and JSON; keeping them here lets `pair`, `target` and `state_admin` use each other's errors
//! without importing each other in a circle.

use std::path::PathBuf;

use crate::blueprint;
use crate::engine::executor::ExecError;
use crate::engine::lock::LockError;
use crate::engine::observe::ObserveError;
use crate::engine::plan::PlanError;
use crate::engine::preflight::PreflightError;
use crate::engine::resolve::ResolveError;
use crate::engine::state::StateError;
use crate::oci::{AuthError, KeyError, OciError};

use super::simulate::SimulateError;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Observe(#[from] ObserveError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error("cannot render the user data: {0}")]
    Render(String),
    #[error("cannot write the rendered user data to {path}: {source}; check the directory's permissions")]
    WriteUserData {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the plan replaces {}: {}; run again with {} to confirm",
        .nodes.join(" and "), .reasons.join("; "),
        .nodes.iter().map(|n| format!("--replace {n}")).collect::<Vec<_>>().join(" ")
    )]
    ReplaceNotConfirmed {
        nodes: Vec<String>,
        reasons: Vec<String>,
    },
    #[error(
        "--replace {name}: no node of this pair has that name; use {} or {} (or node1, node2)",
        .nodes[0], .nodes[1]
    )]
    UnknownNode { name: String, nodes: [String; 2] },
    /// Ctrl-C or SIGTERM (`engine::interrupt`): stopped at a safe point, state saved, lock
    /// released (by the caller's `with_lock`).
    #[error(
        "interrupted: run {verb} again to finish; the state is saved and the lock released ({})",
        if .stopped.is_empty() { "stopped before changing anything".to_string() } else { format!("stopped: {}", .stopped.join("; ")) }
    )]
    Interrupted {
        verb: &'static str,
        stopped: Vec<String>,
    },
    /// The user did not confirm; `verb` is `apply` or `destroy`.
    #[error("{verb} cancelled; nothing was changed")]
    Cancelled { verb: &'static str },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Migrate(MigrateError),
    /// `apply --doctor` found problems: nothing was changed.
    #[error(
        "doctor found {} problem(s), so nothing was changed:\n{}\n  run `vipsetup doctor BLUEPRINT` for the whole report",
        .problems.len(),
        .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    DoctorProblems { problems: Vec<String> },
    /// `vipsetup drill` will not start (the pair is not ready, `--simulate`, an unknown node):
    /// nothing was stopped.
    #[error("drill refused: {reason}")]
    DrillRefused { reason: String },
}

impl From<MigrateError> for OpsError {
    fn from(e: MigrateError) -> Self {
        OpsError::Migrate(e)
    }
}

/// Why a pair could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Blueprint(#[from] BlueprintError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error("the blueprint keeps the pair's state in Object Storage (`state:`), and --state names a local file; drop --state (use `vipsetup state pull` to move the state to a local file)")]
    TwoStates,
    #[error("cannot reach the pair's remote state: {0}")]
    RemoteState(Box<OciError>),
}

/// A blueprint that did not parse: every problem, each with file, line, column and field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BlueprintError(pub blueprint::Diagnostics);

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the blueprint has no `state:` key, so there is no remote state to push to or pull from; add `state: {{ bucket: NAME }}` first")]
    NoRemote,
    #[error("there is no local state at {0} to push")]
    NoLocal(PathBuf),
    #[error("{0} already holds state for this pair, so pushing would make two truths; pull it instead, or move one of them away after checking which is current")]
    RemoteExists(String),
    #[error("there is no remote state at {0} to pull")]
    NoRemoteState(String),
    #[error("{0} already exists, so pulling would make two truths; move it away first after checking which is current")]
    LocalExists(PathBuf),
    /// The blueprint's `state:` and where this checkout kept the state disagree.
    #[error("the pair's state is in {from}, but the blueprint now keeps it in {to}; {how} run this command again with --migrate-state to move it (never two copies: the old place is emptied)")]
    Pending {
        from: String,
        to: String,
        how: String,
    },
    #[error("the pair's state is in two places: the local file {local} and {remote}, where {record} says this checkout kept it; check which is current, remove the other (`vipsetup state push` / `state pull` move one onto the other), then run again")]
    TwoCopies {
        local: PathBuf,
        remote: String,
        record: PathBuf,
    },
    #[error("cannot move {from} to {to}: {source}; the state is in both places, check which is current and remove the other")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}
