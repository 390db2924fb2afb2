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
//! - `GET|DELETE /_sim/timings` (with `VIPSETUP_SIM_TIMINGS=1` in the simulator's environment:
//!   per API request, microseconds waited for and held in the lock, [`Timing`] list);
//! - `GET /_sim/world` (the whole world); `GET /_sim/seeded` (seed output, snake_case, with key);
//! - `GET|PUT /_sim/config` (merge of [`SimConfig`] fields: `pageSize`, `provisioningDelayMs`,
//!   `terminatingDelayMs`, `iamPropagationDelayMs`, `region`, `sessionTtlSecs`, `imdsV1`);
//! - `POST /_sim/faults` `{"operation":"UpdatePrivateIp"|"*","count":2,"fault":{"kind":"status",
//!   "status":500,"code":"InternalServerError","message":"..."}}` or `"fault":{"kind":"drop"}`;
//!   `PUT /_sim/faults/random` `{"rate":0.2,"operations":[],"faults":[...]}`; `GET|DELETE /_sim/faults`;
//! - `PUT /_sim/latency` `{"GetVnic":50,"*":5}` (milliseconds, replaces the table);
//! - `POST /_sim/clock/advance` `{"ms":60000}`;
//! - `POST /_sim/imds/aliases` `{"ip":"127.0.0.2","instanceId":"ocid1.instance..."}`;
//! - `POST /_sim/imds/not-found` `{"ms":2000}`: the metadata service answers 404 to everything
//!   for that long from now (one of the short windows cloud-init's Oracle datasource allows for);
//! - `POST /_sim/subnets` `{"vcnId","cidr","name","prohibitPublicIpOnVnic":false,"dnsLabel"}`
//!   -> `{"id"}`;
//! - `POST /_sim/sessions` `{"userId":"ocid1.user...","publicKey":"<SPKI PEM>"}` -> `{"token"}`.

mod api;
mod config;
mod control;
mod dispatch;
mod faults;
mod handle;
pub mod iam;
mod iam_cache;
mod imds;
pub mod pki;
mod request;
mod response;
mod shared;
pub mod sig;
pub mod standalone;
pub mod world;
mod write_behind;

pub use api::instance_state;
pub use api::limits::set_limit;
pub use api::object_storage;
pub use api::placement::withdraw_shape;
pub use config::SimConfig;
pub use faults::{FaultKind, RandomFaults, ScriptedFault};
pub use handle::SimHandle;
pub use shared::{LogEntry, Timing};
pub use world::{Cidr, Region, SeedSpec, Seeded, World, WorldError};

use faults::fault_response;
pub(crate) use request::{Principal, Req};
pub(crate) use response::{ApiErr, Resp};
pub(crate) use shared::{issue_user_session, Inner};
use shared::{lock, Shared, MAX_LOG};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        let mut inner = Inner::new(world, config);
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
            .fallback(dispatch::dispatch)
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
