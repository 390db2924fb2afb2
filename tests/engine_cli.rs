//! The commands as a user runs them (real binary, `--simulate`): exit codes, JSON output,
//! confirmation rules, the lock, and replacements that need `--replace`.

mod engine_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use engine_support::*;
use serde_json::Value;

fn run(blueprint: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .arg(args[0])
        .arg(blueprint)
        .args(&args[1..])
        .arg("--simulate")
        .env("VIPSETUP_SIM_PROVISIONING_MS", "100")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .env("VIPSETUP_POLL_MS", "20")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn plan_apply_status_destroy_with_exit_codes_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);

    // No terminal and no --auto-approve: refuse before touching anything.
    let o = run(&bp, &["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("pass --auto-approve"), "{}", text(&o));
    assert!(!vipsetup::ops::simulate::world_path(&bp).exists());

    let o = run(&bp, &["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("plan: 6 to create"));

    let o = run(&bp, &["apply", "--auto-approve", "--output", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["report"]["vip_holder"], "instance1");
    assert_eq!(out["report"]["nodes"][1]["private_ip"], "172.16.2.12");
    assert_eq!(out["plan"]["steps"].as_array().unwrap().len(), 6);

    let o = run(&bp, &["plan", "--detailed-exitcode", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["action"] == "no-op"));

    let o = run(&bp, &["status", "--output", "json"]);
    // Not ready (exit 4): no agent runs against this simulator.
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["vip_holder"], "instance1");
    assert!(st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["state"] == "RUNNING"));

    let o = run(&bp, &["plan", "--destroy"]);
    assert!(
        text(&o).contains("plan: 6 to delete, 0 already gone"),
        "{}",
        text(&o)
    );
    let o = run(&bp, &["destroy", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&bp, &["plan", "--destroy", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_replacement_needs_replace_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    assert!(run(&bp, &["apply", "--auto-approve"]).status.success());
    let yaml = std::fs::read_to_string(&bp).unwrap();
    // (A new shape changes in place now; a node's address still needs a new instance.)
    std::fs::write(
        &bp,
        yaml.replace("172.16.2.11", "172.16.2.13")
            .replace("172.16.2.12", "172.16.2.14"),
    )
    .unwrap();

    let o = run(&bp, &["plan"]);
    assert!(
        text(&o).contains(
            "forces replacement because the private ip changed (172.16.2.11 -> 172.16.2.13)"
        ),
        "{}",
        text(&o)
    );
    let o = run(&bp, &["apply", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("run again with --replace instance1 --replace instance2 to confirm"),
        "{}",
        text(&o)
    );

    let o = run(
        &bp,
        &[
            "apply",
            "--auto-approve",
            "--replace",
            "instance1",
            "--replace",
            "instance2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        run(&bp, &["plan", "--detailed-exitcode"]).status.code(),
        Some(0)
    );
    let w = vipsetup::simulator::World::load(&vipsetup::ops::simulate::world_path(&bp)).unwrap();
    let live: Vec<Value> = live(&w, vipsetup::simulator::world::INSTANCE);
    assert_eq!(live.len(), 2);
    let mut ips: Vec<String> = engine_support::live(&w, vipsetup::simulator::world::VNIC)
        .iter()
        .filter_map(|v| v["privateIp"].as_str().map(String::from))
        .collect();
    ips.sort();
    assert_eq!(ips, ["172.16.2.13", "172.16.2.14"]);
    assert_eq!(counts(&w, "172.16.2.10").4, 1, "the VIP is back");
}

#[test]
fn a_held_lock_stops_apply_until_force_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    // A simulated pair keeps its own state (and lock) apart from the real pair's.
    let lock = dir.path().join("quickstart.yaml.sim-state.json.lock");
    std::fs::write(
        &lock,
        r#"{"pid": 1, "host": "another-host", "user": "bob", "command": "vipsetup apply", "since": 1}"#,
    )
    .unwrap();
    let o = run(&bp, &["apply", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(3), "locked: {}", text(&o));
    assert!(
        text(&o).contains("`vipsetup apply` run by bob on another-host (pid 1) since 19"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("vipsetup force-unlock"), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .arg("force-unlock")
        .arg(&bp)
        .arg("--simulate")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("removed the lock held by `vipsetup apply` run by bob on another-host"),
        "{}",
        text(&o)
    );
    assert!(!lock.exists());
    assert!(run(&bp, &["apply", "--auto-approve"]).status.success());
}
