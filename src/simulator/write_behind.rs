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
            let _ = tokio::task::spawn_blocking(move || lock(&shared).flush()).await;
        }
    })
}
