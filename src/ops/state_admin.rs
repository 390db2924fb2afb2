//! The state's housekeeping: `force-unlock` (remove a dead run's lock, saying what it was) and
//! moving a pair's state between the local file and Object Storage (`state push` / `state
//! pull`), under the lock, so that the state is never in two places as the truth.

use std::fs;
use std::path::PathBuf;

use crate::engine::backend::{Backend, ObjectStorageBackend};
use crate::engine::lock::Removed;
use crate::engine::state::{State, StateError};

use super::error::{MigrateError, OpsError};
use super::target::{open, TargetOptions};

/// Removes the pair's lock whoever holds it. A pair with local state needs no credentials.
pub async fn force_unlock(opts: &TargetOptions) -> Result<(String, Option<Removed>), OpsError> {
    let backend = if opts.parsed.state.is_none() {
        Backend::local(opts.state_path())
    } else {
        open(opts).await?.backend(opts).await?
    };
    let place = backend.lock_place();
    Ok((place, backend.force_unlock().await?))
}

/// What a migration did.
#[derive(Debug)]
pub struct Moved {
    pub from: String,
    pub to: String,
    /// Where the old copy was kept (push renames the local file; pull deletes the object).
    pub old_copy: Option<PathBuf>,
}

async fn remote(opts: &TargetOptions) -> Result<(ObjectStorageBackend, String), OpsError> {
    if opts.parsed.state.is_none() {
        return Err(MigrateError::NoRemote.into());
    }
    // `backend` refuses --state next to `state:`; here --state names the local side.
    let mut without_state = opts.clone();
    without_state.state = None;
    let t = open(&without_state).await?;
    match t.backend(&without_state).await? {
        Backend::ObjectStorage(b) => Ok((b, opts.parsed.name.clone())),
        Backend::Local(_) => Err(MigrateError::NoRemote.into()),
    }
}

/// Copies the local state file to Object Storage (only if the remote has none), then renames
/// the local file to `<file>.pushed`, so the next run cannot take it for the truth.
pub async fn push(opts: &TargetOptions) -> Result<Moved, OpsError> {
    let local = Backend::local(opts.state_path());
    let path = opts.state_path();
    let (remote_backend, pair) = remote(opts).await?;
    let remote = Backend::ObjectStorage(remote_backend);
    let timeout = opts.lock_timeout;
    let local_held = local.lock("vipsetup state push", timeout).await?;
    let result = async {
        let held = remote.lock("vipsetup state push", timeout).await?;
        let r = async {
            let state: State = local
                .load(&pair)
                .await?
                .ok_or_else(|| MigrateError::NoLocal(path.clone()))?;
            let Backend::ObjectStorage(b) = &remote else {
                unreachable!("remote() returns Object Storage")
            };
            if !b.create_state(state.to_text().into_bytes()).await? {
                return Err(MigrateError::RemoteExists(b.state_place()).into());
            }
            let mut kept = path.clone().into_os_string();
            kept.push(".pushed");
            let kept = PathBuf::from(kept);
            fs::rename(&path, &kept).map_err(|source| MigrateError::Rename {
                from: path.clone(),
                to: kept.clone(),
                source,
            })?;
            Ok::<_, OpsError>(Moved {
                from: path.display().to_string(),
                to: b.state_place(),
                old_copy: Some(kept),
            })
        }
        .await;
        remote.unlock(held).await;
        r
    }
    .await;
    local.unlock(local_held).await;
    result
}

/// Copies the remote state to the local file (only if there is none), then deletes the remote
/// object (only if it is still the copy that was read).
pub async fn pull(opts: &TargetOptions) -> Result<Moved, OpsError> {
    let path = opts.state_path();
    let local = Backend::local(path.clone());
    let (remote_backend, pair) = remote(opts).await?;
    let remote = Backend::ObjectStorage(remote_backend);
    let timeout = opts.lock_timeout;
    let held = remote.lock("vipsetup state pull", timeout).await?;
    let result = async {
        let local_held = local.lock("vipsetup state pull", timeout).await?;
        let r = async {
            let Backend::ObjectStorage(b) = &remote else {
                unreachable!("remote() returns Object Storage")
            };
            if path.exists() {
                return Err(MigrateError::LocalExists(path.clone()).into());
            }
            let (bytes, etag) = b
                .read_raw()
                .await?
                .ok_or_else(|| MigrateError::NoRemoteState(b.state_place()))?;
            let state = State::parse(&String::from_utf8_lossy(&bytes), path.as_path())?;
            if state.pair != pair {
                return Err(StateError::WrongPair {
                    path: b.state_place().into(),
                    found: state.pair,
                    expected: pair,
                }
                .into());
            }
            state.write(&path)?;
            if !b.delete_state(&etag).await? {
                let _ = fs::remove_file(&path);
                return Err(StateError::Conflict {
                    place: b.state_place(),
                }
                .into());
            }
            Ok::<_, OpsError>(Moved {
                from: b.state_place(),
                to: path.display().to_string(),
                old_copy: None,
            })
        }
        .await;
        local.unlock(local_held).await;
        r
    }
    .await;
    remote.unlock(held).await;
    result
}
