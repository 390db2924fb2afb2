//! Every rendered file checked by the real tools: `cloud-init schema -c` on each cloud-config,
//! `shellcheck` on every script in write_files, and `keepalived -t` on each keepalived.conf,
//! run inside a network namespace (with an interface of the configured name) and a private
//! mount namespace (so the scripts keepalived checks exist at their on-node paths).

#[path = "oldest-tools/versions.rs"]
mod oldest_tools;
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

/// `keepalived -t` read so it holds on every keepalived a node carries. keepalived 2.1.5
/// (Oracle Linux 8, Debian bullseye) exits 0 even when the configuration has errors; 2.2.x exits
/// non-zero. With `-l` (log to the console) a configuration keepalived takes whole prints
/// nothing, and each complaint (an unknown keyword, a value it rounds, a missing interface, an
/// address it skips) is a line; so the check passes only on exit 0 and no output at all.
fn keepalived_verdict(out: &std::process::Output) -> Result<(), String> {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if out.status.success() && said.is_empty() {
        return Ok(());
    }
    let exit = out
        .status
        .code()
        .map_or_else(|| "by a signal".to_string(), |c| c.to_string());
    Err(format!(
        "keepalived -t (exit {exit}) said:\n{}",
        said.join("\n")
    ))
}

/// Checks one rendered node's keepalived.conf, after `edit` (a deliberate mistake, or none), as
/// the node would run it: in a network namespace with the node's interface and address, and a
/// private mount namespace holding the node's scripts at their paths (keepalived checks them).
fn keepalived_check_node(
    variant: &str,
    bp: &vipsetup::blueprint::Blueprint,
    i: usize,
    n: &vipsetup::render::RenderedNode,
    dir: &Path,
    edit: impl Fn(String) -> String,
) -> Result<(), String> {
    let node_dir = dir.join(format!("{variant}.{}", n.name));
    std::fs::create_dir_all(&node_dir).unwrap();
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
    // No interface in the blueprint: the installer puts the one holding the node's address in
    // place of the placeholder (install-agent.sh step 4); do the same.
    let mut text = std::fs::read_to_string(&conf).unwrap();
    let interface = match &bp.network.interface {
        Some(name) => name.clone(),
        None => {
            assert!(text.contains(&format!(" dev {}", render::AUTO_INTERFACE)));
            text = text.replace(render::AUTO_INTERFACE, "ens3");
            "ens3".to_string()
        }
    };
    std::fs::write(&conf, edit(text)).unwrap();
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
    drop(ns);
    keepalived_verdict(&out).map_err(|e| {
        format!(
            "{variant}/{}: {e}\n--- config ---\n{}",
            n.name,
            std::fs::read_to_string(&conf).unwrap()
        )
    })
}

fn keepalived_prereqs() -> bool {
    met(all([
        tool("keepalived", &["--version"]),
        tool("unshare", &["--version"]),
        root("keepalived -t in a network namespace"),
    ]))
}

#[test]
fn keepalived_accepts_every_config() {
    if !keepalived_prereqs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (variant, bp, nodes) in rendered() {
        for (i, n) in nodes.iter().enumerate() {
            if let Err(e) = keepalived_check_node(&variant, &bp, i, n, dir.path(), |c| c) {
                panic!("keepalived rejected a rendered config: {e}");
            }
        }
    }
}

/// The check above must fail on a config keepalived cannot take, on 2.2.x (which exits
/// non-zero) and on 2.1.5 (which exits 0 and only says so): the oldest-tools lane runs this
/// with 2.1.5, the ordinary run with the system's keepalived.
#[test]
fn keepalived_check_fails_on_a_bad_config() {
    if !keepalived_prereqs() {
        return;
    }
    let (variant, bp, nodes) = rendered().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let mistakes: &[(&str, &str, &str, &str)] = &[
        // (what, from, to, what keepalived must say)
        (
            "a VRRPv3 advert above 40.95 s",
            "advert_int 1\n",
            "advert_int 50\n",
            "advert",
        ),
        (
            "an unknown keyword",
            "advert_int 1\n",
            "advert_int 1\n    no_such_keyword 1\n",
            "no_such_keyword",
        ),
        (
            "an interface the node does not have",
            "interface ens3\n",
            "interface ens9\n",
            "ens9",
        ),
    ];
    let mut saw = Vec::new();
    for (what, from, to, said) in mistakes {
        let edit = |c: String| {
            assert!(c.contains(from), "the rendered config has no {from:?}");
            c.replacen(from, to, 1)
        };
        let verdict = keepalived_check_node(&variant, &bp, 0, &nodes[0], dir.path(), edit);
        let err = verdict
            .err()
            .unwrap_or_else(|| panic!("the keepalived check accepted a config with {what}"));
        assert!(
            err.contains(said),
            "keepalived refused the config with {what} without naming {said:?}:\n{err}"
        );
        let exit = err
            .split_once("(exit ")
            .and_then(|(_, r)| r.split_once(')'))
            .map_or("?", |(code, _)| code);
        saw.push(format!(
            "{what} (exit {exit}): {}",
            err.lines().nth(1).unwrap_or_default().trim()
        ));
    }
    eprintln!("keepalived check refused:\n  {}", saw.join("\n  "));
}

/// The lane's versions line is read per tool; a `/bin/bash` other than PATH's shows.
#[test]
fn versions_line_names_a_split_bash() {
    let out = "bash 4.4.19\n/bin/bash 5.2.15\nopenssl 1.1.1w\nkeepalived 2.1.5\ncurl 7.74.0\n";
    assert_eq!(
        oldest_tools::line_from(out),
        "bash 4.4.19 (/bin/bash 5.2.15), OpenSSL 1.1.1w, keepalived 2.1.5, curl 7.74.0"
    );
    let out = "bash 4.4.19\n/bin/bash 4.4.19\nopenssl 1.1.1w\nkeepalived \ncurl 7.74.0\n";
    assert_eq!(
        oldest_tools::line_from(out),
        "bash 4.4.19, OpenSSL 1.1.1w, keepalived none, curl 7.74.0"
    );
}

/// The tools this suite runs, printed; under the oldest-tools lane (tests/oldest-tools/run.sh)
/// they must be the lane's (bash 4.4, OpenSSL 1.1.1, keepalived 2.1.5), or the lane proved nothing.
#[test]
fn node_tools_are_the_lanes_under_the_lane() {
    oldest_tools::check("render_tools", &oldest_tools::here());
}
