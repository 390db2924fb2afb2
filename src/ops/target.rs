//! Opening a pair: the blueprint read into the engine's view, a renderer bound to it, and the
//! cloud to talk to (OCI through `oci::Client`, or the built-in simulator with `--simulate`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::blueprint::{Blueprint, RemoteState};
use crate::engine::backend::{Backend, ObjectStorageBackend};
use crate::engine::executor::ExecOptions;
use crate::engine::oci_cloud::OciCloud;
use crate::engine::resolve::PairSpec;
use crate::engine::state;
use crate::engine::Cloud;
use crate::oci::{AuthOptions, Client, Credentials, PrivateKey, RetryPolicy};
use crate::render::AgentSettings;
use crate::simulator::Seeded;

use super::error::{BlueprintError, OpenError, OpsError};
use super::pair::{RenderFacts, RenderedUserData, Session};
use super::{blueprint_view, simulate};

/// Flags shared by plan, apply, destroy and status, with the blueprint they name already read
/// and checked: a command reads and parses its blueprint once, when it builds these.
#[derive(Clone, Debug)]
pub struct TargetOptions {
    pub blueprint: PathBuf,
    /// The blueprint at `blueprint`, parsed.
    pub parsed: Blueprint,
    /// Default: `<blueprint>.state.json`.
    pub state: Option<PathBuf>,
    /// Use the built-in OCI simulator (world kept next to the blueprint).
    pub simulate: bool,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    pub auth: Option<String>,
    pub endpoint: Option<String>,
    /// How long to wait for another run's lock (`--lock-timeout`; zero = do not wait).
    pub lock_timeout: Duration,
    /// Move the state to where the blueprint's `state:` key says before going on
    /// (`--migrate-state`; see `state_location`).
    pub migrate_state: bool,
}

impl TargetOptions {
    /// Reads and checks the blueprint at `path`; every flag at its default.
    pub fn load(path: &Path) -> Result<TargetOptions, BlueprintError> {
        Ok(TargetOptions {
            blueprint: path.to_path_buf(),
            parsed: blueprint_view::load(path)?,
            state: None,
            simulate: false,
            profile: None,
            config_file: None,
            auth: None,
            endpoint: None,
            lock_timeout: Duration::ZERO,
            migrate_state: false,
        })
    }

    /// The local state file: `--state`, else next to the blueprint. A simulated pair keeps its
    /// own (`<blueprint>.sim-state.json`), so `--simulate` never reads or writes a real pair's.
    pub fn state_path(&self) -> PathBuf {
        match &self.state {
            Some(p) => p.clone(),
            None if self.simulate => simulate::state_path(&self.blueprint),
            None => state::default_path(&self.blueprint),
        }
    }
}

pub type BoxRenderer =
    Box<dyn Fn(&RenderFacts) -> Result<[RenderedUserData; 2], String> + Send + Sync>;

/// An opened pair: everything a `Session` borrows.
pub struct Target {
    pub spec: PairSpec,
    pub render: BoxRenderer,
    pub cloud: Box<dyn Cloud>,
    pub tenancy_id: String,
    pub exec: ExecOptions,
    /// Keeps an in-process simulator alive for as long as the target is.
    pub keep_alive: Option<Box<dyn std::any::Any + Send>>,
    /// The blueprint's `state:` key (state and lock in Object Storage), if any.
    pub remote_state: Option<RemoteState>,
    /// The client the Object Storage backend uses (the same credentials as every other call).
    pub client: Client,
}

/// Poll interval override for tests and benchmarks (`VIPSETUP_POLL_MS`).
pub fn exec_options() -> ExecOptions {
    let mut o = ExecOptions::default();
    if let Some(ms) = std::env::var("VIPSETUP_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        o.poll_interval = Duration::from_millis(ms);
    }
    o
}

/// Crash-test hook (debug builds only; see `engine::kill_after`):
/// `VIPSETUP_TEST_KILL_AFTER_MUTATIONS=N` SIGKILLs the process right after the Nth mutating API
/// call returns.
#[cfg(debug_assertions)]
fn with_kill_hook(cloud: Box<dyn Cloud>) -> Box<dyn Cloud> {
    use crate::engine::kill_after::KillAfter;
    match std::env::var("VIPSETUP_TEST_KILL_AFTER_MUTATIONS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(n) if n > 0 => Box::new(KillAfter::new(cloud, n)),
        _ => cloud,
    }
}

/// Release builds have no crash-test hook: the variable is ignored.
#[cfg(not(debug_assertions))]
fn with_kill_hook(cloud: Box<dyn Cloud>) -> Box<dyn Cloud> {
    cloud
}

