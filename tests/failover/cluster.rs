//! A whole VIP pair under test: the lab (namespaces, nodes), the simulator in the cloud
//! namespace holding what `vipsetup apply` created, and each node's files from the real renderer.

use super::cloud::{self, Seed, SimCtl, PORT};
use super::netns::{API_ADDR, IMDS_ADDR};
use super::node::NodeFile;
use super::prereq::Prereqs;
use super::{wait, Lab};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

pub const NODE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(172, 16, 2, 11), Ipv4Addr::new(172, 16, 2, 12)];
pub const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 2, 10);
pub const PREFIX_LEN: u8 = 24;
pub const IFACE: &str = "ens3";
pub const REGION: &str = "us-ashburn-1";
/// The IPv6 prefix of the public subnet a scenario with `public_ip` runs in (the seeded VCN's
/// /56 holds the seeded subnet's `…:1::/64`; this is the next /64).
pub const PUBLIC_SUBNET_V6: &str = "2603:c020:1:2::/64";
/// How often waits look at the API (a world dump through curl in the cloud namespace): often
/// enough for the figures printed, rarely enough not to steal CPU from the agents it observes.
pub const API_POLL: Duration = Duration::from_millis(200);
/// The file whose presence makes the blueprint's health check fail on a node (in the node's
/// private /var/lib/vipsetup, so each node has its own).
pub const UNHEALTHY_FLAG: &str = "/var/lib/vipsetup/harness-unhealthy";
/// The demo key shipped in blueprints/keys (public half only); the nodes never run sshd.
const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIpD1LTNXVbLDH4rU3VguLtrs9XRs478BOKUWzc0PESp vipsetup-quickstart-DEMO-KEY-do-not-use";

/// The knobs a scenario sets; everything else is the blueprint's defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// `failover.advert_interval` as written in the blueprint, e.g. `1` or `0.1`.
    pub advert: String,
    pub preempt: bool,
    /// `failover.recheck_interval` (seconds).
    pub recheck_interval: u32,
    /// Adds a health check (`test ! -e UNHEALTHY_FLAG`, interval 1, fall 2, rise 2).
    pub health_check: bool,
    /// The simulator's IAM propagation delay, in force when the dynamic group and policy are made.
    pub iam_delay_ms: u64,
    /// Lifetime of the session tokens the simulator issues (its default: 1200 s).
    pub session_ttl_secs: u64,
    /// IPv4 VIPs after the first (`network.vip` as a list).
    pub extra_vips: Vec<Ipv4Addr>,
    /// IPv6 VIPs (`network.vip6`), in the seeded subnet's IPv6 prefix.
    pub vips6: Vec<String>,
    /// A Notifications topic for failover alerts (`failover.notify_topic`), made in the world.
    pub topic: bool,
    /// `network.public_ip: reserved`: vipsetup makes a reserved public IP for the first VIP. The
    /// nodes' subnet is then a public one (IPv6 prefix `PUBLIC_SUBNET_V6`), not the seeded one.
    pub public_ip: bool,
    /// The simulator's delay before the metadata service shows a metadata change.
    pub metadata_delay_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // Short enough for CI minutes, long enough that two busy cores do not miss three
            // adverts in a row and cause a failover nobody asked for.
            advert: "0.5".into(),
            preempt: false,
            // Every recheck is one signed GET (curl + openssl); 2 s heals a partition quickly.
            recheck_interval: 2,
            health_check: false,
            iam_delay_ms: 0,
            session_ttl_secs: 1200,
            extra_vips: Vec::new(),
            vips6: Vec::new(),
            topic: false,
            public_ip: false,
            metadata_delay_ms: 0,
        }
    }
}

/// A reserved public IP as the simulator's world holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicIpSeen {
    pub id: String,
    pub address: String,
    /// The private IP it is assigned to.
    pub private_ip_id: String,
    /// The node whose VNIC holds that private IP.
    pub node: Option<usize>,
}

