//! The failover harness: two nodes and a cloud in network namespaces the test makes, real
//! keepalived and the rendered agent on the nodes (bash, curl, openssl), the OCI simulator in
//! the cloud namespace.

// The scenarios and the benchmark each use a different subset of the harness.
#![allow(dead_code)]

pub mod actions;
pub mod cloud;
pub mod cluster;
pub mod load;
pub mod netns;
pub mod node;
pub mod prereq;
pub mod process;
pub mod wait;

use netns::{Topology, PREFIX};
use node::Node;
use process::Proc;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Scenarios share the CPU with keepalived timers and the agents; running them one at a
/// time keeps the timing they observe close to a real node's.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A directory removed on drop (after every process using it has stopped).
pub struct TempRoot(pub PathBuf);

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Namespaces, per-node roots and the processes started in them. Field order is drop order:
/// nodes (keepalived and the agent) stop first, then other processes, then the namespaces go,
/// then the files.
pub struct Lab {
    pub nodes: Vec<Node>,
    pub procs: Vec<Proc>,
    pub topo: Topology,
    pub dir: TempRoot,
    pub tag: String,
}

impl Lab {
    pub fn new(node_ips: [Ipv4Addr; 2], prefix_len: u8, iface: &str) -> Result<Lab, String> {
        netns::clean_leftovers();
        let tag = netns::run_tag();
        let root = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let dir = TempRoot(root);
        let topo = Topology::build(&tag, node_ips, prefix_len, iface)?;
        let mut nodes = Vec::new();
        for (i, ns) in topo.nodes.iter().enumerate() {
            let name = format!("node{}", i + 1);
            nodes.push(Node::new(&name, &ns.name, iface, &dir.0.join(&name))?);
        }
        debug_assert!(tag.starts_with(PREFIX));
        Ok(Lab {
            nodes,
            procs: Vec::new(),
            topo,
            dir,
            tag,
        })
    }

    /// What each node and process was doing, for a failure message.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let addrs = self
                .topo
                .nodes
                .iter()
                .find(|ns| ns.name == n.netns)
                .map(|ns| ns.ipv4_addrs(&n.iface).unwrap_or_else(|e| vec![e]));
            out.push_str(&format!(
                "\n=== {} ({}) addresses {:?}\n--- keepalived log (tail)\n{}\n",
                n.name,
                n.netns,
                addrs.unwrap_or_default(),
                process::tail(&n.keepalived_log(), 40)
            ));
            for extra in n.extra_logs() {
                out.push_str(&format!(
                    "--- {} (tail)\n{}\n",
                    extra.display(),
                    process::tail(&extra, 40)
                ));
            }
        }
        for p in &self.procs {
            out.push_str(&format!(
                "\n=== {} log (tail)\n{}\n",
                p.name,
                p.log_tail(40)
            ));
        }
        out
    }

    /// Starts a long-running process in the cloud namespace, logging to `<dir>/<name>.log`.
    pub fn spawn_in_cloud(
        &mut self,
        name: &str,
        program: &str,
        args: &[&str],
    ) -> Result<usize, String> {
        let mut cmd = self.topo.cloud.command(program);
        cmd.args(args);
        let log = self.dir.0.join(format!("{name}.log"));
        self.procs.push(Proc::spawn(name, cmd, &log)?);
        Ok(self.procs.len() - 1)
    }
}
