//! The real `vipsetup` binary run in temp dirs: validate, render, init.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vipsetup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A temp dir holding a copy of the quickstart blueprint (edited) and its demo key.
fn quickstart_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::copy(
        repo().join("blueprints/keys/quickstart.pub"),
        dir.path().join("keys/quickstart.pub"),
    )
    .unwrap();
    let src = std::fs::read_to_string(repo().join("blueprints/quickstart.yaml")).unwrap();
    std::fs::write(dir.path().join("bp.yaml"), edit(src)).unwrap();
    dir
}

#[test]
fn validate_accepts_both_shipped_blueprints() {
    for file in ["blueprints/quickstart.yaml", "blueprints/reference.yaml"] {
        let out = vipsetup(&repo(), &["validate", file]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(": ok ("),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn validate_names_every_vip() {
    let dir = quickstart_copy(|t| {
        t.replace(
            "  vip: 172.16.2.10/24\n",
            "  vip: [172.16.2.10/24, 172.16.2.20/24]\n  vip6: 2603:c020:1:2::10\n",
        )
    });
    let out = vipsetup(dir.path(), &["validate", "bp.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("VIPs 172.16.2.10, 172.16.2.20, 2603:c020:1:2::10)"),
        "{}",
        text(&out.stdout)
    );
    let out = vipsetup(dir.path(), &["validate", "bp.yaml", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vip"], "172.16.2.10");
    assert_eq!(
        v["vips"],
        serde_json::json!(["172.16.2.10", "172.16.2.20", "2603:c020:1:2::10"])
    );
}

#[test]
fn validate_reports_every_error_with_position_and_fails() {
    let dir = quickstart_copy(|s| {
        s.replace("    private_ip: 172.16.2.12", "    private_ip: 172.16.2.11")
            .replace("  preempt: false", "  preempt: false\n  advert_int: 1")
            .replace("ocid1.subnet.oc1.ap-tokyo-1.", "ocid1.vcn.oc1.ap-tokyo-1.")
    });
    let out = vipsetup(dir.path(), &["validate", "bp.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for want in [
        "error: bp.yaml:11:11: network.subnet: `ocid1.vcn.oc1.ap-tokyo-1.aaaaaaaaquickstartsubnet` is the OCID of a vcn, but this field needs a subnet",
        "error: bp.yaml:19:17: nodes[1].private_ip: private_ip 172.16.2.11 is also used by nodes[0]",
        "error: bp.yaml:34:3: failover.advert_int: unknown key `advert_int`",
        "  help: did you mean `advert_interval`?",
        "3 problems found",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_missing_file_fails_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = vipsetup(dir.path(), &["validate", "nope.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("nope.yaml:1:1: cannot read the blueprint"),
        "{err}"
    );
    assert!(err.contains("vipsetup init"), "{err}");
}

#[test]
fn render_writes_one_cloud_config_per_node_and_prints_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let bp = repo().join("blueprints/quickstart.yaml");
    let out = vipsetup(
        dir.path(),
        &["render", bp.to_str().unwrap(), "--out", "out"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for node in ["instance1", "instance2"] {
        let file = dir.path().join(format!("out/{node}.cloud-init.yaml"));
        let written = std::fs::read_to_string(&file).unwrap();
        let snapshot = std::fs::read_to_string(
            repo().join(format!("tests/snapshots/quickstart.{node}.cloud-init.yaml")),
        )
        .unwrap();
        assert_eq!(written, snapshot, "{node}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("out/{node}.cloud-init.yaml: ")))
            .unwrap_or_else(|| panic!("no size line for {node} in {stdout}"));
        assert!(line.contains(&format!("{} bytes", written.len())), "{line}");
        assert!(line.contains("of 32000 bytes"), "{line}");
    }
}

#[test]
fn render_offline_says_what_to_add() {
    let dir = quickstart_copy(|s| {
        s.replace("  vip: 172.16.2.10/24", "  vip: 172.16.2.10")
            .replace("    private_ip: 172.16.2.12\n", "")
    });
    let out = vipsetup(dir.path(), &["render", "bp.yaml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("`private_ip` for nodes[1] (instance2)"),
        "{err}"
    );
    assert!(err.contains("vip: 172.16.2.10/24"), "{err}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn render_hidden_agent_flags_reach_the_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    let bp = repo().join("blueprints/quickstart.yaml");
    let out = vipsetup(
        dir.path(),
        &[
            "render",
            bp.to_str().unwrap(),
            "--agent-endpoint",
            "http://127.0.0.1:9999",
            "--agent-state-dir",
            "/tmp/agent-state",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("OCI_ENDPOINT='http://127.0.0.1:9999'"),
        "{stdout}"
    );
    assert!(stdout.contains("STATE_DIR='/tmp/agent-state'"));
    let help = text(&vipsetup(dir.path(), &["render", "--help"]).stdout);
    assert!(
        !help.contains("agent-endpoint"),
        "test flags must stay hidden:\n{help}"
    );
}

#[test]
fn init_writes_a_starter_that_validates_once_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = vipsetup(dir.path(), &["init", "new.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let starter = std::fs::read_to_string(dir.path().join("new.yaml")).unwrap();
    assert!(starter.contains("(required)"));
    // The starter points at ~/.ssh/id_ed25519.pub; HOME is the temp dir here.
    // Every name derives from the pair's, here the file's name.
    for want in [
        "name: new\n",
        "- name: new-1\n",
        "- name: new-2\n",
        "preferred_node: new-1\n",
        "dynamic_group: new-dg\n",
        "policy: new-policy\n",
    ] {
        assert!(starter.contains(want), "{want:?} missing");
    }
    assert!(!starter.contains("web-vip"));
    let out = vipsetup(dir.path(), &["validate", "new.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for want in [
        "id_ed25519.pub` not found",
        "oci.compartment: `ocid1.compartment.oc1..aaaaaaaaREPLACEME` is a placeholder, not a real OCID",
        "network.subnet: `ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaREPLACEME` is a placeholder, not a real OCID",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    std::fs::create_dir(dir.path().join(".ssh")).unwrap();
    std::fs::copy(
        repo().join("blueprints/keys/quickstart.pub"),
        dir.path().join(".ssh/id_ed25519.pub"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("new.yaml"),
        starter.replace("aaaaaaaaREPLACEME", "aaaaaaaa7kq2vmw4"),
    )
    .unwrap();
    let out = vipsetup(dir.path(), &["validate", "new.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn init_name_names_everything_after_the_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = vipsetup(dir.path(), &["init", "--name", "db-vip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let starter = text(&out.stdout);
    assert_eq!(starter, vipsetup::commands::init::starter("db-vip"));
    for want in [
        "name: db-vip\n",
        "- name: db-vip-1\n",
        "dynamic_group: db-vip-dg\n",
    ] {
        assert!(starter.contains(want), "{want:?} missing");
    }
    assert!(!starter.contains("web-vip"));
    let out = vipsetup(dir.path(), &["init", "--name", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--name Bad_Name: a pair name is"));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.yaml"), "name: keep-me\n").unwrap();
    let out = vipsetup(dir.path(), &["init", "mine.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine.yaml")).unwrap(),
        "name: keep-me\n"
    );
    let out = vipsetup(dir.path(), &["init", "mine.yaml", "--force"]);
    assert!(out.status.success());
    assert_ne!(
        std::fs::read_to_string(dir.path().join("mine.yaml")).unwrap(),
        "name: keep-me\n"
    );
}

#[test]
fn init_without_file_prints_the_starter() {
    let dir = tempfile::tempdir().unwrap();
    let out = vipsetup(dir.path(), &["init"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), vipsetup::commands::init::STARTER);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn help_lists_every_command_and_each_has_its_own_help() {
    let out = vipsetup(&repo(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let commands = [
        "validate",
        "render",
        "init",
        "plan",
        "apply",
        "destroy",
        "status",
        "force-unlock",
        "drill",
    ];
    for cmd in commands {
        // Listed as a command (indented, then its summary), not just mentioned in passing.
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "{cmd} missing from:\n{help}"
        );
        let sub = vipsetup(&repo(), &[cmd, "--help"]);
        assert!(sub.status.success(), "{cmd} --help: {}", text(&sub.stderr));
        assert!(
            text(&sub.stdout).contains(&format!("Usage: vipsetup {cmd}")),
            "{cmd} --help:\n{}",
            text(&sub.stdout)
        );
    }
}