pub struct Cluster {
    pub lab: Lab,
    pub sim: SimCtl,
    pub opts: Options,
    pub instances: Vec<String>,
    pub vnics: Vec<String>,
    pub private_ip_id: String,
    pub files: Vec<Vec<NodeFile>>,
    pub seed: Seed,
    /// The alerts' topic, when `opts.topic`.
    pub topic_id: Option<String>,
}

/// The blueprint a user would write for this pair (ids from the seeded world).
pub fn blueprint_yaml(seed: &Seed, opts: &Options, topic: Option<&str>) -> String {
    let mut vips = format!("{VIP}/{PREFIX_LEN}");
    if !opts.extra_vips.is_empty() {
        let all: Vec<String> = std::iter::once(VIP)
            .chain(opts.extra_vips.iter().copied())
            .map(|v| format!("{v}/{PREFIX_LEN}"))
            .collect();
        vips = format!("[{}]", all.join(", "));
    }
    // Further `network` keys: the IPv6 VIPs, the public IP.
    let mut net = String::new();
    if !opts.vips6.is_empty() {
        net = format!("  vip6: [{}]\n", opts.vips6.join(", "));
    }
    let notify = topic
        .map(|t| format!("  notify_topic: {t}\n"))
        .unwrap_or_default();
    if opts.public_ip {
        net.push_str("  public_ip: reserved\n");
    }
    let health = if opts.health_check {
        format!(
            "  health_check:\n    command: test ! -e {UNHEALTHY_FLAG}\n    interval: 1\n    fall: 2\n    rise: 2\n"
        )
    } else {
        String::new()
    };
    format!(
        "name: harness\n\
         oci:\n  region: {REGION}\n  compartment: {compartment}\n\
         network:\n  subnet: {subnet}\n  vip: {vips}\n{net}  interface: {IFACE}\n\
         nodes:\n  - name: node1\n    private_ip: {n1}\n  - name: node2\n    private_ip: {n2}\n\
         instance:\n  shape: VM.Standard.E4.Flex\n  ocpus: 1\n  memory_gb: 8\n  image:\n    os: Oracle Linux\n    version: \"9\"\n  ssh_keys:\n    - key: {SSH_KEY}\n\
         failover:\n  preferred_node: node1\n  preempt: {preempt}\n  advert_interval: {advert}\n  recheck_interval: {recheck}\n{notify}{health}",
        compartment = seed.id("compartment_id"),
        subnet = seed.id("subnet_id"),
        n1 = NODE_IPS[0],
        n2 = NODE_IPS[1],
        preempt = opts.preempt,
        advert = opts.advert,
        recheck = opts.recheck_interval,
    )
}

/// The `write_files` entries of a rendered cloud-config, as cloud-init would write them.
pub fn write_files(cloud_config: &str) -> Result<Vec<NodeFile>, String> {
    use base64::Engine;
    let doc: serde_yaml::Value = serde_yaml::from_str(cloud_config)
        .map_err(|e| format!("rendered cloud-config is not YAML: {e}"))?;
    let entries = doc["write_files"]
        .as_sequence()
        .ok_or("rendered cloud-config has no write_files list")?;
    let mut out = Vec::new();
    for e in entries {
        let path = e["path"].as_str().ok_or("write_files entry without path")?;
        let perms = e["permissions"].as_str().unwrap_or("0644");
        let mode = u32::from_str_radix(perms.trim_start_matches("0o"), 8)
            .map_err(|_| format!("{path}: bad permissions {perms:?}"))?;
        let raw = e["content"].as_str().unwrap_or_default();
        let content = match e["encoding"].as_str() {
            None | Some("text/plain") => raw.to_string(),
            Some("b64") | Some("base64") => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(raw.trim())
                    .map_err(|e| format!("{path}: bad base64: {e}"))?,
            )
            .map_err(|e| format!("{path}: not UTF-8: {e}"))?,
            Some(other) => {
                return Err(format!(
                    "{path}: encoding {other} not handled by the harness"
                ))
            }
        };
        out.push(NodeFile {
            path: path.to_string(),
            mode,
            content,
        });
    }
    Ok(out)
}

