//! The rendered installer (install-agent) run in a sandbox: its files under a temporary root
//! (VIPSETUP_ROOT), and fake `apt-get`, `dnf`, `systemctl`, `firewall-cmd`, `iptables`,
//! `semodule`, `ip`, ... on a PATH that holds nothing else but basic tools. Each fake records
//! its call; the tests assert the order of the steps: nothing starts keepalived before the
//! firewall, SELinux and the agent's settings are ready, and the package manager is used only
//! for what is missing.

#[path = "oldest-tools/versions.rs"]
mod oldest_tools;
mod render_support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Command;

use render_support::load_variant;
use render_support::prereq::{met, tool};
use vipsetup::render::{self, Facts};

/// Every fake is this one script, dispatching on its name.
const FAKE: &str = r#"#!/bin/bash
name=${0##*/}
printf '%s %s\n' "$name" "$*" >>"$FAKE_LOG"
installs() {
    # A package's maintainer script asks policy-rc.d before starting its service, as
    # invoke-rc.d and deb-systemd-invoke do; dnf never starts services.
    if [[ " $* " == *" keepalived "* ]] && [ "$name" = apt-get ]; then
        if [ -x "$VIPSETUP_ROOT/usr/sbin/policy-rc.d" ]; then
            "$VIPSETUP_ROOT/usr/sbin/policy-rc.d" keepalived start
            echo "postinst: policy-rc.d answered $?" >>"$FAKE_LOG"
        else
            echo "postinst: keepalived STARTED" >>"$FAKE_LOG"
        fi
    fi
    for p in keepalived curl openssl; do
        if [[ " $* " == *" $p "* ]]; then
            ln -sf "$FAKE_BIN/fake" "$FAKE_BIN/$p"
        fi
    done
}
case "$name" in
    apt-get | dnf)
        if [[ " $* " == *" install "* ]]; then installs "$@"; fi
        ;;
    systemctl)
        if [ "$1" = is-active ]; then
            [[ " ${FAKE_ACTIVE:-} " == *" ${!#} "* ]]
            exit
        fi
        if [ "$1" = restart ] && [ "$2" = keepalived ]; then
            for f in etc/vipsetup/agent.env etc/keepalived/keepalived.conf usr/local/lib/vipsetup/vip-agent usr/local/lib/vipsetup/oci-sign.sh; do
                [ -s "$VIPSETUP_ROOT/$f" ] || echo "MISSING at start: $f" >>"$FAKE_LOG"
            done
        fi
        ;;
    selinuxenabled) exit "${FAKE_SELINUX:-1}" ;;
    iptables) if [ "$1" = -C ]; then exit 1; fi ;;
    ip) printf '1: lo    inet 127.0.0.1/8 scope host lo\n2: enp0s6    inet %s/24 brd 172.16.2.255 scope global enp0s6\n' "$FAKE_NODE_IP" ;;
    sleep)
        n=$(($(cat "$FAKE_BIN/../sleeps" 2>/dev/null || echo 0) + 1))
        echo "$n" >"$FAKE_BIN/../sleeps"
        if [ "$n" -ge "${FAKE_ADVERT_AFTER:-999999}" ]; then
            printf 'Ip: Forwarding DefaultTTL InReceives InUnknownProtos\nIp: 2 64 100 %s\n' "$n" >"$VIPSETUP_SNMP"
        fi
        ;;
esac
exit 0
"#;

const FAKES: &[&str] = &[
    "apt-get",
    "dnf",
    "systemctl",
    "firewall-cmd",
    "iptables",
    "netfilter-persistent",
    "semodule",
    "restorecon",
    "selinuxenabled",
    "networkctl",
    "logger",
    "ip",
    "sleep",
];

