//! A strict local stand-in for the part of OCI vipsetup and its node agent use: identity, core,
//! auth federation and the instance metadata service, all from one HTTP listener.
//!
//! Requests are verified as OCI does (signature, mandatory headers, body hash, clock skew), then
//! routed to an operation that reads or changes the [`World`]. Tests steer time (lifecycle and
//! IAM propagation delays, a clock offset), faults and latency in process through [`SimHandle`]
//! or over HTTP under `/_sim/` (unsigned), and read the request log to count calls.
//!
//! Region of a request: the first of (1) a path prefix `/region/<name>/...` (so a client's single
//! endpoint override can carry it: `--endpoint http://127.0.0.1:PORT/region/us-phoenix-1`),
//! (2) a `Host` header `identity.<region>.…`, `iaas.<region>.…`, `auth.<region>.…`,
//! `objectstorage.<region>.…`, `notification.<region>.…` or `limits.<region>.…`, (3)
//! [`SimConfig::region`], (4) the tenancy's home region. IAM writes in any other region than the
//! home region are refused with 403 NotAllowed; core resources live in the region they were made
//! in; a region the tenancy does not subscribe to answers 401.
//!
//! Control API (JSON, unsigned, never logged):
//! - `GET /_sim/health`; `GET|DELETE /_sim/log` ([`LogEntry`] list, camelCase);
//! - `GET /_sim/world` (the whole world); `GET /_sim/seeded` (seed output, snake_case, with key);
//! - `GET|PUT /_sim/config` (merge of [`SimConfig`] fields: `pageSize`, `provisioningDelayMs`,
//!   `terminatingDelayMs`, `iamPropagationDelayMs`, `region`, `sessionTtlSecs`);
//! - `POST /_sim/faults` `{"operation":"UpdatePrivateIp"|"*","count":2,"fault":{"kind":"status",
//!   "status":500,"code":"InternalServerError","message":"..."}}` or `"fault":{"kind":"drop"}`;
//!   `PUT /_sim/faults/random` `{"rate":0.2,"operations":[],"faults":[...]}`; `GET|DELETE /_sim/faults`;
//! - `PUT /_sim/latency` `{"GetVnic":50,"*":5}` (milliseconds, replaces the table);
//! - `POST /_sim/clock/advance` `{"ms":60000}`;
//! - `POST /_sim/imds/aliases` `{"ip":"127.0.0.2","instanceId":"ocid1.instance..."}`;
//! - `POST /_sim/subnets` `{"vcnId","cidr","name","prohibitPublicIpOnVnic":false,"dnsLabel"}`
//!   -> `{"id"}`;
//! - `POST /_sim/sessions` `{"userId":"ocid1.user...","publicKey":"<SPKI PEM>"}` -> `{"token"}`.

mod api;
mod control;
pub mod iam;
mod imds;
pub mod pki;
pub mod sig;
pub mod standalone;
pub mod world;
mod write_behind;

pub use api::instance_state;
pub use api::limits::set_limit;
pub use api::object_storage;
pub use api::placement::withdraw_shape;
pub use world::{Cidr, Region, SeedSpec, Seeded, World, WorldError};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// How the simulator behaves. Everything here can also be changed while it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimConfig {
    /// region of requests that name none (path prefix or Host); `None` = the home region
    pub region: Option<String>,
    /// largest page a list call returns (and the page size when the caller sets no `limit`)
    pub page_size: usize,
    /// PROVISIONING -> RUNNING
    pub provisioning_delay_ms: u64,
    /// TERMINATING -> TERMINATED
    pub terminating_delay_ms: u64,
    /// time before a new or changed dynamic group or policy applies to instance principals
    pub iam_propagation_delay_ms: u64,
    /// lifetime of session tokens issued by `/v1/x509`
    pub session_ttl_secs: u64,
    /// time before the metadata service shows an instance's metadata changed by UpdateInstance
    /// ("changes reach the metadata service within about a minute", Oracle's "Updating
    /// Instance Metadata" page; 0 here, as the other delays, unless a test sets it)
    pub metadata_delay_ms: u64,
    /// the world file: loaded when it changes, written after each mutation
    pub world_file: Option<PathBuf>,
    /// 0: the world file is written after each mutation (other simulators may share it);
    /// N: this simulator is the file's only user and writes it at most every N ms, and when it
    /// stops (write_behind.rs says why)
    pub write_behind_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            region: None,
            page_size: 100,
            provisioning_delay_ms: 0,
            terminating_delay_ms: 0,
            iam_propagation_delay_ms: 0,
            session_ttl_secs: 1200,
            metadata_delay_ms: 0,
            world_file: None,
            write_behind_ms: 0,
        }
    }
}

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