impl Cluster {
    /// Builds the lab, seeds and starts the simulator, provisions the pair, renders and places
    /// each node's files. keepalived is not started yet.
    pub fn new(_pre: &Prereqs, opts: Options) -> Result<Cluster, String> {
        let mut lab = Lab::new(NODE_IPS, PREFIX_LEN, IFACE)?;
        let bin = Path::new(env!("CARGO_BIN_EXE_vipsetup"));
        let dir = lab.dir.0.join("cloud");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // With a public IP, the seeded (private) subnet moves aside: the nodes' subnet is made
        // public once the simulator runs (see below), at the addresses the lab wired.
        let seeded_subnet = if opts.public_ip {
            "172.16.3.0/24".to_string()
        } else {
            format!("172.16.2.0/{PREFIX_LEN}")
        };
        let mut seed = cloud::seed(bin, &dir, "172.16.0.0/16", &seeded_subnet)?;

        lab.spawn_in_cloud(
            "simulator",
            &bin.to_string_lossy(),
            &[
                "simulator",
                "serve",
                "--listen",
                &format!("0.0.0.0:{PORT}"),
                "--world",
                &seed.world.to_string_lossy(),
                "--iam-delay-ms",
                &opts.iam_delay_ms.to_string(),
                "--session-ttl-secs",
                &opts.session_ttl_secs.to_string(),
                "--metadata-delay-ms",
                &opts.metadata_delay_ms.to_string(),
                // The harness's simulator is its world file's only user: several VIPs' updates
                // are served side by side, as OCI does, not queued behind a file write each
                // (src/simulator/write_behind.rs).
                "--write-behind-ms",
                "50",
            ],
        )?;
        let sim = SimCtl {
            netns: lab.topo.cloud.name.clone(),
        };
        wait::until(
            "the simulator to answer",
            Duration::from_secs(30),
            API_POLL,
            || Ok(sim.healthy().then_some(())),
        )
        .map_err(|e| format!("{e}\n{}", lab.diagnostics()))?;

        if opts.public_ip {
            // OCI refuses a public IP on a VNIC in a subnet with prohibitPublicIpOnVnic (the
            // seeded one is private, as most are); a public subnet is made through the
            // simulator's control route, in the seeded VCN with its own IPv6 /64.
            let made = sim
                .json(
                    "POST",
                    "/_sim/subnets",
                    Some(&json!({
                        "vcnId": seed.id("vcn_id"),
                        "cidr": format!("172.16.2.0/{PREFIX_LEN}"),
                        "name": "harness-public",
                        "prohibitPublicIpOnVnic": false,
                        "dnsLabel": "pub",
                        "ipv6CidrBlock": PUBLIC_SUBNET_V6,
                    })),
                )
                .map_err(|e| format!("cannot make the public subnet: {e}"))?;
            seed.creds["subnet_id"] = made["id"].clone();
        }

        // Render exactly as `vipsetup render` does, with the settings overrides that point the
        // agent at the simulator.
        let bp_path = lab.dir.0.join("blueprint.yaml");
        let topic_id = if opts.topic {
            let made = sim
                .json(
                    "POST",
                    "/_sim/topics",
                    Some(&json!({"name": "harness-alerts"})),
                )
                .map_err(|e| format!("cannot make the alerts' topic: {e}"))?;
            Some(made["id"].as_str().ok_or("no topic id")?.to_string())
        } else {
            None
        };
        let yaml = blueprint_yaml(&seed, &opts, topic_id.as_deref());
        std::fs::write(&bp_path, &yaml).map_err(|e| format!("cannot write blueprint: {e}"))?;
        let bp = vipsetup::blueprint::parse(&yaml, &bp_path)
            .map_err(|d| format!("test blueprint rejected: {d}\n{yaml}"))?;
        let mut facts = vipsetup::render::Facts::offline(&bp).map_err(|e| e.to_string())?;
        facts.agent = vipsetup::render::AgentSettings {
            endpoint: Some(format!("http://{API_ADDR}")),
            federation_endpoint: Some(format!("http://{API_ADDR}/v1/x509")),
            metadata_base_url: Some(format!("http://{IMDS_ADDR}/opc/v2")),
            notify_endpoint: Some(format!("http://{API_ADDR}")),
            // No systemd on the nodes: the node's start script links keepalived's pid file here.
            keepalived_reload: Some("kill -HUP \"$(cat /run/keepalived.pid)\"".into()),
            ..Default::default()
        };
        let rendered = vipsetup::render::render(&bp, &facts).map_err(|e| e.to_string())?;
        let mut files = Vec::new();
        for (node, r) in lab.nodes.iter().zip(&rendered) {
            let f = write_files(&r.cloud_config)?;
            let skipped = node.place_files(&f)?;
            if !skipped.is_empty() {
                eprintln!(
                    "harness: {}: not placed (outside the node's mounts): {skipped:?}",
                    node.name
                );
            }
            files.push(f);
        }

        // The pair is built by `vipsetup apply` itself, run inside the cloud namespace against
        // the simulator as the seeded user: the instances (fixed IPs, rendered user data), the
        // NSG, the dynamic group, the policy and the VIP on node 1, exactly as a user gets them.
        let out = super::process::run(
            lab.topo
                .cloud
                .command(&bin.to_string_lossy())
                .arg("apply")
                .arg(&bp_path)
                .arg("--config-file")
                .arg(&seed.oci_config)
                .args(["--endpoint", &format!("http://127.0.0.1:{PORT}")])
                .args(["--auto-approve", "--output", "json"]),
        )
        .map_err(|e| {
            format!(
                "vipsetup apply against the simulator failed: {e}\n{}",
                lab.diagnostics()
            )
        })?;
        let applied: Value = serde_json::from_str(&out)
            .map_err(|e| format!("apply printed no JSON ({e}): {out}"))?;
        let report = &applied["report"];
        let field = |node: usize, key: &str| -> Result<String, String> {
            report["nodes"][node][key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("apply's report has no nodes[{node}].{key}: {report}"))
        };
        let instances = vec![field(0, "instance_id")?, field(1, "instance_id")?];
        let vnics = vec![field(0, "vnic_id")?, field(1, "vnic_id")?];
        let private_ip_id = report["vip_id"]
            .as_str()
            .ok_or_else(|| format!("apply's report has no vip_id: {report}"))?
            .to_string();
        Ok(Cluster {
            lab,
            sim,
            opts,
            instances,
            vnics,
            private_ip_id,
            files,
            seed,
            topic_id,
        })
    }

