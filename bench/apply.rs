//! Benchmark: apply + destroy of the quickstart pair against the simulator with a realistic
//! latency profile scaled down, beside the seed recipe run as a sequential OCI CLI script
//! against the same simulator. Prints wall times, the critical-path lower bound of the profile,
//! their ratio and API-call counts. Run with `bench/apply.sh` (or `cargo run --example
//! bench_apply`); `BENCH_SCALE` (default 10) divides every delay of the profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vipsetup::engine::plan::Plan;
use vipsetup::engine::progress::Silent;
use vipsetup::oci::RetryPolicy;
use vipsetup::ops::{blueprint_view, simulate, target};
use vipsetup::simulator::{LogEntry, SimConfig, SimHandle, Simulator};

/// The profile in real-world milliseconds (before scaling). Launch-to-RUNNING and termination
/// are the figures OCI users report for small VMs (about a minute, half a minute); API calls
/// 100-300 ms, IAM the slowest.
const PROVISIONING_MS: f64 = 60_000.0;
const TERMINATING_MS: f64 = 30_000.0;
const DEFAULT_CALL_MS: f64 = 150.0;
const CALL_MS: &[(&str, f64)] = &[
    ("LaunchInstance", 300.0),
    ("TerminateInstance", 200.0),
    ("CreateDynamicGroup", 300.0),
    ("UpdateDynamicGroup", 300.0),
    ("DeleteDynamicGroup", 300.0),
    ("GetDynamicGroup", 200.0),
    ("ListDynamicGroups", 200.0),
    ("CreatePolicy", 300.0),
    ("UpdatePolicy", 300.0),
    ("DeletePolicy", 300.0),
    ("GetPolicy", 200.0),
    ("ListPolicies", 200.0),
    ("ListRegionSubscriptions", 200.0),
    ("ListAvailabilityDomains", 200.0),
    ("GetTenancy", 200.0),
];
/// vipsetup's poll interval in real life (3 s).
const POLL_MS: f64 = 3_000.0;

struct Profile {
    scale: f64,
}

impl Profile {
    fn call(&self, op: &str) -> f64 {
        CALL_MS
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(DEFAULT_CALL_MS, |(_, ms)| *ms)
            / self.scale
    }
    fn ms(&self, real: f64) -> f64 {
        real / self.scale
    }
    fn apply(&self, sim: &SimHandle) {
        sim.set_latency("*", Duration::from_secs_f64(self.call("*") / 1000.0));
        for (op, _) in CALL_MS {
            sim.set_latency(op, Duration::from_secs_f64(self.call(op) / 1000.0));
        }
    }
    /// The shortest possible apply: the subnet must be read (for its VCN), the NSG made, the
    /// instances launched into it and waited for, the VNIC found and the VIP put on it. The IAM
    /// branch (dynamic group then policy) runs beside it and is shorter.
    fn apply_bound(&self) -> f64 {
        let c = |o| self.call(o);
        let main = c("GetSubnet")
            + c("CreateNetworkSecurityGroup")
            + c("LaunchInstance")
            + self.ms(PROVISIONING_MS)
            + c("ListVnicAttachments")
            + c("CreatePrivateIp");
        let iam = c("GetSubnet")
            + c("CreateNetworkSecurityGroup")
            + c("LaunchInstance")
            + c("CreateDynamicGroup")
            + c("CreatePolicy");
        main.max(iam)
    }
    /// The shortest destroy in the documented order: the VIP, the instances (seen TERMINATED),
    /// then the NSG (IAM deletes run beside).
    fn destroy_bound(&self) -> f64 {
        let c = |o| self.call(o);
        c("DeletePrivateIp")
            + c("TerminateInstance")
            + self.ms(TERMINATING_MS)
            + c("GetInstance")
            + c("DeleteNetworkSecurityGroup").max(c("DeletePolicy") + c("DeleteDynamicGroup"))
    }
}

