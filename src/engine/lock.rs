//! The lock that stops two vipsetup runs from changing one pair at once: a file next to the
//! state holding the owner's pid and host. A lock whose process is gone (same host) is stale and
//! taken over; otherwise the error says who holds it and how to break it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the pair is locked by `{}` (pid {} on {}, since {}s after the epoch): {path}; \
         wait for it to finish, or if it is dead run `vipsetup force-unlock BLUEPRINT`",
        .info.command, .info.pid, .info.host, .info.since
    )]
    Held { path: PathBuf, info: LockInfo },
    #[error("cannot create lock file {path}: {source}; check the directory's permissions")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while alive; removes the lock file on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

/// `<state>.lock`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state_path.with_file_name(name)
}

pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Lock {
    pub fn acquire(state_path: &Path, command: &str) -> Result<Lock, LockError> {
        let path = lock_path(state_path);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let me = LockInfo {
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        for _ in 0..3 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(serde_json::to_string(&me).expect("serializes").as_bytes())
                        .map_err(io)?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match serde_json::from_str::<LockInfo>(&text) {
                        Ok(info) if info.host == me.host && !process_alive(info.pid) => {
                            let _ = fs::remove_file(&path);
                        }
                        Ok(info) => return Err(LockError::Held { path, info }),
                        // A half-written lock: its writer died between create and write.
                        Err(_) if text.is_empty() => {
                            let _ = fs::remove_file(&path);
                        }
                        Err(_) => {
                            return Err(LockError::Held {
                                path: path.clone(),
                                info: LockInfo {
                                    pid: 0,
                                    host: "unknown".into(),
                                    command: "unknown".into(),
                                    since: 0,
                                },
                            })
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(io(std::io::Error::other("lock file keeps reappearing")))
    }

    /// Removes a lock regardless of its owner (`force-unlock`). Returns who held it.
    pub fn force_unlock(state_path: &Path) -> Result<Option<LockInfo>, LockError> {
        let path = lock_path(state_path);
        let info = fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match fs::remove_file(&path) {
            Ok(()) => Ok(info),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LockError::Io { path, source }),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_while_held_and_succeeds_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let lock = Lock::acquire(&state, "apply").unwrap();
        let err = Lock::acquire(&state, "destroy").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("force-unlock"), "{msg}");
        drop(lock);
        assert!(!lock_path(&state).exists());
        Lock::acquire(&state, "destroy").unwrap();
    }

    #[test]
    fn a_dead_owner_on_this_host_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        // A pid above the kernel's pid_max can't be alive.
        let dead = LockInfo {
            pid: 4_194_999,
            host: hostname(),
            command: "apply".into(),
            since: 1,
        };
        fs::write(lock_path(&state), serde_json::to_string(&dead).unwrap()).unwrap();
        let _lock = Lock::acquire(&state, "apply").unwrap();
        let now: LockInfo =
            serde_json::from_str(&fs::read_to_string(lock_path(&state)).unwrap()).unwrap();
        assert_eq!(now.pid, std::process::id(), "the stale lock was taken over");
    }

    #[test]
    fn an_owner_on_another_host_is_respected_until_forced() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let other = LockInfo {
            pid: 1,
            host: "elsewhere".into(),
            command: "apply".into(),
            since: 1,
        };
        fs::write(lock_path(&state), serde_json::to_string(&other).unwrap()).unwrap();
        assert!(matches!(
            Lock::acquire(&state, "apply"),
            Err(LockError::Held { .. })
        ));
        assert_eq!(Lock::force_unlock(&state).unwrap(), Some(other));
        let _lock = Lock::acquire(&state, "apply").unwrap();
    }
}