    pub fn start(&mut self, i: usize) -> Result<(), String> {
        self.lab.nodes[i].start_keepalived()
    }

    /// `vipsetup ARGS` against the simulator as the seeded user, from the cloud namespace, with
    /// the blueprint written for `opts` first (what a user edits between two runs); its output.
    pub fn vipsetup_edited(&self, opts: &Options, args: &[&str]) -> Result<String, String> {
        let bin = Path::new(env!("CARGO_BIN_EXE_vipsetup"));
        let bp_path = self.lab.dir.0.join("blueprint.yaml");
        let yaml = blueprint_yaml(&self.seed, opts, self.topic_id.as_deref());
        std::fs::write(&bp_path, &yaml).map_err(|e| format!("cannot write blueprint: {e}"))?;
        let mut cmd = self.lab.topo.cloud.command(&bin.to_string_lossy());
        cmd.args(args)
            .arg(&bp_path)
            .arg("--config-file")
            .arg(&self.seed.oci_config)
            .args(["--endpoint", &format!("http://127.0.0.1:{PORT}")]);
        super::process::run(&mut cmd)
    }

    /// Starts node 1, then node 2, as two instances that booted one after the other.
    pub fn start_both(&mut self) -> Result<(), String> {
        self.start(0)?;
        self.start(1)
    }

    /// Which node's VNIC the API says holds the VIP.
    pub fn api_owner(&self) -> Result<Option<usize>, String> {
        let vnic = self.sim.vip_vnic(&self.private_ip_id)?;
        Ok(vnic.and_then(|v| self.vnics.iter().position(|x| *x == v)))
    }