/// What a fault does to a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultKind {
    /// an OCI error response
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// the connection is closed without a response
    Drop,
}

impl FaultKind {
    pub fn status(status: u16, code: &str, message: &str) -> FaultKind {
        FaultKind::Status {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn too_many_requests() -> FaultKind {
        Self::status(429, "TooManyRequests", "Too many requests for the user")
    }
    pub fn internal_error() -> FaultKind {
        Self::status(500, "InternalServerError", "Internal error occurred")
    }
    pub fn service_unavailable() -> FaultKind {
        Self::status(503, "ServiceUnavailable", "Service unavailable")
    }
    pub fn incorrect_state() -> FaultKind {
        Self::status(
            409,
            "IncorrectState",
            "The resource is in a conflicting state",
        )
    }
    /// LaunchInstance's capacity error
    pub fn out_of_host_capacity() -> FaultKind {
        Self::status(500, "InternalError", "Out of host capacity.")
    }
}

/// "The next `count` calls of `operation` (`*` = any) fail with `kind`."
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScriptedFault {
    pub operation: String,
    pub count: u32,
    pub fault: FaultKind,
}

/// Each call of the listed operations (empty = all) fails with probability `rate`, with a fault
/// picked uniformly from `faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RandomFaults {
    pub rate: f64,
    #[serde(default)]
    pub operations: Vec<String>,
    pub faults: Vec<FaultKind>,
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}; pick a free address")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    World(#[from] WorldError),
    #[error(
        "cannot create the simulator's certificate authority: {0}; this is a bug, please report it"
    )]
    Pki(String),
}

pub(crate) struct Inner {
    pub world: World,
    pub config: SimConfig,
    pub log: Vec<LogEntry>,
    pub faults: Vec<ScriptedFault>,
    pub random_faults: Option<RandomFaults>,
    /// per-operation latency (`*` = every operation)
    pub latency: BTreeMap<String, u64>,
    file_stamp: Option<(SystemTime, u64)>,
    /// Write-behind (write_behind.rs): the world changed since the file was written, and what
    /// wakes the writer.
    dirty: bool,
    writer: Option<Arc<tokio::sync::Notify>>,
}

