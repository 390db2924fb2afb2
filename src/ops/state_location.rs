//! Where this checkout last kept a pair's state, and what to do when the blueprint's `state:`
//! key no longer says the same (issue 20): adding the key beside a local state file, changing
//! its bucket, or removing it. Like Terraform's backend record (`.terraform/terraform.tfstate`,
//! which `terraform init` compares with the configuration and offers `-migrate-state` for), a
//! small file beside the local state (`<state>.remote.json`) records the remote place each run
//! used; a run whose blueprint disagrees stops before reading any state and names the move
//! (`state push` / `state pull`, or `--migrate-state`, which performs it), so a pair never gets
//! a second state that a later run would take for the truth.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::blueprint::RemoteState;
use crate::engine::backend::{Backend, ObjectStorageBackend};

use super::error::{MigrateError, OpsError};
use super::state_admin;
use super::target::{Target, TargetOptions};

/// The remote place a run last used, as recorded beside the local state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub bucket: String,
    pub namespace: String,
    pub prefix: String,
    /// `oci://namespace/bucket/object`, for messages and comparison.
    pub place: String,
}

impl Remembered {
    fn config(&self) -> RemoteState {
        RemoteState {
            bucket: self.bucket.clone(),
            namespace: Some(self.namespace.clone()),
            prefix: self.prefix.clone(),
        }
    }
}

/// `<state>.remote.json`.
pub fn record_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.file_name().unwrap_or_default().to_os_string();
    name.push(".remote.json");
    state_path.with_file_name(name)
}

/// The record, if any (an unreadable one is taken as none: it is advice, never the state).
pub fn read(state_path: &Path) -> Option<Remembered> {
    let text = fs::read_to_string(record_path(state_path)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records `b` as where the pair's state lives (best effort: a record that cannot be written
/// only loses the warning it would give later).
pub fn remember(state_path: &Path, cfg: &RemoteState, b: &ObjectStorageBackend) {
    remember_place(state_path, cfg, b.namespace(), &b.state_place());
}

/// `remember`, from the namespace and place of the backend.
pub fn remember_place(state_path: &Path, cfg: &RemoteState, namespace: &str, place: &str) {
    let r = Remembered {
        bucket: cfg.bucket.clone(),
        namespace: namespace.to_string(),
        prefix: cfg.prefix.clone(),
        place: place.to_string(),
    };
    if read(state_path).as_ref() == Some(&r) {
        return;
    }
    let text = serde_json::to_string_pretty(&r).expect("a record serializes");
    if let Err(e) = fs::write(record_path(state_path), text) {
        eprintln!(
            "warning: cannot record where the state lives in {}: {e}",
            record_path(state_path).display()
        );
    }
}

pub fn forget(state_path: &Path) {
    let _ = fs::remove_file(record_path(state_path));
}

/// Checks the backend the blueprint names against where this checkout kept the state, and
/// moves the state when `opts.migrate_state` says so. Returns the backend to use.
pub async fn reconcile(
    t: &Target,
    opts: &TargetOptions,
    backend: Backend,
) -> Result<Backend, OpsError> {
    let local = opts.state_path();
    let pair = opts.parsed.name.clone();
    let remembered = read(&local);
    let blueprint = opts.blueprint.display().to_string();
    match backend {
        Backend::ObjectStorage(b) => {
            let cfg = t
                .remote_state
                .clone()
                .expect("an Object Storage backend comes from `state:`");
            let old_remote = remembered.filter(|r| r.place != b.state_place());
            if local.exists() {
                if !opts.migrate_state {
                    return Err(MigrateError::Pending {
                        from: local.display().to_string(),
                        to: b.state_place(),
                        how: format!("move it with `vipsetup state push {blueprint}`, or"),
                    }
                    .into());
                }
                let moved = state_admin::push_between(
                    Backend::local(local.clone()),
                    Backend::ObjectStorage(b),
                    &pair,
                    opts.lock_timeout,
                )
                .await?;
                eprintln!("{}", moved.say());
                let b = reopen(t, &cfg, &pair).await?;
                remember(&local, &cfg, &b);
                return Ok(Backend::ObjectStorage(b));
            }
            if let Some(old) = old_remote {
                // A misspelled bucket is a typo to fix, not a place to move to.
                b.read_raw().await?;
                if !opts.migrate_state {
                    return Err(MigrateError::Pending {
                        from: old.place,
                        to: b.state_place(),
                        how: "the blueprint's `state:` changed; put the old value back, or"
                            .to_string(),
                    }
                    .into());
                }
                let from = reopen(t, &old.config(), &pair).await?;
                let moved = state_admin::copy_between(&from, &b, &pair, opts.lock_timeout).await?;
                eprintln!("{}", moved.say());
                let b = reopen(t, &cfg, &pair).await?;
                remember(&local, &cfg, &b);
                return Ok(Backend::ObjectStorage(b));
            }
            remember(&local, &cfg, &b);
            Ok(Backend::ObjectStorage(b))
        }
        Backend::Local(l) => {
            let Some(old) = remembered else {
                return Ok(Backend::Local(l));
            };
            if local.exists() {
                return Err(MigrateError::TwoCopies {
                    local: local.clone(),
                    remote: old.place,
                    record: record_path(&local),
                }
                .into());
            }
            if !opts.migrate_state {
                return Err(MigrateError::Pending {
                    from: old.place,
                    to: local.display().to_string(),
                    how: format!(
                        "the blueprint has no `state:` key any more; put it back and run \
                         `vipsetup state pull {blueprint}`, or"
                    ),
                }
                .into());
            }
            let from = reopen(t, &old.config(), &pair).await?;
            let moved = state_admin::pull_between(
                Backend::ObjectStorage(from),
                local.clone(),
                &pair,
                opts.lock_timeout,
            )
            .await?;
            eprintln!("{}", moved.say());
            forget(&local);
            Ok(Backend::Local(l))
        }
    }
}

async fn reopen(
    t: &Target,
    cfg: &RemoteState,
    pair: &str,
) -> Result<ObjectStorageBackend, OpsError> {
    ObjectStorageBackend::open(t.client.clone(), cfg, pair)
        .await
        .map_err(|e| super::error::OpenError::RemoteState(Box::new(e)).into())
}
