//! The state every request shares: the world, the config, the request log, faults and latency,
//! behind one lock; the world file is reloaded when another process wrote it and saved after
//! each change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::iam_cache::IamCache;
use super::{pki, world, RandomFaults, ScriptedFault, SimConfig, World};

/// One served request, as tests see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// OCI operation name (`UpdatePrivateIp`), or `Imds`, `FederateX509`, `Unknown`
    pub operation: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `user:<ocid>`, `instance:<ocid>`, `imds:<caller ip>` or `-` when unauthenticated
    pub principal: String,
    /// region the request was for
    pub region: String,
    /// milliseconds since the epoch (wall clock)
    pub at: i64,
    pub opc_request_id: String,
}

/// How long one API request waited for the simulator's lock and then held it (microseconds):
/// kept only when `VIPSETUP_SIM_TIMINGS` is set (`GET /_sim/timings`, `SimHandle::timings`),
/// so a benchmark can tell the simulator's own cost from the agent's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    pub operation: String,
    pub waited_us: u64,
    pub held_us: u64,
}

/// Whether requests are timed (`VIPSETUP_SIM_TIMINGS` set and not `0`), read when a simulator
/// starts.
pub(super) fn timings_wanted() -> bool {
    std::env::var("VIPSETUP_SIM_TIMINGS").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub(crate) struct Inner {
    pub world: World,
    pub config: SimConfig,
    pub log: Vec<LogEntry>,
    pub faults: Vec<ScriptedFault>,
    pub random_faults: Option<RandomFaults>,
    /// per-operation latency (`*` = every operation)
    pub latency: BTreeMap<String, u64>,
    /// the metadata service answers 404 until this wall-clock time (ms since the epoch)
    pub imds_not_found_until_ms: i64,
    pub(super) file_stamp: Option<(SystemTime, u64)>,
    /// Write-behind (write_behind.rs): the world changed since the file was written, and what
    /// wakes the writer.
    pub(super) dirty: bool,
    pub(super) writer: Option<Arc<tokio::sync::Notify>>,
    /// A write-behind's copy of the world is being written, outside the lock: the file is
    /// ours and changing, not another process's.
    pub(super) writing: bool,
    /// Writes of the world file are numbered (the last number given out); the gate is held
    /// while one is written and keeps the number of the last written, so an older copy never
    /// replaces a newer one (a write-behind still writing when the simulator stops).
    pub(super) write_seq: u64,
    pub(super) file_gate: Arc<Mutex<u64>>,
    /// the number of the write `file_stamp` is from
    pub(super) stamp_seq: u64,
    /// matching rules and policy statements, parsed once per distinct text
    pub(super) iam: IamCache,
    /// `Some` when requests are timed (see [`Timing`]); capped like the log.
    pub(super) timings: Option<Vec<Timing>>,
}

impl Inner {
    /// A simulator's state before it serves: no log, faults, latency or pending write.
    pub(super) fn new(world: World, config: SimConfig) -> Inner {
        Inner {
            world,
            config,
            log: Vec::new(),
            faults: Vec::new(),
            random_faults: None,
            latency: BTreeMap::new(),
            imds_not_found_until_ms: 0,
            file_stamp: None,
            dirty: false,
            writer: None,
            writing: false,
            write_seq: 0,
            file_gate: Arc::new(Mutex::new(0)),
            stamp_seq: 0,
            iam: IamCache::default(),
            timings: timings_wanted().then(Vec::new),
        }
    }

    fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Picks up a world written by another process.
    pub(super) fn reload_if_changed(&mut self) {
        if self.dirty || self.writing {
            // A pending write-behind: the file is older than this world, and only ours.
            return;
        }
        let Some(path) = self.config.world_file.clone() else {
            return;
        };
        let stamp = Self::stamp(&path);
        if stamp.is_some() && stamp != self.file_stamp {
            if let Ok(w) = World::load(&path) {
                self.world = w;
                self.file_stamp = stamp;
            }
        }
    }

    /// Writes the world after a mutation (or has the write-behind task write it soon).
    pub fn persist(&mut self) {
        if let Some(writer) = &self.writer {
            self.dirty = true;
            writer.notify_one();
            return;
        }
        self.write_world();
    }

    /// A write-behind's part under the lock: a copy of the world when it changed since the
    /// last write (copying is several times cheaper than serialising it, which
    /// [`WorldCopy::write`] then does without holding the lock).
    pub(super) fn copy_for_write(&mut self) -> Option<WorldCopy> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let path = self.config.world_file.clone()?;
        self.writing = true;
        self.write_seq += 1;
        Some(WorldCopy {
            world: self.world.clone(),
            path,
            seq: self.write_seq,
            gate: self.file_gate.clone(),
        })
    }

    /// Writes a pending write-behind now, under the lock (when the simulator stops).
    pub(super) fn flush(&mut self) {
        if self.dirty {
            self.dirty = false;
            let started = std::time::Instant::now();
            self.write_world();
            self.record_timing("WorldFileWrite".into(), started, started);
        }
    }

    /// Keeps a [`Timing`] when requests are timed: `queued` when the lock was asked for,
    /// `locked` when it was had; held until now.
    pub(super) fn record_timing(
        &mut self,
        operation: String,
        queued: std::time::Instant,
        locked: std::time::Instant,
    ) {
        if let Some(t) = self.timings.as_mut() {
            if t.len() >= MAX_LOG {
                t.drain(..MAX_LOG / 10);
            }
            t.push(Timing {
                operation,
                waited_us: (locked - queued).as_micros() as u64,
                held_us: locked.elapsed().as_micros() as u64,
            });
        }
    }

    fn write_world(&mut self) {
        if let Some(path) = self.config.world_file.clone() {
            let gate = self.file_gate.clone();
            let mut written = gate.lock().unwrap_or_else(|e| e.into_inner());
            self.write_seq += 1;
            if let Err(e) = self.world.save(&path) {
                eprintln!("simulator: {e}");
            }
            *written = self.write_seq;
            self.file_stamp = Self::stamp(&path);
            self.stamp_seq = self.write_seq;
        }
    }
}

