//! The lock that stops two vipsetup runs from changing one pair at once: who holds it
//! (`LockInfo`: host, pid, user, command, since when), the errors a user sees, and the local
//! lock file next to the state (created exclusively, so only one run can make it). The remote
//! lock object lives in `backend::object_storage`; both share this record and these errors.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::host;
use crate::oci::OciError;

/// Who holds a lock. Written as JSON into the lock file or object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random per run: tells this run's own lock from another's (a retried create whose first
    /// answer was lost finds its own lock in place).
    #[serde(default)]
    pub id: String,
    pub pid: u32,
    pub host: String,
    #[serde(default)]
    pub user: String,
    /// `vipsetup apply`, `vipsetup destroy`, ...
    pub command: String,
    /// Seconds since the Unix epoch (shown in local time).
    pub since: u64,
}

impl LockInfo {
    /// This process, about to run `command`.
    pub fn mine(command: &str) -> LockInfo {
        use rand::RngCore;
        let mut b = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut b);
        LockInfo {
            id: b.iter().map(|x| format!("{x:02x}")).collect(),
            pid: std::process::id(),
            host: host::hostname(),
            user: host::user(),
            command: command.to_string(),
            since: host::now_secs(),
        }
    }

    /// `` `vipsetup apply` run by alice on build-7 (pid 4242) since 2026-12-01 19:03:05 +0100 (4m12s ago) ``
    pub fn describe(&self) -> String {
        let user = if self.user.is_empty() {
            String::new()
        } else {
            format!(" run by {}", self.user)
        };
        format!(
            "`{}`{user} on {} (pid {}) since {} ({} ago)",
            self.command,
            self.host,
            self.pid,
            host::local_time(self.since),
            host::age(host::now_secs().saturating_sub(self.since))
        )
    }

    /// A holder on this machine whose process is gone: its run died and can never release it.
    /// Other machines' holders are never judged (their pids mean nothing here).
    pub fn is_dead_here(&self) -> bool {
        self.host == host::hostname() && host::process_alive(self.pid) == Some(false)
    }
}

/// What `force-unlock` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Holder(LockInfo),
    /// A lock whose content was not a lock record (described, never quoted).
    Unreadable(String),
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Removed::Holder(info) => write!(f, "the lock held by {}", info.describe()),
            Removed::Unreadable(what) => write!(f, "an unreadable lock ({what})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the pair is locked by {} ({place}){}; wait for that run to finish (or pass --lock-timeout DURATION to wait for it), or if it is dead run `vipsetup force-unlock BLUEPRINT`",
        .info.describe(),
        .waited.map(|w| format!(", still after waiting {}", host::age(w.as_secs()))).unwrap_or_default()
    )]
    Held {
        place: String,
        /// Boxed: keeps every `Result<_, LockError>` small.
        info: Box<LockInfo>,
        waited: Option<Duration>,
    },
    #[error("the lock {place} is corrupt ({what}); if no vipsetup run is working on this pair, remove it with `vipsetup force-unlock BLUEPRINT`")]
    Corrupt { place: String, what: String },
    #[error("cannot create lock file {path}: {source}; check the directory's permissions")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the bucket {bucket:?} named by `state.bucket` does not exist in Object Storage namespace {namespace:?} (or this user may not read it), so the pair's lock can't be taken ({place}); fix `state.bucket` (and `state.namespace`) in the blueprint, or create the bucket: `oci os bucket create --name {bucket} --compartment-id <compartment>`")]
    NoBucket {
        place: String,
        bucket: String,
        namespace: String,
    },
    #[error("cannot use the lock {place}: {source}")]
    Remote {
        place: String,
        source: Box<OciError>,
    },
    #[error("the lock {place} is no longer held by this run (someone forced it); check the pair with `vipsetup plan` before going on")]
    Lost { place: String },
}

impl LockError {
    /// "Locked by another run" (exit code 3), as opposed to a failure to use the lock at all.
    pub fn is_held(&self) -> bool {
        matches!(self, LockError::Held { .. } | LockError::Corrupt { .. })
    }
}

/// Reads a lock record; anything else is described without quoting it (a lock file could be
/// anything a user put there).
pub fn parse_info(bytes: &[u8]) -> Result<LockInfo, String> {
    serde_json::from_slice::<LockInfo>(bytes).map_err(|_| {
        if bytes.is_empty() {
            "empty".to_string()
        } else if std::str::from_utf8(bytes).is_err() {
            format!("{} bytes of binary data", bytes.len())
        } else {
            format!("{} bytes that are not a vipsetup lock record", bytes.len())
        }
    })
}

/// `<state>.lock`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state_path.with_file_name(name)
}

/// One attempt at the local lock file.
pub enum Attempt {
    Taken,
    Busy(LockInfo),
}