impl Inner {
    fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Picks up a world written by another process.
    fn reload_if_changed(&mut self) {
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
    fn flush(&mut self) {
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

    fn take_fault(&mut self, operation: &str) -> Option<FaultKind> {
        if let Some(i) = self
            .faults
            .iter()
            .position(|f| f.count > 0 && (f.operation == operation || f.operation == "*"))
        {
            let f = &mut self.faults[i];
            f.count -= 1;
            let kind = f.fault.clone();
            if f.count == 0 {
                self.faults.remove(i);
            }
            return Some(kind);
        }
        let r = self.random_faults.as_ref()?;
        if r.faults.is_empty()
            || !(r.operations.is_empty() || r.operations.iter().any(|o| o == operation))
        {
            return None;
        }
        use rand::Rng;
        let mut rng = rand::thread_rng();
        if rng.gen::<f64>() < r.rate {
            Some(r.faults[rng.gen_range(0..r.faults.len())].clone())
        } else {
            None
        }
    }
}

type Shared = Arc<Mutex<Inner>>;

const MAX_LOG: usize = 200_000;

fn lock(s: &Shared) -> MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(config: SimConfig, world: World) -> Result<SimHandle, SimError> {
        Self::serve_on(
            "127.0.0.1:0".parse().expect("literal address"),
            config,
            world,
        )
        .await
    }

    /// Seeds a world from `spec` and starts on 127.0.0.1 with a free port; `GET /_sim/seeded`
    /// then answers with the seed output too.
    pub async fn start_seeded(
        config: SimConfig,
        spec: &SeedSpec,
    ) -> Result<(SimHandle, Seeded), SimError> {
        let (world, seeded) = World::seed(spec)?;
        let handle = Self::start(config, world).await?;
        Ok((handle, seeded))
    }

    /// The `--simulate` entry point: uses `config.world_file` when it exists (so a second process
    /// sees the first one's cloud), else seeds a new world from `spec` (and writes the file).
    /// Returns the seed output either way.
    pub async fn open(config: SimConfig, spec: &SeedSpec) -> Result<(SimHandle, Seeded), SimError> {
        let existing = config.world_file.as_ref().filter(|p| p.exists());
        let world = match existing {
            Some(p) => World::load(p)?,
            None => World::seed(spec)?.0,
        };
        let seeded = world.seeded.clone().ok_or_else(|| {
            SimError::World(WorldError::Seed(
                "the world file was not made by seeding; delete it to seed a new one".into(),
            ))
        })?;
        let handle = Self::start(config, world).await?;
        Ok((handle, seeded))
    }

    /// Starts on `addr`. With `config.world_file` set and the file present, the file's world is
    /// used instead of `world`.
    pub async fn serve_on(
        addr: SocketAddr,
        config: SimConfig,
        mut world: World,
    ) -> Result<SimHandle, SimError> {
        if let Some(path) = &config.world_file {
            if path.exists() {
                world = World::load(path)?;
            }
        }
        if world.pki.is_none() {
            world.pki = Some(pki::new_pki().map_err(SimError::Pki)?);
        }
        if world.token_secret.is_empty() {
            world.token_secret = world::random_suffix(48);
        }
        let mut inner = Inner {
            world,
            config,
            log: Vec::new(),
            faults: Vec::new(),
            random_faults: None,
            latency: BTreeMap::new(),
            file_stamp: None,
            dirty: false,
            writer: None,
        };
        inner.persist();
        let write_behind = Duration::from_millis(inner.config.write_behind_ms);
        let notify = (inner.config.world_file.is_some() && !write_behind.is_zero())
            .then(|| Arc::new(tokio::sync::Notify::new()));
        inner.writer = notify.clone();
        let shared: Shared = Arc::new(Mutex::new(inner));
        let writer = notify.map(|n| write_behind::spawn(shared.clone(), n, write_behind));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| SimError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let app = axum::Router::new()
            .fallback(dispatch)
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        });
        Ok(SimHandle {
            addr: local,
            shared,
            shutdown: Some(tx),
            task: Some(task),
            writer,
        })
    }
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

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The write-behind task (write_behind.rs), when there is one.
    writer: Option<tokio::task::JoinHandle<()>>,
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

/// An OCI error answer.
#[derive(Debug, Clone)]
pub(crate) struct ApiErr {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiErr {
        ApiErr {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found() -> ApiErr {
        Self::new(
            404,
            "NotAuthorizedOrNotFound",
            "Authorization failed or requested resource not found.",
        )
    }
    pub fn unauthenticated(why: &str) -> ApiErr {
        Self::new(
            401,
            "NotAuthenticated",
            format!("The required information to complete authentication was not provided or was incorrect: {why}"),
        )
    }
    pub fn invalid(message: impl Into<String>) -> ApiErr {
        Self::new(400, "InvalidParameter", message)
    }
    pub fn missing(name: &str) -> ApiErr {
        Self::new(400, "MissingParameter", format!("Missing {name}"))
    }
}

/// A response before it is turned into HTTP.
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl Resp {
    pub fn json(status: u16, v: &serde_json::Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            content_type: "application/json",
        }
    }
    pub fn text(status: u16, s: &str) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: s.as_bytes().to_vec(),
            content_type: "text/plain",
        }
    }
    pub fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_type: "application/json",
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    pub fn from_err(e: &ApiErr) -> Resp {
        Resp::json(
            e.status,
            &serde_json::json!({"code": e.code, "message": e.message}),
        )
    }
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    User(String),
    Instance { id: String, compartment_id: String },
}

impl Principal {
    fn label(&self) -> String {
        match self {
            Principal::User(u) => format!("user:{u}"),
            Principal::Instance { id, .. } => format!("instance:{id}"),
        }
    }
}

