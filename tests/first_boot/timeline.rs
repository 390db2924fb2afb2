//! A node's first boot as a timeline, in seconds since its VM started, from the node's own
//! clocks and logs (kernel and systemd timestamps, cloud-init's status.json, the journal of the
//! installer, keepalived and the agent) and from the simulator's request log (the node's first
//! metadata read, federation, API call and claim). bench/boot.sh prints it.

use super::Twin;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// One event: seconds since VM start, and what happened.
pub type Event = (f64, String);

/// Reads everything in one round trip on the channel: the clocks (uptime and wall clock at the
/// same instant), systemd's userspace start, cloud-init's stages and the three journals with
/// monotonic timestamps.
const GATHER: &str = r#"
echo "clock $(cut -d' ' -f1 /proc/uptime) $(date +%s.%N)"
echo "userspace $(systemctl show -p UserspaceTimestampMonotonic --value)"
echo "keepalived-active $(systemctl show keepalived -p ActiveEnterTimestampMonotonic --value)"
python3 - <<'PY' 2>/dev/null
import json
d = json.load(open("/run/cloud-init/status.json"))["v1"]
for k in ("init-local", "init", "modules-config", "modules-final"):
    s = d.get(k)
    if isinstance(s, dict):
        print("ci", k, s.get("start") or 0, s.get("finished") or 0)
PY
journalctl -b -o short-monotonic --no-pager -t vipsetup-install | sed 's/^/j /'
journalctl -b -o short-monotonic --no-pager -t vipsetup-agent | sed 's/^/j /'
journalctl -b -o short-monotonic --no-pager -u keepalived | sed 's/^/j /'
"#;

/// Patterns in the journal (first match only), and the event's name.
const JOURNAL_EVENTS: &[(&str, &str)] = &[
    ("vipsetup-install: preparing", "installer started"),
    ("vipsetup-install: installing", "package install started"),
    (
        "vipsetup-install: iptables: VRRP accepted",
        "firewall: VRRP accepted (packages installed)",
    ),
    (
        "vipsetup-install: not the preferred node",
        "installer waits for the peer's VRRP",
    ),
    (
        "VRRP from the preferred node seen",
        "first advert seen (installer)",
    ),
    (
        "vipsetup-install: keepalived started",
        "installer done (keepalived started)",
    ),
    ("Starting Keepalive", "keepalived starting"),
    ("Entering BACKUP STATE", "keepalived BACKUP"),
    ("Entering MASTER STATE", "keepalived MASTER"),
    ("vipsetup-agent", "agent: first log line"),
    ("is MASTER (read at", "agent: reads MASTER"),
    ("MASTER: claiming", "agent: claim loop runs"),
    (
        "confirmed on this node by the API",
        "agent: VIP confirmed by the API",
    ),
];

fn secs(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok()
}

/// The node's timeline so far (call it while the node runs, before a power-off).
pub fn gather(twin: &Twin, i: usize) -> Result<Vec<Event>, String> {
    let vm = twin.vm(i);
    let out = vm.sh(GATHER)?;
    let host_elapsed = vm.started.elapsed().as_secs_f64();
    let mut offset = None; // VM start -> guest monotonic zero
    let mut wall_zero = 0.0; // guest wall clock at guest monotonic zero
    for l in out.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if let ["clock", up, wall] = w.as_slice() {
            let (up, wall) = (secs(up).unwrap_or(0.0), secs(wall).unwrap_or(0.0));
            offset = Some((host_elapsed - up).max(0.0));
            wall_zero = wall - up;
        }
    }
    let offset = offset.ok_or_else(|| format!("node{}: no clock line: {out}", i + 1))?;
    let mono = |s: f64| offset + s;
    // cloud-init's status.json: wall-clock seconds up to 24.x; 25.1 (trixie) writes seconds
    // since boot there (its `last_update` reads 1970-01-01 00:08:54 on a node up 534 s).
    let wall = |s: f64| {
        if s < 1e9 {
            offset + s
        } else {
            offset + (s - wall_zero)
        }
    };
    let mut ev: Vec<Event> = vec![
        (0.0, "VM start (QEMU)".into()),
        (offset, "kernel starts".into()),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for l in out.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["userspace", us] => {
                if let Some(us) = secs(us).filter(|u| *u > 0.0) {
                    ev.push((
                        mono(us / 1e6),
                        "systemd starts (kernel and initrd done)".into(),
                    ));
                }
            }
            ["keepalived-active", us] => {
                if let Some(us) = secs(us).filter(|u| *u > 0.0) {
                    ev.push((mono(us / 1e6), "keepalived running (unit active)".into()));
                }
            }
            ["ci", stage, start, finished] => {
                if let Some(s) = secs(start).filter(|s| *s > 0.0) {
                    ev.push((wall(s), format!("cloud-init {stage} starts")));
                }
                if let Some(f) = secs(finished).filter(|f| *f > 0.0) {
                    ev.push((wall(f), format!("cloud-init {stage} done")));
                }
            }
            _ => {}
        }
        // `j [  123.456789] host tag[pid]: message`
        if let Some(rest) = l.strip_prefix("j [") {
            let Some((t, msg)) = rest.split_once(']') else {
                continue;
            };
            let Some(t) = secs(t) else { continue };
            let msg = without_pid(msg);
            for (pat, name) in JOURNAL_EVENTS {
                if msg.contains(pat) && seen.insert(*name) {
                    ev.push((mono(t), (*name).to_string()));
                }
            }
        }
    }
    // The simulator's view: wall clock of the host, shifted to this VM's start.
    let vm_start_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        - host_elapsed;
    let inst = &twin.instances[i];
    let ip = super::NODE_IPS[i].to_string();
    let log = twin.sim.log().unwrap_or_default();
    let at = |e: &Value| e["at"].as_f64().unwrap_or(0.0) / 1000.0 - vm_start_wall;
    let first = |name: &str, f: &dyn Fn(&Value) -> bool| {
        log.iter()
            .filter(|e| at(e) >= 0.0 && f(e))
            .map(at)
            .next()
            .map(|t| (t, name.to_string()))
    };
    let principal = |e: &Value| e["principal"].as_str().unwrap_or("").to_string();
    ev.extend(first("first metadata request (any)", &|e| {
        e["operation"] == "Imds" && principal(e).starts_with(&format!("imds:{ip}"))
    }));
    ev.extend(first(
        "agent: first metadata request for its certificate",
        &|e| {
            e["operation"] == "Imds"
                && principal(e).starts_with(&format!("imds:{ip}"))
                && e["path"].as_str().unwrap_or("").contains("/identity/")
        },
    ));
    ev.extend(first("agent: first federation (session token)", &|e| {
        e["operation"] == "FederateX509" && principal(e) == format!("instance:{inst}")
    }));
    ev.extend(first("agent: first API call", &|e| {
        e["operation"] != "FederateX509" && principal(e) == format!("instance:{inst}")
    }));
    ev.extend(first("agent: first answered API call (2xx)", &|e| {
        e["operation"] != "FederateX509"
            && principal(e) == format!("instance:{inst}")
            && (200..300).contains(&e["status"].as_u64().unwrap_or(0))
    }));
    ev.extend(first("agent: claim (UpdatePrivateIp)", &|e| {
        e["operation"] == "UpdatePrivateIp" && principal(e) == format!("instance:{inst}")
    }));
    // The API's confirmation: the first answered call of this node's agent once keepalived made
    // it MASTER (the claim loop's check, or its UpdatePrivateIp). Host clock (the simulator's
    // log) against the guest's: they agree to within one channel round trip.
    if let Some(master) = at_first(&ev, "keepalived MASTER") {
        ev.extend(first(
            "VIP confirmed (API answers node's agent as MASTER)",
            &|e| {
                at(e) >= master
                    && e["operation"] != "FederateX509"
                    && principal(e) == format!("instance:{inst}")
                    && (200..300).contains(&e["status"].as_u64().unwrap_or(0))
            },
        ));
    }
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(ev)
}

