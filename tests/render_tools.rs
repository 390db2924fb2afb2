//! Every rendered file checked by the real tools: `cloud-init schema -c` on each cloud-config,
//! `shellcheck` on every script in write_files, and `keepalived -t` on each keepalived.conf,
//! run inside a network namespace (with an interface of the configured name) and a private
//! mount namespace (so the scripts keepalived checks exist at their on-node paths).

mod render_support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use render_support::prereq::{all, met, root, tool};
use render_support::{rendered, write};
use vipsetup::render::{self, paths};

/// The write_files of a cloud-config, as cloud-init will see them (parsed from the YAML, not
/// taken from the renderer's own list, so quoting/indentation mistakes show up).
fn write_files(cloud_config: &str) -> Vec<(String, String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(cloud_config).unwrap();
    doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["permissions"].as_str().unwrap().to_string(),
                f["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every file every variant's nodes write: (`variant.node`, path, content).
fn every_written_file() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (variant, _, nodes) in rendered() {
        for n in nodes {
            for (path, _, content) in write_files(&n.cloud_config) {
                out.push((format!("{variant}.{}", n.name), path, content));
            }
        }
    }
    out
}

#[test]
fn cloud_init_schema_accepts_every_cloud_config() {
    if !met(tool("cloud-init", &["--version"])) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (variant, _, nodes) in rendered() {
        for n in nodes {
            let file = write(
                dir.path(),
                &format!("{variant}.{}.yaml", n.name),
                &n.cloud_config,
            );
            let out = Command::new("cloud-init")
                .args(["schema", "-c"])
                .arg(&file)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && text.contains("Valid cloud-config"),
                "{variant}/{}: {text}",
                n.name
            );
        }
    }
}

#[test]
fn write_files_match_what_the_renderer_meant() {
    for (variant, _, nodes) in rendered() {
        for n in nodes {
            let parsed = write_files(&n.cloud_config);
            assert_eq!(parsed.len(), n.files.len(), "{variant}");
            for ((path, mode, content), f) in parsed.iter().zip(&n.files) {
                assert_eq!(path, &f.path);
                assert_eq!(mode, &format!("{:04o}", f.mode));
                assert_eq!(content, &f.content, "{variant}/{}: {path}", n.name);
            }
        }
    }
}