/// A request as received, with the region decided and the prefix removed from `path`.
pub(crate) struct Req {
    pub method: String,
    /// path and query exactly as received (what `(request-target)` covers)
    pub target: String,
    /// path without the region prefix and without the query
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
    pub region: String,
    pub peer: SocketAddr,
    /// the operation the path names (decides whether the body must be signed)
    pub operation: &'static str,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    /// The parts of this request a signature covers.
    pub fn received(&self) -> sig::Received<'_> {
        sig::Received {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            body: &self.body,
        }
    }
    /// Checks the signature's form (headers covered, body hash and length, clock skew) and
    /// says who its keyId names; the caller verifies it with that principal's key.
    /// `host_required` is false only for the federation endpoint.
    pub fn signed(&self, host_required: bool) -> Result<(sig::AuthParams, sig::KeyRef), ApiErr> {
        let auth = self
            .header("authorization")
            .ok_or_else(|| ApiErr::unauthenticated("the request is not signed"))?;
        let params = sig::parse_authorization(auth).map_err(|e| ApiErr::unauthenticated(&e))?;
        sig::check_request_body(
            &self.received(),
            &params,
            world::wall_ms() / 1000,
            host_required,
            !object_storage::BODY_NOT_SIGNED.contains(&self.operation),
        )
        .map_err(|e| ApiErr::unauthenticated(&e))?;
        let key = sig::parse_key_id(&params.key_id).map_err(|e| ApiErr::unauthenticated(&e))?;
        Ok((params, key))
    }
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn region_from_host(host: &str) -> Option<String> {
    let mut labels = host.split('.');
    let service = labels.next()?;
    if matches!(
        service,
        "identity" | "iaas" | "auth" | "objectstorage" | "notification" | "limits"
    ) {
        let r = labels.next()?;
        if r.contains('-') {
            return Some(r.to_string());
        }
    }
    None
}

