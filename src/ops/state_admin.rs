//! The state's housekeeping: `force-unlock` (remove a dead run's lock, saying what it was) and
//! moving a pair's state between the local file and Object Storage (`state push` / `state
//! pull`), under the lock, so that the state is never in two places as the truth.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use crate::engine::backend::{Backend, ObjectStorageBackend, Try};
use crate::engine::lock::{LockError, LockInfo, Removed};
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

impl Moved {
    /// "moved the state from A to B", for a run that migrated on the way (`--migrate-state`).
    pub fn say(&self) -> String {
        let mut s = format!("moved the state from {} to {}", self.from, self.to);
        if let Some(old) = &self.old_copy {
            s.push_str(&format!(
                "; the old local copy is kept as {} (no longer read)",
                old.display()
            ));
        }
        s
    }
}

/// The remote backend, with the target it was opened from: under `--simulate` the target
/// holds the in-process simulator, which must outlive every call the backend makes (dropped
/// early, each call retried for 93 s against a closed port, then "connection refused").
async fn remote(
    opts: &TargetOptions,
) -> Result<(ObjectStorageBackend, String, super::target::Target), OpsError> {
    if opts.parsed.state.is_none() {
        return Err(MigrateError::NoRemote.into());
    }
    // `backend` refuses --state next to `state:`; here --state names the local side.
    let mut without_state = opts.clone();
    without_state.state = None;
    let t = open(&without_state).await?;
    match t.backend(&without_state).await? {
        Backend::ObjectStorage(b) => Ok((b, opts.parsed.name.clone(), t)),
        Backend::Local(_) => Err(MigrateError::NoRemote.into()),
    }
}

/// Copies the local state file to Object Storage (only if the remote has none), then renames
/// the local file to `<file>.pushed`, so the next run cannot take it for the truth.
pub async fn push(opts: &TargetOptions) -> Result<Moved, OpsError> {
    let (remote_backend, pair, _alive) = remote(opts).await?;
    let cfg = opts.parsed.state.clone().ok_or(MigrateError::NoRemote)?;
    let path = opts.state_path();
    let place = remote_backend.namespace().to_string();
    let moved = push_between(
        Backend::local(path.clone()),
        Backend::ObjectStorage(remote_backend),
        &pair,
        opts.lock_timeout,
    )
    .await?;
    super::state_location::remember_place(&path, &cfg, &place, &moved.to);
    Ok(moved)
}

/// `push` between two opened backends (`local` must be local, `remote` Object Storage).
pub(crate) async fn push_between(
    local: Backend,
    remote: Backend,
    pair: &str,
    timeout: Duration,
) -> Result<Moved, OpsError> {
    let Backend::Local(l) = &local else {
        unreachable!("push_between moves a local file")
    };
    let path = l.state_path().to_path_buf();
    let local_held = local.lock("vipsetup state push", timeout).await?;
    let result = async {
        let held = remote.lock("vipsetup state push", timeout).await?;
        let r = async {
            let state: State = local
                .load(pair)
                .await?
                .ok_or_else(|| MigrateError::NoLocal(path.clone()))?;
            let Backend::ObjectStorage(b) = &remote else {
                unreachable!("push_between moves to Object Storage")
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
    let (remote_backend, pair, _alive) = remote(opts).await?;
    let moved = pull_between(
        Backend::ObjectStorage(remote_backend),
        path.clone(),
        &pair,
        opts.lock_timeout,
    )
    .await?;
    super::state_location::forget(&path);
    Ok(moved)
}

/// `pull` from an opened Object Storage backend into the local file at `path`.
pub(crate) async fn pull_between(
    remote: Backend,
    path: PathBuf,
    pair: &str,
    timeout: Duration,
) -> Result<Moved, OpsError> {
    let local = Backend::local(path.clone());
    let held = remote.lock("vipsetup state pull", timeout).await?;
    let result = async {
        let local_held = local.lock("vipsetup state pull", timeout).await?;
        let r = async {
            let Backend::ObjectStorage(b) = &remote else {
                unreachable!("pull_between moves from Object Storage")
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
                    expected: pair.to_string(),
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

/// Moves the state from one Object Storage place to another (the blueprint's `state:` changed):
/// created at `to` only if none is there, then deleted at `from` only if unchanged since read.
pub(crate) async fn copy_between(
    from: &ObjectStorageBackend,
    to: &ObjectStorageBackend,
    pair: &str,
    timeout: Duration,
) -> Result<Moved, OpsError> {
    let from_held = lock_remote(from, timeout).await?;
    let result = async {
        let to_held = lock_remote(to, timeout).await?;
        let r = async {
            let (bytes, etag) = from
                .read_raw()
                .await?
                .ok_or_else(|| MigrateError::NoRemoteState(from.state_place()))?;
            let state = State::parse(
                &String::from_utf8_lossy(&bytes),
                std::path::Path::new(&from.state_place()),
            )?;
            if state.pair != pair {
                return Err(StateError::WrongPair {
                    path: from.state_place().into(),
                    found: state.pair,
                    expected: pair.to_string(),
                }
                .into());
            }
            if !to.create_state(bytes).await? {
                return Err(MigrateError::RemoteExists(to.state_place()).into());
            }
            if !from.delete_state(&etag).await? {
                return Err(StateError::Conflict {
                    place: from.state_place(),
                }
                .into());
            }
            Ok::<_, OpsError>(Moved {
                from: from.state_place(),
                to: to.state_place(),
                old_copy: None,
            })
        }
        .await;
        let _ = to.unlock(&to_held).await;
        r
    }
    .await;
    if let Err(e) = from.unlock(&from_held).await {
        eprintln!("warning: {e}");
    }
    result
}

/// Takes an Object Storage backend's lock, waiting up to `timeout` (as `Backend::lock`).
async fn lock_remote(
    b: &ObjectStorageBackend,
    timeout: Duration,
) -> Result<crate::engine::backend::Held, LockError> {
    let me = LockInfo::mine("vipsetup state move");
    let start = tokio::time::Instant::now();
    loop {
        match b.try_lock(&me).await? {
            Try::Taken(h) => return Ok(h),
            Try::Busy(info) if start.elapsed() >= timeout => {
                return Err(LockError::Held {
                    place: b.lock_place(),
                    info: Box::new(info),
                    waited: (!timeout.is_zero()).then(|| start.elapsed()),
                })
            }
            Try::Busy(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
