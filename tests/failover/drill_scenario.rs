//! Issue 19 in the namespace harness: `apply --wait` returns ready, `vipsetup drill` fails the
//! pair over and brings the node back as BACKUP, and `apply --replace` of the VIP holder keeps
//! the VIP served. The simulator's instance actions drive the nodes (`harness::actions`).
//! Prints one line of figures (bench/drill.sh shows it); asserts outcomes, not speeds.

use crate::harness::actions::Follower;
use crate::harness::cluster::{Cluster, Options, VIP};
use crate::harness::process::Proc;
use crate::harness::wait;
use crate::{pair, NODE1, NODE2};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

const PORT: u16 = 8080;

/// Runs `vipsetup ARGS` in the cloud namespace while the nodes obey the simulator's instance
/// actions (and `each` runs between polls); returns exit code and JSON document.
fn run_obeying(
    c: &mut Cluster,
    f: &mut Follower,
    args: &[&str],
    env: &[(&str, &str)],
    mut each: impl FnMut(&Cluster),
) -> (i32, Value, String) {
    let out_path = c.lab.dir.0.join(format!("{}.out", args[0]));
    let err_path = c.lab.dir.0.join(format!("{}.err", args[0]));
    let mut child = c
        .vipsetup_command(args, env)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run vipsetup {args:?}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut failures = 0;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vipsetup {args:?} ran 600 s\n{}", c.diagnostics());
        }
        // A world dump can time out on a loaded machine: give up only when it keeps failing.
        match c.obey(f) {
            Ok(()) => failures = 0,
            Err(e) if failures < 10 => {
                failures += 1;
                eprintln!("harness: following the instance actions failed (try {failures}): {e}");
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the nodes could not follow the instance actions: {e}");
            }
        }
        each(c);
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let doc = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("vipsetup {args:?} printed no JSON ({e}): {out}\n{err}"));
    (status.code().unwrap_or(-1), doc, err)
}

/// The longest run of `false` in time-stamped samples, in seconds.
fn longest_gap(samples: &[(Instant, bool)]) -> f64 {
    let mut worst = 0.0f64;
    let mut down: Option<Instant> = None;
    for (t, ok) in samples {
        match (ok, down) {
            (false, None) => down = Some(*t),
            (true, Some(d)) => {
                worst = worst.max(t.duration_since(d).as_secs_f64());
                down = None;
            }
            _ => {}
        }
    }
    if let (Some(d), Some((t, _))) = (down, samples.last()) {
        worst = worst.max(t.duration_since(d).as_secs_f64());
    }
    worst
}

/// The TCP probe's log (`<ms> ok|fail` per line) as samples.
fn probe_samples(log: &str) -> Vec<(u64, bool)> {
    log.lines()
        .filter_map(|l| {
            let (t, r) = l.split_once(' ')?;
            Some((t.parse().ok()?, r == "ok"))
        })
        .collect()
}