/// `host tag[pid]: message` as `host tag: message`: journalctl prints the sender's PID after
/// the tag (`_PID`, which journald records for logger's lines too), the patterns name the tag
/// only.
fn without_pid(msg: &str) -> String {
    if let Some(end) = msg.find("]: ") {
        if let Some(open) = msg[..end].rfind('[') {
            let pid = &msg[open + 1..end];
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{}{}", &msg[..open], &msg[end + 1..]);
            }
        }
    }
    msg.to_string()
}

#[test]
fn journal_lines_match_without_their_pid() {
    assert_eq!(
        without_pid(" node1 vipsetup-install[812]: preparing debian 11 for the failover agent"),
        " node1 vipsetup-install: preparing debian 11 for the failover agent"
    );
    // No PID, or brackets that are not one: the line as it was.
    for line in [
        " node1 vipsetup-install: installing keepalived",
        " node1 x[a1]: y",
    ] {
        assert_eq!(without_pid(line), line);
    }
    let line = without_pid(" node2 vipsetup-install[90]: iptables: VRRP accepted");
    assert!(JOURNAL_EVENTS.iter().any(|(pat, _)| line.contains(pat)));
}

/// The earliest event whose name starts with `name`.
pub fn at(ev: &[Event], name: &str) -> Option<f64> {
    at_first(ev, name)
}

fn at_first(ev: &[Event], name: &str) -> Option<f64> {
    ev.iter()
        .filter(|(_, n)| n.starts_with(name))
        .map(|(t, _)| *t)
        .min_by(|a, b| a.total_cmp(b))
}

/// Prints the timeline, one `first_boot: timeline ...` line per event.
pub fn print(label: &str, ev: &[Event]) {
    for (t, name) in ev {
        eprintln!("first_boot: timeline {label} {t:7.1} s  {name}");
    }
}

/// cloud-init's own account of its first boot (`cloud-init analyze blame`: each module's and
/// stage step's time, longest first), the first `n` lines, printed under `label`; where the
/// stages' time goes when two boots differ there. A node without it prints why.
pub fn print_blame(twin: &Twin, i: usize, label: &str, n: usize) {
    // When this VM started on the host's clock: boots run side by side (bench/boot.sh), and
    // what else ran meanwhile shows in their stages.
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() - twin.vm(i).started.elapsed().as_secs_f64())
        .unwrap_or(0.0);
    eprintln!("first_boot: blame {label} VM started at {started:.1} (unix time)");
    let cmd = format!("cloud-init analyze blame 2>&1 | grep -m {n} 's ('");
    match twin.vm(i).sh(&cmd) {
        Ok(out) => {
            for l in out.lines() {
                eprintln!("first_boot: blame {label} {}", l.trim());
            }
        }
        Err(e) => eprintln!("first_boot: blame {label} unavailable: {e}"),
    }
}