/// Real tools the installer may use (linked into the sandbox's PATH).
const REAL: &[&str] = &[
    "bash", "sed", "awk", "cat", "chmod", "mkdir", "rm", "ln", "printf", "grep", "tr",
];

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// Node `node` of the quickstart, with `os_release` and the given commands already
    /// installed ("keepalived", "curl", "openssl").
    fn new(node: usize, os_release: &str, installed: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let bp = load_variant("blueprints/quickstart.yaml", &[]);
        let facts = Facts::offline(&bp).unwrap();
        let rendered = render::render(&bp, &facts).unwrap().remove(node);
        for f in &rendered.files {
            let p = root.join(f.path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &f.content).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
        }
        std::fs::write(root.join("etc/os-release"), os_release).unwrap();
        let fake = bin.join("fake");
        std::fs::write(&fake, FAKE).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in FAKES.iter().chain(installed) {
            std::os::unix::fs::symlink(&fake, bin.join(name)).unwrap();
        }
        for tool in REAL {
            let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
                .map(|d| d.join(tool))
                .find(|p| p.is_file());
            if let Some(real) = found {
                std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
            }
        }
        Sandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn append_settings(&self, text: &str) {
        let p = self.root().join("etc/vipsetup/agent.env");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(text);
        std::fs::write(p, s).unwrap();
    }

    /// Runs the installer; returns (exit code, the calls in order).
    fn run(&self, env: &[(&str, &str)]) -> (i32, Vec<String>) {
        let bin = self.dir.path().join("bin");
        let log = self.dir.path().join("calls.log");
        let snmp = self.dir.path().join("snmp");
        std::fs::write(
            &snmp,
            "Ip: Forwarding DefaultTTL InReceives InUnknownProtos\nIp: 2 64 100 0\n",
        )
        .unwrap();
        let mut cmd = Command::new(bin.join("bash"));
        cmd.arg(self.root().join("usr/local/lib/vipsetup/install-agent"))
            .env_clear()
            .env("PATH", &bin)
            .env("VIPSETUP_ROOT", self.root())
            .env("VIPSETUP_SNMP", &snmp)
            .env("FAKE_LOG", &log)
            .env("FAKE_BIN", &bin)
            .env("FAKE_NODE_IP", "172.16.2.11");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let calls = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (out.status.code().unwrap_or(-1), calls)
    }
}

fn pos(calls: &[String], what: &str) -> usize {
    calls
        .iter()
        .position(|c| c.contains(what))
        .unwrap_or_else(|| panic!("no call containing {what:?} in:\n{}", calls.join("\n")))
}

fn none(calls: &[String], what: &str) {
    assert!(
        !calls.iter().any(|c| c.contains(what)),
        "unexpected {what:?} in:\n{}",
        calls.join("\n")
    );
}

const DEBIAN_12: &str = "ID=debian\nVERSION_ID=\"12\"\n";
const OL9: &str = "ID=\"ol\"\nVERSION_ID=\"9.4\"\n";

fn prerequisites() -> bool {
    met(tool("bash", &["--version"]))
}

