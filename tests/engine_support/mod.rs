//! Shared by the engine's integration tests: a quickstart pair in a temp dir, an in-process
//! simulator seeded for it (lifecycle delays scaled way down), and ways to read the simulated
//! cloud back; a missing prerequisite goes through the shared rule (`prereq`).
#![allow(dead_code)]

#[path = "../support/prereq.rs"]
pub mod prereq;
pub mod standalone;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vipsetup::oci::RetryPolicy;
use vipsetup::ops::blueprint_view;
use vipsetup::ops::pair::Session;
use vipsetup::ops::simulate;
use vipsetup::ops::target::{self, Target};
use vipsetup::simulator::{world, LogEntry, SimConfig, SimHandle, Simulator, World};

pub const PROVISIONING_MS: u64 = 120;
pub const TERMINATING_MS: u64 = 80;

/// Copies the shipped quickstart blueprint (and its key) into `dir`, edited by `edit`.
pub fn quickstart_in(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(
        root.join("keys/quickstart.pub"),
        dir.join("keys/quickstart.pub"),
    )
    .unwrap();
    let text = std::fs::read_to_string(root.join("quickstart.yaml")).unwrap();
    let path = dir.join("quickstart.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

pub struct Pair {
    pub dir: tempfile::TempDir,
    pub blueprint: PathBuf,
    pub sim: SimHandle,
    pub target: Target,
}

pub async fn pair() -> Pair {
    pair_with(|t| t, RetryPolicy::default()).await
}

/// A fresh simulated cloud holding what the (edited) quickstart blueprint references.
pub async fn pair_with(edit: impl FnOnce(String) -> String, retry: RetryPolicy) -> Pair {
    pair_setup(edit, retry, |_, _| {}).await
}

/// `pair_with`, plus a chance to change the seeded world and the simulator's settings.
pub async fn pair_setup(
    edit: impl FnOnce(String) -> String,
    retry: RetryPolicy,
    tweak: impl FnOnce(&mut World, &mut SimConfig),
) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let blueprint = quickstart_in(dir.path(), edit);
    let bp = blueprint_view::load(&blueprint).unwrap();
    let (mut world, seeded) = simulate::seed_for(&bp).unwrap();
    let mut config = SimConfig {
        provisioning_delay_ms: PROVISIONING_MS,
        terminating_delay_ms: TERMINATING_MS,
        ..SimConfig::default()
    };
    tweak(&mut world, &mut config);
    let sim = Simulator::start(config, world).await.unwrap();
    let spec = blueprint_view::pair_spec(&bp);
    let mut target = target::simulated(bp, spec, &sim.base_url(), &seeded, retry).unwrap();
    target.exec.poll_interval = Duration::from_millis(20);
    Pair {
        dir,
        blueprint,
        sim,
        target,
    }
}

/// Retries as the SDKs do, with delays scaled down so fault tests stay fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
        max_jitter: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(60),
        first_contact_budget: Duration::from_secs(10),
    }
}

impl Pair {
    pub fn state_path(&self) -> PathBuf {
        vipsetup::engine::state::default_path(&self.blueprint)
    }

    pub fn session(&self) -> Session<'_> {
        self.target.session(self.state_path())
    }

    pub fn rendered_dir(&self) -> PathBuf {
        self.dir.path().join("rendered")
    }

    /// Requests that may change the cloud (anything but GET).
    pub fn mutations(&self) -> Vec<LogEntry> {
        self.sim
            .log()
            .into_iter()
            .filter(|e| {
                e.method != "GET" && !e.path.starts_with("/_sim") && e.operation != "Unknown"
            })
            .collect()
    }

    /// The world with lifecycles brought up to now.
    pub fn world(&self) -> World {
        self.sim.with_world(|w| {
            w.sweep();
            w.clone()
        })
    }

    /// The pair's live resources of a kind (not TERMINATED / DELETED).
    pub fn live(&self, kind: &str) -> Vec<Value> {
        live(&self.world(), kind)
    }
}

pub fn live(w: &World, kind: &str) -> Vec<Value> {
    w.all(kind)
        .filter(|d| {
            !matches!(
                d.get("lifecycleState").and_then(Value::as_str),
                Some("TERMINATED" | "DELETED" | "TERMINATING" | "DELETING")
            ) && d.get("_deleted").and_then(Value::as_bool) != Some(true)
                // The simulator derives an instance's state from timestamps.
                && !d.contains_key("_terminatedAtMs")
        })
        .map(|d| Value::Object(d.clone()))
        .collect()
}

/// How many of each of the pair's resources the world holds:
/// (instances, nsgs, dynamic groups, policies, vips).
pub fn counts(w: &World, vip: &str) -> (usize, usize, usize, usize, usize) {
    let tagged = |d: &Value| d["freeformTags"]["vipsetup-pair"] == "quickstart";
    (
        live(w, world::INSTANCE)
            .iter()
            .filter(|d| tagged(d))
            .count(),
        live(w, world::NSG).iter().filter(|d| tagged(d)).count(),
        live(w, world::DYNAMIC_GROUP)
            .iter()
            .filter(|d| tagged(d))
            .count(),
        live(w, world::POLICY).iter().filter(|d| tagged(d)).count(),
        w.all(world::PRIVATE_IP)
            .filter(|d| d.get("ipAddress").and_then(Value::as_str) == Some(vip))
            .count(),
    )
}

/// Decodes instance `user_data` metadata (base64, maybe gzip) to the cloud-config text.
pub fn decode_user_data(b64: &str) -> String {
    vipsetup::render::decode_user_data(b64).expect("user_data is base64 of a (gzipped) text")
}

/// Whether the crash-test hook is in the binary under test: it is compiled into debug builds
/// only (src/engine/kill_after.rs), and the binary is built with the test's profile, so under
/// `--release` the tests that kill a run mid-way cannot run (a failure in CI, a skip elsewhere).
pub fn hook_compiled() -> bool {
    prereq::met(if cfg!(debug_assertions) {
        Ok(())
    } else {
        Err("the crash-test hook is compiled out of release builds; run these tests without --release".into())
    })
}