#[derive(Default)]
struct Calls {
    total: usize,
    mutating: usize,
    by_op: BTreeMap<String, usize>,
}

fn calls(log: &[LogEntry]) -> Calls {
    let mut c = Calls::default();
    for e in log
        .iter()
        .filter(|e| e.operation != "Unknown" && !e.path.starts_with("/_sim"))
    {
        c.total += 1;
        if e.method != "GET" {
            c.mutating += 1;
        }
        *c.by_op.entry(e.operation.clone()).or_default() += 1;
    }
    c
}

fn yes(_: &Plan) -> bool {
    true
}

fn copy_quickstart(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(
        root.join("keys/quickstart.pub"),
        dir.join("keys/quickstart.pub"),
    )
    .unwrap();
    std::fs::copy(root.join("quickstart.yaml"), dir.join("quickstart.yaml")).unwrap();
    dir.join("quickstart.yaml")
}

fn row(what: &str, wall: Duration, bound: f64, c: &Calls) {
    let wall_ms = wall.as_secs_f64() * 1000.0;
    println!(
        "{what:<28} wall {wall_ms:>8.0} ms   bound {bound:>7.0} ms   ratio {:>5.2}   API calls {:>3} ({} mutating)",
        wall_ms / bound,
        c.total,
        c.mutating
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    let p = Profile { scale };
    let dir = tempfile::tempdir()?;
    let bp_path = copy_quickstart(dir.path());
    let bp = blueprint_view::load(&bp_path)?;
    let (world, seeded) = simulate::seed_for(&bp)?;
    let config = SimConfig {
        provisioning_delay_ms: p.ms(PROVISIONING_MS) as u64,
        terminating_delay_ms: p.ms(TERMINATING_MS) as u64,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, world).await?;
    p.apply(&sim);

    println!(
        "profile (1/{scale} of real time): launch->RUNNING {:.0} ms, terminate {:.0} ms, calls {:.0}-{:.0} ms, \
         vipsetup polls every {:.0} ms",
        p.ms(PROVISIONING_MS),
        p.ms(TERMINATING_MS),
        p.ms(DEFAULT_CALL_MS),
        p.ms(300.0),
        p.ms(POLL_MS)
    );

    // vipsetup, in process (the same code the CLI runs).
    let spec = blueprint_view::pair_spec(&bp);
    let mut t = target::simulated(bp, spec, &sim.base_url(), &seeded, RetryPolicy::default())?;
    t.exec.poll_interval = Duration::from_secs_f64(p.ms(POLL_MS) / 1000.0);
    let sess = t.session(dir.path().join("quickstart.yaml.state.json"));
    sim.clear_log();
    let t0 = Instant::now();
    sess.apply(&[], &yes, &Silent, &dir.path().join("rendered"))
        .await?;
    let apply_wall = t0.elapsed();
    let apply_calls = calls(&sim.log());
    sim.clear_log();
    let t0 = Instant::now();
    sess.destroy(&yes, &Silent).await?;
    let destroy_wall = t0.elapsed();
    let destroy_calls = calls(&sim.log());

    // The seed recipe: one OCI CLI command after another.
    let cli = cli_recipe(&p, &sim, &seeded, dir.path());

    println!();
    row("vipsetup apply", apply_wall, p.apply_bound(), &apply_calls);
    row(
        "vipsetup destroy",
        destroy_wall,
        p.destroy_bound(),
        &destroy_calls,
    );
    match cli {
        Ok(r) => {
            row(
                "OCI CLI recipe apply",
                r.apply_wall,
                p.apply_bound(),
                &r.apply_calls,
            );
            row(
                "OCI CLI recipe destroy",
                r.destroy_wall,
                p.destroy_bound(),
                &r.destroy_calls,
            );
            println!(
                "\nOCI CLI: {} commands; one `oci` start-up costs {:.0} ms of real (unscaled) time here, \
                 {:.0} ms of the recipe's apply+destroy wall time",
                r.commands,
                r.startup.as_secs_f64() * 1000.0,
                r.startup.as_secs_f64() * 1000.0 * r.commands as f64
            );
            println!(
                "apply speed-up vipsetup vs CLI recipe: {:.2}x; destroy: {:.2}x",
                r.apply_wall.as_secs_f64() / apply_wall.as_secs_f64(),
                r.destroy_wall.as_secs_f64() / destroy_wall.as_secs_f64()
            );
        }
        Err(e) => println!("OCI CLI recipe not run: {e}"),
    }
    println!(
        "\nvipsetup apply calls by operation: {:?}",
        apply_calls.by_op
    );
    println!(
        "vipsetup destroy calls by operation: {:?}",
        destroy_calls.by_op
    );
    sim.shutdown().await;
    Ok(())
}

struct CliResult {
    apply_wall: Duration,
    destroy_wall: Duration,
    apply_calls: Calls,
    destroy_calls: Calls,
    commands: usize,
    startup: Duration,
}

fn cli_recipe(
    p: &Profile,
    sim: &SimHandle,
    seeded: &vipsetup::simulator::Seeded,
    dir: &Path,
) -> anyhow::Result<CliResult> {
    let venv = std::env::var("VIPSETUP_VENV").unwrap_or_else(|_| "/opt/vipsetup-venv".into());
    let oci = Path::new(&venv).join("bin/oci");
    anyhow::ensure!(
        oci.exists(),
        "{} not found; install oci-cli into $VIPSETUP_VENV",
        oci.display()
    );
    let key = dir.join("cli-key.pem");
    std::fs::write(&key, &seeded.private_key_pem)?;
    let config = dir.join("oci-config");
    std::fs::write(&config, seeded.oci_config(&key.display().to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600))?;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/seed-recipe.sh");
    // Count the CLI invocations (the recipe polls termination with repeated `get`s).
    let counter = dir.join("cli-invocations");
    let wrapper = dir.join("oci-counted");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho >>'{}'\nexec '{}' \"$@\"\n",
            counter.display(),
            oci.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    }
    let ids = dir.join("cli-ids.env");
    // The CLI polls in whole seconds; 1 s is its floor (its default is 30 s).
    let poll = ((p.ms(POLL_MS) / 1000.0).ceil() as u64).max(1);
    let run = |phase: &str| -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        let out = Command::new("bash")
            .arg(&script)
            .env("OCI", &wrapper)
            .env("OCI_CONFIG", &config)
            .env("OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING", "True")
            .env("SUPPRESS_LABEL_WARNING", "True")
            .env("ENDPOINT", sim.base_url())
            .env("COMP", &seeded.compartment_id)
            .env("VCN", &seeded.vcn_id)
            .env("SUBNET", &seeded.subnet_id)
            .env("AD", &seeded.availability_domains[0])
            .env("IMAGE", &seeded.image_ids[0])
            .env("PAIR", "recipe")
            .env("NODE1_IP", "172.16.2.21")
            .env("NODE2_IP", "172.16.2.22")
            .env("VIP", "172.16.2.30")
            .env("POLL", poll.to_string())
            .env("PHASE", phase)
            .env("IDS", &ids)
            .output()?;
        let wall = t0.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "the recipe's {phase} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(wall)
    };
    sim.clear_log();
    let apply_wall = run("apply")?;
    let apply_calls = calls(&sim.log());
    sim.clear_log();
    let destroy_wall = run("destroy")?;
    let destroy_calls = calls(&sim.log());
    let t0 = Instant::now();
    Command::new(&oci).arg("--version").output()?;
    let startup = t0.elapsed();
    let commands = std::fs::read_to_string(&counter)?.lines().count();
    Ok(CliResult {
        apply_wall,
        destroy_wall,
        apply_calls,
        destroy_calls,
        commands,
        startup,
    })
}