    /// Every VIP address of this pair: the IPv4 ones, then the IPv6 ones.
    pub fn all_vips(&self) -> Vec<String> {
        std::iter::once(VIP)
            .chain(self.opts.extra_vips.iter().copied())
            .map(|v| v.to_string())
            .chain(self.opts.vips6.iter().cloned())
            .collect()
    }

    /// For each VIP address (all_vips order), which node's VNIC the API says holds it.
    pub fn api_owners(&self) -> Result<Vec<Option<usize>>, String> {
        let world = self.sim.world()?;
        let by_addr = |kind: &str, addr: &str| -> Option<usize> {
            let docs = world["resources"][kind].as_object()?;
            let doc = docs.values().find(|d| {
                d["ipAddress"]
                    .as_str()
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                    == addr.parse::<std::net::IpAddr>().ok()
            })?;
            let vnic = doc["vnicId"].as_str()?;
            self.vnics.iter().position(|v| v == vnic)
        };
        Ok(self
            .all_vips()
            .iter()
            .map(|a| by_addr(if a.contains(':') { "ipv6" } else { "privateip" }, a))
            .collect())
    }

    /// The reserved public IP assigned to a private IP, per the simulator's world: its OCID,
    /// its address and the node whose VNIC holds that private IP (None when no reserved public
    /// IP is assigned).
    pub fn public_ip_owner(&self) -> Result<Option<PublicIpSeen>, String> {
        let world = self.sim.world()?;
        let Some(ips) = world["resources"]["publicip"].as_object() else {
            return Ok(None);
        };
        let Some(p) = ips
            .values()
            .find(|p| p["lifetime"] == "RESERVED" && p["privateIpId"].is_string())
        else {
            return Ok(None);
        };
        let private_ip = p["privateIpId"].as_str().unwrap_or_default().to_string();
        let vnic = world["resources"]["privateip"][&private_ip]["vnicId"].as_str();
        Ok(Some(PublicIpSeen {
            id: p["id"].as_str().unwrap_or_default().to_string(),
            address: p["ipAddress"].as_str().unwrap_or_default().to_string(),
            private_ip_id: private_ip,
            node: vnic.and_then(|v| self.vnics.iter().position(|x| x == v)),
        }))
    }

    /// `vipsetup status --output json` as a user runs it: the real binary in the cloud
    /// namespace, against the simulator's API as the seeded user, on the applied pair's
    /// blueprint and state. Returns the report it printed (exit 0 ready or 4 not ready; its
    /// `ready` field says which).
    pub fn status(&self) -> Result<Value, String> {
        let (code, doc) = self.vipsetup(&["status"], &[])?;
        match code {
            0 | 4 => Ok(doc),
            c => Err(format!("vipsetup status exited {c}: {doc}")),
        }
    }

