//! The simulator's instance actions drive the namespace nodes (issue 19): the harness looks at
//! the instances in the simulator's world and makes each node's keepalived and agent follow
//! their instance, as the OS on an OCI instance would.
//! - RUNNING: keepalived (and so the agent) runs; a new instance at the node's address (a
//!   replacement) boots from a fresh disk: the agent's state and runtime directories emptied.
//! - STOPPING/STOPPED after SOFTSTOP (or TERMINATING/TERMINATED): an ACPI shutdown: systemd
//!   stops keepalived (SIGTERM: it gives MASTER up with a priority-0 advert and removes the
//!   VIPs), then everything left of the agent. "SOFTSTOP: Gracefully shuts down the instance by
//!   sending a shutdown command to the operating system" (oci-python-sdk
//!   ComputeClient.instance_action docstring).
//! - after STOP: a power-off: keepalived and the agent killed at once (SIGKILL), and the
//!   addresses keepalived had added gone with the machine. "STOP: Powers off the instance"
//!   (same docstring).
//!
//! The harness polls (`Cluster::obey`) rather than the simulator calling out: the simulator
//! stays a plain HTTP server, and the test decides when nodes may change (between its probes).

use super::cluster::{Cluster, NODE_IPS, PREFIX_LEN};
use super::process::{alive, signal};
use serde_json::Value;

/// What the harness booted on each node: the instance OCID whose OS "runs" there.
#[derive(Default)]
pub struct Follower {
    pub booted: [Option<String>; 2],
    /// What happened, in order ("node1: SOFTSTOP -> keepalived stopped", ...).
    pub events: Vec<String>,
}

/// The instance at node `i`'s address that is not gone (the newest if several), with its
/// lifecycle state at `now_ms`.
fn current_instance(world: &Value, i: usize, now_ms: i64) -> Option<(String, &'static str)> {
    let ip = NODE_IPS[i].to_string();
    let vnics = world["resources"]["vnic"].as_object()?;
    let instances = world["resources"]["instance"].as_object()?;
    let mut found: Vec<(String, &'static str, String)> = vnics
        .values()
        .filter(|v| v["privateIp"].as_str() == Some(ip.as_str()))
        .filter_map(|v| {
            let id = v["_instanceId"].as_str()?;
            let doc = instances.get(id)?.as_object()?;
            let state = vipsetup::simulator::instance_state(doc, now_ms);
            let created = doc
                .get("timeCreated")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some((id.to_string(), state, created))
        })
        .collect();
    found.sort_by(|a, b| a.2.cmp(&b.2));
    let live = found
        .iter()
        .rev()
        .find(|(_, s, _)| !matches!(*s, "TERMINATED" | "TERMINATING"));
    live.or(found.last()).map(|(id, s, _)| (id.clone(), *s))
}

impl Cluster {
    /// The primary VNIC of `instance` in the world.
    fn vnic_of(world: &Value, instance: &str) -> Option<String> {
        world["resources"]["vnic"]
            .as_object()?
            .iter()
            .find(|(_, v)| v["_instanceId"].as_str() == Some(instance))
            .map(|(id, _)| id.clone())
    }

    /// Whether the last instance action on `instance` was a hard STOP (power-off).
    fn last_action_was_stop(&self, instance: &str) -> bool {
        self.sim
            .log()
            .unwrap_or_default()
            .iter()
            .rev()
            .find(|e| {
                e["operation"] == "InstanceAction"
                    && e["path"].as_str().is_some_and(|p| p.contains(instance))
            })
            .and_then(|e| e["path"].as_str().map(|p| p.contains("action=STOP")))
            .unwrap_or(false)
    }

    /// Makes each node follow its instance's state in the simulator (see the module doc).
    /// Call it often while something may send instance actions (a drill, a replacement).
    pub fn obey(&mut self, f: &mut Follower) -> Result<(), String> {
        let world = self.sim.world()?;
        let offset = world["clock_offset_ms"]
            .as_i64()
            .or_else(|| world["clockOffsetMs"].as_i64())
            .unwrap_or(0);
        let now_ms = vipsetup::simulator::world::wall_ms() + offset;
        for i in 0..2 {
            let Some((id, state)) = current_instance(&world, i, now_ms) else {
                continue;
            };
            let running = self.lab.nodes[i].keepalived_running();
            if state == "RUNNING" {
                if f.booted[i].as_deref() != Some(id.as_str()) || !running {
                    let fresh = f.booted[i].as_deref().is_some_and(|b| b != id);
                    if running {
                        self.shut_down(i, false)?;
                    }
                    if fresh {
                        self.fresh_disk(i)?;
                        self.instances[i] = id.clone();
                        if let Some(v) = Self::vnic_of(&world, &id) {
                            self.vnics[i] = v;
                        }
                        f.events
                            .push(format!("node{}: new instance {id} boots", i + 1));
                    } else {
                        f.events
                            .push(format!("node{}: {id} RUNNING: keepalived starts", i + 1));
                    }
                    self.lab.nodes[i].start_keepalived()?;
                    f.booted[i] = Some(id);
                }
            } else if running && !matches!(state, "PROVISIONING" | "STARTING") {
                let hard = self.last_action_was_stop(&id);
                self.shut_down(i, hard)?;
                f.events.push(format!(
                    "node{}: {id} {state}: {}",
                    i + 1,
                    if hard {
                        "powered off (keepalived and agent killed)"
                    } else {
                        "shut down (keepalived stopped)"
                    }
                ));
            }
        }
        Ok(())
    }

    /// Stops node `i`'s keepalived and everything of its agent: gracefully (SIGTERM, as systemd
    /// at shutdown) or as a power-off (SIGKILL, and the VIPs go with the machine).
    fn shut_down(&mut self, i: usize, hard: bool) -> Result<(), String> {
        let tree = self.lab.nodes[i].keepalived_tree();
        if hard {
            self.lab.nodes[i].crash_keepalived()?;
        } else {
            self.lab.nodes[i].stop_keepalived()?;
        }
        for p in tree {
            if alive(p) {
                signal(p, libc::SIGKILL);
            }
        }
        if hard {
            let ns = self.lab.topo.nodes[i].name.clone();
            for vip in self.all_vips() {
                let plen = if vip.contains(':') {
                    "64".to_string()
                } else {
                    PREFIX_LEN.to_string()
                };
                let _ = std::process::Command::new("ip")
                    .args([
                        "-n",
                        &ns,
                        "addr",
                        "del",
                        &format!("{vip}/{plen}"),
                        "dev",
                        super::cluster::IFACE,
                    ])
                    .output();
            }
        }
        Ok(())
    }

    /// A new instance's disk: the agent's state (its VNIC and VIP caches, its view) and its
    /// runtime files do not carry over from the one it replaced.
    fn fresh_disk(&self, i: usize) -> Result<(), String> {
        for dir in ["/var/lib/vipsetup", "/run/vipsetup"] {
            let Some(host) = self.lab.nodes[i].host_path(&format!("{dir}/x")) else {
                continue;
            };
            let host = host.parent().unwrap().to_path_buf();
            if let Ok(entries) = std::fs::read_dir(&host) {
                for e in entries.flatten() {
                    let p = e.path();
                    let r = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    r.map_err(|err| format!("cannot empty {}: {err}", p.display()))?;
                }
            }
        }
        Ok(())
    }
}
