//! Failover proven end to end: two nodes in network namespaces running real keepalived and the
//! rendered agent (bash, curl and openssl: no OCI CLI, no Python on the nodes), and the OCI
//! simulator standing in for the cloud.
//! Needs root; in CI (CI=true) a missing prerequisite fails the test, elsewhere it skips.

#[path = "failover/mod.rs"]
mod harness;

#[path = "failover/benches.rs"]
mod benches;
#[path = "failover/drill_scenario.rs"]
mod drill_scenario;
#[path = "oldest-tools/versions.rs"]
mod oldest_tools;

use harness::netns::{API_ADDR, IMDS_ADDR};
use harness::process::{alive, run_args};
use harness::{prereq, wait, Lab};
use std::net::Ipv4Addr;
use std::time::Duration;

const NODE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(172, 16, 2, 11), Ipv4Addr::new(172, 16, 2, 12)];

/// `Some(())` once `url` answers 200 from inside `ns` (a poll step for `wait::until`).
fn http_ok(ns: &harness::netns::Netns, url: &str) -> Result<Option<()>, String> {
    let args = [
        "-s",
        "-m",
        "2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        url,
    ];
    ns.exec("curl", &args)
        .map(|code| (code.trim() == "200").then_some(()))
}

/// The harness's own network: the nodes reach each other, the metadata address and the API
/// address (from their own primary address, which is how the simulator tells them apart), and
/// nothing else; and every namespace and process is gone once the lab is dropped.
#[test]
fn harness_network_reaches_only_its_own_namespaces() {
    let _serial = harness::serial();
    let Some(_pre) = prereq::require("harness_network_reaches_only_its_own_namespaces") else {
        return;
    };
    let mut lab = Lab::new(NODE_IPS, 24, "ens3").expect("lab");
    // A stand-in listener (the simulator is tested in its own scenarios): Python's http.server
    // logs each request's source address, which is what the metadata service keys on.
    // The venv's Python when there is one (CI makes it for the conformance suite), else python3.
    let venv_python = std::env::var("VIPSETUP_VENV")
        .unwrap_or_else(|_| "/opt/vipsetup-venv".into())
        + "/bin/python";
    let python = if std::path::Path::new(&venv_python).is_file() {
        venv_python
    } else {
        "python3".to_string()
    };
    let server = lab
        .spawn_in_cloud(
            "listener",
            &python,
            &["-m", "http.server", "80", "--bind", "0.0.0.0"],
        )
        .expect("listener");
    let cloud_pids = lab.topo.cloud.pids();
    let node_ns: Vec<String> = lab.topo.nodes.iter().map(|n| n.name.clone()).collect();

    for (i, addr) in [(0, IMDS_ADDR), (1, API_ADDR)] {
        let url = format!("http://{addr}/");
        let ns = &lab.topo.nodes[i];
        wait::until(
            &format!("{} to reach {url}", ns.name),
            Duration::from_secs(20),
            Duration::from_millis(100),
            || http_ok(ns, &url),
        )
        .unwrap_or_else(|e| panic!("{e}\nlistener log:\n{}", lab.procs[server].log_tail(20)));
        let log = lab.procs[server].log_tail(50);
        assert!(
            log.contains(&format!("{} - - ", NODE_IPS[i])),
            "request from {} did not come from its primary address:\n{log}",
            ns.name
        );
    }

    // Node to node over the shared link (VRRP's path), with a listener in node 2.
    let node2 = &lab.topo.nodes[1];
    let mut cmd = node2.command(&python);
    cmd.args(["-m", "http.server", "8080", "--bind", "0.0.0.0"]);
    let log = lab.dir.0.join("node2-listener.log");
    lab.procs
        .push(harness::process::Proc::spawn("node2 listener", cmd, &log).expect("spawn"));
    let node1 = &lab.topo.nodes[0];
    let url = format!("http://{}:8080/", NODE_IPS[1]);
    wait::until(
        "node1 to reach node2",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || http_ok(node1, &url),
    )
    .expect("node to node");

    // No route out: not to the internet, not to the host's addresses.
    for ns in lab.topo.nodes.iter().chain([&lab.topo.cloud]) {
        let routes = ns.ip(&["-4", "route", "show"]).expect("routes");
        assert!(
            !routes.contains("default"),
            "{} has a default route:\n{routes}",
            ns.name
        );
        for outside in ["1.1.1.1", "10.0.0.1", "192.168.1.1"] {
            let r = ns.ip(&["route", "get", outside]);
            assert!(r.is_err(), "{} has a route to {outside}: {r:?}", ns.name);
        }
    }

    let mut all_pids = cloud_pids;
    all_pids.extend(lab.topo.nodes[1].pids());
    assert!(
        !all_pids.is_empty(),
        "listeners should be running in the namespaces"
    );
    drop(lab);
    let list = run_args("ip", &["netns", "list"]).expect("netns list");
    for ns in &node_ns {
        assert!(
            !list.contains(ns.as_str()),
            "namespace {ns} left behind:\n{list}"
        );
    }
    for pid in all_pids {
        assert!(!alive(pid), "process {pid} left running");
    }
}