/// Tries once to create the lock file for `me`. A lock left by a dead process on this machine
/// (or half-written by one that died between create and write) is taken over.
pub fn try_local(path: &Path, me: &LockInfo) -> Result<Attempt, LockError> {
    let place = path.display().to_string();
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    for _ in 0..3 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut f) => {
                let text = serde_json::to_string(me).expect("lock info serializes");
                f.write_all(text.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                return Ok(Attempt::Taken);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = fs::read(path).unwrap_or_default();
                match parse_info(&bytes) {
                    Ok(info) if info.is_dead_here() => {
                        let _ = fs::remove_file(path);
                    }
                    Ok(info) => return Ok(Attempt::Busy(info)),
                    // Created but not yet written: its writer may be alive and about to
                    // write, or dead. Only an old empty file is taken as dead.
                    Err(_) if bytes.is_empty() && older_than(path, Duration::from_secs(10)) => {
                        let _ = fs::remove_file(path);
                    }
                    Err(_) if bytes.is_empty() => {
                        return Ok(Attempt::Busy(LockInfo {
                            id: String::new(),
                            pid: 0,
                            host: "unknown".into(),
                            user: String::new(),
                            command: "a vipsetup run that is just starting".into(),
                            since: host::now_secs(),
                        }))
                    }
                    Err(what) => return Err(LockError::Corrupt { place, what }),
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("the lock file keeps reappearing")))
}

fn older_than(path: &Path, d: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > d)
}

/// Removes the local lock file if it is still `me`'s.
pub fn release_local(path: &Path, me: &LockInfo) {
    if let Ok(info) = parse_info(&fs::read(path).unwrap_or_default()) {
        if info.id == me.id && info.pid == me.pid {
            let _ = fs::remove_file(path);
        }
    }
}

/// Removes the local lock file whoever holds it (`force-unlock`); says what it removed.
pub fn force_local(path: &Path) -> Result<Option<Removed>, LockError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let removed = match parse_info(&bytes) {
        Ok(info) => Removed::Holder(info),
        Err(what) => Removed::Unreadable(what),
    };
    match fs::remove_file(path) {
        Ok(()) => Ok(Some(removed)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LockError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32) -> LockInfo {
        LockInfo {
            id: "x".into(),
            pid,
            host: host.into(),
            user: "alice".into(),
            command: "vipsetup apply".into(),
            since: host::now_secs() - 252,
        }
    }

    #[test]
    fn second_attempt_is_busy_with_the_holder_and_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.lock");
        let me = LockInfo::mine("vipsetup apply");
        assert!(matches!(try_local(&path, &me).unwrap(), Attempt::Taken));
        let other = LockInfo::mine("vipsetup destroy");
        match try_local(&path, &other).unwrap() {
            Attempt::Busy(info) => assert_eq!(info, me),
            Attempt::Taken => panic!("taken twice"),
        }
        // Someone else's release does nothing; ours removes it.
        release_local(&path, &other);
        assert!(path.exists());
        release_local(&path, &me);
        assert!(!path.exists());
    }

    #[test]
    fn a_dead_holder_on_this_host_is_taken_over_but_another_hosts_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let dead = holder(&host::hostname(), 4_194_999);
        fs::write(&path, serde_json::to_string(&dead).unwrap()).unwrap();
        let me = LockInfo::mine("vipsetup apply");
        assert!(matches!(try_local(&path, &me).unwrap(), Attempt::Taken));
        let elsewhere = holder("elsewhere", 4_194_999);
        fs::write(&path, serde_json::to_string(&elsewhere).unwrap()).unwrap();
        assert!(matches!(try_local(&path, &me).unwrap(), Attempt::Busy(_)));
        assert_eq!(
            force_local(&path).unwrap(),
            Some(Removed::Holder(elsewhere))
        );
        assert_eq!(force_local(&path).unwrap(), None);
    }

    #[test]
    fn a_corrupt_lock_is_reported_as_such_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        fs::write(&path, "secret-token-123").unwrap();
        let e = match try_local(&path, &LockInfo::mine("vipsetup apply")) {
            Err(e) => e,
            Ok(_) => panic!("a corrupt lock was taken"),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("is corrupt (16 bytes that are not a vipsetup lock record)"),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");
        assert!(e.is_held());
        let removed = force_local(&path).unwrap().unwrap();
        assert_eq!(
            removed.to_string(),
            "an unreadable lock (16 bytes that are not a vipsetup lock record)"
        );
    }

    #[test]
    fn the_holder_is_described_with_user_host_pid_and_local_time() {
        let e = LockError::Held {
            place: "s.json.lock".into(),
            info: Box::new(holder("build-7", 4242)),
            waited: Some(Duration::from_secs(30)),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("`vipsetup apply` run by alice on build-7 (pid 4242) since "),
            "{msg}"
        );
        assert!(msg.contains("(4m1"), "{msg}");
        assert!(msg.contains("still after waiting 30s"), "{msg}");
        assert!(msg.contains("force-unlock"), "{msg}");
        assert!(!msg.contains("after the epoch"), "{msg}");
    }
}
