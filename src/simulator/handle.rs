//! [`SimHandle`]: a running simulator, and what tests steer and read through it in process.

use std::net::SocketAddr;
use std::time::Duration;

use super::{
    issue_user_session, lock, FaultKind, LogEntry, RandomFaults, ScriptedFault, Seeded, Shared,
    SimConfig, Timing, World,
};

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    pub(super) addr: SocketAddr,
    pub(super) shared: Shared,
    pub(super) shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub(super) task: Option<tokio::task::JoinHandle<()>>,
    /// The write-behind task (write_behind.rs), when there is one.
    pub(super) writer: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` — the endpoint override for every service.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `http://127.0.0.1:PORT/opc/v2` — for `OCI_METADATA_BASE_URL`.
    pub fn metadata_base_url(&self) -> String {
        format!("{}/opc/v2", self.base_url())
    }
    /// `http://127.0.0.1:PORT/v1/x509` — the federation endpoint.
    pub fn federation_endpoint(&self) -> String {
        format!("{}/v1/x509", self.base_url())
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Every request served so far.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.shared).log.clone()
    }
    /// How many logged requests were for `operation`.
    pub fn count(&self, operation: &str) -> usize {
        lock(&self.shared)
            .log
            .iter()
            .filter(|e| e.operation == operation)
            .count()
    }
    /// The requests timed so far (empty unless `VIPSETUP_SIM_TIMINGS` was set at start).
    pub fn timings(&self) -> Vec<Timing> {
        lock(&self.shared).timings.clone().unwrap_or_default()
    }
    pub fn clear_log(&self) {
        lock(&self.shared).log.clear();
    }
    /// A snapshot of the world.
    pub fn world(&self) -> World {
        lock(&self.shared).world.clone()
    }
    /// Reads the world in place, as one consistent snapshot, without copying it: what a
    /// sequence of API requests can't give (the world may change between them).
    pub fn inspect<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&lock(&self.shared).world)
    }
    /// Changes the world in place (and persists it).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut g = lock(&self.shared);
        let r = f(&mut g.world);
        g.persist();
        r
    }
    pub fn config(&self) -> SimConfig {
        lock(&self.shared).config.clone()
    }
    pub fn set_config(&self, config: SimConfig) {
        lock(&self.shared).config = config;
    }
    pub fn set_provisioning_delay(&self, d: Duration) {
        lock(&self.shared).config.provisioning_delay_ms = d.as_millis() as u64;
    }
    pub fn set_terminating_delay(&self, d: Duration) {
        lock(&self.shared).config.terminating_delay_ms = d.as_millis() as u64;
    }
    pub fn set_iam_propagation_delay(&self, d: Duration) {
        lock(&self.shared).config.iam_propagation_delay_ms = d.as_millis() as u64;
    }
    pub fn set_page_size(&self, n: usize) {
        lock(&self.shared).config.page_size = n.max(1);
    }
    pub fn set_region(&self, region: Option<String>) {
        lock(&self.shared).config.region = region;
    }
    /// Latency added to every call of `operation` (`*` = all operations).
    pub fn set_latency(&self, operation: &str, d: Duration) {
        lock(&self.shared)
            .latency
            .insert(operation.to_string(), d.as_millis() as u64);
    }
    /// The next `count` calls of `operation` (`*` = any) fail with `fault`.
    pub fn inject_fault(&self, operation: &str, count: u32, fault: FaultKind) {
        lock(&self.shared).faults.push(ScriptedFault {
            operation: operation.to_string(),
            count,
            fault,
        });
    }
    pub fn set_random_faults(&self, faults: Option<RandomFaults>) {
        lock(&self.shared).random_faults = faults;
    }
    pub fn clear_faults(&self) {
        let mut g = lock(&self.shared);
        g.faults.clear();
        g.random_faults = None;
    }
    /// Moves the world's clock forward (lifecycle and IAM propagation see it; signatures don't).
    pub fn advance_clock(&self, d: Duration) {
        let mut g = lock(&self.shared);
        g.world.clock_offset_ms += d.as_millis() as i64;
        g.persist();
    }
    /// Switches the metadata service's v1 (`/opc/v1`) on or off (off: 404, as OCI).
    pub fn set_imds_v1(&self, on: bool) {
        lock(&self.shared).config.imds_v1 = on;
    }
    /// The metadata service answers 404 to everything for `d` from now.
    pub fn imds_not_found_for(&self, d: Duration) {
        lock(&self.shared).imds_not_found_until_ms = super::world::wall_ms() + d.as_millis() as i64;
    }
    /// IMDS answers callers from `ip` as `instance_id`.
    pub fn set_imds_alias(&self, ip: &str, instance_id: &str) {
        let mut g = lock(&self.shared);
        g.world
            .imds_aliases
            .insert(ip.to_string(), instance_id.to_string());
        g.persist();
    }
    /// Issues a session token for a user (keyId `ST$<token>`), bound to `public_key_pem`
    /// (SubjectPublicKeyInfo PEM): what a security_token_file profile signs with.
    pub fn issue_user_session(
        &self,
        user_id: &str,
        public_key_pem: &str,
    ) -> Result<String, String> {
        let mut g = lock(&self.shared);
        issue_user_session(&mut g, user_id, public_key_pem)
    }
    /// The seed output stored in the world, if it was seeded.
    pub fn seeded(&self) -> Option<Seeded> {
        lock(&self.shared).world.seeded.clone()
    }
    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.stop_writer();
    }
    /// Stops the write-behind task and writes what it had pending.
    fn stop_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort();
            // A copy being written outside the lock (write_behind.rs) finishes first, so the
            // file is complete when the simulator has stopped (a caller may remove it then).
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while lock(&self.shared).writing && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut g = lock(&self.shared);
            g.flush();
            g.writer = None;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.stop_writer();
    }
}