use harness::cluster::{Cluster, Options};

/// Serializes the scenario, checks prerequisites and builds a provisioned pair (keepalived not
/// started). `None` means skipped (outside CI, with the reason printed).
fn pair(test: &str, opts: Options) -> Option<(std::sync::MutexGuard<'static, ()>, Cluster)> {
    let serial = harness::serial();
    let pre = prereq::require(test)?;
    let cluster = Cluster::new(&pre, opts).unwrap_or_else(|e| panic!("{test}: set-up failed: {e}"));
    // The tools as a node runs them (the agent's `#!/bin/bash`, the keepalived that starts it):
    // printed, and under the oldest-tools lane they must be the lane's.
    let tools = cluster.lab.nodes[NODE1]
        .sh(oldest_tools::SCRIPT)
        .unwrap_or_else(|e| panic!("{test}: cannot read the node's tool versions: {e}"));
    oldest_tools::check(
        &format!("on a failover node ({test})"),
        &oldest_tools::line_from(&tools),
    );
    Some((serial, cluster))
}

/// Generous bounds: a takeover is the VRRP detection plus one signed request; CI shares two
/// cores between everything.
const TAKEOVER: Duration = Duration::from_secs(90);
const NODE1: usize = 0;
const NODE2: usize = 1;

/// Scenario 1: node 1 becomes MASTER and holds the VIP in the API and its OS; node 2 does not,
/// and node 2 never tries to take it.
#[test]
fn boot_node1_becomes_master_and_holds_the_vip() {
    let Some((_serial, mut c)) = pair("boot", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    // The API already pointed at node 1 (apply put the VIP there); what the agent adds is its
    // own confirmation, as an instance principal.
    wait::until(
        "node1's agent to confirm the VIP through the API",
        TAKEOVER,
        Duration::from_millis(200),
        || Ok((c.successes_by(NODE1, "GetPrivateIp")? > 0).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));
    c.assert_owner_holds(NODE1, Duration::from_secs(3));
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "node2 became MASTER at boot\n{}",
        c.diagnostics()
    );
    assert_eq!(
        c.successes_by(NODE2, "UpdatePrivateIp").unwrap(),
        0,
        "node2 moved the VIP at boot\n{}",
        c.diagnostics()
    );
}

