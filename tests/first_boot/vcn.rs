//! The cloud namespace as a VCN: each VM on its own tap (no bridge, no shared LAN), the cloud's
//! service addresses on its loopback link, and a router that sends a packet for an address to the VM
//! whose VNIC holds that private IP in the simulator, whatever ARP says.
//!
//! On OCI the VCN's virtual router answers ARP for every address in the subnet and delivers by
//! the private IP's VNIC, so a VIP that moved in the OS but not in the API is unreachable. Here:
//! `proxy_arp` on each tap answers for addresses routed to another tap, and the only routes into
//! the subnet are one /32 per private IP in the API (`Router`), replaced when the API changes.

use crate::cloud::SimCtl;
use crate::netns::Netns;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The metadata service and DNS resolver address, as on OCI.
pub const IMDS_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Where Oracle's API host names resolve in the twin (TEST-NET-1, never routed outside).
pub const API_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The package mirror (the image's apt sources point here; see image.sh).
pub const MIRROR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    ns.exec("sh", &["-c", &format!("echo {value} > {path}")])
        .map(|_| ())
}

/// Makes the cloud namespace: forwarding on, reverse-path filtering off (replies to the VMs
/// leave by the tap their route names, not the one they came in on), the service addresses up.
pub fn cloud_namespace(name: &str) -> Result<Netns, String> {
    let ns = Netns::create(name)?;
    sysctl(&ns, "net.ipv4.ip_forward", "1")?;
    sysctl(&ns, "net.ipv4.conf.all.rp_filter", "0")?;
    sysctl(&ns, "net.ipv4.conf.default.rp_filter", "0")?;
    // On the loopback link: the VMs reach them through the router, never by ARP (and this
    // kernel may lack the dummy link type).
    for addr in [IMDS_ADDR, API_ADDR, MIRROR_ADDR] {
        ns.ip(&["addr", "add", &format!("{addr}/32"), "dev", "lo"])?;
    }
    Ok(ns)
}

/// Adds VM link `tap`: the subnet's virtual router address on it without a prefix route (so
/// the subnet is reached only through the per-address routes), and proxy ARP.
pub fn add_link(ns: &Netns, tap: &str, router: Ipv4Addr, prefix_len: u8) -> Result<(), String> {
    ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"])?;
    ns.ip(&[
        "addr",
        "add",
        &format!("{router}/{prefix_len}"),
        "dev",
        tap,
        "noprefixroute",
    ])?;
    sysctl(ns, &format!("net.ipv4.conf.{tap}.proxy_arp"), "1")?;
    sysctl(ns, &format!("net.ipv4.conf.{tap}.rp_filter"), "0")?;
    ns.ip(&["link", "set", tap, "up"]).map(|_| ())
}

/// Private IP -> tap, as the API says it now: every private IP object assigned to a VNIC that
/// one of the VMs carries.
pub fn desired_routes(
    world: &Value,
    vnic_taps: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(ips) = world["resources"]["privateip"].as_object() {
        for p in ips.values() {
            let (Some(ip), Some(vnic)) = (p["ipAddress"].as_str(), p["vnicId"].as_str()) else {
                continue;
            };
            if let Some(tap) = vnic_taps.get(vnic) {
                out.insert(ip.to_string(), tap.clone());
            }
        }
    }
    out
}

/// One route change the router made, for the failure diagnostics.
pub type RouteEvent = (Duration, String);

/// Keeps the cloud namespace's /32 routes equal to the API's private IPs, polling the world.
pub struct Router {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    pub events: Arc<Mutex<Vec<RouteEvent>>>,
}

impl Router {
    /// `vnic_taps` is shared: a replacement's new VNIC is added when its VM boots.
    pub fn start(
        ns_name: &str,
        vnic_taps: Arc<Mutex<BTreeMap<String, String>>>,
        every: Duration,
    ) -> Router {
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop2, events2) = (stop.clone(), events.clone());
        let ns_name = ns_name.to_string();
        let handle = std::thread::spawn(move || {
            let sim = SimCtl {
                netns: ns_name.clone(),
            };
            let start = Instant::now();
            let mut current: BTreeMap<String, String> = BTreeMap::new();
            let ip = |args: &[&str]| {
                let mut all = vec!["-n", ns_name.as_str()];
                all.extend_from_slice(args);
                crate::process::run_args("ip", &all)
            };
            while !stop2.load(Ordering::SeqCst) {
                if let Ok(world) = sim.world() {
                    let taps = vnic_taps.lock().unwrap().clone();
                    let want = desired_routes(&world, &taps);
                    for (addr, tap) in &want {
                        if current.get(addr) != Some(tap) {
                            let r = ip(&["route", "replace", &format!("{addr}/32"), "dev", tap]);
                            let note = format!("{addr} -> {tap} {}", r.err().unwrap_or_default());
                            events2.lock().unwrap().push((start.elapsed(), note));
                        }
                    }
                    for addr in current.keys().filter(|a| !want.contains_key(*a)) {
                        let _ = ip(&["route", "del", &format!("{addr}/32")]);
                        events2
                            .lock()
                            .unwrap()
                            .push((start.elapsed(), format!("{addr} -> (none)")));
                    }
                    current = want;
                }
                std::thread::sleep(every);
            }
        });
        Router {
            stop,
            handle: Some(handle),
            events,
        }
    }

    pub fn history(&self) -> String {
        self.events
            .lock()
            .map(|e| {
                e.iter()
                    .map(|(t, n)| format!("{:7.1} s  {n}", t.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
