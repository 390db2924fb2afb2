//! `--debug` / `VIPSETUP_LOG=debug` (issue 11): every API attempt logged to stderr with its
//! operation, status, opc-request-id, time and retry decision, and no secret in the output; an
//! endpoint that never answers is reported within the stated budget.

mod engine_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn vipsetup(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("VIPSETUP_SIM_PROVISIONING_MS", "100")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .env("VIPSETUP_POLL_MS", "20")
        .env_remove("VIPSETUP_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn quickstart(dir: &Path) -> PathBuf {
    engine_support::quickstart_in(dir, |t| t)
}

/// Every line of the key's base64 body, and the other things that must never be logged.
fn secrets(dir: &Path) -> Vec<String> {
    let user: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("quickstart.yaml.sim-user.json")).unwrap(),
    )
    .unwrap();
    let pem = user["private_key_pem"]
        .as_str()
        .or_else(|| user["seeded"]["private_key_pem"].as_str())
        .unwrap_or_else(|| panic!("no private key in the sim user file: {user}"))
        .to_string();
    let mut s: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .map(str::to_string)
        .collect();
    assert!(!s.is_empty());
    s.extend(
        [
            "PRIVATE KEY",
            "Signature",
            "signature=",
            "keyId",
            "authorization",
            "x-content-sha256",
        ]
        .map(String::from),
    );
    s
}

#[test]
fn debug_logs_every_call_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);
    let o = vipsetup(
        d,
        &[
            "apply",
            "quickstart.yaml",
            "--simulate",
            "--auto-approve",
            "--debug",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("debug: ")).collect();
    assert!(lines.len() > 10, "{err}");
    for op in [
        "GetSubnet",
        "LaunchInstance",
        "CreateDynamicGroup",
        "CreatePolicy",
        "CreatePrivateIp",
    ] {
        let l = lines
            .iter()
            .find(|l| l.starts_with(&format!("debug: {op} ")))
            .unwrap_or_else(|| panic!("no {op} line in:\n{err}"));
        assert!(l.contains(" -> 200 (opc-request-id "), "{l}");
        assert!(l.contains(" ms, attempt 1)"), "{l}");
        assert!(l.contains(" http://127.0.0.1:"), "{l}");
    }
    // The environment variable does the same, for any command.
    let o = vipsetup(
        d,
        &["status", "quickstart.yaml", "--simulate"],
        &[("VIPSETUP_LOG", "debug")],
    );
    let err2 = String::from_utf8_lossy(&o.stderr);
    assert!(err2.contains("debug: GetSubnet GET "), "{err2}");
    // Without either, nothing.
    let o = vipsetup(d, &["status", "quickstart.yaml", "--simulate"], &[]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("debug:"));

    for s in secrets(d) {
        for out in [&err, &err2] {
            assert!(!out.contains(&s), "the debug output holds {s:?}");
        }
    }
}

#[test]
fn an_unreachable_endpoint_is_reported_within_the_budget_with_each_attempt_logged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);
    let seed = vipsetup(
        d,
        &[
            "simulator",
            "seed",
            "--world",
            "w.json",
            "--home-region",
            "ap-tokyo-1",
            "--key-out",
            "key.pem",
            "--oci-config-out",
            "config",
        ],
        &[],
    );
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    // A port nothing listens on: connection refused at once, every time.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let o = vipsetup(
        d,
        &[
            "plan",
            "quickstart.yaml",
            "--config-file",
            "config",
            "--endpoint",
            &endpoint,
            "--debug",
            "--output",
            "json",
        ],
        &[],
    );
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("unreachable endpoint reported after {took:?}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        took < Duration::from_secs(60),
        "guard only: took {took:?}\n{err}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "connection", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attempt(s) in "),
        "{doc}"
    );
    let attempts: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("debug: ") && l.contains("-> no answer ("))
        .collect();
    assert!(attempts.len() >= 2, "{err}");
    assert!(attempts[0].contains("attempt 1); retrying in "), "{err}");
    assert!(attempts.last().unwrap().ends_with("; giving up"), "{err}");
}
