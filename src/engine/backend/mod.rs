//! Where a pair's state and lock live: the local file next to the blueprint (`local`), or an
//! OCI Object Storage bucket that every machine managing the pair shares (`object_storage`).
//! Both give the same four things: take the lock (waiting up to `--lock-timeout`), read the
//! state, save it after every step (in order, never over a newer write), release the lock.

pub mod local;
pub mod object_storage;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::lock::{LockError, LockInfo, Removed};
use super::state::{State, StateError};

pub use local::LocalBackend;
pub use object_storage::ObjectStorageBackend;

pub type SaveFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StateError>> + Send + 'a>>;

/// Saves state snapshots, in the order given (the executor saves after every step).
pub trait StateSink: Send + Sync {
    fn save<'a>(&'a self, state: &'a State) -> SaveFuture<'a>;
}

/// A lock this run holds; give it back with `Backend::unlock`.
#[derive(Debug)]
pub struct Held {
    pub info: LockInfo,
    /// The lock object's ETag (remote locks), for the conditional delete that releases it.
    pub etag: Option<String>,
}

/// One try at a lock.
pub enum Try {
    Taken(Held),
    Busy(LockInfo),
}

/// How often a waiting run looks at the lock again.
const POLL: Duration = Duration::from_millis(500);

/// The state backend of one pair.
pub enum Backend {
    Local(LocalBackend),
    ObjectStorage(ObjectStorageBackend),
}

impl Backend {
    pub fn local(state_path: std::path::PathBuf) -> Backend {
        Backend::Local(LocalBackend::new(state_path))
    }

    /// Where the state is, for messages: a path or `oci://namespace/bucket/object`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Local(b) => b.state_path().display().to_string(),
            Backend::ObjectStorage(b) => b.state_place(),
        }
    }

    /// Reads the state (`None`: none yet); a remote read also remembers the ETag the next
    /// save is conditional on.
    pub async fn load(&self, pair: &str) -> Result<Option<State>, StateError> {
        match self {
            Backend::Local(b) => b.load(pair),
            Backend::ObjectStorage(b) => b.load(pair).await,
        }
    }

    pub fn sink(&self) -> &dyn StateSink {
        match self {
            Backend::Local(b) => b,
            Backend::ObjectStorage(b) => b,
        }
    }

    /// Bumps the serial and saves.
    pub async fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        self.sink().save(state).await
    }

    async fn try_lock(&self, me: &LockInfo) -> Result<Try, LockError> {
        match self {
            Backend::Local(b) => b.try_lock(me),
            Backend::ObjectStorage(b) => b.try_lock(me).await,
        }
    }

    /// Where the lock is, for messages.
    pub fn lock_place(&self) -> String {
        match self {
            Backend::Local(b) => b.lock_path().display().to_string(),
            Backend::ObjectStorage(b) => b.lock_place(),
        }
    }

    /// Takes the lock for `command`, waiting up to `timeout` for another run to release it.
    pub async fn lock(&self, command: &str, timeout: Duration) -> Result<Held, LockError> {
        let me = LockInfo::mine(command);
        let start = tokio::time::Instant::now();
        loop {
            match self.try_lock(&me).await? {
                Try::Taken(held) => return Ok(held),
                Try::Busy(info) => {
                    let waited = start.elapsed();
                    if waited >= timeout {
                        return Err(LockError::Held {
                            place: self.lock_place(),
                            info: Box::new(info),
                            waited: (!timeout.is_zero()).then_some(waited),
                        });
                    }
                    tokio::time::sleep(POLL.min(timeout - waited)).await;
                }
            }
        }
    }

    /// For read-only commands (`plan`): fails with `LockError::Held`, as `lock` would, while
    /// another run holds the lock (waiting up to `timeout` for it to end), without taking it.
    /// What such a run is changing (an instance terminating, a VIP moving) would otherwise show
    /// as drift or as a wrong error (issue 20: "address already in use" instead of the lock).
    pub async fn wait_unlocked(&self, timeout: Duration) -> Result<(), LockError> {
        let start = tokio::time::Instant::now();
        loop {
            let holder = match self {
                Backend::Local(b) => b.peek(),
                Backend::ObjectStorage(b) => b.peek().await?,
            };
            let Some(info) = holder else {
                return Ok(());
            };
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Held {
                    place: self.lock_place(),
                    info: Box::new(info),
                    waited: (!timeout.is_zero()).then_some(waited),
                });
            }
            tokio::time::sleep(POLL.min(timeout - waited)).await;
        }
    }

    /// Releases a lock this run holds. Best effort: a lock that cannot be released is left for
    /// `force-unlock` (and said so), never an error that hides the command's own result.
    pub async fn unlock(&self, held: Held) {
        let result = match self {
            Backend::Local(b) => {
                b.unlock(&held);
                Ok(())
            }
            Backend::ObjectStorage(b) => b.unlock(&held).await,
        };
        if let Err(e) = result {
            eprintln!("warning: {e}");
        }
    }

    /// Removes the lock whoever holds it; says what it removed (`None`: there was none).
    pub async fn force_unlock(&self) -> Result<Option<Removed>, LockError> {
        match self {
            Backend::Local(b) => b.force_unlock(),
            Backend::ObjectStorage(b) => b.force_unlock().await,
        }
    }
}

/// Runs `f` under the pair's lock and releases the lock whatever `f` returns.
pub async fn with_lock<T, E, F>(
    backend: &Backend,
    command: &str,
    timeout: Duration,
    f: F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<LockError>,
{
    let held = backend.lock(command, timeout).await?;
    let result = f.await;
    backend.unlock(held).await;
    result
}
