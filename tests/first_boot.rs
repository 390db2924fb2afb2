//! First boot, for real: two VMs boot the user data of a real `vipsetup apply` through
//! cloud-init's own Oracle datasource, in a cloud namespace that forwards like a VCN; the VIP
//! is found on the preferred node in the API and the OS, answers TCP, and moves when that VM
//! loses power. See tests/first_boot/ for the twin and bench/boot.sh for the figures.

#[path = "failover/cloud.rs"]
#[allow(dead_code)]
mod cloud;
#[path = "failover/netns.rs"]
#[allow(dead_code)]
mod netns;
#[path = "failover/process.rs"]
#[allow(dead_code)]
mod process;
#[path = "failover/wait.rs"]
mod wait;

#[path = "first_boot/mod.rs"]
mod twin;

use std::time::{Duration, Instant};
use twin::{Twin, NAME_PORT, VIP};

/// Under TCG a boot plus the installer takes minutes; on a loaded 2-core machine (six builds
/// at once) cloud-init alone took over 10 minutes. A bound for hangs, not a speed target.
const BOOT_LIMIT: Duration = Duration::from_secs(1800);
const POLL: Duration = Duration::from_secs(1);

/// Warnings every OCI virtual machine gets from cloud-init, whatever its user data: 22.4's
/// DataSourceOracle reads the network configuration from the initramfs only for an iSCSI root
/// (bare metal; "virtual machine instances do not", cloudinit/sources/DataSourceOracle.py) and
/// warns before it falls back to the metadata service.
const PLATFORM_WARNINGS: &[&str] =
    &["Could not obtain network configuration from initramfs. Falling back to IMDS."];

fn check<T>(twin: &Twin, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}\n{}", twin.diagnostics()))
}

/// Waits until the VM's channel answers (the image's channel service is up).
fn wait_channel(twin: &Twin, i: usize, limit: Duration) -> Duration {
    let started = twin.vm(i).started;
    check(
        twin,
        wait::until(
            &format!("node{}'s command channel", i + 1),
            limit,
            POLL,
            || {
                twin.vm(i)
                    .exec("true", Duration::from_secs(3))
                    .map(|(rc, _)| (rc == 0).then_some(()))
            },
        ),
    );
    started.elapsed()
}

/// Waits for cloud-init's final stage on the console; returns the time since the VM started.
fn wait_cloud_init(twin: &Twin, i: usize) -> Duration {
    let vm = twin.vm(i);
    check(
        twin,
        wait::until(
            &format!("cloud-init to finish on node{}", i + 1),
            BOOT_LIMIT,
            POLL,
            || Ok(vm.console().contains(" finished at ").then_some(())),
        ),
    );
    vm.started.elapsed()
}

/// cloud-init finished with no errors, through the Oracle datasource, and logged no warnings.
fn assert_cloud_init_clean(twin: &Twin, i: usize) {
    let vm = twin.vm(i);
    let (rc, status) = check(
        twin,
        vm.exec("cloud-init status --long", Duration::from_secs(60)),
    );
    assert!(
        rc == 0 && status.contains("status: done"),
        "node{}: cloud-init did not finish cleanly (exit {rc}):\n{status}\n--- cloud-init-output.log\n{}\n{}",
        i + 1,
        vm.sh("tail -n 60 /var/log/cloud-init-output.log").unwrap_or_default(),
        twin.diagnostics()
    );
    assert!(
        status.contains("DataSourceOracle"),
        "node{}: cloud-init did not use its Oracle datasource:\n{status}",
        i + 1
    );
    let log = vm
        .sh("grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log || true")
        .unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| !PLATFORM_WARNINGS.iter().any(|w| l.contains(w)))
        .collect();
    assert!(
        warnings.is_empty(),
        "node{}: cloud-init logged warnings or errors:\n{}",
        i + 1,
        warnings.join("\n")
    );
}

