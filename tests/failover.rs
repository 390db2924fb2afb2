//! Failover proven end to end: two nodes in network namespaces running real keepalived and the
//! rendered agent, the real OCI CLI, and the OCI simulator standing in for the cloud.
//! Needs root; in CI (CI=true) a missing prerequisite fails the test, elsewhere it skips.

#[path = "failover/mod.rs"]
mod harness;

use harness::netns::{API_ADDR, IMDS_ADDR};
use harness::process::{alive, run_args};
use harness::{prereq, wait, Lab};
use std::net::Ipv4Addr;
use std::time::Duration;

const NODE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(172, 16, 2, 11), Ipv4Addr::new(172, 16, 2, 12)];

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
    let python = std::env::var("VIPSETUP_VENV").unwrap_or_else(|_| "/opt/vipsetup-venv".into())
        + "/bin/python";
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
            || {
                ns.exec(
                    "curl",
                    &[
                        "-s",
                        "-m",
                        "2",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        &url,
                    ],
                )
                .map(|code| (code.trim() == "200").then_some(()))
            },
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
        || {
            node1
                .exec(
                    "curl",
                    &[
                        "-s",
                        "-m",
                        "2",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        &url,
                    ],
                )
                .map(|code| (code.trim() == "200").then_some(()))
        },
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
