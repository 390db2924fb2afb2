//! One simulated node: its rendered files bind-mounted at the paths they name inside a private
//! mount namespace, and real keepalived (which runs the agent) started and stopped by PID.

use super::process::{alive, children, run, signal, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// On-node directories the harness gives each node a private copy of. Rendered files must lie
/// under one of them; the agent's state lives in /var/lib/vipsetup.
pub const MOUNTS: &[&str] = &[
    // A node's /run is its own (keepalived's FIFO lives there); sharing the host's would let
    // one node's agent read the other's events.
    "/run",
    "/etc/keepalived",
    "/etc/vipsetup",
    "/usr/local/lib/vipsetup",
    "/var/lib/vipsetup",
];

/// A file from a node's cloud-config `write_files`.
#[derive(Clone, Debug)]
pub struct NodeFile {
    pub path: String,
    pub mode: u32,
    pub content: String,
}

pub struct Node {
    pub name: String,
    pub netns: String,
    pub iface: String,
    /// Host directory holding this node's private copies of `MOUNTS` and its logs.
    pub root: PathBuf,
    keepalived: Option<Proc>,
    starts: u32,
    started_at: Option<Instant>,
}

impl Node {
    pub fn new(name: &str, netns: &str, iface: &str, root: &Path) -> Result<Node, String> {
        for m in MOUNTS {
            let dir = root.join(m.trim_start_matches('/'));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            set_mode(&dir, 0o755)?;
            if *m == "/run" {
                continue;
            }
            // Bind mounts need the mount point to exist on the host; an empty dir is all it takes.
            std::fs::create_dir_all(m)
                .map_err(|e| format!("cannot create mount point {m}: {e}"))?;
        }
        set_mode(root, 0o755)?;
        // The nodes have no syslog daemon: a stand-in `logger` appends what the agent logs
        // (with a timestamp) to the node's syslog.log, as journald would keep it on a real node.
        let shim = root.join("logger");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\n\
                 # harness stand-in for syslog: logger [-t TAG] [--] MESSAGE...\n\
                 tag=logger\n\
                 while [ $# -gt 0 ]; do case \"$1\" in -t) tag=$2; shift 2;; --) shift; break;; -*) shift;; *) break;; esac; done\n\
                 printf '%s %s: %s\\n' \"$(date +%H:%M:%S.%N | cut -c1-12)\" \"$tag\" \"$*\" >> '{}'\n",
                root.join("syslog.log").display()
            ),
        )
        .map_err(|e| format!("cannot write logger shim: {e}"))?;
        set_mode(&shim, 0o755)?;
        Ok(Node {
            name: name.to_string(),
            netns: netns.to_string(),
            iface: iface.to_string(),
            root: root.to_path_buf(),
            keepalived: None,
            starts: 0,
            started_at: None,
        })
    }

    /// Where an on-node path lives on the host, if it is under one of `MOUNTS`.
    pub fn host_path(&self, node_path: &str) -> Option<PathBuf> {
        MOUNTS
            .iter()
            .any(|m| node_path.starts_with(&format!("{m}/")))
            .then(|| self.root.join(node_path.trim_start_matches('/')))
    }

    /// Writes the rendered files; returns the paths outside `MOUNTS` that were not placed
    /// (e.g. systemd units, which the harness replaces by starting keepalived itself).
    pub fn place_files(&self, files: &[NodeFile]) -> Result<Vec<String>, String> {
        let mut skipped = Vec::new();
        for f in files {
            let Some(host) = self.host_path(&f.path) else {
                skipped.push(f.path.clone());
                continue;
            };
            if let Some(parent) = host.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&host, &f.content)
                .map_err(|e| format!("cannot write {}: {e}", host.display()))?;
            set_mode(&host, f.mode)?;
        }
        Ok(skipped)
    }

    /// The node's log as its syslog would hold it (the agent logs through `logger`).
    pub fn syslog(&self) -> PathBuf {
        self.root.join("syslog.log")
    }

    fn mount_script(&self) -> String {
        let mut s = format!(
            "set -e; mount --bind '{}' \"$(command -v logger)\"; ",
            self.root.join("logger").display()
        );
        for m in MOUNTS {
            let src = self.root.join(m.trim_start_matches('/'));
            s.push_str(&format!("mount --bind '{}' '{m}'; ", src.display()));
        }
        s
    }

    /// A command that runs `script` (sh) on the node: its network namespace, its own mounts.
    pub fn shell(&self, script: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.netns,
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &format!("{}{script}", self.mount_script()),
        ]);
        cmd
    }

    /// Runs a short shell command on the node and returns its stdout.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        run(&mut self.shell(script))
    }

    /// Log files the agent keeps in its state dir (`*.log`), for failure messages.
    pub fn extra_logs(&self) -> Vec<PathBuf> {
        let state = self.root.join("var/lib/vipsetup");
        let mut logs: Vec<PathBuf> = std::fs::read_dir(state)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        logs.insert(0, self.syslog());
        logs
    }

    pub fn keepalived_log(&self) -> PathBuf {
        self.root.join("keepalived.log")
    }

    /// Starts keepalived in the foreground with the rendered config, as the node's service
    /// manager would. Its PID is the PID of the process the harness spawns (all `exec`s).
    pub fn start_keepalived(&mut self) -> Result<(), String> {
        if let Some(k) = self.keepalived.as_mut() {
            if k.running() {
                return Err(format!("{}: keepalived already running", self.name));
            }
        }
        self.starts += 1;
        let pid_main = self.root.join("keepalived.pid");
        let pid_vrrp = self.root.join("keepalived-vrrp.pid");
        let _ = std::fs::remove_file(&pid_main);
        let _ = std::fs::remove_file(&pid_vrrp);
        let script = format!(
            "echo '--- start {n}' >&2; ln -sf '{}' /run/keepalived.pid; exec keepalived --dont-fork --log-console --log-detail \
             --vrrp -f /etc/keepalived/keepalived.conf -p '{}' -r '{}'",
            pid_main.display(),
            pid_main.display(),
            pid_vrrp.display(),
            n = self.starts
        );
        let proc = Proc::spawn(
            &format!("{} keepalived", self.name),
            self.shell(&script),
            &self.keepalived_log(),
        )?;
        self.keepalived = Some(proc);
        self.started_at = Some(Instant::now());
        Ok(())
    }

    /// keepalived's `vrrp_startup_delay` in the node's config (zero if none): for that long
    /// after a start the node runs no VRRP and cannot take over.
    pub fn startup_delay(&self) -> Duration {
        let conf = std::fs::read_to_string(self.root.join("etc/keepalived/keepalived.conf"))
            .unwrap_or_default();
        conf.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("vrrp_startup_delay")?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(Duration::from_secs_f64)
            .unwrap_or_default()
    }

    /// When the current keepalived run's start-up delay is over (None if not started).
    pub fn vrrp_ready_at(&self) -> Option<Instant> {
        self.started_at.map(|t| t + self.startup_delay())
    }

    /// Every process of this node's keepalived: the main one and its descendants (VRRP child,
    /// the agent and whatever the agent runs).
    pub fn keepalived_tree(&self) -> Vec<u32> {
        let Some(k) = self.keepalived.as_ref() else {
            return Vec::new();
        };
        let mut all = vec![k.pid()];
        let mut i = 0;
        while i < all.len() {
            let kids = children(all[i]);
            all.extend(kids);
            i += 1;
        }
        all
    }

    /// The PID of the current run's VRRP child process (from the pid file keepalived writes
    /// with `-r`), once it has started.
    pub fn vrrp_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.root.join("keepalived-vrrp.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A crash: SIGKILL keepalived's own processes (main and VRRP child) at once, no cleanup.
    pub fn crash_keepalived(&mut self) -> Result<(), String> {
        let Some(k) = self.keepalived.as_mut() else {
            return Err(format!("{}: keepalived not started", self.name));
        };
        let main = k.pid();
        let mut pids = children(main);
        pids.push(main);
        // Freeze first, then kill: if the main process died while the VRRP child still ran,
        // the child would get its parent-death SIGTERM and leave gracefully (a priority-0
        // advert that hands over at once), which is not a crash.
        for &p in &pids {
            signal(p, libc::SIGSTOP);
        }
        for &p in &pids {
            signal(p, libc::SIGKILL);
        }
        if !k.wait_exit(Duration::from_secs(5)) {
            return Err(format!("{}: keepalived survived SIGKILL", self.name));
        }
        let start = Instant::now();
        while pids.iter().any(|&p| alive(p)) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// `systemctl reload keepalived`: SIGHUP to the main process. keepalived rereads its
    /// configuration, reopens the notify FIFO and starts a new agent (with no state line).
    pub fn reload_keepalived(&mut self) -> Result<(), String> {
        let Some(k) = self.keepalived.as_mut() else {
            return Err(format!("{}: keepalived not started", self.name));
        };
        if !k.running() {
            return Err(format!("{}: keepalived is not running", self.name));
        }
        k.signal(libc::SIGHUP);
        Ok(())
    }

    /// A graceful stop (SIGTERM, as `systemctl stop` does); waits for keepalived to exit.
    pub fn stop_keepalived(&mut self) -> Result<(), String> {
        let Some(k) = self.keepalived.as_mut() else {
            return Err(format!("{}: keepalived not started", self.name));
        };
        k.signal(libc::SIGTERM);
        if !k.wait_exit(Duration::from_secs(15)) {
            return Err(format!(
                "{}: keepalived did not stop within 15 s of SIGTERM",
                self.name
            ));
        }
        Ok(())
    }

    pub fn keepalived_running(&mut self) -> bool {
        self.keepalived
            .as_mut()
            .map(|k| k.running())
            .unwrap_or(false)
    }

    /// Whether `addr` (IPv4 or IPv6, as text) is on this node's interface (any prefix length),
    /// per `ip -4/-6 addr show`.
    pub fn has_addr_text(&self, addr: &str) -> Result<bool, String> {
        let family = if addr.contains(':') { "-6" } else { "-4" };
        let out = run(Command::new("ip").args([
            "-n",
            &self.netns,
            family,
            "-o",
            "addr",
            "show",
            "dev",
            &self.iface,
        ]))?;
        let want = format!(" {addr}/");
        Ok(out.lines().any(|l| l.contains(&want)))
    }

    /// Whether the node's interface holds `vip`.
    pub fn has_addr(&self, vip: std::net::Ipv4Addr) -> Result<bool, String> {
        self.has_addr_text(&vip.to_string())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The agent and its children may outlive keepalived; stop the whole tree by PID.
        let tree = self.keepalived_tree();
        if let Some(mut k) = self.keepalived.take() {
            k.stop();
        }
        for p in tree {
            if alive(p) {
                signal(p, libc::SIGKILL);
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}
