//! State and lock in OCI Object Storage (the blueprint's `state:` key), with the real binary
//! against one standalone simulator that every run shares, as machines share a tenancy: two
//! runs of the same pair from different working directories, a holder SIGKILLed mid-apply, a
//! racing state write, push/pull, and the local lock record.

mod engine_support;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use engine_support::standalone::Standalone;
use engine_support::*;
use serde_json::Value;
use vipsetup::ops::{blueprint_view, simulate};
use vipsetup::simulator::{object_storage, World};

const BUCKET: &str = "vipsetup-state";
const VIP: &str = "172.16.2.10";

/// The standalone simulator (stopped by PID even when a test fails) and its world file.
struct Server {
    sim: Standalone,
    world: PathBuf,
}

struct Setup {
    dir: tempfile::TempDir,
    server: Server,
    config: PathBuf,
}

fn with_state(text: String) -> String {
    format!("{text}\nstate:\n  bucket: {BUCKET}\n  prefix: pairs/\n")
}

/// A world seeded for the quickstart pair with the state bucket, served on 127.0.0.1:0, and an
/// OCI config that signs as its user.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let bp_path = quickstart_in(&dir.path().join("seed"), with_state);
    let bp = blueprint_view::load(&bp_path).unwrap();
    let (mut world, seeded) = simulate::seed_for(&bp).unwrap();
    let home = world.home_region.clone();
    object_storage::ensure_bucket(&mut world, BUCKET, &bp.oci.compartment.to_string(), &home);
    let wpath = dir.path().join("world.json");
    world.save(&wpath).unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, &seeded.private_key_pem).unwrap();
    let config = dir.path().join("oci-config");
    std::fs::write(&config, seeded.oci_config(key.to_str().unwrap())).unwrap();
    let sim = Standalone::serve(
        Command::new(env!("CARGO_BIN_EXE_vipsetup")),
        &wpath,
        &[
            "--provisioning-delay-ms",
            "300",
            "--terminating-delay-ms",
            "60",
        ],
    );
    Setup {
        dir,
        server: Server { sim, world: wpath },
        config,
    }
}

impl Setup {
    /// The same pair's blueprint in its own working directory (`name`), as a second checkout.
    fn checkout(&self, name: &str) -> PathBuf {
        quickstart_in(&self.dir.path().join(name), with_state)
    }

    fn command(&self, blueprint: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
        cmd.args(args)
            .arg(blueprint)
            .arg("--config-file")
            .arg(&self.config)
            .args(["--endpoint", &self.server.sim.base])
            .current_dir(blueprint.parent().unwrap())
            .env("VIPSETUP_POLL_MS", "20")
            .env_remove("VIPSETUP_TEST_KILL_AFTER_MUTATIONS")
            .env_remove("OCI_CLI_PROFILE")
            .env_remove("OCI_CLI_AUTH");
        if matches!(args[0], "apply" | "destroy") {
            cmd.arg("--auto-approve");
        }
        cmd
    }

    fn run(&self, blueprint: &Path, args: &[&str]) -> Output {
        self.command(blueprint, args)
            .output()
            .expect("run vipsetup")
    }

    /// Changes a stored JSON object in the world file (the server reloads a changed file).
    fn edit_object(&self, name: &str, f: impl FnOnce(&mut Value)) {
        // Under the lock the simulator serves each request under (requests a killed run sent
        // just before dying may still be served and written back).
        let mut lock_name = self.server.world.clone().into_os_string();
        lock_name.push(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_name)
            .unwrap();
        lock.lock().unwrap();
        let mut w = World::load(&self.server.world).unwrap();
        let ns = object_storage::namespace(&w);
        let doc = w
            .get_mut(object_storage::OBJECT, &format!("{ns}/{BUCKET}/{name}"))
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = base64::Engine::decode(&b64, doc["_body"].as_str().unwrap()).unwrap();
        let mut v: Value = serde_json::from_slice(&bytes).unwrap();
        f(&mut v);
        let body = base64::Engine::encode(&b64, serde_json::to_vec(&v).unwrap());
        doc.insert("_body".into(), Value::String(body));
        w.save(&self.server.world).unwrap();
    }

    fn world(&self) -> World {
        let mut w = World::load(&self.server.world).unwrap();
        w.sweep();
        w
    }

