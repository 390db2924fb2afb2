//! The rendered failover agent (vip-agent, its signing library and its settings file) run for
//! real, outside a node, against the strict simulator (render_support::sim): a pair made by
//! `vipsetup apply`, 127.0.0.1 posing as one node for the metadata service, every request
//! signed by the agent itself (curl + openssl) and verified by the simulator.

#[path = "oldest-tools/versions.rs"]
mod oldest_tools;
mod render_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use render_support::prereq::{all, met, tool};
use render_support::sim::SimPair;
use serde_json::json;

const NODE1: usize = 0;
const NODE2: usize = 1;

fn prerequisites() -> bool {
    met(all([
        tool("curl", &["--version"]),
        tool("openssl", &["version"]),
        tool("setsid", &["--version"]),
        tool("mkfifo", &["--version"]),
    ]))
}

/// One node's agent files in a temp dir, with short intervals so tests do not wait on
/// production timings.
struct Agent {
    dir: tempfile::TempDir,
}

impl Agent {
    fn new(sim: &SimPair, node: usize, extra: &str) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        sim.write_agent(
            node,
            dir.path(),
            &format!("RECHECK_INTERVAL='1'\nBACKOFF_INITIAL='1'\nBACKOFF_MAX='1'\nCALL_DEADLINE='20'\n{extra}"),
        );
        // No syslog here: a `logger` that fails makes the agent log to stderr, which the
        // assertions show.
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("logger"), "#!/bin/sh\nexit 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(bin.join("logger"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Agent { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, arg: &Path) -> Command {
        let mut cmd = Command::new("bash");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.path("bin")];
        dirs.extend(std::env::split_paths(&path));
        cmd.arg(self.path("vip-agent"))
            .arg(arg)
            .env("VIPSETUP_AGENT_ENV", self.path("agent.env"))
            .env("PATH", std::env::join_paths(dirs).unwrap());
        cmd
    }

    /// Runs `--claim-once` or `--check-once`; true = the API shows the VIP here. What the
    /// agent logged goes to this test's stderr (shown when it fails).
    fn once(&self, mode: &str) -> bool {
        let out = self.command(Path::new(mode)).output().unwrap();
        eprintln!("{mode}: {}", String::from_utf8_lossy(&out.stderr));
        out.status.success()
    }
}

fn ops(calls: &[(String, u16)]) -> Vec<&str> {
    calls.iter().map(|(op, _)| op.as_str()).collect()
}

/// Moves the VIP to node `i` as the seeded user (an operator), signing with the agent's own
/// library and the user's API key: the API-key path of the signer, also checked by the sim.
fn operator_moves_vip(sim: &SimPair, i: usize) {
    let answer = sim.operator(
        "PUT",
        &format!("privateIps/{}", sim.vip_id),
        &json!({"vnicId": sim.vnics[i]}).to_string(),
    );
    // The update's own answer shows the move. The owner read afterwards may already be the
    // agent's: a MASTER rechecking meanwhile moves it back (seen on a loaded machine).
    let doc: serde_json::Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("the operator's update answered no JSON ({e}): {answer}"));
    assert_eq!(doc["vnicId"], sim.vnics[i].as_str(), "{answer}");
}