#[test]
fn shellcheck_passes_on_every_script() {
    if !met(tool("shellcheck", &["--version"])) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (label, path, content) in every_written_file() {
        let is_shell = content.starts_with("#!/bin/bash") || content.starts_with("#!/bin/sh");
        let is_settings = path == paths::AGENT_ENV;
        if !is_shell && !is_settings {
            continue;
        }
        let name = format!("{label}.{}", path.rsplit('/').next().unwrap());
        let file = write(dir.path(), &name, &content);
        let mut cmd = Command::new("shellcheck");
        if is_settings {
            // A sourced KEY=value file: check it as bash; variables are used elsewhere.
            cmd.args(["-s", "bash", "-e", "SC2034"]);
        }
        let out = cmd.arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "shellcheck {label}: {path}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    // agent, installer, settings on every node, plus the health checks.
    assert!(checked >= 6 * 2 * 3, "only {checked} scripts checked");
}

/// The shipped scripts lose their comment lines (render::strip_comments): bash must still
/// parse every one of them.
#[test]
fn bash_parses_every_shipped_script() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (label, path, content) in every_written_file() {
        if !content.starts_with("#!/bin/bash") {
            continue;
        }
        let name = format!("{label}.{}", path.rsplit('/').next().unwrap());
        let file = write(dir.path(), &name, &content);
        let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {label}: {path}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    // agent, installer on every node, plus the health checks.
    assert!(checked >= 2 * 2 * 6, "only {checked} scripts checked");
}

/// Stripping changes no command: bash's own parse of each shipped script, printed back
/// (`bash --pretty-print`, bash 5.2), equals its parse of the commented template. Blank lines
/// are left out of the comparison: bash echoes the source's blank lines between top-level
/// commands, and dropping those is the point.
#[test]
fn stripped_scripts_parse_to_the_same_commands_as_the_templates() {
    if !met(tool("bash", &["--pretty-print", "/dev/null"])) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pretty = |name: &str, content: &str| {
        let file = write(dir.path(), name, content);
        let out = Command::new("bash")
            .arg("--pretty-print")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let node = &rendered()[0].2[0];
    for (path, template) in [
        (paths::AGENT, render::AGENT_SCRIPT),
        (paths::SIGN_LIB, render::SIGN_LIB_SCRIPT),
        (paths::INSTALLER, render::INSTALLER_SCRIPT),
    ] {
        let shipped = &node.file(path).unwrap().content;
        assert!(shipped.len() < template.len(), "{path} was not stripped");
        let (want, got) = (pretty("template", template), pretty("shipped", shipped));
        let first = want.iter().zip(&got).position(|(a, b)| a != b);
        assert!(
            want.len() == got.len() && first.is_none(),
            "{path}: stripping changed a command (parsed lines {} vs {}), first difference: {:?}",
            want.len(),
            got.len(),
            first.map(|i| (&want[i], &got[i]))
        );
    }
}

/// A network namespace with one interface; deleted on drop, even when the test fails.
struct NetNs {
    name: String,
}

impl NetNs {
    fn new(interface: &str, addr: &str) -> NetNs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vipsetup-rt-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = NetNs { name };
        // A dummy link where the kernel has the module, else one end of a veth pair.
        let dummy = Command::new("ip")
            .args(["-n", &ns.name, "link", "add", interface, "type", "dummy"])
            .output()
            .unwrap();
        if !dummy.status.success() {
            ip(&[
                "-n", &ns.name, "link", "add", interface, "type", "veth", "peer", "name", "peer0",
            ]);
            ip(&["-n", &ns.name, "link", "set", "peer0", "up"]);
        }
        ip(&["-n", &ns.name, "link", "set", interface, "up"]);
        ip(&["-n", &ns.name, "addr", "add", addr, "dev", interface]);
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keepalived_accepts_every_config() {
    if !met(all([
        tool("keepalived", &["--version"]),
        tool("unshare", &["--version"]),
        root("keepalived -t in a network namespace"),
    ])) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (variant, bp, nodes) in rendered() {
        for (i, n) in nodes.iter().enumerate() {
            let node_dir = dir.path().join(format!("{variant}.{}", n.name));
            std::fs::create_dir(&node_dir).unwrap();
            let mut installs = Vec::new();
            let mut conf = None;
            for (path, mode, content) in write_files(&n.cloud_config) {
                let local = write(&node_dir, path.rsplit('/').next().unwrap(), &content);
                if path == paths::KEEPALIVED_CONF {
                    conf = Some(local);
                } else if path.starts_with("/usr/local/lib/vipsetup/") {
                    installs.push(format!("install -m {mode} '{}' '{path}'", local.display()));
                }
            }
            let conf = conf.expect("keepalived.conf in write_files");
            let prefix = bp.network.vip_prefix.unwrap();
            let addr = format!("{}/{prefix}", bp.nodes[i].private_ip.unwrap());
            // No interface in the blueprint: the installer puts the one holding the node's
            // address in place of the placeholder (install-agent.sh step 4); do the same.
            let interface = match &bp.network.interface {
                Some(name) => name.clone(),
                None => {
                    let text = std::fs::read_to_string(&conf).unwrap();
                    assert!(text.contains(&format!(" dev {}", render::AUTO_INTERFACE)));
                    std::fs::write(&conf, text.replace(render::AUTO_INTERFACE, "ens3")).unwrap();
                    "ens3".to_string()
                }
            };
            let ns = NetNs::new(&interface, &addr);
            let script = format!(
                "set -e; mount -t tmpfs -o mode=755 tmpfs /usr/local/lib; mkdir -p /usr/local/lib/vipsetup; {}; keepalived -t -l -f '{}'",
                installs.join("; "),
                conf.display()
            );
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns.name,
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    &script,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "keepalived -t rejected {variant}/{} (exit {:?}):\n{}{}\n--- config ---\n{}",
                n.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&conf).unwrap()
            );
            drop(ns);
        }
    }
}

#[test]
fn keepalived_check_is_not_vacuous() {
    // The same harness must reject a config keepalived cannot take (an advert interval VRRPv2
    // would round), or the test above proves nothing.
    if !met(all([
        tool("keepalived", &["--version"]),
        root("keepalived -t in a network namespace"),
    ])) {
        return;
    }
    let (_, bp, nodes) = rendered().remove(0);
    let conf = nodes[0]
        .files
        .iter()
        .find(|f| f.path == paths::KEEPALIVED_CONF)
        .unwrap();
    let broken = conf.content.replace("advert_int 1", "advert_int 0.5");
    assert_ne!(broken, conf.content);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "k.conf", &broken);
    let ns = NetNs::new(bp.network.interface.as_deref().unwrap(), "172.16.2.11/24");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "keepalived", "-t", "-f"])
        .arg(Path::new(&file))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "keepalived -t accepted a sub-second VRRPv2 advert"
    );
}
