//! A partial apply with `--output json` (issue 11): when a step fails after others finished,
//! stdout still holds one JSON document naming the failed resource with OCI's status, code and
//! opc-request-id, and listing what was done; the next run resumes. The real binary against the
//! standalone simulator, with one scripted fault.

mod engine_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use engine_support::standalone::Standalone;
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    c.env_remove("VIPSETUP_LOG")
        .env("VIPSETUP_POLL_MS", "20")
        .stdin(Stdio::null());
    c
}

fn apply(dir: &Path, base: &str) -> Output {
    bin()
        .current_dir(dir)
        .env("HOME", dir)
        .args([
            "apply",
            "quickstart.yaml",
            "--config-file",
            "config",
            "--endpoint",
            base,
            "--auto-approve",
            "--output",
            "json",
        ])
        .output()
        .unwrap()
}

#[test]
fn a_failed_step_after_others_reports_them_as_done() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = bin()
        .current_dir(d)
        .args([
            "simulator",
            "seed",
            "--world",
            "w.json",
            "--home-region",
            "ap-tokyo-1",
            "--vcn-cidr",
            "172.16.0.0/16",
            "--subnet-cidr",
            "172.16.2.0/24",
            "--creds-out",
            "creds.json",
            "--key-out",
            "key.pem",
            "--oci-config-out",
            "config",
        ])
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("creds.json")).unwrap()).unwrap();
    engine_support::quickstart_in(d, |t| {
        t.replace(
            "ocid1.compartment.oc1..aaaaaaaaquickstartcompartment",
            creds["compartment_id"].as_str().unwrap(),
        )
        .replace(
            "ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaquickstartsubnet",
            creds["subnet_id"].as_str().unwrap(),
        )
    });

    let mut cmd = bin();
    cmd.current_dir(d).stderr(Stdio::null());
    let server = Standalone::serve(cmd, "w.json", &[]);
    let base = server.base.clone();

    let fault = r#"{"operation": "CreatePolicy", "count": 1, "fault": {"kind": "status", "status": 400, "code": "InvalidParameter", "message": "rejected for this test"}}"#;
    let answer = server.control("POST", "/_sim/faults", fault);
    assert!(answer.starts_with("HTTP/1.1 2"), "{answer}");

    let o = apply(d, &base);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stderr}"));
    let err = &doc["error"];
    assert_eq!(doc["ok"], false);
    assert_eq!(err["code"], "steps_failed", "{doc}");
    assert_eq!(err["resource"], "policy", "{doc}");
    assert_eq!(err["operation"], "CreatePolicy", "{doc}");
    assert_eq!(err["oci_status"], 400, "{doc}");
    assert_eq!(err["oci_code"], "InvalidParameter", "{doc}");
    assert!(
        err["opc_request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{doc}"
    );
    let done: Vec<&str> = doc["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["resource"].as_str().unwrap())
        .collect();
    for r in ["nsg", "node1", "node2", "dynamic-group"] {
        assert!(done.contains(&r), "{r} not in done: {doc}");
    }
    assert!(!done.contains(&"policy"), "{doc}");
    assert!(doc["done"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["action"] == "create"));

    // The fault was used up: the next run finishes what is left.
    let o = apply(d, &base);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    drop(server);
}