    /// The stored object's text, if there is one.
    fn object(&self, name: &str) -> Option<String> {
        let w = self.world();
        let ns = object_storage::namespace(&w);
        w.get(object_storage::OBJECT, &format!("{ns}/{BUCKET}/{name}"))
            .map(|d| {
                let b64 = d["_body"].as_str().unwrap();
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            })
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", text(out));
}

#[test]
fn two_checkouts_applying_at_once_make_one_pair_and_the_loser_names_the_holder() {
    let s = setup();
    let a = s.checkout("alice");
    let b = s.checkout("bob");
    let first = s
        .command(&a, &["apply"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = s
        .command(&b, &["apply"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let ok: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    let locked: Vec<&Output> = outs.iter().filter(|o| o.status.code() == Some(3)).collect();
    assert_eq!(
        (ok.len(), locked.len()),
        (1, 1),
        "one run applies, the other stops on the lock:\n{}\n---\n{}",
        text(&outs[0]),
        text(&outs[1])
    );
    let err = String::from_utf8_lossy(&locked[0].stderr).to_string();
    assert!(
        err.contains("the pair is locked by `vipsetup apply`"),
        "{err}"
    );
    assert!(err.contains(" (pid "), "{err}");
    assert!(err.contains("oci://"), "{err}");
    assert!(err.contains("pairs/quickstart.lock"), "{err}");
    assert_eq!(
        counts(&s.world(), VIP),
        (2, 1, 1, 1, 1),
        "exactly one of each"
    );
    // The lock is gone, the state is remote (and nowhere local), and the other checkout
    // sees the pair as built.
    assert!(s.object("pairs/quickstart.lock").is_none());
    let state: Value = serde_json::from_str(&s.object("pairs/quickstart.json").unwrap()).unwrap();
    assert_eq!(state["pair"], "quickstart");
    for bp in [&a, &b] {
        assert!(!vipsetup::engine::state::default_path(bp).exists());
    }
    let plan = s.run(&b, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    // A run that waits (--lock-timeout) for a busy lock gets it when the holder finishes.
    let destroy = s.run(&b, &["destroy", "--lock-timeout", "2m"]);
    assert_ok(&destroy, "destroy");
    assert_eq!(counts(&s.world(), VIP), (0, 0, 0, 0, 0));
}

#[test]
fn a_holder_killed_mid_apply_leaves_a_lock_that_is_reported_and_can_be_forced() {
    if !engine_support::hook_compiled() {
        return;
    }
    let s = setup();
    let a = s.checkout("ci-runner");
    let child = s
        .command(&a, &["apply"])
        .env("VIPSETUP_TEST_KILL_AFTER_MUTATIONS", "3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let killed_pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    let lock: Value = serde_json::from_str(&s.object("pairs/quickstart.lock").unwrap()).unwrap();
    assert_eq!(lock["command"], "vipsetup apply");
    assert_eq!(lock["pid"], killed_pid);
    // As if it had died on a CI runner: a pid on another machine means nothing here, so the
    // lock holds (exit 3, holder named) until someone forces it.
    let runner = format!("ci-runner-7-not-{}", vipsetup::engine::host::hostname());
    s.edit_object("pairs/quickstart.lock", |v| {
        v["host"] = runner.clone().into()
    });
    let theirs = s.run(&a, &["apply"]);
    assert_eq!(theirs.status.code(), Some(3), "{}", text(&theirs));
    let err = String::from_utf8_lossy(&theirs.stderr);
    assert!(
        err.contains(&format!("on {runner} (pid {})", lock["pid"])),
        "{err}"
    );
    assert!(err.contains("force-unlock"), "{err}");
    let forced = s.run(&a, &["force-unlock"]);
    assert_ok(&forced, "force-unlock");
    let said = String::from_utf8_lossy(&forced.stdout);
    assert!(
        said.contains("removed the lock held by `vipsetup apply`")
            && said.contains("pairs/quickstart.lock"),
        "{said}"
    );
    assert!(s.object("pairs/quickstart.lock").is_none());
    // The killed run's state was saved remotely step by step: the next apply finishes the pair
    // without duplicates.
    assert_ok(&s.run(&a, &["apply"]), "apply after force-unlock");
    assert_eq!(counts(&s.world(), VIP), (2, 1, 1, 1, 1));
    let again = s.run(&a, &["force-unlock"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("no lock to remove"));
}

#[test]
fn a_state_write_based_on_an_old_state_is_refused_not_lost() {
    // Two runs read the state; the first writes; the second's write (based on the old ETag)
    // must get 412 and leave the first one's state in place.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = pair_with(with_state, vipsetup::oci::RetryPolicy::default()).await;
        p.sim.with_world(|w| {
            let home = w.home_region.clone();
            object_storage::ensure_bucket(w, BUCKET, &p.target.spec.compartment_id, &home);
        });
        let opts = vipsetup::ops::target::TargetOptions::load(&p.blueprint).unwrap();
        let one = p.target.backend(&opts).await.unwrap();
        let two = p.target.backend(&opts).await.unwrap();
        assert!(one
            .describe()
            .ends_with(&format!("/{BUCKET}/pairs/quickstart.json")));
        assert!(one.load("quickstart").await.unwrap().is_none());
        assert!(two.load("quickstart").await.unwrap().is_none());
        let mut s1 = vipsetup::engine::State::new("quickstart");
        one.save(&mut s1).await.unwrap();
        let mut s2 = vipsetup::engine::State::new("quickstart");
        let e = two.save(&mut s2).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("was changed by another run since this one read it"),
            "{e}"
        );
        // The first run goes on writing; the second, after reading again, can write too.
        one.save(&mut s1).await.unwrap();
        let now = two.load("quickstart").await.unwrap().unwrap();
        assert_eq!((now.nonce.as_str(), now.serial), (s1.nonce.as_str(), 2));
        let mut now = now;
        two.save(&mut now).await.unwrap();
        let e = one.save(&mut s1).await.unwrap_err();
        assert!(
            matches!(e, vipsetup::engine::state::StateError::Conflict { .. }),
            "{e}"
        );
    });
}

#[test]
fn push_and_pull_move_the_state_without_leaving_two_truths() {
    let s = setup();
    // Build the pair with local state first (the blueprint without `state:`).
    let dir = s.dir.path().join("local");
    let local_bp = quickstart_in(&dir, |t| t);
    let out = s.run(&local_bp, &["apply"]);
    assert_ok(&out, "apply with local state");
    let state_file = vipsetup::engine::state::default_path(&local_bp);
    let before = std::fs::read_to_string(&state_file).unwrap();
    // Now the team adds `state:` and pushes.
    std::fs::write(
        &local_bp,
        with_state(std::fs::read_to_string(&local_bp).unwrap()),
    )
    .unwrap();
    let pushed = s.run(&local_bp, &["state", "push"]);
    assert_ok(&pushed, "state push");
    assert!(!state_file.exists(), "the local file is no longer a truth");
    let mut kept = state_file.clone().into_os_string();
    kept.push(".pushed");
    assert!(Path::new(&kept).exists());
    let remote = s.object("pairs/quickstart.json").unwrap();
    assert_eq!(remote, before);
    // Pushing again is refused: the bucket already holds the truth.
    std::fs::copy(&kept, &state_file).unwrap();
    let again = s.run(&local_bp, &["state", "push"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("would make two truths"));
    // Pulling is refused while a local file exists, then works and empties the bucket.
    let refused = s.run(&local_bp, &["state", "pull"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    std::fs::remove_file(&state_file).unwrap();
    let pulled = s.run(&local_bp, &["state", "pull"]);
    assert_ok(&pulled, "state pull");
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), before);
    assert!(s.object("pairs/quickstart.json").is_none());
    // With `state:` removed again, the pulled file is the pair's state: nothing to change.
    std::fs::write(&local_bp, quickstart_text()).unwrap();
    let plan = s.run(&local_bp, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_ok(&s.run(&local_bp, &["destroy"]), "destroy");
}

fn quickstart_text() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/quickstart.yaml"),
    )
    .unwrap()
}

#[test]
fn a_second_local_state_file_adopts_the_pair_from_its_tags_instead_of_duplicating_it() {
    // Two checkouts with their own local state files (the trial's "two runners, two states"),
    // one after the other: the second finds the pair by its tags and records it.
    let s = setup();
    let bp = quickstart_in(&s.dir.path().join("two-states"), |t| t);
    assert_ok(
        &s.run(&bp, &["apply", "--state", "a.json"]),
        "apply with a.json",
    );
    let second = s.run(&bp, &["apply", "--state", "b.json"]);
    assert_ok(&second, "apply with b.json");
    assert_eq!(
        counts(&s.world(), VIP),
        (2, 1, 1, 1, 1),
        "{}",
        text(&second)
    );
    let ids = |f: &str| -> Value {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(bp.with_file_name(f)).unwrap()).unwrap();
        v["resources"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, r)| (k.clone(), r["id"].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    assert_eq!(ids("a.json"), ids("b.json"));
    let plan = s.run(&bp, &["plan", "--state", "b.json", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_ok(&s.run(&bp, &["destroy", "--state", "b.json"]), "destroy");
    assert_eq!(counts(&s.world(), VIP), (0, 0, 0, 0, 0));
}

fn simulated(blueprint: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.args(args)
        .arg(blueprint)
        .arg("--simulate")
        .env("VIPSETUP_SIM_PROVISIONING_MS", "300")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .env("VIPSETUP_POLL_MS", "20")
        .env_remove("VIPSETUP_TEST_KILL_AFTER_MUTATIONS");
    if matches!(args[0], "apply" | "destroy") {
        cmd.arg("--auto-approve");
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[test]
fn simulate_keeps_remote_state_in_its_bucket_and_two_simulated_runs_share_one_lock() {
    // Two `--simulate` processes each run their own simulator on the one world file: the
    // conditional create of the lock object must still let only one of them in.
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), with_state);
    let seed = simulated(&bp, &["plan"]).output().unwrap();
    assert_ok(&seed, "plan --simulate (seeds the world and the bucket)");
    let runs = [
        simulated(&bp, &["apply"]).spawn().unwrap(),
        simulated(&bp, &["apply"]).spawn().unwrap(),
    ];
    let outs = runs.map(|c| c.wait_with_output().unwrap());
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(3)),
        "{}\n---\n{}",
        text(&outs[0]),
        text(&outs[1])
    );
    let mut w = World::load(&simulate::world_path(&bp)).unwrap();
    w.sweep();
    assert_eq!(counts(&w, VIP), (2, 1, 1, 1, 1));
    let ns = object_storage::namespace(&w);
    assert!(w
        .get(
            object_storage::OBJECT,
            &format!("{ns}/{BUCKET}/pairs/quickstart.json")
        )
        .is_some());
    assert!(
        !simulate::state_path(&bp).exists(),
        "no local state beside a remote one"
    );
    assert_ok(&simulated(&bp, &["destroy"]).output().unwrap(), "destroy");
}
