//! The scripting contract (issue 11), run on the real binary: the exit code of every command in
//! success, usage error, runtime error, "changes" and "locked"; with `--output json`, exactly
//! one JSON document on stdout (parsed here), also on failure.

mod engine_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn vipsetup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("VIPSETUP_SIM_PROVISIONING_MS", "100")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .env("VIPSETUP_POLL_MS", "20")
        .env_remove("VIPSETUP_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stdout as one JSON document (anything before or after it fails the parse).
fn doc(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", text(o)))
}

fn quickstart(dir: &Path) -> PathBuf {
    engine_support::quickstart_in(dir, |t| t)
}

/// Runs and checks the exit code; returns the output.
#[track_caller]
fn expect(dir: &Path, args: &[&str], code: i32) -> Output {
    let o = vipsetup(dir, args);
    assert_eq!(o.status.code(), Some(code), "{args:?}\n{}", text(&o));
    o
}

/// Runs with `--output json`, checks the code and that stdout is the failure document.
#[track_caller]
fn expect_failure(dir: &Path, args: &[&str], code: i32, error_code: &str) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let o = expect(dir, &all, code);
    let d = doc(&o);
    assert_eq!(d["ok"], false, "{d}");
    assert_eq!(d["exit_code"], code, "{d}");
    assert_eq!(d["error"]["code"], error_code, "{args:?}: {d}");
    assert!(
        d["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{d}"
    );
    for key in [
        "resource",
        "operation",
        "oci_status",
        "oci_code",
        "opc_request_id",
        "diagnostics",
        "failures",
    ] {
        assert!(d["error"].get(key).is_some(), "error.{key} missing: {d}");
    }
    assert!(d["done"].is_array(), "{d}");
    // People still get the text.
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("error"),
        "{}",
        text(&o)
    );
    d
}

#[track_caller]
fn expect_success(dir: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let d = doc(&expect(dir, &all, 0));
    assert_eq!(d["ok"], true, "{d}");
    d
}

const COMMANDS: &[&str] = &[
    "validate",
    "render",
    "init",
    "plan",
    "apply",
    "destroy",
    "status",
    "force-unlock",
];

#[test]
fn usage_errors_exit_1_for_every_command_and_say_so_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);
    for cmd in COMMANDS {
        expect(d, &[cmd, "quickstart.yaml", "--no-such-flag"], 1);
        let j = expect_failure(d, &[cmd, "quickstart.yaml", "--no-such-flag"], 1, "usage");
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--no-such-flag"),
            "{j}"
        );
    }
    // No command at all, an unknown command, a bad value: usage errors too, never clap's 2.
    expect(d, &[], 1);
    expect_failure(d, &["frobnicate"], 1, "usage");
    expect_failure(d, &["plan", "quickstart.yaml", "--output"], 1, "usage");
    // Help and version are not errors.
    expect(d, &["--help"], 0);
    expect(d, &["--version"], 0);
}

#[test]
fn runtime_errors_exit_1_with_the_error_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bp = quickstart(d);
    let j = expect_failure(d, &["validate", "missing.yaml"], 1, "invalid_blueprint");
    assert_eq!(j["error"]["diagnostics"][0]["file"], "missing.yaml", "{j}");
    assert_eq!(j["error"]["diagnostics"][0]["line"], 1, "{j}");
    expect_failure(d, &["render", "missing.yaml"], 1, "invalid_blueprint");
    expect_failure(d, &["init", "quickstart.yaml"], 1, "error");

    // A broken blueprint: every command that reads it says where.
    std::fs::write(
        d.join("broken.yaml"),
        std::fs::read_to_string(&bp)
            .unwrap()
            .replace("preempt: false", "preempt: maybe"),
    )
    .unwrap();
    for cmd in ["validate", "render", "plan", "apply", "destroy", "status"] {
        let mut args = vec![cmd, "broken.yaml"];
        if !matches!(cmd, "validate" | "render") {
            args.extend(["--simulate", "--auto-approve"]);
        }
        if cmd == "plan" || cmd == "status" {
            args.pop();
        }
        let j = expect_failure(d, &args, 1, "invalid_blueprint");
        let diag = &j["error"]["diagnostics"][0];
        assert_eq!(diag["field"], "failover.preempt", "{cmd}: {j}");
        assert_eq!(diag["line"], 33, "{cmd}: {j}");
        assert!(!diag["help"].as_str().unwrap().is_empty(), "{j}");
        // The text keeps one `error:` line per problem.
        let o = expect(d, &args, 1);
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("error: broken.yaml:33:12: failover.preempt:"),
            "{}",
            text(&o)
        );
        assert!(o.stdout.is_empty(), "{}", text(&o));
    }

    // No terminal to ask on and no --auto-approve.
    expect_failure(
        d,
        &["apply", "quickstart.yaml", "--simulate"],
        1,
        "confirmation_needed",
    );
    // force-unlock that cannot remove the lock (a directory in its place).
    std::fs::create_dir(d.join("quickstart.yaml.state.json.lock")).unwrap();
    let j = expect_failure(d, &["force-unlock", "quickstart.yaml"], 1, "error");
    assert!(
        j["error"]["message"].as_str().unwrap().contains(".lock"),
        "{j}"
    );
}

