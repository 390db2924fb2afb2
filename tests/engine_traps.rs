//! Issue 20's traps in state moves, errors, Ctrl-C and drift (items 6, 7 and 8), each with the
//! real binary under `--simulate` (or the engine on an in-process simulator), each a test that
//! failed before the fix: a second copy of the state, a misspelled bucket planned as "6
//! unchanged", `state push/pull --simulate` hanging, "choose a free private_ip" for an address
//! a terminating node still holds, that text instead of the lock, `ListImages failed with HTTP
//! 404` for a wrong compartment, `validate` blaming the nodes for the VIP, apply and destroy
//! killed by Ctrl-C, a VRRP rule altered in place kept and taken for the VRRP rule, and
//! vipsetup's own deletes called "deleted outside vipsetup".

mod engine_support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine_support::*;
use serde_json::Value;
use vipsetup::engine::progress::Silent;
use vipsetup::engine::{Plan, Resource};
use vipsetup::ops::simulate;
use vipsetup::simulator::{object_storage, world, World};

const BUCKET: &str = "vipsetup-state";
const VIP: &str = "172.16.2.10";

fn with_state(text: String) -> String {
    with_bucket(text, BUCKET)
}

fn with_bucket(text: String, bucket: &str) -> String {
    format!("{text}\nstate:\n  bucket: {bucket}\n  prefix: pairs/\n")
}

fn quickstart_text() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/quickstart.yaml"),
    )
    .unwrap()
}

