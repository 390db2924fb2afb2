//! Runs one case of the fault matrix: a fresh copy of a simulated pair, the rendered agent of
//! node 2 talking to it through the fault proxy, the case's state set up with keepalived's FIFO
//! lines, the fault armed, and the invariants checked:
//! - no process of the agent died on a bash error (its stderr holds none of bash's messages);
//! - once the fault cleared, every VIP was claimed within the back-off plus a recheck and a
//!   round trip (`BOUND`), where the state claims at all;
//! - a BACKUP never moved anything (no takeover request left the node after BACKUP);
//! - at most one claim loop ran at any time;
//! - the fault fired (else the case checked nothing), and the agent was alive at the end.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::matrix::{Case, State};
use super::proxy::{Fault, Proxy, HANDSHAKE_FAILED, REFUSE_FOR};
use crate::render_support::sim::{SimPair, VIP, VIP6};

const NODE1: usize = 0;
const NODE2: usize = 1;
/// The second IPv4 VIP: in the agent's settings only, so the first MASTER creates its object.
pub const VIP2: &str = "172.16.2.20";

/// The agent's timings in these cases (production's are 5/1/8/5/15/3/15 s).
const SETTINGS: &str = "RECHECK_INTERVAL='1'\nBACKOFF_INITIAL='1'\nBACKOFF_MAX='1'\nCONNECT_TIMEOUT='1'\nCALL_DEADLINE='3'\nSTATE_WAIT='1'\nWATCH_INTERVAL='1'\n";
/// Once the fault cleared: the back-off (BACKOFF_MAX plus 50 % jitter, 1.5 s), a recheck (1 s),
/// the round trips of a claim (at a first start: three metadata reads, a federation with its
/// openssl, the look-ups, the creation and the moves; about 1.5 s on a quiet machine, 4 s seen
/// under bash 4.4 on 2 cores with a load of 27), and room for such a machine. What this bound
/// must catch, a claim loop that died or hung, is also caught apart: the watchdog's log line
/// (it replaces a stuck loop after 7 s, STUCK_AFTER below) fails a case at once. The bench
/// prints the worst figure seen.
pub const BOUND: f64 = 8.0;
/// For an endless stall, from its start: CALL_DEADLINE, or the watchdog's STUCK_AFTER
/// (CALL_DEADLINE + CONNECT_TIMEOUT + WATCH_INTERVAL + 2 x BACKOFF_MAX = 7 s) plus its look
/// (WATCH_INTERVAL), then the same as above.
pub const BOUND_ENDLESS: f64 = 7.0 + 1.0 + BOUND;
/// What bash prints when a script itself is wrong.
const BASH_ERRORS: &[&str] = &[
    "unbound variable",
    "syntax error",
    "bad substitution",
    "command not found",
    "ambiguous redirect",
    "integer expression expected",
    "bad array subscript",
];

#[derive(Debug, Default)]
pub struct Outcome {
    pub problems: Vec<String>,
    /// Seconds from the fault clearing to every VIP on this node.
    pub claim_after_clear: Option<f64>,
    /// What the time bounds were multiplied by for this case ([`load_factor`]; 1 on a machine
    /// no busier than its cores).
    pub load_factor: f64,
}

/// The machine's load over its cores, at least 1: the time bounds are multiplied by it.
/// BOUND's figures are those of a machine whose load stays below its core count; above that,
/// the agent's work (bash, openssl, a federation's key) waits for the CPU and the disk in
/// proportion, and a bound of fixed seconds measures the machine, not the agent (seen: the same
/// case claimed 3.9 s after the fault cleared alone and 8.5 s at load 18 on 2 cores, nice -15
/// included, 2026-12-07). What a time bound is for, a claim loop that died or hung, is caught
/// apart at any load: the watchdog's log line fails a case, and so does a claim loop that
/// never claims within the (scaled) window. The bench prints how many cases ran scaled.
pub fn load_factor() -> f64 {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load / cores).max(1.0)
}

/// A running agent: stopped by PID (and every process that carries its settings path) on drop.
struct Running {
    child: Child,
    env: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..30 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_all_of(&self.env);
    }
}

/// Processes whose environment names `env` as the agent's settings: (pid, parent, cmdline).
fn processes_of(env: &Path) -> Vec<(u32, u32, String)> {
    let needle = format!("VIPSETUP_AGENT_ENV={}", env.display());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            if !String::from_utf8_lossy(&environ)
                .split('\0')
                .any(|v| v == needle)
            {
                return None;
            }
            let cmd = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).ok()?)
                .replace('\0', " ");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat
                .rsplit(") ")
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid, cmd))
        })
        .collect()
}