#[test]
fn success_changes_and_locked_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);
    let sim = ["--simulate"];
    let with =
        |a: &[&'static str]| -> Vec<&'static str> { a.iter().chain(&sim).copied().collect() };

    let v = expect_success(d, &["validate", "quickstart.yaml"]);
    assert_eq!(v["pair"], "quickstart");
    assert_eq!(v["nodes"][1], "instance2");
    assert_eq!(v["warnings"], serde_json::json!([]));
    let r = expect_success(d, &["render", "quickstart.yaml", "--out", "out"]);
    assert_eq!(r["nodes"].as_array().unwrap().len(), 2);
    assert!(d.join("out/instance1.cloud-init.yaml").exists());
    let r = expect_success(d, &["render", "quickstart.yaml"]);
    assert!(r["nodes"][0]["cloud_config"]
        .as_str()
        .unwrap()
        .starts_with("#cloud-config"));
    let i = expect_success(d, &["init"]);
    assert!(i["blueprint"].as_str().unwrap().contains("name: web-vip"));

    // Changes: 2 only with --detailed-exitcode.
    expect(d, &with(&["plan", "quickstart.yaml"]), 0);
    expect(
        d,
        &with(&["plan", "quickstart.yaml", "--detailed-exitcode"]),
        2,
    );
    let mut args = with(&["plan", "quickstart.yaml", "--detailed-exitcode"]);
    args.extend(["--output", "json"]);
    let p = doc(&expect(d, &args, 2));
    assert_eq!(p["ok"], true);
    assert_eq!(p["steps"].as_array().unwrap().len(), 6);

    // Locked: 3, from apply and destroy, and nothing changes.
    // `--simulate` keeps its own state, so its lock sits beside `<blueprint>.sim-state.json`.
    let lock = d.join("quickstart.yaml.sim-state.json.lock");
    std::fs::write(
        &lock,
        r#"{"pid": 1, "host": "another-host", "command": "vipsetup apply", "since": 1}"#,
    )
    .unwrap();
    for cmd in ["apply", "destroy"] {
        expect(d, &with(&[cmd, "quickstart.yaml", "--auto-approve"]), 3);
        let j = expect_failure(
            d,
            &with(&[cmd, "quickstart.yaml", "--auto-approve"]),
            3,
            "locked",
        );
        assert!(
            j["error"]["resource"].as_str().unwrap().ends_with(".lock"),
            "{j}"
        );
        assert_eq!(j["done"], serde_json::json!([]), "{j}");
    }
    let u = expect_success(d, &with(&["force-unlock", "quickstart.yaml"]));
    assert_eq!(u["removed"], true, "{u}");
    assert_eq!(u["holder"]["host"], "another-host", "{u}");
    let u = expect_success(d, &with(&["force-unlock", "quickstart.yaml"]));
    assert_eq!(u["removed"], false, "{u}");
    assert_eq!(u["holder"], Value::Null, "{u}");

    let a = expect_success(d, &with(&["apply", "quickstart.yaml", "--auto-approve"]));
    assert_eq!(a["report"]["vip_holder"], "instance1");
    expect(
        d,
        &with(&["plan", "quickstart.yaml", "--detailed-exitcode"]),
        0,
    );
    // Issue 19: status gives a verdict. Nothing runs the agents here, so the pair is not
    // ready: exit 4, the report still printed (ok), and why, with stable codes.
    let mut args = with(&["status", "quickstart.yaml"]);
    args.extend(["--output", "json"]);
    let s = doc(&expect(d, &args, 4));
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(s["vip_holder"], "instance1");
    assert_eq!(s["ready"], false, "{s}");
    let codes: Vec<&str> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["agent_not_reported", "agent_not_reported"], "{s}");
    // --wait gives up after its duration with exit 4 and says so.
    let mut args = with(&["status", "quickstart.yaml", "--wait=1s"]);
    args.extend(["--output", "json"]);
    let w = doc(&expect(d, &args, 4));
    assert_eq!(w["timed_out"], true, "{w}");
    // A drill refuses under --simulate (no node runs), before stopping anything.
    expect_failure(
        d,
        &with(&["drill", "quickstart.yaml", "--auto-approve"]),
        1,
        "drill_refused",
    );
    let o = expect(
        d,
        &with(&["destroy", "quickstart.yaml", "--auto-approve"]),
        0,
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("destroyed: 6 resources"),
        "{}",
        text(&o)
    );
}

#[test]
fn render_node_writes_exactly_that_cloud_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);
    expect(d, &["render", "quickstart.yaml", "--out", "out"], 0);
    let o = expect(d, &["render", "quickstart.yaml", "--node", "instance2"], 0);
    let want = std::fs::read(d.join("out/instance2.cloud-init.yaml")).unwrap();
    assert_eq!(o.stdout, want, "stdout is the file, byte for byte");
    assert!(o.stdout.starts_with(b"#cloud-config\n"));
    let j = expect_failure(
        d,
        &["render", "quickstart.yaml", "--node", "nope"],
        1,
        "error",
    );
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("use instance1 or instance2"),
        "{j}"
    );
}

#[test]
fn one_fault_domain_for_both_nodes_warns_but_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    engine_support::quickstart_in(d, |t| {
        t.replace(
            "    private_ip: 172.16.2.11",
            "    private_ip: 172.16.2.11\n    fault_domain: FAULT-DOMAIN-1",
        )
        .replace(
            "    private_ip: 172.16.2.12",
            "    private_ip: 172.16.2.12\n    fault_domain: FAULT-DOMAIN-1",
        )
    });
    let want =
        "warning: quickstart.yaml:21:19: nodes[1].fault_domain: both nodes are in FAULT-DOMAIN-1";
    for args in [
        &["validate", "quickstart.yaml"][..],
        &["plan", "quickstart.yaml", "--simulate"][..],
    ] {
        let o = expect(d, args, 0);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{}",
            text(&o)
        );
    }
    let v = expect_success(d, &["validate", "quickstart.yaml"]);
    assert_eq!(v["warnings"][0]["field"], "nodes[1].fault_domain", "{v}");
}