#[test]
fn issue19_apply_wait_drill_and_holder_replacement() {
    let opts = Options {
        health_check: true,
        ..Options::default()
    };
    let Some((_serial, mut c)) = pair("issue19_drill", opts) else {
        return;
    };
    // OCI takes time to stop and start an instance; the simulator's default is none. Two
    // seconds each way (a guess, far shorter than OCI's) so the nodes see the states pass.
    c.sim
        .json(
            "PUT",
            "/_sim/config",
            Some(&json!({"terminatingDelayMs": 2000, "provisioningDelayMs": 2000})),
        )
        .expect("sim config");
    // A service on the VIP's port on each node, as the user's would be.
    for i in [NODE1, NODE2] {
        let mut cmd = c.lab.topo.nodes[i].command("socat");
        cmd.args([
            &format!("TCP-LISTEN:{PORT},fork,reuseaddr"),
            "SYSTEM:echo ok",
        ]);
        let log = c.lab.dir.0.join(format!("service{}.log", i + 1));
        c.lab
            .procs
            .push(Proc::spawn(&format!("node{} service", i + 1), cmd, &log).expect("socat"));
    }
    // A short heartbeat (the agent's default is 120 s), so this scenario sees one.
    for i in [NODE1, NODE2] {
        let env = c.lab.nodes[i]
            .host_path("/etc/vipsetup/agent.env")
            .expect("agent.env is placed");
        let mut text = std::fs::read_to_string(&env).expect("agent.env");
        text.push_str("HEARTBEAT_INTERVAL='5'\nWATCH_INTERVAL='5'\n");
        std::fs::write(&env, text).expect("agent.env");
    }
    c.start_both().expect("start keepalived");
    let mut f = Follower {
        booted: [Some(c.instances[0].clone()), Some(c.instances[1].clone())],
        events: Vec::new(),
    };
    let fast = [
        ("VIPSETUP_READY_POLL_MS", "500"),
        ("VIPSETUP_POLL_MS", "200"),
        ("VIPSETUP_DRILL_POLL_MS", "200"),
        ("VIPSETUP_DRILL_MOVE_SECS", "90"),
        ("VIPSETUP_DRILL_STOP_SECS", "90"),
        ("VIPSETUP_DRILL_REJOIN_SECS", "180"),
    ];

    // 1. apply --wait: ready once both agents report, one MASTER holding the VIP.
    let t = Instant::now();
    let (code, doc, err) = run_obeying(
        &mut c,
        &mut f,
        &["apply", "--auto-approve", "--wait=180s"],
        &fast,
        |_| {},
    );
    assert_eq!(code, 0, "apply --wait: {doc}\n{err}\n{}", c.diagnostics());
    assert_eq!(doc["ready"], true, "{doc}");
    let ready_secs = t.elapsed().as_secs_f64();
    assert!(
        err.contains("ready"),
        "apply --wait printed no progress:\n{err}"
    );

    // The heartbeat: node2's view (BACKUP, unchanged) is written again, with a later time.
    let seen = |st: &Value| {
        st["nodes"][NODE2]["agent"]["seen"]
            .as_str()
            .map(String::from)
    };
    let first = seen(&c.status().expect("status"));
    assert!(first.is_some(), "node2's agent wrote no heartbeat time");
    wait::until(
        "node2's heartbeat to renew its view",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || Ok((seen(&c.status()?) > first).then_some(())),
    )
    .unwrap_or_else(|e| c.fail(&e));

    // 2. The drill: node1 (the owner) soft-stopped, node2 takes over, node1 back as BACKUP.
    let (code, drill, err) =
        run_obeying(&mut c, &mut f, &["drill", "--auto-approve"], &fast, |_| {});
    assert_eq!(
        code,
        0,
        "drill: {drill}\n{err}\nevents: {:?}\n{}",
        f.events,
        c.diagnostics()
    );
    assert_eq!(drill["passed"], true, "{drill}");
    assert_eq!(drill["node"], "node1", "{drill}");
    assert_eq!(drill["vip_at_end"], "node2", "{drill}");
    let secs = |k: &str| {
        drill[k]
            .as_f64()
            .unwrap_or_else(|| panic!("drill has no {k}: {drill}"))
    };
    let (a, m, b) = (
        secs("stop_to_api_secs"),
        secs("stop_to_master_secs"),
        secs("start_to_backup_secs"),
    );
    assert!(
        f.events
            .iter()
            .any(|e| e.starts_with("node1:") && e.contains("shut down")),
        "node1 was never shut down: {:?}",
        f.events
    );
    assert_eq!(c.api_owner().unwrap(), Some(NODE2));
    let st = c.status().expect("status");
    assert_eq!(st["last_drill"]["passed"], true, "{st}");

    // A drill refuses while the pair is not ready: node1's health check fails, its keepalived
    // goes FAULT and its agent says so on its VNIC.
    c.set_unhealthy(NODE1, true).expect("unhealthy");
    wait::until(
        "status to show node1's agent FAULT",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let st = c.status()?;
            Ok(st["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x["code"] == "agent_not_in_service"))
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| c.fail(&e));
    let (code, refused) = c
        .vipsetup(&["drill", "--auto-approve"], &fast)
        .expect("drill");
    assert_eq!(code, 1, "{refused}");
    assert_eq!(refused["error"]["code"], "drill_refused", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not ready") && m.contains("FAULT")),
        "{refused}"
    );
    c.set_unhealthy(NODE1, false).expect("healthy");
    let (code, doc, err) = run_obeying(&mut c, &mut f, &["status", "--wait=180s"], &fast, |_| {});
    assert_eq!(code, 0, "status --wait: {doc}\n{err}");

    // 3. Replace the holder (node2): the VIP stays served throughout. Served means, as a VCN
    // delivers it: the node the API names holds the address (sampled here every ~100 ms); and
    // a TCP connect from the cloud namespace (every 100 ms, by a probe of its own).
    let probe_log = c.lab.dir.0.join("probe.log");
    let script = format!(
        "while :; do if timeout 0.5 bash -c 'exec 3<>/dev/tcp/{VIP}/{PORT}' 2>/dev/null; \
         then echo \"$(date +%s%3N) ok\"; else echo \"$(date +%s%3N) fail\"; fi; sleep 0.1; done"
    );
    let probe_idx = c.lab.procs.len();
    let mut pcmd = c.lab.topo.cloud.command("bash");
    pcmd.args(["-c", &script]);
    c.lab
        .procs
        .push(Proc::spawn("vip probe", pcmd, &probe_log).expect("probe"));
    let mut served: Vec<(Instant, bool)> = Vec::new();
    let (code, doc, err) = run_obeying(
        &mut c,
        &mut f,
        &[
            "apply",
            "--auto-approve",
            "--replace",
            "node2",
            "--wait=300s",
        ],
        &fast,
        |c| {
            // By address: the agent re-creates the VIP's object if it went with a VNIC.
            let owner = c
                .api_owners()
                .ok()
                .and_then(|o| o.first().copied().flatten());
            let ok = owner.is_some_and(|i| c.lab.nodes[i].has_addr(VIP).unwrap_or(false));
            served.push((Instant::now(), ok));
        },
    );
    c.lab.procs[probe_idx].stop();
    assert_eq!(
        code,
        0,
        "apply --replace node2: {doc}\n{err}\nevents: {:?}\n{}",
        f.events,
        c.diagnostics()
    );
    assert!(
        err.contains("waiting for node1 to be ready first")
            || err.contains("soft-stopping")
            || f.events.iter().any(|e| e.contains("new instance")),
        "{err}"
    );
    assert!(
        f.events
            .iter()
            .any(|e| e.starts_with("node2: new instance")),
        "node2 was not replaced: {:?}",
        f.events
    );
    let model_gap = longest_gap(&served);
    let probe = probe_samples(&std::fs::read_to_string(&probe_log).unwrap_or_default());
    assert!(probe.len() > 10, "the TCP probe did not run");
    let tcp_gap = wait::longest_gap(&probe);
    // The VIP was served all along except for the takeover itself.
    assert!(
        served.iter().filter(|(_, ok)| *ok).count() > served.len() / 2,
        "the VIP was unserved most of the replacement"
    );
    println!(
        "issue19: apply --wait ready after {ready_secs:.1} s; replacement: vcn-model gap \
         {model_gap:.1} s ({} samples), tcp probe gap {tcp_gap:.1} s ({} probes); events {:?}",
        served.len(),
        probe.len(),
        f.events
    );
    let g = model_gap.max(tcp_gap);
    println!(
        "drill: stop->api {a:.1} s, stop->master {m:.1} s, start->backup {b:.1} s, replace \
         holder: longest vip gap {g:.1} s, accel netns"
    );
}