#[test]
fn debian_installs_with_keepalived_held_until_firewall_and_settings_are_ready() {
    if !prerequisites() {
        return;
    }
    let s = Sandbox::new(0, DEBIAN_12, &[]);
    let (code, calls) = s.run(&[("FAKE_ACTIVE", "systemd-networkd")]);
    assert_eq!(code, 0, "{}", calls.join("\n"));
    let install = pos(&calls, "apt-get -o DPkg::Lock::Timeout=600 -y -q install");
    assert!(
        calls[install].contains(" keepalived curl openssl"),
        "{}",
        calls[install]
    );
    assert!(pos(&calls, "apt-get -o DPkg::Lock::Timeout=600 -q update") < install);
    // apt's postinst was told no (policy-rc.d 101), and keepalived was masked before.
    assert_eq!(calls[install + 1], "postinst: policy-rc.d answered 101");
    assert!(pos(&calls, "systemctl mask --runtime keepalived") < install);
    let firewall = pos(&calls, "iptables -I INPUT -p vrrp -j ACCEPT");
    let persist = pos(&calls, "netfilter-persistent save");
    let start = pos(&calls, "systemctl restart keepalived");
    let enable = pos(&calls, "systemctl enable keepalived");
    // keepalived starts once its rule is in; what only the next boot needs comes after (saving
    // the rule, the boot drop-in and its reload, enabling the unit): the VIP does not wait.
    assert!(
        install < firewall && firewall < start,
        "{}",
        calls.join("\n")
    );
    assert!(start < persist && start < enable, "{}", calls.join("\n"));
    assert!(pos(&calls, "systemctl unmask --runtime keepalived") < start);
    assert_eq!(
        enable,
        calls.len() - 2,
        "enabling is the last step:\n{}",
        calls.join("\n")
    );
    none(&calls, "MISSING at start");
    none(&calls, "semodule");
    none(&calls, "pip");
    assert!(
        !s.root().join("usr/sbin/policy-rc.d").exists(),
        "policy-rc.d left behind"
    );
    // The blueprint's ens3 does not exist here: the interface holding the node's IP is used.
    let conf = std::fs::read_to_string(s.root().join("etc/keepalived/keepalived.conf")).unwrap();
    // (Shipped without indentation, as every config file: the rewrite must not need it.)
    assert!(
        conf.lines().any(|l| l.trim() == "interface enp0s6"),
        "{conf}"
    );
    assert!(conf.contains(" dev enp0s6\n"), "{conf}");
    assert!(
        !conf.contains("interface ens3") && !conf.contains("dev ens3"),
        "{conf}"
    );
    let dropin = s
        .root()
        .join("etc/systemd/network/10-netplan-enp0s6.network.d/vipsetup-keep-vip.conf");
    let dropin = std::fs::read_to_string(dropin).unwrap();
    assert!(
        dropin.contains("[Network]\nKeepConfiguration=static\n"),
        "{dropin}"
    );
    // keepalived waits at boot for this node's address (keepalived 2.1.5 stays in FAULT when
    // its unicast source comes later); systemd reloads the drop-in before the unit is enabled.
    let env = std::fs::read_to_string(s.root().join("etc/vipsetup/agent.env")).unwrap();
    let node_ip = env
        .lines()
        .find_map(|l| l.strip_prefix("NODE_IP="))
        .map(|v| v.trim_matches('\''))
        .expect("NODE_IP in agent.env");
    let wait = std::fs::read_to_string(
        s.root()
            .join("etc/systemd/system/keepalived.service.d/vipsetup-wait-address.conf"),
    )
    .unwrap();
    let reload = pos(&calls, "systemctl daemon-reload");
    assert!(start < reload && reload < enable, "{}", calls.join("\n"));
    let pre = wait
        .lines()
        .find_map(|l| l.strip_prefix("ExecStartPre=/bin/sh -c '"))
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no ExecStartPre in the drop-in:\n{wait}"));
    // systemd turns $$ into $ (systemd.service, "Command lines"); then run it as sh would,
    // with an `ip` that shows the address, and one that never does: 120 looks and sleeps (a
    // `sleep` that returns at once), then keepalived starts anyway.
    let pre = pre.replace("$$", "$");
    let fakes = tempfile::tempdir().unwrap();
    let bin = fakes.path();
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    script("sleep", "echo slept >>\"$(dirname \"$0\")/sleeps\"");
    for (shows, sleeps, says) in [(true, 0, ""), (false, 120, "no ")] {
        let line = if shows {
            format!("2: ens3    inet {node_ip}/24 brd 10.0.0.255 scope global ens3")
        } else {
            "2: ens3    inet 10.9.9.9/24 brd 10.9.9.255 scope global ens3".to_string()
        };
        script("ip", &format!("echo '{line}'"));
        let _ = std::fs::remove_file(bin.join("sleeps"));
        let out = std::process::Command::new("sh")
            .args(["-c", &pre])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        let slept = std::fs::read_to_string(bin.join("sleeps")).unwrap_or_default();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{pre}: {out:?}");
        assert_eq!(slept.lines().count(), sleeps, "{pre}");
        assert_eq!(
            said.contains(&format!("vipsetup: {says}{node_ip}")),
            !shows,
            "{said}"
        );
    }
}

#[test]
fn oracle_linux_with_keepalived_installed_never_touches_dnf_and_loads_selinux_first() {
    if !prerequisites() {
        return;
    }
    let s = Sandbox::new(0, OL9, &["keepalived", "curl", "openssl"]);
    let (code, calls) = s.run(&[("FAKE_ACTIVE", "firewalld"), ("FAKE_SELINUX", "0")]);
    assert_eq!(code, 0, "{}", calls.join("\n"));
    none(&calls, "dnf");
    none(&calls, "apt-get");
    none(&calls, "setenforce");
    let rule = pos(
        &calls,
        "firewall-cmd --permanent --add-rich-rule=rule protocol value=\"vrrp\" accept",
    );
    let reload = pos(&calls, "firewall-cmd --reload");
    let module = pos(&calls, "semodule -i");
    assert!(calls[module].ends_with("/usr/local/lib/vipsetup/vipsetup-keepalived.cil"));
    let label = pos(&calls, "restorecon -R");
    let start = pos(&calls, "systemctl restart keepalived");
    assert!(rule < reload && reload < start && module < label && label < start);
    assert!(
        pos(&calls, "systemctl stop keepalived") < rule,
        "a running keepalived is stopped first"
    );
    none(&calls, "MISSING at start");
}