    /// Runs `vipsetup ARGS BLUEPRINT --output json` in the cloud namespace against the
    /// simulator (with `env`); returns its exit code and the JSON document it printed.
    pub fn vipsetup(&self, args: &[&str], env: &[(&str, &str)]) -> Result<(i32, Value), String> {
        let out = self
            .vipsetup_command(args, env)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run vipsetup {args:?}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let doc = serde_json::from_str(&stdout).map_err(|e| {
            format!(
                "vipsetup {args:?} printed no JSON ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        Ok((out.status.code().unwrap_or(-1), doc))
    }

    /// The command `vipsetup` runs as: ARGS, the blueprint, the simulator's endpoint, JSON.
    pub fn vipsetup_command(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let bin = env!("CARGO_BIN_EXE_vipsetup");
        let mut cmd = self.lab.topo.cloud.command(bin);
        cmd.arg(args[0])
            .arg(self.lab.dir.0.join("blueprint.yaml"))
            .args(&args[1..])
            .arg("--config-file")
            .arg(&self.seed.oci_config)
            .args(["--endpoint", &format!("http://127.0.0.1:{PORT}")])
            .args(["--output", "json"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The messages published to the alerts' topic, in order.
    pub fn alerts(&self) -> Result<Vec<Value>, String> {
        let all = self.sim.json("GET", "/_sim/messages", None)?;
        let topic = self.topic_id.clone().unwrap_or_default();
        Ok(all
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["topicId"].as_str() == Some(topic.as_str()))
            .collect())
    }

    /// Waits until the API shows every VIP on node `i` and every VIP is on node `i`'s
    /// interface only.
    pub fn wait_all_owned(&self, i: usize, limit: Duration) -> Duration {
        self.wait_all_on(i, true, limit)
    }

    /// Waits until the API shows every VIP on node `i` and every VIP is on node `i`'s interface
    /// (and on no other when `alone`: a crashed keepalived leaves its addresses behind).
    pub fn wait_all_on(&self, i: usize, alone: bool, limit: Duration) -> Duration {
        let (_, took) = wait::until(
            &format!(
                "node{} to own every VIP in the API and alone in the OS",
                i + 1
            ),
            limit,
            API_POLL,
            || {
                let api = self.api_owners()?;
                let mut os = Vec::new();
                for a in self.all_vips() {
                    os.push([
                        self.lab.nodes[0].has_addr_text(&a)?,
                        self.lab.nodes[1].has_addr_text(&a)?,
                    ]);
                }
                if api.iter().all(|o| *o == Some(i))
                    && os.iter().all(|o| o[i] && !(alone && o[1 - i]))
                {
                    Ok(Some(()))
                } else {
                    Err(format!("API owners {api:?}, OS holds {os:?}"))
                }
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()));
        took
    }

    /// Which nodes have the VIP on their interface.
    pub fn os_owners(&self) -> Result<[bool; 2], String> {
        Ok([
            self.lab.nodes[0].has_addr(VIP)?,
            self.lab.nodes[1].has_addr(VIP)?,
        ])
    }

    /// Waits until the API shows node `i` and the VIP is on node `i`'s interface only.
    pub fn wait_owner(&self, i: usize, limit: Duration) -> Duration {
        let (_, took) = wait::until(
            &format!(
                "node{} to own the VIP in the API and alone in the OS",
                i + 1
            ),
            limit,
            API_POLL,
            || {
                let api = self.api_owner()?;
                let os = self.os_owners()?;
                if api == Some(i) && os[i] && !os[1 - i] {
                    Ok(Some(()))
                } else {
                    Err(format!("API owner {api:?}, OS holds {os:?}"))
                }
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()));
        took
    }

    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.diagnostics())
    }

    /// Makes node `i`'s health check fail (or pass again).
    pub fn set_unhealthy(&self, i: usize, unhealthy: bool) -> Result<(), String> {
        let host = self.lab.nodes[i]
            .host_path(UNHEALTHY_FLAG)
            .ok_or("the health flag is outside the node's mounts")?;
        if unhealthy {
            std::fs::write(&host, "harness\n").map_err(|e| e.to_string())
        } else {
            std::fs::remove_file(&host).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e.to_string())
                }
            })
        }
    }

    /// The simulator's log entries for calls node `i` made as an instance principal to
    /// `operation`, as (HTTP status, entry).
    pub fn calls_by(&self, i: usize, operation: &str) -> Result<Vec<(u16, Value)>, String> {
        let principal = format!("instance:{}", self.instances[i]);
        Ok(self
            .sim
            .log()?
            .into_iter()
            .filter(|e| e["operation"] == operation && e["principal"] == principal.as_str())
            .map(|e| (e["status"].as_u64().unwrap_or(0) as u16, e))
            .collect())
    }

    /// Successful calls node `i` made to `operation`.
    pub fn successes_by(&self, i: usize, operation: &str) -> Result<usize, String> {
        Ok(self
            .calls_by(i, operation)?
            .iter()
            .filter(|(s, _)| (200..300).contains(s))
            .count())
    }

    /// Calls node `i` made to `operation` that were refused or failed (not 2xx).
    pub fn refusals_by(&self, i: usize, operation: &str) -> Result<usize, String> {
        Ok(self
            .calls_by(i, operation)?
            .iter()
            .filter(|(s, _)| !(200..300).contains(s))
            .count())
    }

    /// Waits until node `i`'s current keepalived run has entered BACKUP and its start-up delay
    /// is over (VRRP running, so it can take over).
    pub fn wait_backup(&self, i: usize, limit: Duration) {
        wait::until(
            &format!("node{}'s keepalived to run VRRP as BACKUP", i + 1),
            limit,
            API_POLL,
            || {
                let log =
                    std::fs::read_to_string(self.lab.nodes[i].keepalived_log()).unwrap_or_default();
                let run = log.rsplit("--- start ").next().unwrap_or("");
                // keepalived reports BACKUP at once, before its start-up delay runs out.
                let delay_over = self.lab.nodes[i]
                    .vrrp_ready_at()
                    .is_some_and(|t| std::time::Instant::now() >= t);
                Ok((run.contains("Entering BACKUP STATE") && delay_over).then_some(()))
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()));
    }

    /// How many times node `i`'s keepalived has entered MASTER (all its runs so far).
    pub fn master_entries(&self, i: usize) -> usize {
        std::fs::read_to_string(self.lab.nodes[i].keepalived_log())
            .unwrap_or_default()
            .matches("Entering MASTER STATE")
            .count()
    }

    /// Waits until exactly one node holds the VIP in its OS and the API agrees; returns it.
    pub fn wait_single_owner(&self, limit: Duration) -> (usize, Duration) {
        wait::until(
            "exactly one owner, the API and the OS agreeing",
            limit,
            API_POLL,
            || {
                let api = self.api_owner()?;
                let os = self.os_owners()?;
                match (api, os) {
                    (Some(0), [true, false]) => Ok(Some(0)),
                    (Some(1), [false, true]) => Ok(Some(1)),
                    _ => Err(format!("API owner {api:?}, OS holds {os:?}")),
                }
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()))
    }

    /// Watches for `window` that node `i` stays the owner in the API and alone in the OS,
    /// failing at the first observation that says otherwise.
    pub fn assert_owner_holds(&self, i: usize, window: Duration) {
        let start = std::time::Instant::now();
        while start.elapsed() < window {
            let api = self.api_owner().unwrap_or_else(|e| self.fail(&e));
            let os = self.os_owners().unwrap_or_else(|e| self.fail(&e));
            if api != Some(i) || !os[i] || os[1 - i] {
                self.fail(&format!(
                    "node{} lost the VIP after {:.1} s: API owner {api:?}, OS holds {os:?}",
                    i + 1,
                    start.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(API_POLL);
        }
    }

    /// Random faults on the agent's private IP operations (rate 1 = every call fails).
    pub fn api_trouble(&self, on: bool) -> Result<(), String> {
        if !on {
            return self.sim.clear_faults();
        }
        let faults = json!({
            "rate": 1.0,
            "operations": ["UpdatePrivateIp", "GetPrivateIp", "ListPrivateIps"],
            "faults": [
                {"kind": "status", "status": 429, "code": "TooManyRequests", "message": "Too many requests for the user"},
                {"kind": "status", "status": 500, "code": "InternalServerError", "message": "Internal error (harness)"},
                {"kind": "drop"},
            ],
        });
        self.sim
            .call("PUT", "/_sim/faults/random", Some(&faults))
            .map(|_| ())
    }

    pub fn diagnostics(&self) -> String {
        let mut out = self.lab.diagnostics();
        out.push_str(&format!(
            "\n=== API: VIP {} on {:?} (node VNICs {:?})\n",
            self.private_ip_id,
            self.sim.vip_vnic(&self.private_ip_id),
            self.vnics
        ));
        if let Ok(log) = self.sim.log() {
            out.push_str("--- simulator log (tail)\n");
            for e in log
                .iter()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                out.push_str(&format!(
                    "{} {} {} {} {}\n",
                    e["at"], e["principal"], e["method"], e["path"], e["status"]
                ));
            }
        }
        out
    }
}
