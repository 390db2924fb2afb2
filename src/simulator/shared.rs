//! The state every request shares: the world, the config, the request log, faults and latency,
//! behind one lock; the world file is reloaded when another process wrote it and saved after
//! each change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

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
}

impl Inner {
    fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Picks up a world written by another process.
    pub(super) fn reload_if_changed(&mut self) {
        if self.dirty {
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

    /// Writes a pending write-behind now.
    pub(super) fn flush(&mut self) {
        if self.dirty {
            self.dirty = false;
            self.write_world();
        }
    }

    fn write_world(&mut self) {
        if let Some(path) = self.config.world_file.clone() {
            if let Err(e) = self.world.save(&path) {
                eprintln!("simulator: {e}");
            }
            self.file_stamp = Self::stamp(&path);
        }
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