/// Connects to OCI (or starts the simulator with `--simulate`) for the blueprint in `opts`.
pub async fn open(opts: &TargetOptions) -> Result<Target, OpenError> {
    let bp = opts.parsed.clone();
    let spec = blueprint_view::pair_spec(&bp);
    if opts.simulate {
        return open_simulated(bp, spec, opts).await;
    }
    let auth = AuthOptions {
        config_file: opts.config_file.clone(),
        profile: opts
            .profile
            .clone()
            .or_else(|| Some(bp.oci.profile.clone())),
        auth: opts.auth.as_deref().map(str::parse).transpose()?,
        region: bp.oci.region.clone(),
        endpoint: opts.endpoint.clone(),
        ..AuthOptions::default()
    }
    .with_process_env()?;
    let client = Client::from_options(&auth).await?;
    for w in client.warnings() {
        eprintln!("warning: {w}");
    }
    let tenancy_id = client.tenancy_id().to_string();
    let region = client.region().to_string();
    let remote_state = bp.state.clone();
    Ok(Target {
        spec,
        render: blueprint_view::renderer(bp, region, AgentSettings::default()),
        cloud: with_kill_hook(Box::new(OciCloud {
            client: client.clone(),
        })),
        tenancy_id,
        exec: exec_options(),
        keep_alive: None,
        remote_state,
        client,
    })
}

/// The built-in simulator, in process, with the blueprint's world; the client signs as the
/// seeded user.
async fn open_simulated(
    bp: Blueprint,
    spec: PairSpec,
    opts: &TargetOptions,
) -> Result<Target, OpenError> {
    let (handle, seeded) = simulate::start(&bp, &opts.blueprint).await?;
    let mut t = simulated(
        bp,
        spec,
        &handle.base_url(),
        &seeded,
        RetryPolicy::default(),
    )?;
    t.keep_alive = Some(Box::new(handle));
    Ok(t)
}

/// A target on a running simulator at `base_url`, signing as its seeded user (tests, benchmark).
pub fn simulated(
    bp: Blueprint,
    spec: PairSpec,
    base_url: &str,
    seeded: &Seeded,
    retry: RetryPolicy,
) -> Result<Target, OpenError> {
    let key = PrivateKey::from_pem(
        seeded.private_key_pem.as_bytes(),
        None,
        "the simulator's user key",
    )?;
    let credentials = Credentials::api_key(
        &seeded.tenancy_id,
        &seeded.user_id,
        key,
        &seeded.home_region,
    );
    let client = Client::builder(credentials)
        .endpoint(Some(base_url))
        .region(Some(&seeded.home_region))
        .retry_policy(retry)
        .build()?;
    let remote_state = bp.state.clone();
    Ok(Target {
        spec,
        render: blueprint_view::renderer(bp, seeded.home_region.clone(), AgentSettings::default()),
        cloud: with_kill_hook(Box::new(OciCloud {
            client: client.clone(),
        })),
        tenancy_id: seeded.tenancy_id.clone(),
        exec: exec_options(),
        keep_alive: None,
        remote_state,
        client,
    })
}

impl Target {
    /// The session for this pair with its state in a local file at `state_path`.
    pub fn session(&self, state_path: PathBuf) -> Session<'_> {
        self.session_with(Backend::local(state_path), Duration::ZERO)
    }

    /// The session with its state and lock in `backend`.
    pub fn session_with(&self, backend: Backend, lock_timeout: Duration) -> Session<'_> {
        Session {
            cloud: self.cloud.as_ref(),
            tenancy_id: self.tenancy_id.clone(),
            spec: self.spec.clone(),
            backend,
            lock_timeout,
            render: self.render.as_ref(),
            exec: self.exec.clone(),
            upgrade_image: false,
        }
    }

    /// The backend the blueprint and flags choose: Object Storage when the blueprint has a
    /// `state:` key (then `--state` is refused: one pair, one truth), else the local file.
    pub async fn backend(&self, opts: &TargetOptions) -> Result<Backend, OpenError> {
        match &self.remote_state {
            Some(_) if opts.state.is_some() => Err(OpenError::TwoStates),
            Some(cfg) => Ok(Backend::ObjectStorage(
                ObjectStorageBackend::open(self.client.clone(), cfg, &self.spec.pair)
                    .await
                    .map_err(|e| OpenError::RemoteState(Box::new(e)))?,
            )),
            None => Ok(Backend::local(opts.state_path())),
        }
    }

    /// The session the command line asks for (backend and lock timeout from `opts`), once the
    /// state is where the blueprint says (or moved there with `--migrate-state`).
    pub async fn session_for(&self, opts: &TargetOptions) -> Result<Session<'_>, OpsError> {
        let backend = self.backend(opts).await?;
        let backend = super::state_location::reconcile(self, opts, backend).await?;
        Ok(self.session_with(backend, opts.lock_timeout))
    }
}