/// A listener that says the node's name, opened in the node's firewall as a user would.
fn start_name_listener(twin: &Twin, i: usize) {
    let script = format!(
        "set -e\n\
         printf '[Socket]\\nListenStream={NAME_PORT}\\nAccept=yes\\n' >/run/systemd/system/vsfb-name.socket\n\
         printf '[Service]\\nExecStart=/bin/echo node{n}\\nStandardOutput=socket\\n' >/run/systemd/system/vsfb-name@.service\n\
         systemctl daemon-reload\n\
         systemctl start vsfb-name.socket\n\
         iptables -C INPUT -p tcp --dport {NAME_PORT} -j ACCEPT 2>/dev/null || iptables -I INPUT -p tcp --dport {NAME_PORT} -j ACCEPT\n",
        n = i + 1
    );
    check(twin, twin.vm(i).sh(&script).map(|_| ()));
}

/// When `unit` last became active on node `i`, as time since its VM started: the guest's
/// monotonic clock, shifted by the gap between VM start and the guest's clock starting.
fn unit_started_at(twin: &Twin, i: usize, unit: &str) -> Result<Duration, String> {
    let vm = twin.vm(i);
    let out = vm.sh(&format!(
        "cut -d' ' -f1 /proc/uptime; systemctl show {unit} -p ActiveEnterTimestampMonotonic --value"
    ))?;
    let host = vm.started.elapsed().as_secs_f64();
    let mut lines = out.lines();
    let uptime: f64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no uptime")?;
    let entered: f64 = lines
        .next()
        .and_then(|l| l.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no start time for {unit}: {out}"))?
        / 1e6;
    Ok(Duration::from_secs_f64((host - uptime).max(0.0) + entered))
}

fn keepalived_active(twin: &Twin, i: usize) -> Result<bool, String> {
    Ok(twin
        .vm(i)
        .exec("systemctl is-active keepalived", Duration::from_secs(20))?
        .1
        .trim()
        == "active")
}

/// Waits until the API shows node `i` as owner, the VIP is in node `i`'s OS only, and a TCP
/// connection to the VIP is answered by node `i`.
fn wait_owner(twin: &Twin, i: usize, others_up: bool, limit: Duration) -> Duration {
    let (_, took) = check(
        twin,
        wait::until(
            &format!("node{} to own the VIP (API, OS, TCP)", i + 1),
            limit,
            POLL,
            || {
                let api = twin.api_owner()?;
                let os = twin.os_has_vip(i)?;
                let other = if others_up {
                    twin.os_has_vip(1 - i)?
                } else {
                    false
                };
                let heard = twin.ask_vip().unwrap_or_else(|e| format!("({e})"));
                if api == Some(i) && os && !other && heard == format!("node{}", i + 1) {
                    Ok(Some(()))
                } else {
                    Err(format!(
                        "API owner {api:?}, node{} holds it: {os}, the other: {other}, TCP says {heard:?}",
                        i + 1
                    ))
                }
            },
        ),
    );
    took
}

#[test]
fn first_boot_pair_comes_up_and_fails_over() {
    if !twin::prereq::require("first_boot_pair_comes_up_and_fails_over") {
        return;
    }
    let build = Instant::now();
    let mut twin = Twin::new().unwrap_or_else(|e| panic!("setting up the twin failed: {e}"));
    eprintln!(
        "first_boot: image {} ready in {:.1} s; twin and `vipsetup apply` in {:.1} s; accel {}",
        twin.image.dir.display(),
        twin.image.took.as_secs_f64(),
        build.elapsed().as_secs_f64(),
        twin.accel.name()
    );

    // Node 1 first, node 2 right after: two instances launched together.
    for i in 0..2 {
        let r = twin.boot(i);
        check(&twin, r);
    }
    let cloud_init = [wait_cloud_init(&twin, 0), wait_cloud_init(&twin, 1)];
    for i in 0..2 {
        wait_channel(&twin, i, Duration::from_secs(120));
        assert_cloud_init_clean(&twin, i);
    }
    // keepalived came from the mirror (the image has none), and nothing beyond the twin is
    // reachable (the cloud namespace has no route out).
    let mirror_log = std::fs::read_to_string(twin.dir.0.join("mirror.log")).unwrap_or_default();
    for ip in twin::NODE_IPS {
        assert!(
            mirror_log
                .lines()
                // apt asks for the Packages file's Filename: `/debian/./keepalived_...`.
                .any(|l| l.starts_with(&format!("{ip} "))
                    && l.contains("\"GET /debian/")
                    && l.contains("/keepalived_")
                    && l.contains("\" 200 ")),
            "{ip} never fetched keepalived from the mirror:\n{mirror_log}"
        );
    }
    let (rc, out) = check(
        &twin,
        twin.vm(0).exec(
            "curl -sS -m 5 http://198.51.100.7/",
            Duration::from_secs(30),
        ),
    );
    assert!(rc != 0, "node1 reached an address outside the twin: {out}");
    check(
        &twin,
        wait::until("keepalived active on node1", BOOT_LIMIT, POLL, || {
            Ok(keepalived_active(&twin, 0)?.then_some(()))
        }),
    );
    let keepalived_at = check(&twin, unit_started_at(&twin, 0, "keepalived"));
    for i in 0..2 {
        start_name_listener(&twin, i);
    }
    wait_owner(&twin, 0, true, BOOT_LIMIT);
    let vip_confirmed = twin.vm(0).started.elapsed();
    for i in 0..2 {
        assert!(
            check(&twin, keepalived_active(&twin, i)),
            "node{}: keepalived is not active under systemd\n{}",
            i + 1,
            twin.diagnostics()
        );
    }

    // Pull node 1's plug: the VIP moves in the API, then in node 2's OS, and answers there.
    let off = Instant::now();
    let r = twin.vms[0].as_mut().unwrap().power_off();
    check(&twin, r);
    let (_, api_moved) = check(
        &twin,
        wait::until(
            "the API to show node2 as owner",
            BOOT_LIMIT,
            Duration::from_millis(250),
            || Ok((twin.api_owner()? == Some(1)).then_some(())),
        ),
    );
    wait_owner(&twin, 1, false, Duration::from_secs(120));
    let moved = off.elapsed();

    // Node 1 boots again: BACKUP (preempt off), no stale address, the VIP stays on node 2.
    let r = twin.boot(0);
    check(&twin, r);
    wait_channel(&twin, 0, BOOT_LIMIT);
    check(
        &twin,
        wait::until(
            "node1's keepalived to enter BACKUP",
            BOOT_LIMIT,
            POLL,
            || {
                let log = twin.vm(0).sh("journalctl -b -u keepalived --no-pager")?;
                Ok(log.contains("Entering BACKUP STATE").then_some(()))
            },
        ),
    );
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(15) {
        let stale = check(&twin, twin.os_has_vip(0));
        assert!(
            !stale,
            "node1 came back with the VIP on its interface\n{}",
            twin.diagnostics()
        );
        std::thread::sleep(POLL);
    }
    wait_owner(&twin, 1, true, Duration::from_secs(30));

    eprintln!(
        "first_boot: node1 cloud-init {:.1} s, node2 cloud-init {:.1} s, node1 keepalived {:.1} s, \
         VIP on node1 {:.1} s after VM start; power-off -> API {:.1} s, -> VIP answering on node2 {:.1} s",
        cloud_init[0].as_secs_f64(),
        cloud_init[1].as_secs_f64(),
        keepalived_at.as_secs_f64(),
        vip_confirmed.as_secs_f64(),
        api_moved.as_secs_f64(),
        moved.as_secs_f64()
    );
    println!(
        "first boot: vm start->vip confirmed {:.1} s, cloud-init {:.1} s, power-off->api {:.1} s, accel {}",
        vip_confirmed.as_secs_f64(),
        cloud_init[0].as_secs_f64(),
        api_moved.as_secs_f64(),
        twin.accel.name()
    );
    let _ = VIP;
}