/// The binary under `--simulate` with lifecycle delays of `provisioning` / `terminating` ms.
fn sim_with(blueprint: &Path, args: &[&str], provisioning: u64, terminating: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.args(args)
        .arg(blueprint)
        .arg("--simulate")
        .current_dir(blueprint.parent().unwrap())
        .env("VIPSETUP_SIM_PROVISIONING_MS", provisioning.to_string())
        .env("VIPSETUP_SIM_TERMINATING_MS", terminating.to_string())
        .env("VIPSETUP_POLL_MS", "20")
        .env_remove("VIPSETUP_TEST_KILL_AFTER_MUTATIONS");
    if matches!(args[0], "apply" | "destroy") {
        cmd.arg("--auto-approve");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn sim(blueprint: &Path, args: &[&str]) -> Command {
    sim_with(blueprint, args, 200, 60)
}

/// A child process stopped by its PID when the test ends, whatever happened.
struct Running(Option<Child>);

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        Running(Some(cmd.spawn().expect("start vipsetup")))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still running")
    }

    fn pid(&self) -> i32 {
        self.0.as_ref().expect("still running").id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "kill {sig}");
    }

    /// Waits at most `limit`; kills the child and fails the test if it runs longer.
    fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().expect("still running");
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "still running after {}s, killed:\n{}",
                    limit.as_secs(),
                    text(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` to the end, at most `limit` (a hang fails the test instead of stalling it).
fn run_for(cmd: Command, limit: Duration) -> Output {
    Running::spawn(cmd).wait(limit)
}

fn run(cmd: Command) -> Output {
    run_for(cmd, Duration::from_secs(120))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", text(out));
}

fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", text(out));
}

/// The simulated world of `blueprint`, swept to now.
fn world_of(blueprint: &Path) -> World {
    let mut w = World::load(&simulate::world_path(blueprint)).unwrap();
    w.sweep();
    w
}

/// The state object of the quickstart pair in `bucket`, if any.
fn remote_state(blueprint: &Path, bucket: &str) -> Option<Value> {
    let w = world_of(blueprint);
    let ns = object_storage::namespace(&w);
    w.get(
        object_storage::OBJECT,
        &format!("{ns}/{bucket}/pairs/quickstart.json"),
    )
    .map(|d| {
        let b64 = d["_body"].as_str().unwrap();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    })
}

/// A fresh directory with the quickstart pair applied under `--simulate` (state as `edit`
/// leaves the blueprint: local, or in the bucket).
fn applied(edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), edit);
    assert_ok(&run(sim(&bp, &["apply"])), "first apply");
    assert_eq!(counts(&world_of(&bp), VIP), (2, 1, 1, 1, 1));
    (dir, bp)
}

// ---- 6. state moves and errors ----

#[test]
fn issue_20_adding_state_without_a_push_is_refused_and_migrate_state_moves_it() {
    let (_dir, bp) = applied(|t| t);
    let local = simulate::state_path(&bp);
    let before: Value = serde_json::from_str(&std::fs::read_to_string(&local).unwrap()).unwrap();
    std::fs::write(&bp, with_state(quickstart_text())).unwrap();
    // Before: plan read an empty bucket, adopted the pair by its tags and apply wrote a second
    // state there, the local file still beside it.
    let plan = run(sim(&bp, &["plan"]));
    assert_code(&plan, 1, "plan with a local state and a new `state:` key");
    let err = stderr(&plan);
    assert!(err.contains(&local.display().to_string()), "{err}");
    assert!(
        err.contains("oci://") && err.contains("pairs/quickstart.json"),
        "{err}"
    );
    assert!(err.contains("vipsetup state push"), "{err}");
    assert!(err.contains("--migrate-state"), "{err}");
    let apply = run(sim(&bp, &["apply"]));
    assert_code(&apply, 1, "apply with a local state and a new `state:` key");
    assert!(remote_state(&bp, BUCKET).is_none(), "no second copy");
    assert!(local.exists());
    // With the flag, the state moves (as `state push` does) and the run goes on from it.
    let migrated = run(sim(&bp, &["apply", "--migrate-state"]));
    assert_ok(&migrated, "apply --migrate-state");
    assert!(
        stderr(&migrated).contains("moved the state from"),
        "{}",
        text(&migrated)
    );
    assert!(!local.exists(), "the local file is no longer a truth");
    let remote = remote_state(&bp, BUCKET).expect("the state is in the bucket");
    assert_eq!(remote["nonce"], before["nonce"], "the same state, moved");
    assert_eq!(counts(&world_of(&bp), VIP), (2, 1, 1, 1, 1));
    let plan = run(sim(&bp, &["plan", "--detailed-exitcode"]));
    assert_code(&plan, 0, "plan after the move");
}

#[test]
fn issue_20_after_state_pull_with_the_key_still_there_apply_makes_no_second_copy() {
    let (_dir, bp) = applied(with_state);
    assert!(remote_state(&bp, BUCKET).is_some());
    // Before: pull under --simulate hung for 93 s and failed with "connection refused".
    let pulled = run_for(sim(&bp, &["state", "pull"]), Duration::from_secs(30));
    assert_ok(&pulled, "state pull --simulate");
    let local = simulate::state_path(&bp);
    assert!(local.exists());
    assert!(remote_state(&bp, BUCKET).is_none());
    // The user forgot to remove `state:`: the next apply must not start a second state.
    let apply = run(sim(&bp, &["apply"]));
    assert_code(&apply, 1, "apply after pull with the key still present");
    assert!(
        stderr(&apply).contains("--migrate-state"),
        "{}",
        text(&apply)
    );
    assert!(remote_state(&bp, BUCKET).is_none(), "no second copy");
    // And pushed back, it is one state again.
    let pushed = run_for(sim(&bp, &["state", "push"]), Duration::from_secs(30));
    assert_ok(&pushed, "state push --simulate");
    assert!(!local.exists());
    assert!(remote_state(&bp, BUCKET).is_some());
    assert_code(
        &run(sim(&bp, &["plan", "--detailed-exitcode"])),
        0,
        "plan after push",
    );
}

#[test]
fn issue_20_removing_or_changing_state_is_detected_and_migrate_state_moves_it() {
    let (_dir, bp) = applied(with_state);
    // The bucket the team moves to exists too.
    let wpath = simulate::world_path(&bp);
    let mut w = World::load(&wpath).unwrap();
    let comp = vipsetup::ops::blueprint_view::load(&bp)
        .unwrap()
        .oci
        .compartment
        .to_string();
    let home = w.home_region.clone();
    object_storage::ensure_bucket(&mut w, "team-state", &comp, &home);
    w.save(&wpath).unwrap();

    std::fs::write(&bp, with_bucket(quickstart_text(), "team-state")).unwrap();
    let plan = run(sim(&bp, &["plan"]));
    assert_code(&plan, 1, "plan after changing state.bucket");
    let err = stderr(&plan);
    assert!(
        err.contains(&format!("/{BUCKET}/pairs/quickstart.json")),
        "{err}"
    );
    assert!(err.contains("/team-state/pairs/quickstart.json"), "{err}");
    assert!(remote_state(&bp, "team-state").is_none(), "no second copy");
    let moved = run(sim(
        &bp,
        &["plan", "--migrate-state", "--detailed-exitcode"],
    ));
    assert_code(
        &moved,
        0,
        "plan --migrate-state after changing state.bucket",
    );
    assert!(remote_state(&bp, BUCKET).is_none());
    assert!(remote_state(&bp, "team-state").is_some());

    // The key removed: the state is in the bucket, not in the (absent) local file.
    std::fs::write(&bp, quickstart_text()).unwrap();
    let plan = run(sim(&bp, &["plan"]));
    assert_code(&plan, 1, "plan after removing `state:`");
    let err = stderr(&plan);
    assert!(err.contains("/team-state/pairs/quickstart.json"), "{err}");
    assert!(err.contains("no `state:` key"), "{err}");
    let local = simulate::state_path(&bp);
    assert!(!local.exists());
    let moved = run(sim(
        &bp,
        &["plan", "--migrate-state", "--detailed-exitcode"],
    ));
    assert_code(&moved, 0, "plan --migrate-state after removing `state:`");
    assert!(local.exists());
    assert!(remote_state(&bp, "team-state").is_none());
    assert_ok(&run(sim(&bp, &["destroy"])), "destroy");
    assert_eq!(counts(&world_of(&bp), VIP), (0, 0, 0, 0, 0));
}

#[test]
fn issue_20_a_misspelled_bucket_fails_plan_with_exit_1() {
    let (_dir, bp) = applied(with_state);
    std::fs::write(&bp, with_bucket(quickstart_text(), "vipsetup-stat")).unwrap();
    // Before: "6 unchanged", exit 0 (the made-up bucket was empty; apply then failed).
    let plan = run(sim(&bp, &["plan", "--detailed-exitcode"]));
    assert_code(&plan, 1, "plan with a misspelled bucket");
    let err = stderr(&plan);
    assert!(err.contains("\"vipsetup-stat\""), "{err}");
    assert!(err.contains("`state.bucket`"), "{err}");
    // The same from a fresh checkout (no record of where the state was).
    let local = simulate::state_path(&bp);
    let mut record = local.into_os_string();
    record.push(".remote.json");
    std::fs::remove_file(record).unwrap();
    let plan = run(sim(&bp, &["plan", "--detailed-exitcode"]));
    assert_code(&plan, 1, "plan with a misspelled bucket, fresh checkout");
    assert!(stderr(&plan).contains("`state.bucket`"), "{}", text(&plan));
}

// ---- 6. honest errors ----

#[test]
fn issue_20_a_wrong_compartment_names_oci_compartment() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    assert_ok(&run(sim(&bp, &["plan"])), "plan (seeds the world)");
    let text =
        quickstart_text().replace("aaaaaaaaquickstartcompartment", "aaaaaaaatypocompartment");
    std::fs::write(&bp, text).unwrap();
    let plan = run(sim(&bp, &["plan"]));
    assert_code(&plan, 1, "plan with a wrong compartment");
    let err = stderr(&plan);
    assert!(err.contains("`oci.compartment`"), "{err}");
    assert!(err.contains("aaaaaaaatypocompartment"), "{err}");
    assert!(!err.contains("error: ListImages failed"), "{err}");
}

#[test]
fn issue_20_validate_names_the_vip_outside_the_nodes_subnet() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| {
        t.replace("vip: 172.16.2.10/24", "vip: 172.16.9.10/24")
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.arg("validate")
        .arg(&bp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let out = run(cmd);
    assert_code(&out, 1, "validate");
    let err = stderr(&out);
    assert!(
        err.contains("network.vip: the VIP 172.16.9.10 is outside the nodes' subnet 172.16.2.0/24"),
        "{err}"
    );
    assert!(!err.contains("nodes[0].private_ip"), "{err}");
    assert!(!err.contains("nodes[1].private_ip"), "{err}");
}

/// A lock record naming a live process (this test), as another run's would.
fn live_lock(path: &Path) {
    let info = serde_json::json!({
        "id": "0123456789abcdef",
        "pid": std::process::id(),
        "host": vipsetup::engine::host::hostname(),
        "user": "someone",
        "command": "vipsetup apply",
        "since": vipsetup::engine::host::now_secs(),
    });
    std::fs::write(path, info.to_string()).unwrap();
}

#[test]
fn issue_20_an_interrupted_replacement_says_wait_and_a_held_lock_says_lock() {
    if !hook_compiled() {
        return;
    }
    let (_dir, bp) = applied(|t| t);
    // A replacement of the node that does not hold the VIP, killed right after its
    // TerminateInstance: the old instance is TERMINATING and still holds its address.
    let mut cmd = sim_with(&bp, &["apply", "--replace", "instance2"], 200, 60_000);
    cmd.env("VIPSETUP_TEST_KILL_AFTER_MUTATIONS", "1");
    let out = run(cmd);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{}",
        text(&out)
    );
    // Another run holds the lock: that is what plan says (before: "address ... already in
    // use ...; choose a free `private_ip`").
    let lock = vipsetup::engine::lock::lock_path(&simulate::state_path(&bp));
    live_lock(&lock);
    let plan = run(sim_with(&bp, &["plan"], 200, 60_000));
    assert_code(&plan, 3, "plan while another run holds the lock");
    let err = stderr(&plan);
    assert!(
        err.contains("the pair is locked by `vipsetup apply` run by someone"),
        "{err}"
    );
    assert!(!err.contains("already in use"), "{err}");
    std::fs::remove_file(&lock).unwrap();
    // Without the lock: the address is held by the node on its way out; wait, don't renumber.
    for args in [&["plan"][..], &["apply"][..]] {
        let out = run(sim_with(&bp, args, 200, 60_000));
        assert_code(&out, 1, &format!("{args:?} while the old node terminates"));
        let err = stderr(&out);
        assert!(
            err.contains(
                "node instance2: address 172.16.2.12 is still held by instance ocid1.instance"
            ),
            "{err}"
        );
        assert!(err.contains("TERMINATING"), "{err}");
        assert!(err.contains("wait for it to finish terminating"), "{err}");
        assert!(!err.contains("choose a free"), "{err}");
        assert!(!err.contains("vipsetup doctor"), "{err}");
    }
}

// ---- 7. Ctrl-C ----

/// Starts `cmd` and returns it once each of `markers` was in a line of its output (a marker
/// `a+b` wants a line holding both `a` and `b`).
fn started_until(cmd: Command, markers: &[&str]) -> (Running, mpsc::Receiver<String>) {
    let mut r = Running::spawn(cmd);
    let stdout = r.child().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                seen.push(line);
                let all = markers.iter().all(|m| {
                    seen.iter()
                        .any(|l| m.split('+').all(|part| l.contains(part)))
                });
                if all {
                    return (r, rx);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("never saw {markers:?}; output so far:\n{}", seen.join("\n"));
}

fn rest_of_stderr(out: &mut Running) -> impl FnOnce() -> String {
    let mut err = out.child().stderr.take().unwrap();
    let h = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    move || h.join().unwrap()
}

#[test]
fn issue_20_ctrl_c_stops_apply_saves_state_releases_the_lock_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    // Instances take 3 s to come up: the signal lands while apply waits for them.
    let (mut run_, lines) = started_until(
        sim_with(&bp, &["apply"], 3000, 60),
        &["node1+PROVISIONING", "node2+PROVISIONING"],
    );
    let err = rest_of_stderr(&mut run_);
    let sent = Instant::now();
    run_.signal(libc::SIGINT);
    let out = run_.wait(Duration::from_secs(60));
    let err = err();
    // Before: killed by the signal (no exit code), lock left behind, nothing said.
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "stopped waiting instead of finishing the launch"
    );
    assert!(
        err.contains("interrupted: run apply again to finish"),
        "{err}"
    );
    // The progress calls the cut waits stopped, not failed.
    let shown: Vec<String> = lines.iter().collect();
    assert!(
        shown
            .iter()
            .any(|l| l.contains("node1") && l.contains("stopped: interrupted while waiting")),
        "{}",
        shown.join("\n")
    );
    assert!(
        !shown.iter().any(|l| l.contains("failed:")),
        "{}",
        shown.join("\n")
    );
    let state_file = simulate::state_path(&bp);
    assert!(
        !vipsetup::engine::lock::lock_path(&state_file).exists(),
        "lock released"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    for node in ["node1", "node2"] {
        assert!(
            state["resources"][node]["id"].is_string(),
            "the launched {node} is recorded: {state}"
        );
    }
    // Running apply again finishes the pair without a second copy of anything.
    let again = run(sim(&bp, &["apply"]));
    assert_ok(&again, "apply after Ctrl-C");
    assert_eq!(counts(&world_of(&bp), VIP), (2, 1, 1, 1, 1));
}

#[test]
fn issue_20_ctrl_c_lets_a_replacement_launch_its_successor_and_a_second_one_exits_at_once() {
    let (_dir, bp) = applied(|t| t);
    // The old node takes a minute to terminate: a replacement stopped between its terminate
    // and its successor's launch would leave the pair with one node, so the first signal lets
    // it go on; the second ends the run at once.
    let (mut run_, _lines) = started_until(
        sim_with(&bp, &["apply", "--replace", "instance2"], 200, 60_000),
        &["node2+TERMINATING"],
    );
    let err = rest_of_stderr(&mut run_);
    run_.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        run_.child().try_wait().unwrap().is_none(),
        "the first signal stopped a replacement between terminate and launch"
    );
    let sent = Instant::now();
    run_.signal(libc::SIGINT);
    let out = run_.wait(Duration::from_secs(30));
    let err = err();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(sent.elapsed() < Duration::from_secs(5), "{err}");
    assert!(
        err.contains("stopping: the call in flight finishes"),
        "{err}"
    );
    assert!(err.contains("interrupted again: exiting at once"), "{err}");
}

#[test]
fn issue_20_ctrl_c_stops_destroy_and_its_own_deletes_are_not_deleted_outside() {
    let (_dir, bp) = applied(|t| t);
    // Terminations take a minute: the signal lands while destroy waits for them.
    let (mut run_, _lines) =
        started_until(sim_with(&bp, &["destroy"], 200, 8000), &["TERMINATING"]);
    let err = rest_of_stderr(&mut run_);
    run_.signal(libc::SIGTERM);
    let out = run_.wait(Duration::from_secs(60));
    let err = err();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: run destroy again to finish"),
        "{err}"
    );
    assert!(!vipsetup::engine::lock::lock_path(&simulate::state_path(&bp)).exists());
    // What destroy itself terminated is not news (before: "deleted outside vipsetup").
    let plan = run(sim_with(&bp, &["plan"], 200, 8000));
    let said = text(&plan);
    assert!(!said.contains("deleted outside vipsetup"), "{said}");
    let again = run(sim_with(&bp, &["destroy"], 200, 8000));
    assert_ok(&again, "destroy after Ctrl-C");
    assert_eq!(counts(&world_of(&bp), VIP), (0, 0, 0, 0, 0));
}

// ---- 8. drift ----

fn yes(_: &Plan) -> bool {
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_20_a_vrrp_rule_altered_in_place_is_replaced_not_kept() {
    let p = pair().await;
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    // Someone edits the ingress VRRP rule in the console: protocol 112 -> 6 (TCP).
    let altered = p.sim.with_world(|w| {
        let rule = w
            .all(world::SECURITY_RULE)
            .find(|r| r["direction"] == "INGRESS" && r["protocol"] == "112")
            .map(|r| r["_key"].as_str().unwrap().to_string())
            .unwrap();
        let d = w.get_mut(world::SECURITY_RULE, &rule).unwrap();
        d.insert("protocol".into(), "6".into());
        d["id"].as_str().unwrap().to_string()
    });
    let plan = sess.plan(&[]).await.unwrap();
    let nsg = plan.step(Resource::Nsg).unwrap();
    let why = nsg.reasons.join("\n");
    assert!(
        why.contains(&format!(
            "rules: - INGRESS rule {altered} protocol 6 (altered outside vipsetup"
        )),
        "{}",
        plan.render_text()
    );
    assert!(
        why.contains("rules: + INGRESS protocol 112 (VRRP)"),
        "{why}"
    );
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let rules: Vec<(String, String)> = p
        .world()
        .all(world::SECURITY_RULE)
        .map(|r| {
            (
                r["direction"].as_str().unwrap().to_string(),
                r["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut rules = rules;
    rules.sort();
    assert_eq!(
        rules,
        [
            ("EGRESS".into(), "112".into()),
            ("INGRESS".into(), "112".into())
        ],
        "the wrong rule is gone, the VRRP rule back"
    );
    assert!(!sess.plan(&[]).await.unwrap().has_changes());
}
