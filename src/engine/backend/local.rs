//! The local backend: the state file next to the blueprint (written atomically, mode 0600) and
//! the lock file beside it, created exclusively.

use std::path::{Path, PathBuf};

use super::{Held, SaveFuture, StateSink, Try};
use crate::engine::lock::{self, Attempt, LockError, LockInfo, Removed};
use crate::engine::state::{State, StateError};

pub struct LocalBackend {
    state_path: PathBuf,
    lock_path: PathBuf,
}

impl LocalBackend {
    pub fn new(state_path: PathBuf) -> LocalBackend {
        LocalBackend {
            lock_path: lock::lock_path(&state_path),
            state_path,
        }
    }

    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    pub fn load(&self, pair: &str) -> Result<Option<State>, StateError> {
        State::load(&self.state_path, pair)
    }

    pub fn try_lock(&self, me: &LockInfo) -> Result<Try, LockError> {
        Ok(match lock::try_local(&self.lock_path, me)? {
            Attempt::Taken => Try::Taken(Held {
                info: me.clone(),
                etag: None,
            }),
            Attempt::Busy(info) => Try::Busy(info),
        })
    }

    /// Who holds the lock file now, if a run that may still be alive does.
    pub fn peek(&self) -> Option<LockInfo> {
        let bytes = std::fs::read(&self.lock_path).ok()?;
        lock::parse_info(&bytes)
            .ok()
            .filter(|info| !info.is_dead_here())
    }

    pub fn unlock(&self, held: &Held) {
        lock::release_local(&self.lock_path, &held.info);
    }

    pub fn force_unlock(&self) -> Result<Option<Removed>, LockError> {
        lock::force_local(&self.lock_path)
    }
}

impl StateSink for LocalBackend {
    fn save<'a>(&'a self, state: &'a State) -> SaveFuture<'a> {
        Box::pin(async move { state.write(&self.state_path) })
    }
}