fn kill_all_of(env: &Path) {
    for _ in 0..3 {
        let left = processes_of(env);
        if left.is_empty() {
            return;
        }
        for (pid, _, _) in left {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Claim loops: `--standby` processes whose parent is the agent itself or not one of the
/// agent's processes (an orphan, reparented). Their forks (views, alerts, the subshells that
/// become the warm tools) share the command line but have a parent of the agent's own (read
/// again from /proc here: a snapshot may list a child before its parent).
fn claim_loops(env: &Path) -> (Vec<u32>, String) {
    let needle = format!("VIPSETUP_AGENT_ENV={}", env.display());
    let ours = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .map(|e| String::from_utf8_lossy(&e).split('\0').any(|v| v == needle))
            .unwrap_or(false)
    };
    let all = processes_of(env);
    let agent: Vec<u32> = all
        .iter()
        .filter(|(_, _, c)| c.contains("keepalived.fifo"))
        .map(|(p, _, _)| *p)
        .collect();
    let loops = all
        .iter()
        .filter(|(_, pp, c)| c.contains("--standby") && (agent.contains(pp) || !ours(*pp)))
        .map(|(p, _, _)| *p)
        .collect();
    (loops, describe(&all))
}

/// What a failure message shows of the agent's processes: pid, parent, process group, state,
/// start (clock ticks since boot), what it waits in, and the command line; enough to tell which
/// fork outlived a stopped claim loop.
fn describe(all: &[(u32, u32, String)]) -> String {
    let mut out = String::new();
    for (pid, ppid, cmd) in all {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let f: Vec<&str> = stat
            .rsplit(") ")
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let field = |i: usize| f.get(i).copied().unwrap_or("?");
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let cmd: String = cmd.chars().take(160).collect();
        out.push_str(&format!(
            "\n    pid {pid} ppid {ppid} pgrp {} {} start {} wchan {wchan}: {cmd}",
            field(2),
            field(0),
            field(19)
        ));
    }
    out
}

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(sim: &SimPair, proxy: &Proxy, reload: bool) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (base, imds) = (proxy.base(), proxy.imds_base());
        let ca = dir.path().join("proxy-ca.pem");
        std::fs::write(&ca, &proxy.ca_pem).unwrap();
        // The API over TLS through the proxy (as on a node: https), the metadata service over
        // http; the library's OCI_CA_FILE trusts the proxy's CA.
        sim.write_agent(
            NODE2,
            dir.path(),
            &format!(
                "{SETTINGS}VIPS='{VIP}/24 {VIP2}/24'\nOCI_ENDPOINT='{base}'\nOCI_FEDERATION_ENDPOINT='{base}/v1/x509'\nOCI_METADATA_BASE_URL='{imds}/opc/v2'\nNOTIFY_ENDPOINT='{base}'\nOCI_CA_FILE='{}'\n",
                ca.display()
            ),
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // No syslog here: a `logger` that fails makes the agent log to stderr.
        let mut tools = vec![("logger", "#!/bin/sh\nexit 1\n".to_string())];
        if reload {
            // keepalived put the VIP on the interface before the reload.
            tools.push((
                "ip",
                format!("#!/bin/sh\necho '2: ens3    inet {VIP}/24 brd 172.16.2.255 scope global secondary ens3'\n"),
            ));
        }
        for (name, text) in tools {
            std::fs::write(bin.join(name), text).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        Node { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the agent on a new FIFO, stderr appended to `agent.stderr`; the FIFO's writer.
    fn start(&self) -> (Running, std::fs::File) {
        let fifo = self.path("keepalived.fifo");
        let _ = std::fs::remove_file(&fifo);
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.path("bin")];
        dirs.extend(std::env::split_paths(&path));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("agent.stderr"))
            .unwrap();
        let mut cmd = Command::new("bash");
        if std::env::var("AGENT_FAULTS_TRACE").is_ok_and(|v| v == "1") {
            // Every process of the agent traced, with times (debugging a case alone).
            cmd.env("SHELLOPTS", "xtrace")
                .env("PS4", "+ ${EPOCHREALTIME} ${BASHPID} ");
        }
        let child = cmd
            .arg(self.path("vip-agent"))
            .arg(&fifo)
            .env("VIPSETUP_AGENT_ENV", self.path("agent.env"))
            .env("PATH", std::env::join_paths(dirs).unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        (
            Running {
                child,
                env: self.path("agent.env"),
            },
            w,
        )
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("agent.stderr")).unwrap_or_default()
    }
}

fn send(w: &mut std::fs::File, state: &str) {
    writeln!(w, "INSTANCE \"VIPSETUP\" {state} 150").unwrap();
    w.flush().unwrap();
}

/// (resource kind, address) of each VIP object.
fn vip_objects() -> [(&'static str, &'static str); 3] {
    [("privateip", VIP), ("privateip", VIP2), ("ipv6", VIP6)]
}

/// The VNIC each VIP's object is on ('' when it has no object).
fn owners(sim: &SimPair) -> Vec<String> {
    let world = sim.json("GET", "/_sim/world", None);
    vip_objects()
        .iter()
        .map(|(kind, addr)| {
            world["resources"][*kind]
                .as_object()
                .and_then(|m| {
                    m.values()
                        .find(|o| o["ipAddress"] == *addr && o["lifecycleState"] != "TERMINATED")
                })
                .and_then(|o| o["vnicId"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn all_on(sim: &SimPair, node: usize) -> bool {
    let o = owners(sim);
    o.iter().all(|v| v == &sim.vnics[node])
}

/// Moves every existing VIP object to `node`'s VNIC, as an operator (the seeded user's key).
fn operator_moves_all(sim: &SimPair, node: usize) {
    let world = sim.json("GET", "/_sim/world", None);
    for (kind, addr) in vip_objects() {
        let Some((id, _)) = world["resources"][kind].as_object().and_then(|m| {
            m.iter()
                .find(|(_, o)| o["ipAddress"] == addr && o["lifecycleState"] != "TERMINATED")
        }) else {
            continue;
        };
        let path = if kind == "ipv6" { "ipv6" } else { "privateIps" };
        sim.operator(
            "PUT",
            &format!("{path}/{id}"),
            &json!({"vnicId": sim.vnics[node]}).to_string(),
        );
    }
}

/// Waits until `cond` or `limit`; whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Until the look-ups a standby makes are done (both IPv4 VIPs listed: it stops at VIP2, which
/// has no object yet and which only a MASTER may create), and a moment for its warm tools.
fn warmed(proxy: &Proxy) -> bool {
    let ok = wait_for(Duration::from_secs(20), || {
        proxy
            .log()
            .iter()
            .filter(|e| e.op == "ListPrivateIps" && e.action.starts_with("ok 2"))
            .count()
            >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    ok
}

const TAKEOVER_OPS: &[&str] = &[
    "UpdatePrivateIp",
    "CreatePrivateIp",
    "UpdateIpv6",
    "CreateIpv6",
];

pub fn run(template: &SimPair, case: &Case) -> Outcome {
    let mut out = Outcome {
        load_factor: load_factor(),
        ..Outcome::default()
    };
    let sim = template.serve_copy();
    sim.be_node(NODE2);
    if case.state == State::TokenExpiry {
        // The agent renews 61 s + a recheck before exp: with 64 s, every few seconds.
        sim.json("PUT", "/_sim/config", Some(&json!({"sessionTtlSecs": 64})));
    }
    let proxy = Proxy::start(
        sim.base
            .trim_start_matches("http://")
            .parse()
            .expect("the simulator's address"),
    );
    let node = Node::new(&sim, &proxy, case.state == State::Reload);

    // The state, up to the moment the fault is armed and the trigger comes.
    let mut setup_problem = None;
    if matches!(
        case.state,
        State::RestartCached | State::Reload | State::Steady | State::TokenExpiry
    ) {
        // A first life: MASTER, every VIP claimed and confirmed (caches written).
        let (agent, mut w) = node.start();
        send(&mut w, "MASTER");
        if !wait_for(Duration::from_secs(30), || all_on(&sim, NODE2)) {
            setup_problem = Some("the first life never claimed the VIPs".to_string());
        }
        // A few rechecks: the steady loop.
        std::thread::sleep(Duration::from_millis(1500));
        if matches!(case.state, State::RestartCached | State::Reload) {
            drop(agent);
            drop(w);
            operator_moves_all(&sim, NODE1);
            run_after_setup(&sim, &proxy, &node, case, None, &mut out);
        } else {
            run_after_setup(&sim, &proxy, &node, case, Some((agent, w)), &mut out);
        }
    } else {
        run_after_setup(&sim, &proxy, &node, case, None, &mut out);
    }
    if let Some(p) = setup_problem {
        out.problems.insert(0, p);
    }
    out
}

fn run_after_setup(
    sim: &SimPair,
    proxy: &Proxy,
    node: &Node,
    case: &Case,
    running: Option<(Running, std::fs::File)>,
    out: &mut Outcome,
) {
    let fault: Fault = case.failure.fault;
    let (agent, mut w, trigger, backup_at);
    match case.state {
        // A new agent (with or without its cache on disk from a first life) told MASTER.
        State::FirstStart | State::RestartCached => {
            proxy.arm(case.call, fault, case.count);
            (agent, w) = node.start();
            trigger = Instant::now();
            send(&mut w, "MASTER");
            backup_at = None;
        }
        State::Reload => {
            proxy.arm(case.call, fault, case.count);
            (agent, w) = node.start();
            trigger = Instant::now();
            backup_at = None;
        }
        State::Steady | State::TokenExpiry => {
            (agent, w) = running.expect("a first life");
            proxy.arm(case.call, fault, case.count);
            trigger = Instant::now();
            operator_moves_all(sim, NODE1);
            backup_at = None;
        }
        State::Takeover => {
            (agent, w) = node.start();
            send(&mut w, "BACKUP");
            if !warmed(proxy) {
                out.problems
                    .push("the standby never finished its look-ups".into());
            }
            proxy.arm(case.call, fault, case.count);
            trigger = Instant::now();
            send(&mut w, "MASTER");
            backup_at = None;
        }
        State::Backup => {
            proxy.arm(case.call, fault, case.count);
            (agent, w) = node.start();
            trigger = Instant::now();
            send(&mut w, "BACKUP");
            backup_at = Some(trigger);
        }
        State::Demoted => {
            (agent, w) = node.start();
            send(&mut w, "BACKUP");
            if !warmed(proxy) {
                out.problems
                    .push("the standby never finished its look-ups".into());
            }
            proxy.arm(case.call, fault, case.count);
            trigger = Instant::now();
            send(&mut w, "MASTER");
            // Demoted while the fault holds the takeover (or its retry).
            wait_for(Duration::from_secs(5), || proxy.remaining() < case.count);
            std::thread::sleep(Duration::from_millis(200));
            send(&mut w, "BACKUP");
            backup_at = Some(Instant::now());
        }
    }

    // Watch: claim loops at every look, the VIPs, until claimed (or the window ends).
    let limit = if case.failure.endless {
        BOUND_ENDLESS * out.load_factor + 8.0
    } else {
        BOUND * out.load_factor + 10.0
    };
    // Claim loops seen in two looks in a row (a fork caught between fork and exec is not one).
    let mut max_loops = 0usize;
    let mut loops_seen = String::new();
    let mut last_loops: Vec<u32> = Vec::new();
    let mut look = |max_loops: &mut usize, loops_seen: &mut String| {
        let (now, seen) = claim_loops(&node.path("agent.env"));
        let n = now.iter().filter(|p| last_loops.contains(p)).count();
        if n > *max_loops {
            *max_loops = n;
            *loops_seen = seen;
        }
        last_loops = now;
    };
    let mut claimed_at = None;
    let watch_until = trigger + Duration::from_secs_f64(limit);
    let mut calm_since: Option<Instant> = None;
    while Instant::now() < watch_until {
        look(&mut max_loops, &mut loops_seen);
        let fired = proxy.remaining() < case.count;
        if case.state.claims() {
            if claimed_at.is_none() && all_on(sim, NODE2) {
                claimed_at = Some(Instant::now());
            }
            // Claimed: watched a little longer while faults are still to be played (a fault on
            // a call that comes after the claim, such as the alert or the view, written in the
            // background).
            if let Some(c) = claimed_at {
                let e = c.elapsed();
                if (proxy.remaining() == 0 && e > Duration::from_millis(500))
                    || (fired && e > Duration::from_millis(1500))
                    || e > Duration::from_secs(8)
                {
                    break;
                }
            }
        } else if fired {
            // BACKUP: watched for 2 s after the first fault fired (then once more, below).
            let since = *calm_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !case.state.claims() {
        // And an operator's move back must stay: nothing claims on this node.
        operator_moves_all(sim, NODE1);
        std::thread::sleep(Duration::from_millis(1200));
        look(&mut max_loops, &mut loops_seen);
        let o = owners(sim);
        if o.contains(&sim.vnics[NODE2]) {
            out.problems
                .push(format!("a BACKUP moved a VIP: owners {o:?}"));
        }
    }

    // The fault: fired at all, and when it cleared.
    let log = proxy.log();
    let faulted: Vec<_> = log
        .iter()
        .filter(|e| e.op == case.call && !e.action.starts_with("ok ") && e.action != "in flight")
        .collect();
    if faulted.is_empty() {
        out.problems.push(format!(
            "the fault never fired: no {} call in this state (calls: {})",
            case.call,
            log.iter()
                .map(|e| e.op.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let cleared = if case.failure.endless {
        faulted.first().map(|e| e.at)
    } else {
        faulted.last().map(|e| {
            if fault == Fault::Refused {
                e.done + REFUSE_FOR
            } else {
                e.done
            }
        })
    }
    .unwrap_or(trigger);
    if case.state.claims() {
        match claimed_at {
            Some(t) => {
                let after = t.saturating_duration_since(cleared).as_secs_f64();
                out.claim_after_clear = Some(after);
                // The larger of the loads at the start and now (the 1-minute average lags).
                out.load_factor = out.load_factor.max(load_factor());
                let base = if case.failure.endless {
                    BOUND_ENDLESS
                } else {
                    BOUND
                };
                let bound = base * out.load_factor;
                if after > bound {
                    out.problems.push(format!(
                        "every VIP claimed {after:.2} s after the fault cleared (bound {bound:.1} s: \
                         {base} s x load factor {:.2})",
                        out.load_factor
                    ));
                }
            }
            None => out.problems.push(format!(
                "the VIPs were not all claimed within {limit} s (owners {:?}, node 2 is {})",
                owners(sim),
                sim.vnics[NODE2]
            )),
        }
    }
    if let Some(b) = backup_at {
        // The agent reads the BACKUP line and kills the loop: a request that started in that
        // moment may still go out; none after 0.5 s. A failed TLS handshake carries no request:
        // the proxy names it after the call its fault is armed for, but after BACKUP it is as
        // likely the new standby's read-only look-up (case #598: its ListPrivateIps met the
        // handshakes the fault still had). Such an event proves nothing either way; a claim loop
        // that outlived BACKUP would show itself by a request the proxy did see, once the
        // fault's handshakes are used up.
        let late: Vec<_> = log
            .iter()
            .filter(|e| {
                TAKEOVER_OPS.contains(&e.op.as_str())
                    && e.action != HANDSHAKE_FAILED
                    && e.at > b + Duration::from_millis(500)
            })
            .map(|e| format!("{} {}", e.op, e.action))
            .collect();
        if !late.is_empty() {
            out.problems
                .push(format!("takeover requests after BACKUP: {late:?}"));
        }
    }
    if max_loops > 1 {
        out.problems
            .push(format!("{max_loops} claim loops ran at once: {loops_seen}"));
    }
    let alive = processes_of(&node.path("agent.env"))
        .iter()
        .any(|(p, _, _)| *p == agent.child.id());
    if !alive {
        out.problems.push("the agent died".into());
    }
    drop(w);
    drop(agent);
    let stderr = node.stderr();
    if let Ok(to) = std::env::var("AGENT_FAULTS_KEEP_STDERR") {
        let _ = std::fs::write(format!("{to}.{}", case.id), &stderr);
    }
    if !case.failure.endless {
        if let Some(line) = stderr.lines().find(|l| l.contains("made no progress")) {
            out.problems.push(format!(
                "the watchdog had to replace the claim loop: {line}"
            ));
        }
    }
    for e in BASH_ERRORS {
        if let Some(line) = stderr.lines().find(|l| l.contains(e)) {
            out.problems.push(format!("bash error: {line}"));
        }
    }
    if !out.problems.is_empty() {
        // `AGENT_FAULTS_KEEP=DIR`: the whole agent stderr of a failed case kept there (with
        // AGENT_FAULTS_TRACE=1, every process's trace).
        if let Some(dir) = std::env::var_os("AGENT_FAULTS_KEEP") {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                Path::new(&dir).join(format!("case-{}.stderr", case.id)),
                &stderr,
            );
        }
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        out.problems.push(format!(
            "proxy log: {}\nagent stderr (last lines):\n{}",
            log.iter()
                .map(|e| format!(
                    "{:.2}s {} {}",
                    e.at.saturating_duration_since(trigger).as_secs_f64(),
                    e.op,
                    e.action
                ))
                .collect::<Vec<_>>()
                .join(", "),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
}
