//! Crash safety, with the real binary and `--simulate`: for every mutating call of apply (and of
//! destroy), vipsetup is SIGKILLed right after that call's response arrives, before it can record
//! the result; run again, it finishes, and the simulated cloud holds exactly one of each resource
//! (or, for destroy, nothing of the pair).

mod engine_support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use engine_support::*;
use vipsetup::simulator::World;

const APPLY_MUTATIONS: u64 = 7; // NSG, its rules, 2 launches, dynamic group, policy, VIP
const DESTROY_MUTATIONS: u64 = 6; // VIP, 2 terminations, policy, dynamic group, NSG
const VIP: &str = "172.16.2.10";

fn vipsetup(blueprint: &Path, args: &[&str], kill_after: Option<u64>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.args(args).arg(blueprint).arg("--simulate");
    if matches!(args[0], "apply" | "destroy") {
        cmd.arg("--auto-approve");
    }
    cmd.env("VIPSETUP_SIM_PROVISIONING_MS", "100")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .env("VIPSETUP_POLL_MS", "20")
        .env_remove("VIPSETUP_TEST_KILL_AFTER_MUTATIONS");
    if let Some(n) = kill_after {
        cmd.env("VIPSETUP_TEST_KILL_AFTER_MUTATIONS", n.to_string());
    }
    cmd.output().expect("run vipsetup")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_killed(out: &Output, what: &str) {
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{what} should have been SIGKILLed by the test hook: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn world_of(blueprint: &Path) -> World {
    let mut w = World::load(&vipsetup::ops::simulate::world_path(blueprint)).unwrap();
    w.sweep();
    w
}

/// The hook must not fire past the last mutation: otherwise a step added to apply or destroy
/// (one more mutating call) would never be killed after, and the loops below would miss it.
#[test]
fn the_mutation_counts_cover_every_call() {
    if !hook_compiled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    let apply = vipsetup(&bp, &["apply"], Some(APPLY_MUTATIONS + 1));
    assert_ok(&apply, "apply with the hook one past its last mutation");
    assert_eq!(counts(&world_of(&bp), VIP), (2, 1, 1, 1, 1));
    let destroy = vipsetup(&bp, &["destroy"], Some(DESTROY_MUTATIONS + 1));
    assert_ok(&destroy, "destroy with the hook one past its last mutation");
    assert_eq!(counts(&world_of(&bp), VIP), (0, 0, 0, 0, 0));
}

#[test]
fn apply_killed_after_any_call_resumes_without_duplicates() {
    if !hook_compiled() {
        return;
    }
    for n in 1..=APPLY_MUTATIONS {
        let dir = tempfile::tempdir().unwrap();
        let bp = quickstart_in(dir.path(), |t| t);
        let killed = vipsetup(&bp, &["apply"], Some(n));
        assert_killed(&killed, &format!("apply killed after mutation {n}"));
        let rerun = vipsetup(&bp, &["apply"], None);
        assert_ok(&rerun, &format!("apply after a kill at mutation {n}"));
        assert_eq!(
            counts(&world_of(&bp), VIP),
            (2, 1, 1, 1, 1),
            "after a kill at mutation {n}"
        );
        let plan = vipsetup(&bp, &["plan", "--detailed-exitcode"], None);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "converged after a kill at mutation {n}: {}",
            String::from_utf8_lossy(&plan.stdout)
        );
    }
}

#[test]
fn destroy_killed_after_any_call_resumes_and_removes_everything() {
    if !hook_compiled() {
        return;
    }
    for n in 1..=DESTROY_MUTATIONS {
        let dir = tempfile::tempdir().unwrap();
        let bp = quickstart_in(dir.path(), |t| t);
        assert_ok(&vipsetup(&bp, &["apply"], None), "apply");
        let killed = vipsetup(&bp, &["destroy"], Some(n));
        assert_killed(&killed, &format!("destroy killed after mutation {n}"));
        let rerun = vipsetup(&bp, &["destroy"], None);
        assert_ok(&rerun, &format!("destroy after a kill at mutation {n}"));
        assert_eq!(
            counts(&world_of(&bp), VIP),
            (0, 0, 0, 0, 0),
            "after a kill at mutation {n}"
        );
    }
}

/// Issue 12: a second IPv4 VIP, an IPv6 VIP and a reserved public IP add three creates (and
/// three deletes), each recorded before it is made.
const EXTRAS_APPLY_MUTATIONS: u64 = APPLY_MUTATIONS + 3;
const EXTRAS_DESTROY_MUTATIONS: u64 = DESTROY_MUTATIONS + 3;

fn with_extras(t: String) -> String {
    t.replace(
        "  vip: 172.16.2.10/24\n",
        "  vip: [172.16.2.10/24, 172.16.2.20/24]\n  vip6: 2603:c020:1:2::10\n  public_ip: reserved\n",
    )
}

/// (the pair's secondary private IPs, Ipv6 objects, public IPs) in the world.
fn extras_of(w: &World) -> (usize, usize, usize) {
    let ours = |d: &serde_json::Value| d["freeformTags"]["vipsetup-pair"] == "quickstart";
    let secondary = live(w, vipsetup::simulator::world::PRIVATE_IP)
        .iter()
        .filter(|d| ours(d) && d["isPrimary"] == false)
        .count();
    let v6 = live(w, vipsetup::simulator::world::IPV6)
        .iter()
        .filter(|d| ours(d))
        .count();
    let public = live(w, vipsetup::simulator::world::PUBLIC_IP)
        .iter()
        .filter(|d| ours(d))
        .count();
    (secondary, v6, public)
}

#[test]
fn extra_vips_and_the_public_ip_survive_a_kill_after_any_call() {
    if !hook_compiled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), with_extras);
    let apply = vipsetup(&bp, &["apply"], Some(EXTRAS_APPLY_MUTATIONS + 1));
    assert_ok(&apply, "apply with the hook one past its last mutation");
    assert_eq!(extras_of(&world_of(&bp)), (2, 1, 1));
    let destroy = vipsetup(&bp, &["destroy"], Some(EXTRAS_DESTROY_MUTATIONS + 1));
    assert_ok(&destroy, "destroy with the hook one past its last mutation");
    assert_eq!(extras_of(&world_of(&bp)), (0, 0, 0));

    for n in 1..=EXTRAS_APPLY_MUTATIONS {
        let dir = tempfile::tempdir().unwrap();
        let bp = quickstart_in(dir.path(), with_extras);
        let killed = vipsetup(&bp, &["apply"], Some(n));
        assert_killed(&killed, &format!("apply killed after mutation {n}"));
        let rerun = vipsetup(&bp, &["apply"], None);
        assert_ok(&rerun, &format!("apply after a kill at mutation {n}"));
        let w = world_of(&bp);
        assert_eq!(counts(&w, VIP), (2, 1, 1, 1, 1), "after a kill at {n}");
        assert_eq!(extras_of(&w), (2, 1, 1), "after a kill at mutation {n}");
        let plan = vipsetup(&bp, &["plan", "--detailed-exitcode"], None);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "converged after a kill at mutation {n}: {}",
            String::from_utf8_lossy(&plan.stdout)
        );
        if n <= 4 {
            // The VIP step's deletes come first in destroy: kill after each of them too.
            let killed = vipsetup(&bp, &["destroy"], Some(n));
            assert_killed(&killed, &format!("destroy killed after mutation {n}"));
            assert_ok(&vipsetup(&bp, &["destroy"], None), "destroy again");
            let w = world_of(&bp);
            assert_eq!(extras_of(&w), (0, 0, 0), "destroy after a kill at {n}");
            assert_eq!(counts(&w, VIP), (0, 0, 0, 0, 0));
        }
    }
}