#[test]
fn takeover_is_one_update_whose_answer_confirms_and_tags_the_new_owner() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    assert_eq!(sim.vip_owner(), Some(NODE1), "apply puts the VIP on node1");
    let before = sim.vip()["freeformTags"].clone();
    assert!(before["vipsetup-pair"].is_string(), "{before}");
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");

    // First claim: the look-ups (federation, the private IP by address), then the move.
    sim.clear_log();
    assert!(a.once("--claim-once"));
    let calls = sim.api_calls();
    assert_eq!(
        ops(&calls),
        ["FederateX509", "ListPrivateIps", "UpdatePrivateIp"],
        "{calls:?}"
    );
    assert!(calls.iter().all(|(_, s)| *s == 200), "{calls:?}");
    assert_eq!(sim.vip_owner(), Some(NODE2));

    // Every later takeover is one request: the OCIDs are cached, the token is kept.
    operator_moves_vip(&sim, NODE1);
    sim.clear_log();
    assert!(a.once("--claim-once"));
    assert_eq!(ops(&sim.api_calls()), ["UpdatePrivateIp"]);
    assert_eq!(sim.vip_owner(), Some(NODE2));

    // The same request recorded who took over and when, and kept the pair's own tags.
    let tags = sim.vip()["freeformTags"].clone();
    assert_eq!(tags["vipsetup-owner"], "node2", "{tags}");
    let at = tags["vipsetup-takeover-at"].as_str().unwrap_or_default();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.contains('T'),
        "{tags}"
    );
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(&tags[k], v, "tag {k} lost: {tags}");
    }

    // A recheck is one GET.
    sim.clear_log();
    assert!(a.once("--check-once"));
    assert_eq!(ops(&sim.api_calls()), ["GetPrivateIp"]);

    // The pair is still the pair: apply's plan sees no drift in the agent's tags.
    let vipsetup = |cmd: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vipsetup"))
            .arg(cmd)
            .arg(&sim.blueprint)
            .arg("--config-file")
            .arg(&sim.oci_config)
            .args(["--endpoint", &sim.base])
            .args(extra)
            .env("HOME", sim.dir.path())
            .current_dir(sim.dir.path())
            .output()
            .unwrap()
    };
    let out = vipsetup("plan", &["--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan reports changes after a takeover:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // status shows who took over last, and when.
    let out = vipsetup("status", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("last takeover by the agent: node2 at {at}")),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_recheck_that_finds_the_vip_elsewhere_moves_it_back_at_once() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");
    assert!(a.once("--claim-once"));
    operator_moves_vip(&sim, NODE1);
    sim.clear_log();
    assert!(a.once("--check-once"));
    assert_eq!(ops(&sim.api_calls()), ["GetPrivateIp", "UpdatePrivateIp"]);
    assert_eq!(sim.vip_owner(), Some(NODE2));
}

#[test]
fn a_deleted_private_ip_is_forgotten_and_looked_up_again() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");
    std::fs::create_dir_all(a.path("state")).unwrap();
    let cached = a.path(&format!("state/vip.{}", render_support::sim::VIP));
    // The OCID and the pair's tags, cached together.
    std::fs::write(
        &cached,
        "ocid1.privateip.oc1.iad.aaaaaaaagonegonegonegonegonegonegonegonegone\n\"vipsetup-pair\": \"agent-test\"\n",
    )
    .unwrap();
    assert!(!a.once("--claim-once"));
    assert!(
        !cached.exists(),
        "a 404 must forget the cached OCID and tags: {:?}",
        sim.api_calls()
    );
    assert_eq!(sim.vip_owner(), Some(NODE1));
    assert!(a.once("--claim-once"));
    assert_eq!(sim.vip_owner(), Some(NODE2));
    let cache = std::fs::read_to_string(&cached).unwrap();
    assert_eq!(cache.lines().next(), Some(sim.vip_id.as_str()), "{cache}");
}

#[test]
fn api_errors_leave_the_state_unknown_and_are_retried() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");
    for status in [500, 429] {
        sim.json(
            "POST",
            "/_sim/faults",
            Some(&json!({"operation": "UpdatePrivateIp", "count": 1,
                "fault": {"kind": "status", "status": status, "code": "Harness", "message": "harness"}})),
        );
        assert!(
            !a.once("--claim-once"),
            "HTTP {status} must not count as claimed"
        );
        assert_eq!(sim.vip_owner(), Some(NODE1));
    }
    assert!(
        a.path(&format!("state/vip.{}", render_support::sim::VIP))
            .exists(),
        "kept on 5xx/429"
    );
    assert!(a.once("--claim-once"), "{:?}", sim.api_calls());
    assert_eq!(sim.vip_owner(), Some(NODE2));
}