/// Scenario 2: the dynamic group and policy take a while to reach instance principals. The
/// agent on the MASTER keeps retrying through the authorization failures and confirms the VIP
/// once the policy applies; node 2 never takes over meanwhile.
#[test]
fn iam_not_yet_propagated_at_boot_agent_retries_without_false_failover() {
    let opts = Options {
        iam_delay_ms: 12_000,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("iam_delay", opts) else {
        return;
    };
    c.start_both().expect("start keepalived");
    let started = std::time::Instant::now();
    c.wait_owner(NODE1, TAKEOVER);
    let (_, took) = wait::until(
        "node1's agent to get through once IAM has propagated",
        Duration::from_secs(120),
        Duration::from_millis(250),
        || {
            let ok = c.successes_by(NODE1, "GetPrivateIp")?
                + c.successes_by(NODE1, "UpdatePrivateIp")?;
            Ok((ok > 0).then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    let refused: usize = ["ListPrivateIps", "UpdatePrivateIp", "GetPrivateIp"]
        .iter()
        .map(|op| c.refusals_by(NODE1, op).unwrap())
        .sum();
    assert!(
        refused > 0,
        "the IAM delay had no effect: no call was refused before the policy applied\n{}",
        c.diagnostics()
    );
    println!(
        "iam_delay: {refused} refused calls, confirmed {:.1} s after the VIP was up",
        took.as_secs_f64()
    );
    c.assert_owner_holds(NODE1, Duration::from_secs(3));
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "false failover to node2\n{}",
        c.diagnostics()
    );
    assert_eq!(
        c.successes_by(NODE2, "UpdatePrivateIp").unwrap(),
        0,
        "node2 moved the VIP\n{}",
        c.diagnostics()
    );
    // Each agent's first view (its VNIC's tags, what `apply --wait` and a replacement wait for)
    // was refused with the rest, and is written at the watcher's next look once IAM applies
    // (WATCH_INTERVAL, 15 s), not a heartbeat later (HEARTBEAT_INTERVAL, 120 s from the start):
    // 100 s after keepalived's start tells the two apart with room for a loaded machine.
    for i in [NODE1, NODE2] {
        let refused = c.refusals_by(i, "GetVnic").unwrap();
        assert!(
            refused > 0,
            "node{}'s first view was not refused: the scenario did not test its retry\n{}",
            i + 1,
            c.diagnostics()
        );
    }
    let waiting_from = started.elapsed();
    let (_, viewed) = wait::until(
        "both agents' views written once IAM has propagated",
        Duration::from_secs(100).saturating_sub(waiting_from),
        Duration::from_millis(500),
        || {
            Ok((c.successes_by(NODE1, "UpdateVnic")? > 0
                && c.successes_by(NODE2, "UpdateVnic")? > 0)
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    println!(
        "iam_delay: both views written {:.1} s after keepalived started",
        (waiting_from + viewed).as_secs_f64()
    );
}

/// Scenario 3 (and 5, preemption off): SIGKILL node 1's keepalived. Node 2 takes the VIP in
/// the API and its OS; node 1, once restarted, drops the stale address and leaves the VIP on
/// node 2.
#[test]
fn crash_of_owner_moves_vip_and_returning_node_stays_backup_without_preempt() {
    let Some((_serial, mut c)) = pair("crash", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.lab.nodes[NODE1].crash_keepalived().expect("crash");
    let (_, to_api) = wait::until(
        "the API to show node2",
        TAKEOVER,
        harness::cluster::API_POLL,
        || Ok((c.api_owner()? == Some(NODE2)).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));
    wait::until(
        "the VIP in node2's OS",
        TAKEOVER,
        Duration::from_millis(50),
        || {
            Ok(c.lab.nodes[NODE2]
                .has_addr(harness::cluster::VIP)?
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    println!(
        "crash: kill -> API shows node2: {:.2} s",
        to_api.as_secs_f64()
    );

    c.start(NODE1).expect("restart node1");
    c.wait_owner(NODE2, TAKEOVER);
    // Preemption is off: node 1 comes back as BACKUP and the VIP stays where it is.
    wait::until(
        "node1's keepalived to settle as BACKUP",
        TAKEOVER,
        Duration::from_millis(100),
        || {
            let log =
                std::fs::read_to_string(c.lab.nodes[NODE1].keepalived_log()).unwrap_or_default();
            let second_run = log.rsplit("--- start ").next().unwrap_or("");
            Ok(second_run.contains("Entering BACKUP STATE").then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    c.assert_owner_holds(NODE2, Duration::from_secs(6));
}

/// Scenario 5, preemption on: node 1 returns and takes the VIP back, in the API and the OS.
#[test]
fn returning_preferred_node_takes_vip_back_with_preempt() {
    let opts = Options {
        preempt: true,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("preempt", opts) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.lab.nodes[NODE1].crash_keepalived().expect("crash");
    wait::until(
        "the API to show node2",
        TAKEOVER,
        Duration::from_millis(50),
        || Ok((c.api_owner()? == Some(NODE2)).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));
    c.start(NODE1).expect("restart node1");
    c.wait_owner(NODE1, TAKEOVER);
    c.assert_owner_holds(NODE1, Duration::from_secs(4));
}

/// Scenario 4a: a graceful stop of keepalived on the owner (what `systemctl stop` does) moves
/// the VIP, and the stopped node's OS no longer has it.
#[test]
fn graceful_stop_on_owner_moves_vip() {
    let Some((_serial, mut c)) = pair("graceful_stop", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.lab.nodes[NODE1].stop_keepalived().expect("stop");
    c.wait_owner(NODE2, TAKEOVER);
}

/// Scenario 4b: the owner's health check starts failing: it gives the VIP up, node 2 takes it.
#[test]
fn failing_health_check_on_owner_moves_vip() {
    let opts = Options {
        health_check: true,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("health_check", opts) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.set_unhealthy(NODE1, true).expect("flag");
    c.wait_owner(NODE2, TAKEOVER);
    // Healthy again, without preemption: node 1 stays BACKUP.
    c.set_unhealthy(NODE1, false).expect("flag");
    c.assert_owner_holds(NODE2, Duration::from_secs(6));
}

/// Scenario 6: VRRP between the nodes is dropped until both are MASTER, then the partition
/// heals: within a bound there is exactly one owner and the API and the OS agree.
#[test]
fn partition_then_heal_ends_with_one_owner() {
    let Some((_serial, mut c)) = pair("partition", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.lab.topo.nodes[NODE2].block_vrrp().expect("partition");
    wait::until(
        "both nodes MASTER (VIP in both OSes)",
        TAKEOVER,
        Duration::from_millis(50),
        || Ok((c.os_owners()? == [true, true]).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));
    // Let node 2's agent reach the API during the split, so the heal has something to undo.
    wait::until(
        "node2 to claim the VIP during the partition",
        TAKEOVER,
        Duration::from_millis(100),
        || Ok((c.successes_by(NODE2, "UpdatePrivateIp")? > 0).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));
    c.lab.topo.nodes[NODE2].unblock_vrrp().expect("heal");
    let (owner, took) = c.wait_single_owner(TAKEOVER);
    println!(
        "partition: healed to node{} in {:.1} s",
        owner + 1,
        took.as_secs_f64()
    );
    c.assert_owner_holds(owner, Duration::from_secs(6));
}

/// Scenario 7: the API fails (429, 500, dropped connections) while node 2 takes over; once it
/// recovers, the VIP ends on the new MASTER in the API and its OS.
#[test]
fn api_trouble_during_takeover_still_ends_on_new_master() {
    let Some((_serial, mut c)) = pair("api_trouble", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.api_trouble(true).expect("faults");
    let trouble_started = std::time::Instant::now();
    c.lab.nodes[NODE1].crash_keepalived().expect("crash");
    wait::until(
        "node2 to fail at least five calls",
        TAKEOVER,
        Duration::from_millis(100),
        || {
            let failed = ["ListPrivateIps", "UpdatePrivateIp", "GetPrivateIp"]
                .iter()
                .map(|op| c.refusals_by(NODE2, op))
                .sum::<Result<usize, String>>()?;
            Ok((failed >= 5).then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    assert_eq!(
        c.api_owner().unwrap(),
        Some(NODE1),
        "the VIP moved while every call failed"
    );
    let outage = trouble_started.elapsed();
    c.api_trouble(false).expect("clear faults");
    c.start(NODE1).expect("restart node1");
    let lag = c.wait_owner(NODE2, TAKEOVER);
    // The agent's back-off decides how long after the API's recovery the VIP follows.
    println!(
        "api_trouble: {:.1} s of failing calls, VIP on node2 {:.1} s after the API recovered",
        outage.as_secs_f64(),
        lag.as_secs_f64()
    );
}

/// Successful calls to `operation` by node `i`, as the simulator's timestamps (ms).
fn success_times(c: &Cluster, i: usize, operation: &str) -> Vec<i64> {
    c.calls_by(i, operation)
        .unwrap_or_else(|e| c.fail(&e))
        .iter()
        .filter(|(s, _)| (200..300).contains(s))
        .map(|(_, e)| e["at"].as_i64().unwrap_or(0))
        .collect()
}

/// Waits until node `i` has made `n` more successful rechecks than `before`.
fn wait_rechecks(c: &Cluster, i: usize, before: usize, n: usize, what: &str) {
    wait::until(what, TAKEOVER, Duration::from_millis(250), || {
        Ok((c.successes_by(i, "GetPrivateIp")? >= before + n).then_some(()))
    })
    .unwrap_or_else(|e| c.fail(&e));
}

/// `systemctl reload keepalived` on the owner: keepalived starts a new agent and writes it no
/// state line. The new agent finds the VIP on its interface and goes on claiming and
/// rechecking; the peer never takes over.
#[test]
fn reload_on_owner_keeps_the_claim_loop() {
    let Some((_serial, mut c)) = pair("reload", Options::default()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    wait_rechecks(&c, NODE1, 0, 1, "node1's first recheck");
    c.lab.nodes[NODE1].reload_keepalived().expect("reload");
    let syslog = c.lab.nodes[NODE1].syslog();
    wait::until(
        "the new agent to claim after the reload",
        TAKEOVER,
        Duration::from_millis(200),
        || {
            let log = std::fs::read_to_string(&syslog).unwrap_or_default();
            Ok(log.contains("(after a reload)").then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    // Rechecks after the reload come from the new agent's claim loop.
    let after_reload = c.successes_by(NODE1, "GetPrivateIp").unwrap();
    wait_rechecks(
        &c,
        NODE1,
        after_reload,
        2,
        "node1's rechecks after the reload",
    );
    c.assert_owner_holds(NODE1, Duration::from_secs(3));
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "false failover\n{}",
        c.diagnostics()
    );
    let starts = std::fs::read_to_string(&syslog)
        .unwrap_or_default()
        .matches("started for node1")
        .count();
    assert!(
        starts >= 2,
        "keepalived did not start a new agent\n{}",
        c.diagnostics()
    );
}

/// Session tokens that live 70 s: the agent renews each one 60 s before its exp, while it
/// keeps rechecking every 2 s: no failed recheck, no gap, no failover.
#[test]
fn session_token_expiring_mid_run_is_renewed_without_a_gap() {
    let opts = Options {
        session_ttl_secs: 70,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("token_expiry", opts) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    wait_rechecks(&c, NODE1, 0, 1, "node1's first recheck");
    let start = success_times(&c, NODE1, "GetPrivateIp").len();
    c.assert_owner_holds(NODE1, Duration::from_secs(35));
    let feds = c.successes_by(NODE1, "FederateX509").unwrap();
    assert!(
        feds >= 3,
        "tokens were not renewed: {feds} federations\n{}",
        c.diagnostics()
    );
    let gets = success_times(&c, NODE1, "GetPrivateIp");
    let failed = c.refusals_by(NODE1, "GetPrivateIp").unwrap();
    assert_eq!(failed, 0, "a recheck failed\n{}", c.diagnostics());
    let gap = gets[start..]
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(0);
    // Recheck every 2 s plus a federation (a key signature and a round trip) now and then.
    assert!(
        gap <= 4_000,
        "a {gap} ms gap between rechecks\n{}",
        c.diagnostics()
    );
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "false failover\n{}",
        c.diagnostics()
    );
    println!(
        "token_expiry: {} rechecks, {feds} federations, longest gap {gap} ms",
        gets.len() - start
    );
}

/// The metadata service unreachable from the owner for 25 s, with tokens that must be renewed
/// meanwhile: the renewals fail and are logged (rechecks go on with the current token while it
/// lasts, else fail as "unknown"), the VIP stays, the peer never takes over; once the service is
/// back the rechecks succeed.
#[test]
fn metadata_service_unreachable_for_a_while_is_not_a_failover() {
    let opts = Options {
        session_ttl_secs: 70,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("imds_outage", opts) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    wait_rechecks(&c, NODE1, 0, 1, "node1's first recheck");
    c.lab.topo.nodes[NODE1].block_imds().expect("block IMDS");
    c.assert_owner_holds(NODE1, Duration::from_secs(25));
    let during = c.successes_by(NODE1, "GetPrivateIp").unwrap();
    c.lab.topo.nodes[NODE1]
        .unblock_imds()
        .expect("unblock IMDS");
    wait_rechecks(&c, NODE1, during, 2, "node1's rechecks once IMDS is back");
    let log = std::fs::read_to_string(c.lab.nodes[NODE1].syslog()).unwrap_or_default();
    assert!(
        log.contains("metadata service"),
        "the outage had no effect on the agent\n{}",
        c.diagnostics()
    );
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "false failover\n{}",
        c.diagnostics()
    );
    c.assert_owner_holds(NODE1, Duration::from_secs(3));
}

/// The non-preferred node finishes installing 60 s before the preferred one. Its installer
/// waits for the preferred node's VRRP adverts before starting keepalived, so the preferred
/// node still becomes the first owner (nopreempt would otherwise keep the VIP on node 2).
#[test]
fn installs_60_s_apart_the_preferred_node_still_ends_owner() {
    let Some((_serial, mut c)) = pair("installs_apart", Options::default()) else {
        return;
    };
    let log = c.lab.dir.0.join("node2-install.log");
    let mut waiting = harness::process::Proc::spawn(
        "node2 install-agent --wait-for-peer",
        c.lab.nodes[NODE2].shell(&format!(
            "{} --wait-for-peer",
            vipsetup::render::paths::INSTALLER
        )),
        &log,
    )
    .expect("installer");
    std::thread::sleep(Duration::from_secs(60));
    assert!(
        waiting.running(),
        "node2's installer stopped waiting with no peer:\n{}",
        waiting.log_tail(20)
    );
    c.start(NODE1).expect("start node1");
    assert!(
        waiting.wait_exit(TAKEOVER),
        "node2's installer never saw node1's adverts:\n{}\n{}",
        waiting.log_tail(20),
        c.diagnostics()
    );
    c.start(NODE2).expect("start node2");
    c.wait_owner(NODE1, TAKEOVER);
    c.wait_backup(NODE2, TAKEOVER);
    c.assert_owner_holds(NODE1, Duration::from_secs(3));
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "node2 became MASTER\n{}",
        c.diagnostics()
    );
    println!(
        "installs_apart: {}",
        waiting.log_tail(3).replace('\n', " | ")
    );
}

/// Issue 12: two IPv4 VIPs, one IPv6 VIP, a reserved public IP and a topic for alerts, in a
/// public subnet. After a crash of the owner every VIP is on the new owner in the API and in its
/// OS, the public IP follows the first VIP (same OCID, same address), and exactly one alert was
/// published for that takeover (none at boot: the VIPs were already on node 1).
#[test]
fn several_vips_and_ipv6_follow_a_crash_with_one_alert() {
    let opts = Options {
        extra_vips: vec![std::net::Ipv4Addr::new(172, 16, 2, 20)],
        vips6: vec!["2603:c020:1:2::10".into()],
        topic: true,
        public_ip: true,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("several_vips", opts) else {
        return;
    };
    // apply made the reserved public IP on the first VIP, which it put on node 1.
    let public_ip = public_ip_on(&c, NODE1);
    c.start_both().expect("start");
    c.wait_all_owned(NODE1, TAKEOVER);
    // Settled: node 2 BACKUP, node 1's claim confirmed; no alert for confirming in place.
    c.wait_backup(NODE2, TAKEOVER);
    std::thread::sleep(Duration::from_secs(3));
    let before = c.alerts().expect("messages");
    assert!(before.is_empty(), "alerts at boot: {before:?}");
    c.lab.nodes[NODE1].crash_keepalived().expect("crash");
    c.wait_all_on(NODE2, false, TAKEOVER);
    // OCI moves a reserved public IP with the private IP it is assigned to: the agent moved
    // only the private IPs, and the same public IP is now on node 2's VNIC.
    assert_eq!(public_ip_on(&c, NODE2), public_ip, "the public IP changed");
    // Status's two views, read by the real binary: the API's and node 2's agent's own (its
    // VNIC's tags, written by the real agent as the instance principal, in the background).
    // Node 1's keepalived died as MASTER, so its VNIC still says MASTER: status must call that
    // view older than node 2's takeover (and nothing else), not say both nodes are MASTER.
    wait_two_views(&c, false);
    // Node 1 back (BACKUP, no preempt) drops its stale addresses: node 2 alone holds them.
    c.start(NODE1).expect("restart");
    c.wait_all_owned(NODE2, TAKEOVER);
    let (alerts, _) = wait::until(
        "the takeover's alert",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let a = c.alerts()?;
            Ok((!a.is_empty()).then_some(a))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    // A few rechecks later, still one: rechecks that find everything in place send nothing.
    std::thread::sleep(Duration::from_secs(5));
    // Node 1 back as BACKUP: once its agent has written that, the two views agree.
    wait_two_views(&c, true);
    let alerts_after = c.alerts().expect("messages");
    assert_eq!(alerts_after.len(), 1, "{alerts_after:?}");
    let body = alerts[0]["body"].as_str().unwrap_or_default();
    for want in [
        "pair: harness",
        "new owner: node2",
        "previous owner: ",
        "172.16.2.10",
        "172.16.2.20",
        "2603:c020:1:2::10",
        "why: keepalived made this node MASTER",
    ] {
        assert!(body.contains(want), "{want:?} not in the alert:\n{body}");
    }
    assert!(
        alerts[0]["publishedBy"]
            .as_str()
            .unwrap_or_default()
            .contains("instance"),
        "published as the instance principal: {}",
        alerts[0]
    );
}

/// Waits (the agents write their views in the background, and a transient error may sit in
/// one until the next call) until `vipsetup status` shows, once node 2 took everything over:
/// every VIP and the public IP on node 2 per the API; node 2's agent MASTER with a claim and no
/// error per its VNIC; the pair's policy letting node 2's instance principal write that view
/// (UpdateVnic accepted, never refused; nothing "not authorized" in node 2's log); and node 1's
/// view either BACKUP with no disagreement (`node1_back`) or a stale MASTER said as such.
fn wait_two_views(c: &Cluster, node1_back: bool) -> serde_json::Value {
    let (report, _) = wait::until(
        "status to show both views after node2's takeover",
        Duration::from_secs(45),
        Duration::from_millis(500),
        || {
            let r = c.status()?;
            two_views(c, &r, node1_back).map_err(|e| format!("{e}: {r}"))?;
            Ok(Some(r))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    report
}

fn two_views(c: &Cluster, report: &serde_json::Value, node1_back: bool) -> Result<(), String> {
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    let vips = report["vips"].as_array().cloned().unwrap_or_default();
    check(vips.len() == c.all_vips().len(), "not every VIP listed")?;
    for v in &vips {
        check(v["holder"] == "node2", "a VIP not on node2")?;
        check(
            v["last_takeover"]["by"] == "node2",
            "a VIP not taken by node2",
        )?;
    }
    check(
        report["public_ip"]["on_first_vip"] == true,
        "public IP off the first VIP",
    )?;
    let a = &report["nodes"][NODE2]["agent"];
    check(a["state"] == "MASTER", "node2's agent not MASTER")?;
    check(a["last_claim"].is_string(), "node2's agent has no claim")?;
    check(a["last_error"].is_null(), "node2's agent has an error")?;
    let said: Vec<&str> = report["disagreements"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    if node1_back {
        check(
            report["nodes"][NODE1]["agent"]["state"] == "BACKUP",
            "node1's agent not BACKUP",
        )?;
        check(said.is_empty(), "views disagree")?;
    } else {
        check(
            said.len() == 1
                && said[0].starts_with("node1's agent last reported MASTER at ")
                && said[0].contains(", before node2 took the VIPs over at "),
            "node1's view not called stale (alone)",
        )?;
    }
    let calls = c.calls_by(NODE2, "UpdateVnic")?;
    check(
        !calls.is_empty() && calls.iter().all(|(s, _)| (200..300).contains(s)),
        &format!("node2's UpdateVnic calls: {calls:?}"),
    )?;
    let log = std::fs::read_to_string(c.lab.nodes[NODE2].syslog())
        .unwrap_or_default()
        .to_lowercase();
    check(
        !log.contains("not authorized") && !log.contains("notauthorized"),
        &format!("node2's agent was refused something:\n{log}"),
    )
}

/// The pair's reserved public IP as (OCID, address), asserted to be assigned to the first VIP
/// and that VIP to be on node `i`'s VNIC, both as the real `vipsetup status` reads them from the
/// API (GetPublicIp, GetPrivateIp) and as the simulator's world holds them.
fn public_ip_on(c: &Cluster, i: usize) -> (String, String) {
    // Polled only through a failed status run (a busy machine); what it shows is asserted.
    let (report, _) = wait::until(
        "vipsetup status to answer",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || c.status().map(Some),
    )
    .unwrap_or_else(|e| c.fail(&e));
    let p = &report["public_ip"];
    let id = p["id"].as_str().unwrap_or_default().to_string();
    let address = p["address"].as_str().unwrap_or_default().to_string();
    assert!(
        id.starts_with("ocid1.publicip.") && !address.is_empty(),
        "status shows no public IP: {report}"
    );
    assert_eq!(p["on_first_vip"], true, "not on the first VIP: {report}");
    assert_eq!(p["adopted"], false, "vipsetup made it: {report}");
    let node_name = &report["nodes"][i]["name"];
    assert_eq!(
        report["vips"][0]["holder"],
        *node_name,
        "first VIP not on node{}: {report}",
        i + 1
    );
    let seen = c
        .public_ip_owner()
        .unwrap_or_else(|e| c.fail(&e))
        .unwrap_or_else(|| c.fail("the world has no assigned reserved public IP"));
    assert_eq!(
        (seen.id.as_str(), seen.address.as_str()),
        (id.as_str(), address.as_str()),
        "status and the world disagree"
    );
    assert_eq!(seen.private_ip_id, c.private_ip_id, "not on the first VIP");
    assert_eq!(seen.node, Some(i), "the world puts it elsewhere");
    (id, address)
}

/// Issue 20: a settings change on a running pair (preempt on, another advert interval, a health
/// check and a second VIP, in one blueprint edit) goes to both nodes in place: `vipsetup apply`
/// sends the next `vipsetup-settings` version with UpdateInstance, each agent notices it at a
/// wake-up once the metadata service shows it, checks it and reloads keepalived. The VIP never
/// leaves the MASTER and is never on both nodes; no instance is replaced; the plan afterwards is
/// empty (`--detailed-exitcode` 0). Prints `live settings change: longest vip gap <G> s, overlap
/// <O> s, applied on both after <T> s` (bench/failover.sh live).
#[test]
fn live_settings_change_applies_on_both_without_a_gap_or_two_masters() {
    let opts = Options {
        advert: "0.5".into(),
        // Oracle says about a minute; a few seconds keep the scenario short and still make the
        // agents wait for the metadata service, not for the API.
        metadata_delay_ms: 3_000,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("live_settings", opts.clone()) else {
        return;
    };
    c.start_both().expect("start keepalived");
    c.wait_owner(NODE1, TAKEOVER);
    let second = Ipv4Addr::new(172, 16, 2, 20);
    let changed = Options {
        advert: "1".into(),
        preempt: true,
        health_check: true,
        extra_vips: vec![second],
        ..opts.clone()
    };
    let plan = c
        .vipsetup_edited(&changed, &["plan", "--output", "json"])
        .unwrap_or_else(|e| c.fail(&e));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let steps = plan["steps"].as_array().cloned().unwrap_or_default();
    for role in ["node1", "node2"] {
        let step = steps
            .iter()
            .find(|s| s["resource"] == role)
            .unwrap_or_else(|| c.fail(&format!("no {role} step in {plan}")));
        assert_eq!(step["action"], "update", "{role}: {step}");
        // (`path` in JSON, issue 20 item 4.) The settings version and each setting, in place.
        let changes = step["changes"].as_array().cloned().unwrap_or_default();
        for path in ["settings", "preempt", "advert_interval", "vips"] {
            assert!(
                changes.iter().any(|c| c["path"] == path),
                "{role}: no {path} in {step}"
            );
        }
        assert!(
            changes.iter().all(|c| c["forces_replacement"] == false),
            "{role}: {step}"
        );
    }

    // Who holds the VIP in the OS, sampled from before the apply until both nodes run the new
    // settings and a few seconds after (the reloads).
    let stop = std::sync::atomic::AtomicBool::new(false);
    let samples = std::sync::Mutex::new(Vec::<(std::time::Instant, [bool; 2])>::new());
    let applied_after = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(o) = c.os_owners() {
                    samples.lock().unwrap().push((std::time::Instant::now(), o));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        std::thread::sleep(Duration::from_secs(1));
        let out = c
            .vipsetup_edited(&changed, &["apply", "--auto-approve", "--output", "json"])
            .unwrap_or_else(|e| c.fail(&e));
        let sent = std::time::Instant::now();
        assert!(!out.contains("\"replace\""), "{out}");
        let version = |i: usize| {
            let p = c.lab.nodes[i]
                .root
                .join("var/lib/vipsetup/settings-version");
            std::fs::read_to_string(p).unwrap_or_default()
        };
        let (_, _) = wait::until(
            "both agents to run settings v2",
            Duration::from_secs(90),
            Duration::from_millis(100),
            || {
                Ok(
                    (version(NODE1).starts_with("v2 ") && version(NODE2).starts_with("v2 "))
                        .then_some(()),
                )
            },
        )
        .unwrap_or_else(|e| {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            c.fail(&e)
        });
        let took = sent.elapsed();
        std::thread::sleep(Duration::from_secs(5));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        took
    });
    let samples = samples.into_inner().unwrap();
    let (mut gap, mut longest_gap, mut overlap) = (None, Duration::ZERO, Duration::ZERO);
    for w in samples.windows(2) {
        let (t0, o) = w[0];
        let dt = w[1].0 - t0;
        if o[0] && o[1] {
            overlap += dt;
        }
        if !o[0] && !o[1] {
            let start = *gap.get_or_insert(t0);
            longest_gap = longest_gap.max(w[1].0 - start);
        } else {
            gap = None;
        }
    }
    // Two `ip addr` runs a sample: a gap or overlap shorter than the widest spacing can slip
    // between two samples, so the spacing must stay under the advert interval the gap is held to.
    let widest = samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    println!(
        "live settings change: longest vip gap {:.2} s, overlap {:.2} s, applied on both after {:.1} s ({} samples, widest spacing {:.2} s; metadata delay 3 s, agent wake-up every 15 s)",
        longest_gap.as_secs_f64(),
        overlap.as_secs_f64(),
        applied_after.as_secs_f64(),
        samples.len(),
        widest.as_secs_f64()
    );
    // (On a busy 2-core machine a sample can take most of a second: the bound is the new
    // advert interval, 1 s; the spacing is printed.)
    assert!(
        widest < Duration::from_secs(1),
        "samples {widest:?} apart: too coarse to see a gap of one advert interval"
    );
    assert_eq!(
        overlap,
        Duration::ZERO,
        "the VIP was on both nodes\n{}",
        c.diagnostics()
    );
    assert!(
        longest_gap < Duration::from_millis(500),
        "the VIP left the MASTER for {longest_gap:?}\n{}",
        c.diagnostics()
    );
    // The same instances run the new settings: the second VIP with the first, on node 1.
    c.wait_owner(NODE1, TAKEOVER);
    assert!(
        c.lab.nodes[NODE1].has_addr(second).unwrap(),
        "{}",
        c.diagnostics()
    );
    assert!(
        !c.lab.nodes[NODE2].has_addr(second).unwrap(),
        "{}",
        c.diagnostics()
    );
    for i in [NODE1, NODE2] {
        let conf =
            std::fs::read_to_string(c.lab.nodes[i].root.join("etc/keepalived/keepalived.conf"))
                .unwrap();
        assert!(
            conf.contains("advert_int 1\n") && !conf.contains("nopreempt"),
            "{conf}"
        );
        assert!(conf.contains("track_script"), "{conf}");
        let log = std::fs::read_to_string(c.lab.nodes[i].syslog()).unwrap_or_default();
        assert!(log.contains("settings v2 applied"), "node{}: {log}", i + 1);
    }
    assert_eq!(
        c.master_entries(NODE2),
        0,
        "node2 became MASTER\n{}",
        c.diagnostics()
    );
    c.vipsetup_edited(&changed, &["plan", "--detailed-exitcode"])
        .unwrap_or_else(|e| c.fail(&format!("plan after the change is not empty: {e}")));
    // status reads the version each agent runs from its view tags (beside its heartbeat).
    let doc = c.status().unwrap_or_else(|e| c.fail(&e));
    let nodes = doc["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(nodes.len(), 2, "{doc}");
    for n in &nodes {
        assert_eq!(n["agent"]["settings"], "v2", "{doc}");
        assert!(n["agent"]["seen"].is_string(), "{doc}");
        assert!(n["agent"]["settings_refused"].is_null(), "{doc}");
    }
}
