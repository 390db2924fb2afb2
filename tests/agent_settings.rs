//! Issue 20: the agent's check of a new settings version (templates/agent/vip-agent/
//! 10-settings.sh, `settings_stage`), run by bash on values the real `NodeSettings` makes, with
//! the real keepalived's `-t`: a good version passes, and a corrupt payload, a settings line that
//! is not a plain `KEY='value'`, or a keepalived.conf keepalived refuses is refused with why.

mod render_support;

use render_support::prereq::{all, met, root, tool};
use vipsetup::render::{self, settings, NodeSettings};

const CONF: &str = "global_defs {\n    router_id n1\n    vrrp_version 3\n}\nvrrp_instance VIPSETUP {\n    state BACKUP\n    interface vs0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    unicast_src_ip 10.9.0.1\n    unicast_peer {\n        10.9.0.2\n    }\n    virtual_ipaddress {\n        10.9.0.10/24 dev vs0\n    }\n}\n";
const ENV: &str = "PEER_IP='10.9.0.2'\nPREFERRED='yes'\nVIP='10.9.0.10'\nVIP_PREFIX='24'\nVIPS='10.9.0.10/24'\nVIPS6=''\nNOTIFY_TOPIC=''\nRECHECK_INTERVAL='5'\nBACKOFF_INITIAL='1'\nBACKOFF_MAX='8'\n";

fn value(conf: &str, env: &str) -> String {
    let payload = format!("=== keepalived.conf\n{conf}=== settings.env\n{env}");
    NodeSettings {
        digest: settings::sha256_hex(payload.as_bytes()),
        payload,
    }
    .metadata_value(2)
}

/// What `settings_stage` prints for `value` (nothing: every check passed).
fn stage(value: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("value"), value).unwrap();
    let running = dir.path().join("keepalived.conf");
    std::fs::write(&running, CONF).unwrap();
    // The agent's functions, without its start-up (they are defined before anything runs).
    let agent = render::AGENT_SCRIPT;
    let start = agent.find("settings_stage() {").unwrap();
    let end = start + agent[start..].find("\n}\n").unwrap() + 3;
    let script = format!(
        "ip link add vs0 type veth peer name vs1 && ip link set vs0 up && ip addr add 10.9.0.1/24 dev vs0 || exit 1\nKEEPALIVED_CONF='{}'\nHEALTH_CHECK=/nonexistent/health-check\nINTERFACE=vs0\n{}\nsettings_stage '{}'\n",
        running.display(),
        &agent[start..end],
        work.display()
    );
    // In a network namespace of its own, with the interface the configuration names.
    let out = std::process::Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bad_settings_version_is_refused_with_why() {
    if !met(all([
        root("keepalived -t"),
        tool("keepalived", &["--version"]),
        tool("unshare", &["--version"]),
    ])) {
        return;
    }
    assert_eq!(stage(&value(CONF, ENV)), "", "a good version");
    // One version's first line with another's payload.
    let good = value(CONF, ENV);
    let other = value(CONF, &ENV.replace("'5'", "'6'"));
    let mixed = format!(
        "{}\n{}\n",
        good.lines().next().unwrap(),
        other.lines().nth(1).unwrap()
    );
    assert!(stage(&mixed).contains("digest mismatch"));
    let code = stage(&value(CONF, &format!("{ENV}VIPS=\"$(reboot)\"\n")));
    assert!(code.contains("not a setting: VIPS=\"$(reboot)\""), "{code}");
    let unknown = stage(&value(
        &CONF.replace("advert_int 1\n", "advert_int 1\n    no_such_keyword 1\n"),
        ENV,
    ));
    assert!(
        unknown.starts_with("keepalived -t: ") && unknown.contains("no_such_keyword"),
        "{unknown}"
    );
    assert!(stage(&value("", ENV)).contains("missing section"));
}