#[test]
fn a_hung_call_is_cut_off_and_counts_as_unknown() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "CALL_DEADLINE='2'\n");
    sim.json(
        "PUT",
        "/_sim/latency",
        Some(&json!({"UpdatePrivateIp": 600_000})),
    );
    let start = Instant::now();
    assert!(!a.once("--claim-once"));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sim.vip_owner(), Some(NODE1));
}

/// Stops the agent (TERM by PID, then KILL) even when the test fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a condition the agent must reach; the deadline only bounds a hung test.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `eventually`, showing the agent's log and its processes if it gives up.
fn eventually_in(a: &Agent, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        if Instant::now() >= deadline {
            let log = std::fs::read_to_string(a.path("agent.stderr")).unwrap_or_default();
            panic!(
                "gave up waiting until {what}\nclaim loops: {:?}\nagent log:\n{log}",
                claim_loops(a.dir.path())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The agent reading a FIFO the test writes, as keepalived would.
fn start_agent(a: &Agent) -> (Running, std::fs::File) {
    let fifo = a.path("keepalived.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = a
        .command(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // The agent's log (logger fails here: it logs to stderr), shown by `eventually_in`.
        .stderr(std::fs::File::create(a.path("agent.stderr")).unwrap())
        .spawn()
        .unwrap();
    // Like keepalived: one writer, held open.
    let w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    (Running(child), w)
}

fn send(w: &mut std::fs::File, state: &str) {
    writeln!(w, "INSTANCE \"VIPSETUP\" {state} 150").unwrap();
    w.flush().unwrap();
}

#[test]
fn fifo_events_start_and_stop_the_claim_loop() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");
    let (agent, mut w) = start_agent(&a);

    send(&mut w, "MASTER");
    eventually("the MASTER claims the VIP", || {
        sim.vip_owner() == Some(NODE2)
    });

    // Partition heals with the API pointing at the peer: no new event, the recheck reclaims.
    operator_moves_vip(&sim, NODE1);
    eventually("the MASTER re-claims the VIP", || {
        sim.vip_owner() == Some(NODE2)
    });

    send(&mut w, "BACKUP");
    // Once stopped, the loop makes no more calls; wait for the count to settle.
    let count = || sim.count("GetPrivateIp") + sim.count("UpdatePrivateIp");
    let mut last = count();
    eventually_in(&a, "the claim loop stops after BACKUP", || {
        std::thread::sleep(Duration::from_millis(2500));
        let now = count();
        let settled = now == last;
        last = now;
        settled
    });
    operator_moves_vip(&sim, NODE1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        sim.vip_owner(),
        Some(NODE1),
        "a BACKUP must never move the VIP"
    );

    send(&mut w, "MASTER");
    eventually("MASTER again claims the VIP", || {
        sim.vip_owner() == Some(NODE2)
    });

    // keepalived stopping: TERM the agent; its claim loop must go with it.
    drop(agent);
    operator_moves_vip(&sim, NODE1);
    let settled = count();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        sim.vip_owner(),
        Some(NODE1),
        "the claim loop outlived the agent"
    );
    assert_eq!(count(), settled);
}

/// PIDs of the running claim loops (waiting or claiming) of the agent whose settings live in `dir`, each with
/// whether it holds a socket (its kept-alive connection to the API: a call in flight or done).
fn claim_loops(dir: &Path) -> Vec<(u32, bool)> {
    let env = format!("VIPSETUP_AGENT_ENV={}", dir.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains("--standby")
                && String::from_utf8_lossy(&environ).contains(&env)
        })
        .map(|pid| {
            let socket = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|fds| {
                    fds.flatten().any(|fd| {
                        std::fs::read_link(fd.path())
                            .map(|l| l.to_string_lossy().starts_with("socket:"))
                            .unwrap_or(false)
                    })
                })
                .unwrap_or(false);
            (pid, socket)
        })
        .collect()
}

#[test]
fn backup_kills_a_call_in_flight() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    // A long deadline: only the BACKUP event may end this call.
    let a = Agent::new(&sim, NODE2, "CALL_DEADLINE='600'\n");
    sim.json(
        "PUT",
        "/_sim/latency",
        Some(&json!({"UpdatePrivateIp": 600_000})),
    );
    let (_agent, mut w) = start_agent(&a);
    send(&mut w, "MASTER");
    // The call is made by the claim loop itself, on its kept-alive connection (no curl).
    let mut in_flight = Vec::new();
    eventually("the takeover hangs in flight", || {
        in_flight = claim_loops(a.dir.path())
            .into_iter()
            .filter(|(_, socket)| *socket)
            .map(|(pid, _)| pid)
            .collect();
        !in_flight.is_empty() && sim.count("UpdatePrivateIp") == 0
    });
    std::thread::sleep(Duration::from_millis(500));
    send(&mut w, "BACKUP");
    // (A new claim loop then waits for the next MASTER: not the one that was in flight.)
    eventually("BACKUP kills the call in flight", || {
        claim_loops(a.dir.path())
            .iter()
            .all(|(pid, _)| !in_flight.contains(pid))
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.vip_owner(), Some(NODE1));
}

/// A MASTER's claim loop that stops making progress (here: stopped by SIGSTOP; on a node, a
/// recheck held by a server that stopped in the middle of an answer, which the recheck reads
/// without a timer) is replaced by the agent's watchdog, and the new one claims; a healthy one is
/// left alone.
#[test]
fn a_claim_loop_that_stops_making_progress_is_replaced() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(NODE2);
    // Stuck after CALL_DEADLINE + CONNECT_TIMEOUT + WATCH_INTERVAL + 2 x BACKOFF_MAX = 10 s.
    let a = Agent::new(&sim, NODE2, "CALL_DEADLINE='2'\nWATCH_INTERVAL='1'\n");
    let (_agent, mut w) = start_agent(&a);
    send(&mut w, "MASTER");
    eventually("the MASTER claims the VIP", || {
        sim.vip_owner() == Some(NODE2)
    });
    let claiming = || -> Vec<u32> {
        claim_loops(a.dir.path())
            .into_iter()
            .filter(|(_, socket)| *socket)
            .map(|(pid, _)| pid)
            .collect()
    };
    // (Its background children, which record the agent's view, come and go.)
    let mut stuck = Vec::new();
    eventually("one claim loop holds a connection", || {
        stuck = claiming();
        stuck.len() == 1
    });
    let stop = |sig: &str, pid: u32| {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    };
    stop("-STOP", stuck[0]);
    // Resumed whatever happens, so that the agent's Drop can stop it.
    struct Cont(u32);
    impl Drop for Cont {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-CONT", &self.0.to_string()])
                .status();
        }
    }
    let _cont = Cont(stuck[0]);
    operator_moves_vip(&sim, NODE1);
    eventually("a new claim loop takes the VIP back", || {
        sim.vip_owner() == Some(NODE2)
    });
    eventually("the stuck claim loop is gone", || {
        claim_loops(a.dir.path())
            .iter()
            .all(|(pid, _)| *pid != stuck[0])
    });
    // The new one rechecks every second and beats: never taken for stuck.
    let mut now = Vec::new();
    eventually("one claim loop holds a connection", || {
        now = claiming();
        now.len() == 1
    });
    let gets = sim.count("GetPrivateIp");
    std::thread::sleep(Duration::from_secs(15));
    assert!(
        claiming().contains(&now[0]),
        "a healthy claim loop was replaced"
    );
    assert!(
        sim.count("GetPrivateIp") >= gets + 8,
        "it stopped rechecking"
    );
}

