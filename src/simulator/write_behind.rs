//! Write-behind of the world file, for a simulator that is its file's only user.
//!
//! By default the simulator writes its whole world file after each mutation, under the lock that
//! serialises every request (and a file lock shared with other simulators of the same file: two
//! `--simulate` runs side by side). A write costs about 12 ms of the debug build's time for a
//! failover harness's world (160 KB; 150 ms at the 90th percentile on a loaded machine), so a
//! node's several UpdatePrivateIp calls, which OCI serves side by side, queued behind each
//! other's writes, and the harness counted the simulator's disk as the agent's share of a
//! takeover. With `write_behind_ms` set (`simulator serve --write-behind-ms`), mutations only
//! mark the world dirty and this task writes it at most every `write_behind_ms`, and once more
//! when the simulator stops. Nothing else may write the file meanwhile (a world written by
//! another process is not read back while a write is pending).
//!
//! The write itself no longer holds the lock: serialising the world took 14 ms at the median
//! and 50 ms at the 95th percentile of the debug build (failover harness, 4 + 1 VIPs, load 5;
//! `VIPSETUP_SIM_TIMINGS`), landing in the middle of a takeover's updates 50 ms after the first.
//! Under the lock the world is only copied ([`Inner::copy_for_write`]); the copy is serialised
//! and written after the lock is released ([`WorldCopy::write`]).
#[cfg(doc)]
use super::shared::{Inner, WorldCopy};
use super::{lock, Shared};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Starts the writer; `notify` is what `Inner::persist` wakes it with.
pub(super) fn spawn(
    shared: Shared,
    notify: Arc<Notify>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            notify.notified().await;
            // Mutations that come together (a takeover's calls) are written once.
            tokio::time::sleep(every).await;
            let shared = shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let copy = {
                    let mut g = lock(&shared);
                    let started = std::time::Instant::now();
                    let copy = g.copy_for_write();
                    if copy.is_some() {
                        g.record_timing("WorldFileCopy".into(), started, started);
                    }
                    copy
                };
                if let Some(copy) = copy {
                    copy.write(&shared);
                }
            })
            .await;
        }
    })
}
