//! Network namespaces the harness makes (named with its prefix, the test PID and a sequence
//! number), the links between them, and removal of leftovers from runs that were killed.

use super::process::{alive, run_args, signal};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Every namespace and temp dir the harness makes starts with this, so leftovers can be found.
pub const PREFIX: &str = "vsfo";

/// The link-local address the nodes reach the instance metadata service at, as on OCI.
pub const IMDS_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The address of the API and auth endpoints (TEST-NET-1: documentation only, never routed).
pub const API_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique tag for one harness instance: `vsfo-<pid>-<seq>`.
pub fn run_tag() -> String {
    format!(
        "{PREFIX}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// One network namespace; dropping it stops every process left inside and deletes it.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: &str) -> Result<Netns, String> {
        run_args("ip", &["netns", "add", name])?;
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n <ns> ARGS...`
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_args("ip", &all)
    }

    /// Runs a program inside the namespace and returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        run_args("ip", &all)
    }

    /// A `Command` that runs `program` inside the namespace (for long-running processes).
    pub fn command(&self, program: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// IPv4 addresses on `dev`, as `a.b.c.d/len` strings.
    pub fn ipv4_addrs(&self, dev: &str) -> Result<Vec<String>, String> {
        let out = self.ip(&["-4", "-o", "addr", "show", "dev", dev])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next().map(str::to_string)
            })
            .collect())
    }

    /// Drops VRRP (IP protocol 112) in and out of this namespace with nftables: a partition
    /// between the nodes that leaves the cloud reachable.
    pub fn block_vrrp(&self) -> Result<(), String> {
        let rules = format!(
            "table inet {PREFIX}_partition {{\n\
             chain input {{ type filter hook input priority 0; policy accept; ip protocol 112 drop; }}\n\
             chain output {{ type filter hook output priority 0; policy accept; ip protocol 112 drop; }}\n\
             }}\n"
        );
        let rules_file = std::env::temp_dir().join(format!("{}-partition.nft", self.name));
        std::fs::write(&rules_file, rules).map_err(|e| format!("cannot write nft rules: {e}"))?;
        let out = self.exec("nft", &["-f", &rules_file.to_string_lossy()]);
        let _ = std::fs::remove_file(&rules_file);
        out.map(|_| ())
    }

    /// Makes the instance metadata service unreachable from this namespace (connections are
    /// refused at once by a `prohibit` route), as when the link-local service is down.
    pub fn block_imds(&self) -> Result<(), String> {
        self.ip(&["route", "add", "prohibit", &format!("{IMDS_ADDR}/32")])
            .map(|_| ())
    }

    pub fn unblock_imds(&self) -> Result<(), String> {
        self.ip(&["route", "del", "prohibit", &format!("{IMDS_ADDR}/32")])
            .map(|_| ())
    }

    /// Heals the partition made by `block_vrrp`.
    pub fn unblock_vrrp(&self) -> Result<(), String> {
        self.exec(
            "nft",
            &["delete", "table", "inet", &format!("{PREFIX}_partition")],
        )
        .map(|_| ())
    }

    /// PIDs of every process whose network namespace is this one.
    pub fn pids(&self) -> Vec<u32> {
        pids_in(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

fn pids_in(name: &str) -> Vec<u32> {
    run_args("ip", &["netns", "pids", name])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Stops (TERM, then KILL) every process inside a namespace, by PID, then deletes it.
fn remove(name: &str) {
    let pids = pids_in(name);
    for &pid in &pids {
        signal(pid, libc::SIGTERM);
    }
    let start = Instant::now();
    while pids.iter().any(|&p| alive(p)) && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in pids_in(name) {
        signal(pid, libc::SIGKILL);
    }
    let start = Instant::now();
    while !pids_in(name).iter().all(|&p| !alive(p)) && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Err(e) = run_args("ip", &["netns", "del", name]) {
        eprintln!("harness: could not delete namespace {name}: {e}");
    }
}

/// The PID in a harness name (`vsfo-<pid>-<seq>[-...]`); `None` for anything else, which the
/// harness never touches.
fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix(PREFIX)?.strip_prefix('-')?.split('-');
    let pid = parts.next()?.parse::<u32>().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    Some(pid)
}

/// Whether a harness name belongs to a live run of a harness binary (this one or another).
fn owner_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // A recycled PID that is not a test binary does not keep a leftover alive.
    alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.starts_with("failover"))
            .unwrap_or(false)
}

/// Removes namespaces and temp dirs left by harness runs that were killed before their guards ran.
pub fn clean_leftovers() {
    let list = run_args("ip", &["netns", "list"]).unwrap_or_default();
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if owner_pid(name).is_some_and(|pid| !owner_alive(pid)) {
            eprintln!("harness: removing leftover namespace {name}");
            remove(name);
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if owner_pid(&name).is_some_and(|pid| !owner_alive(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The simulated subnet: a cloud namespace with a bridge, and one namespace per node whose
/// `ens3`-like interface is a veth onto that bridge. Routes exist only for the subnet, the
/// metadata service and the API address, so nothing can leave these namespaces.
pub struct Topology {
    // Nodes first: dropping them before the cloud removes their veth ends cleanly.
    pub nodes: Vec<Netns>,
    pub cloud: Netns,
    pub node_ips: [Ipv4Addr; 2],
    pub prefix_len: u8,
    pub iface: String,
}

impl Topology {
    pub fn build(
        tag: &str,
        node_ips: [Ipv4Addr; 2],
        prefix_len: u8,
        iface: &str,
    ) -> Result<Topology, String> {
        let cloud = Netns::create(&format!("{tag}-c"))?;
        let mut nodes = Vec::new();
        cloud.ip(&["link", "add", "br0", "type", "bridge"])?;
        cloud.ip(&["link", "set", "br0", "up"])?;
        let subnet = subnet_of(node_ips[0], prefix_len);
        for (i, ip) in node_ips.iter().enumerate() {
            let ns = Netns::create(&format!("{tag}-n{}", i + 1))?;
            let veth = format!("v{}", i + 1);
            cloud.ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", iface, "netns", &ns.name,
            ])?;
            cloud.ip(&["link", "set", &veth, "master", "br0"])?;
            cloud.ip(&["link", "set", &veth, "up"])?;
            ns.ip(&["addr", "add", &format!("{ip}/{prefix_len}"), "dev", iface])?;
            ns.ip(&["link", "set", iface, "up"])?;
            let src = ip.to_string();
            for dest in [
                "169.254.0.0/16".to_string(),
                format!("{}/24", subnet_of(API_ADDR, 24)),
            ] {
                ns.ip(&["route", "add", &dest, "dev", iface, "src", &src])?;
            }
            nodes.push(ns);
        }
        for addr in [IMDS_ADDR, API_ADDR] {
            cloud.ip(&["addr", "add", &format!("{addr}/32"), "dev", "br0"])?;
        }
        cloud.ip(&[
            "route",
            "add",
            &format!("{subnet}/{prefix_len}"),
            "dev",
            "br0",
        ])?;
        Ok(Topology {
            nodes,
            cloud,
            node_ips,
            prefix_len,
            iface: iface.to_string(),
        })
    }
}

/// The network address of `ip` under a prefix length.
pub fn subnet_of(ip: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let mask = if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - prefix_len as u32)
    };
    Ipv4Addr::from(u32::from(ip) & mask)
}