/// A copy of the world a write-behind writes outside the lock ([`Inner::copy_for_write`]).
pub(super) struct WorldCopy {
    world: World,
    path: std::path::PathBuf,
    seq: u64,
    gate: Arc<Mutex<u64>>,
}

impl WorldCopy {
    /// Serialises and writes the copy (unless a newer one was written meanwhile), then notes
    /// the file's stamp under the lock, so the simulator does not take its own write for
    /// another process's.
    pub(super) fn write(self, shared: &Shared) {
        let stamp = {
            let mut written = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            if *written >= self.seq {
                None
            } else {
                if let Err(e) = self.world.save(&self.path) {
                    eprintln!("simulator: {e}");
                }
                *written = self.seq;
                Some(Inner::stamp(&self.path))
            }
        };
        let mut g = lock(shared);
        if let Some(stamp) = stamp.filter(|_| self.seq > g.stamp_seq) {
            g.file_stamp = stamp;
            g.stamp_seq = self.seq;
        }
        // one write-behind at a time (its task waits for this one)
        g.writing = false;
    }
}

pub(super) type Shared = Arc<Mutex<Inner>>;

pub(super) const MAX_LOG: usize = 200_000;

pub(super) fn lock(s: &Shared) -> MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn issue_user_session(
    g: &mut Inner,
    user_id: &str,
    public_key_pem: &str,
) -> Result<String, String> {
    if !g.world.users.contains_key(user_id) {
        return Err(format!("no user {user_id}"));
    }
    let public = pki::public_key_from_spki(public_key_pem)?;
    let iat = world::wall_ms() / 1000;
    let exp = iat + g.config.session_ttl_secs as i64;
    let token = pki::session_token(
        &g.world.token_secret,
        &g.world.tenancy_id,
        user_id,
        iat,
        exp,
    );
    g.world.sessions.insert(
        token.clone(),
        world::Session {
            instance_id: String::new(),
            user_id: Some(user_id.to_string()),
            public_key: public,
            exp,
        },
    );
    g.persist();
    Ok(token)
}