#[test]
fn oracle_linux_installs_only_what_is_missing_with_dnf() {
    if !prerequisites() {
        return;
    }
    let s = Sandbox::new(0, OL9, &["curl", "openssl"]);
    let (code, calls) = s.run(&[]);
    assert_eq!(code, 0, "{}", calls.join("\n"));
    let install = pos(&calls, "dnf -y -q install keepalived");
    assert!(
        calls[install].ends_with("install keepalived"),
        "{}",
        calls[install]
    );
    assert!(install < pos(&calls, "systemctl restart keepalived"));
    // No firewalld active: the iptables rule instead.
    assert!(pos(&calls, "iptables -I INPUT -p vrrp") < pos(&calls, "systemctl restart keepalived"));
}

#[test]
fn oracle_linux_7_and_unknown_systems_get_a_one_line_refusal() {
    if !prerequisites() {
        return;
    }
    for os in [
        "ID=\"ol\"\nVERSION_ID=\"7.9\"\n",
        "ID=\"sles\"\nVERSION_ID=\"15\"\n",
        "ID=ubuntu\nVERSION_ID=\"20.04\"\n",
    ] {
        let s = Sandbox::new(0, os, &[]);
        let (code, calls) = s.run(&[]);
        assert_eq!(code, 1, "{os}: {}", calls.join("\n"));
        let logged: Vec<&String> = calls.iter().filter(|c| c.starts_with("logger ")).collect();
        assert_eq!(logged.len(), 1, "{os}: {calls:?}");
        assert!(logged[0].contains("unsupported system"), "{}", logged[0]);
        assert_eq!(calls.len(), 1, "{os}: nothing else may run: {calls:?}");
    }
}

#[test]
fn the_other_node_waits_for_the_preferred_nodes_adverts_then_starts() {
    if !prerequisites() {
        return;
    }
    let s = Sandbox::new(1, DEBIAN_12, &["keepalived", "curl", "openssl"]);
    let (code, calls) = s.run(&[("FAKE_ADVERT_AFTER", "3"), ("FAKE_NODE_IP", "172.16.2.12")]);
    assert_eq!(code, 0, "{}", calls.join("\n"));
    let sleeps = calls.iter().filter(|c| c.starts_with("sleep ")).count();
    assert_eq!(sleeps, 3, "{}", calls.join("\n"));
    let seen = pos(&calls, "VRRP from the preferred node seen after 3 s");
    assert!(seen < pos(&calls, "systemctl restart keepalived"));
    // A bounded wait: no adverts at all, and it starts anyway.
    let s = Sandbox::new(1, DEBIAN_12, &["keepalived", "curl", "openssl"]);
    s.append_settings("PEER_WAIT='4'\n");
    let (code, calls) = s.run(&[("FAKE_NODE_IP", "172.16.2.12")]);
    assert_eq!(code, 0);
    assert_eq!(calls.iter().filter(|c| c.starts_with("sleep ")).count(), 4);
    assert!(
        pos(&calls, "starting keepalived anyway") < pos(&calls, "systemctl restart keepalived")
    );
    // The preferred node never waits.
    let s = Sandbox::new(0, DEBIAN_12, &["keepalived", "curl", "openssl"]);
    let (_, calls) = s.run(&[]);
    none(&calls, "sleep ");
}

#[test]
fn the_quickstart_user_data_has_no_python_tooling() {
    let bp = load_variant("blueprints/quickstart.yaml", &[]);
    let facts = Facts::offline(&bp).unwrap();
    for node in render::render(&bp, &facts).unwrap() {
        // `pip` as a word (bash's `pipefail` is not pip); the others anywhere.
        let words: Vec<&str> = node
            .cloud_config
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .collect();
        for pip in ["pip", "pip3", "pipx"] {
            assert!(
                !words.contains(&pip),
                "{}: `{pip}` in the user data",
                node.name
            );
        }
        for word in ["oci-cli", "venv", "raw-request"] {
            assert!(
                !node.cloud_config.contains(word),
                "{}: `{word}` in the user data",
                node.name
            );
        }
        println!(
            "{}: cloud-config {} bytes, instance metadata {} bytes{}",
            node.name,
            node.cloud_config.len(),
            node.metadata_bytes,
            if node.gzipped { " (gzipped)" } else { "" }
        );
    }
}

/// The tools this suite runs, printed; under the oldest-tools lane (tests/oldest-tools/run.sh)
/// they must be the lane's (bash 4.4, OpenSSL 1.1.1, keepalived 2.1.5), or the lane proved nothing.
#[test]
fn node_tools_are_the_lanes_under_the_lane() {
    oldest_tools::check("render_installer", &oldest_tools::here());
}