/// Several VIPs (issue 23): a MASTER's recheck is one ListPrivateIps of its VNIC (`vnicId`), not
/// one GetPrivateIp per VIP. It still sees a VIP moved away (absent from that list: read on its
/// own, then moved back) and a VIP deleted (absent: its GetPrivateIp answers 404, it is forgotten,
/// looked up by address and made again on this VNIC, as for one VIP).
#[test]
fn a_recheck_of_several_vips_is_one_list_and_still_sees_one_moved_or_deleted() {
    if !prerequisites() {
        return;
    }
    const SECOND: &str = "172.16.2.20";
    let sim = SimPair::start_with(&render_support::sim::Extras {
        vips: vec![SECOND],
        ..Default::default()
    });
    assert_eq!(
        sim.owner_of(SECOND),
        Some(NODE1),
        "apply puts every VIP on node1"
    );
    sim.be_node(NODE2);
    let a = Agent::new(&sim, NODE2, "");
    let (agent, mut w) = start_agent(&a);
    send(&mut w, "MASTER");
    eventually("the MASTER claims both VIPs", || {
        sim.vip_owner() == Some(NODE2) && sim.owner_of(SECOND) == Some(NODE2)
    });

    // Settled (RECHECK_INTERVAL 1 s): a few rechecks, each one list, and nothing else.
    std::thread::sleep(Duration::from_secs(4));
    sim.clear_log();
    std::thread::sleep(Duration::from_millis(3500));
    let calls = sim.api_calls();
    let lists = calls
        .iter()
        .filter(|(op, _)| op == "ListPrivateIps")
        .count();
    assert!(
        lists >= 2,
        "no recheck by ListPrivateIps in 3.5 s: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .all(|(op, s)| op == "ListPrivateIps" && *s == 200),
        "a recheck of two VIPs is more than one list: {calls:?}"
    );

    // One VIP moved away: absent from the list, read on its own, moved back.
    let second = sim.private_ip(SECOND)["id"].as_str().unwrap().to_string();
    sim.clear_log();
    sim.operator(
        "PUT",
        &format!("privateIps/{second}"),
        &json!({"vnicId": sim.vnics[NODE1]}).to_string(),
    );
    eventually("the MASTER moves the second VIP back", || {
        sim.owner_of(SECOND) == Some(NODE2)
    });
    let ops_seen = ops(&sim.api_calls())
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(
        ops_seen.contains(&"GetPrivateIp".to_string())
            && ops_seen.contains(&"UpdatePrivateIp".to_string()),
        "{ops_seen:?}"
    );
    assert_eq!(sim.vip_owner(), Some(NODE2), "the first VIP stayed");

    // One VIP deleted: its own read answers 404; it is made again on this VNIC.
    std::thread::sleep(Duration::from_secs(2));
    sim.clear_log();
    sim.operator("DELETE", &format!("privateIps/{second}"), "");
    eventually("the MASTER makes the deleted VIP again", || {
        let p = sim.private_ip(SECOND);
        p["id"].as_str().is_some_and(|id| id != second) && sim.owner_of(SECOND) == Some(NODE2)
    });
    let calls = sim.api_calls();
    assert!(
        calls.contains(&("GetPrivateIp".to_string(), 404))
            && calls
                .iter()
                .any(|(op, s)| op == "CreatePrivateIp" && *s == 200),
        "{calls:?}"
    );
    assert_eq!(sim.vip_owner(), Some(NODE2), "the first VIP stayed");
    drop(agent);
}

/// The tools this suite runs, printed; under the oldest-tools lane (tests/oldest-tools/run.sh)
/// they must be the lane's (bash 4.4, OpenSSL 1.1.1, keepalived 2.1.5), or the lane proved nothing.
#[test]
fn node_tools_are_the_lanes_under_the_lane() {
    oldest_tools::check("render_agent", &oldest_tools::here());
}