async fn dispatch(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in parts.headers.iter() {
        headers
            .entry(k.as_str().to_lowercase())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    if raw_path.starts_with("/_sim/") || raw_path == "/_sim" {
        return to_http(
            control::handle(&shared, parts.method.as_ref(), &raw_path, &body),
            None,
        );
    }
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut path = raw_path.clone();
    let mut region = None;
    if let Some(rest) = raw_path.strip_prefix("/region/") {
        if let Some((r, tail)) = rest.split_once('/') {
            region = Some(r.to_string());
            path = format!("/{tail}");
        }
    }
    if region.is_none() {
        region = headers
            .get("host")
            .and_then(|h| h.first())
            .and_then(|h| region_from_host(h));
    }
    let opc_request_id = headers
        .get("opc-request-id")
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| world::random_suffix(32).to_uppercase());
    let (operation, latency) = {
        let mut g = lock(&shared);
        g.reload_if_changed();
        let op = api::operation_name(parts.method.as_str(), &path);
        let lat = g
            .latency
            .get(op)
            .or_else(|| g.latency.get("*"))
            .copied()
            .unwrap_or(0);
        if region.is_none() {
            region = Some(
                g.config
                    .region
                    .clone()
                    .unwrap_or_else(|| g.world.home_region.clone()),
            );
        }
        (op, lat)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let req = Req {
        method: parts.method.to_string(),
        target,
        path,
        query,
        headers,
        body,
        region: region.unwrap_or_default(),
        peer,
        operation,
    };
    let mut drop_connection = false;
    let (resp, principal) = {
        let _other_processes = world_file_lock(&shared);
        let mut g = lock(&shared);
        g.reload_if_changed();
        let (resp, principal, fault_drop) = serve(&mut g, operation, &req);
        drop_connection = drop_connection || fault_drop;
        let entry = LogEntry {
            operation: operation.to_string(),
            method: req.method.clone(),
            path: req.target.clone(),
            status: if fault_drop { 0 } else { resp.status },
            principal: principal.clone(),
            region: req.region.clone(),
            at: world::wall_ms(),
            opc_request_id: opc_request_id.clone(),
        };
        // a long-running standalone simulator keeps the most recent entries only
        if g.log.len() >= MAX_LOG {
            g.log.drain(..MAX_LOG / 10);
        }
        g.log.push(entry);
        (resp, principal)
    };
    let _ = principal;
    if drop_connection {
        // Unwinding out of the connection task makes hyper close the socket without answering,
        // which is what a dropped connection looks like to the client. resume_unwind skips the
        // panic hook, so nothing is printed.
        std::panic::resume_unwind(Box::new("simulated dropped connection"));
    }
    to_http(resp, Some(&opc_request_id))
}

/// Serialises the requests of every simulator sharing one world file (two `--simulate` runs side
/// by side each run their own): read the file, serve, write it back, as one step, so a
/// conditional write (`if-none-match: *` on a lock object) is as atomic across processes as OCI
/// makes it. Released when the returned file is dropped.
fn world_file_lock(shared: &Shared) -> Option<std::fs::File> {
    let path = lock(shared).config.world_file.clone()?;
    let mut name = path.into_os_string();
    name.push(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(name)
        .ok()?;
    f.lock().ok()?;
    Some(f)
}

/// Authenticates, applies faults, runs the operation. Returns (response, principal label, drop).
fn serve(g: &mut Inner, operation: &'static str, req: &Req) -> (Resp, String, bool) {
    // IMDS and federation take faults before anything else (they have no signature to check
    // first, or check it themselves)
    if operation == "Imds" || operation == "FederateX509" {
        if let Some(f) = g.take_fault(operation) {
            return fault_response(f, "-".into());
        }
    }
    if req.path.starts_with("/opc/") {
        let (r, who) = imds::handle(g, req);
        return (r, who, false);
    }
    if operation == "FederateX509" {
        return match api::federation::federate(g, req) {
            Ok((r, who)) => (r, who, false),
            Err(e) => (Resp::from_err(&e), "-".into(), false),
        };
    }
    if !g.world.regions.iter().any(|r| r.name == req.region) {
        let e = ApiErr::unauthenticated(&format!(
            "the tenancy is not subscribed to region {}",
            req.region
        ));
        return (Resp::from_err(&e), "-".into(), false);
    }
    let principal = match authenticate(g, req) {
        Ok(p) => p,
        Err(e) => return (Resp::from_err(&e), "-".into(), false),
    };
    let label = principal.label();
    if operation != "Unknown" {
        if let Some(f) = g.take_fault(operation) {
            return fault_response(f, label);
        }
    }
    let resp = api::execute(g, operation, req, &principal);
    (resp, label, false)
}

fn fault_response(f: FaultKind, label: String) -> (Resp, String, bool) {
    match f {
        FaultKind::Drop => (Resp::empty(500), label, true),
        FaultKind::Status {
            status,
            code,
            message,
        } => (
            Resp::json(
                status,
                &serde_json::json!({"code": code, "message": message}),
            ),
            label,
            false,
        ),
    }
}

fn authenticate(g: &Inner, req: &Req) -> Result<Principal, ApiErr> {
    let (params, key_ref) = req.signed(true)?;
    let received = req.received();
    match key_ref {
        sig::KeyRef::ApiKey {
            tenancy,
            user,
            fingerprint,
        } => {
            if tenancy != g.world.tenancy_id {
                return Err(ApiErr::unauthenticated("unknown tenancy in keyId"));
            }
            let key = g
                .world
                .users
                .get(&user)
                .and_then(|u| u.api_keys.get(&fingerprint))
                .ok_or_else(|| ApiErr::unauthenticated("no such user or API key fingerprint"))?;
            sig::verify_signature(&received, &params, key)
                .map_err(|e| ApiErr::unauthenticated(&e))?;
            Ok(Principal::User(user))
        }
        sig::KeyRef::Session(token) => {
            let s = g
                .world
                .sessions
                .get(&token)
                .ok_or_else(|| ApiErr::unauthenticated("unknown session token"))?;
            if s.exp <= world::wall_ms() / 1000 {
                return Err(ApiErr::unauthenticated("the session token has expired"));
            }
            sig::verify_signature(&received, &params, &s.public_key)
                .map_err(|e| ApiErr::unauthenticated(&e))?;
            if let Some(user) = &s.user_id {
                return Ok(Principal::User(user.clone()));
            }
            let inst = g
                .world
                .get(world::INSTANCE, &s.instance_id)
                .filter(|d| d.get("_terminatedAtMs").is_none())
                .ok_or_else(|| ApiErr::unauthenticated("the instance of this session is gone"))?;
            Ok(Principal::Instance {
                id: s.instance_id.clone(),
                compartment_id: inst
                    .get("compartmentId")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            })
        }
        sig::KeyRef::FedX509 { .. } => Err(ApiErr::unauthenticated(
            "an x509 federation key can only sign /v1/x509",
        )),
    }
}

fn to_http(resp: Resp, opc_request_id: Option<&str>) -> Response<Body> {
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h: &mut HeaderMap = out.headers_mut();
    if let Ok(v) = HeaderValue::from_str(resp.content_type) {
        h.insert("content-type", v);
    }
    if let Some(id) = opc_request_id {
        if let Ok(v) = HeaderValue::from_str(id) {
            h.insert("opc-request-id", v);
        }
    }
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(k, v);
        }
    }
    out
}
