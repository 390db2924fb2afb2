//! The first-boot twin: the cloud namespace (simulator serving the API, federation and the
//! metadata service; DHCP and DNS; the package mirror; TLS for Oracle's host names) forwarding
//! like a VCN, the pair built by the real `vipsetup apply`, and the VMs that boot its user data.

pub mod actions;
pub mod image;
pub mod prereq;
pub mod timeline;
pub mod vcn;
pub mod vm;

use crate::cloud::{self, Seed, SimCtl, PORT};
use crate::netns::Netns;
use crate::process::{alive, run, run_args, tail, Proc};
use image::Image;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vcn::{Router, API_ADDR, IMDS_ADDR, MIRROR_ADDR};
use vm::{Accel, Vm};

/// Every namespace and temp dir this test makes starts with this (the failover harness uses
/// `vsfo`; each cleans only its own leftovers).
pub const PREFIX: &str = "vsfb";
pub const NODE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)];
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
pub const PREFIX_LEN: u8 = 24;
pub const REGION: &str = "us-ashburn-1";
/// The port of the listener each VM runs to say its name.
pub const NAME_PORT: u16 = 8000;
/// How often the router and the waits look at the API.
pub const API_POLL: Duration = Duration::from_millis(250);
const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIpD1LTNXVbLDH4rU3VguLtrs9XRs478BOKUWzc0PESp vipsetup-quickstart-DEMO-KEY-do-not-use";

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A directory removed on drop.
pub struct TempRoot(pub PathBuf);

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PID in a name `vsfb-<pid>-<seq>[-...]`, `None` for anything else.
fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix(PREFIX)?.strip_prefix('-')?.split('-');
    let pid = parts.next()?.parse::<u32>().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    Some(pid)
}

fn owner_alive(pid: u32) -> bool {
    pid == std::process::id()
        || (alive(pid)
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.starts_with("first_boot"))
                .unwrap_or(false))
}

/// Removes namespaces (stopping what runs in them, QEMU included) and temp dirs left by runs
/// that were killed before their guards ran.
pub fn clean_leftovers() {
    let list = run_args("ip", &["netns", "list"]).unwrap_or_default();
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if owner_pid(name).is_some_and(|pid| !owner_alive(pid)) {
            eprintln!("first_boot: removing leftover namespace {name}");
            drop(Netns {
                name: name.to_string(),
            });
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

/// The blueprint a user would write for this pair (ids from the seeded world).
fn blueprint_yaml(seed: &Seed) -> String {
    format!(
        "name: firstboot\n\
         oci:\n  region: {REGION}\n  compartment: {compartment}\n\
         network:\n  subnet: {subnet}\n  vip: {VIP}/{PREFIX_LEN}\n\
         nodes:\n  - name: node1\n    private_ip: {n1}\n  - name: node2\n    private_ip: {n2}\n\
         instance:\n  shape: VM.Standard.E4.Flex\n  ocpus: 1\n  memory_gb: 8\n  image:\n    os: Canonical Ubuntu\n    version: \"22.04\"\n  ssh_keys:\n    - key: {SSH_KEY}\n\
         failover:\n  preferred_node: node1\n  preempt: false\n",
        compartment = seed.id("compartment_id"),
        subnet = seed.id("subnet_id"),
        n1 = NODE_IPS[0],
        n2 = NODE_IPS[1],
    )
}

/// Field order is drop order: the router stops polling, the VMs stop, then the services, then
/// the namespace goes (taking anything left in it), then the files.
pub struct Twin {
    pub router: Option<Router>,
    pub vms: Vec<Option<Vm>>,
    pub procs: Vec<Proc>,
    pub ns: Netns,
    pub dir: TempRoot,
    pub sim: SimCtl,
    /// Each node's image (node 1 first): a mixed pair boots two suites.
    pub images: Vec<Image>,
    /// Seconds spent finding or building the images.
    pub images_took: Duration,
    /// When `vipsetup apply` started (the IAM propagation delay counts from its writes).
    pub apply_started: std::time::Instant,
    /// The seeded world's file (the simulator reloads it when it changes).
    pub world_file: PathBuf,
    pub accel: Accel,
    pub vnics: Vec<String>,
    /// Each node's instance id.
    pub instances: Vec<String>,
    pub macs: Vec<String>,
    pub private_ip_id: String,
    /// The blueprint file and the OCI config `vipsetup` runs with (its state lives beside).
    pub blueprint: PathBuf,
    pub oci_config: PathBuf,
    /// VNIC -> tap, shared with the router (a replacement's VNIC joins on its first boot).
    pub vnic_taps: Arc<Mutex<BTreeMap<String, String>>>,
    /// Each instance's disk directory: START boots the same disk again, a new instance a new one.
    pub disks: BTreeMap<String, PathBuf>,
    /// Per slot, every MAC its instances had (dnsmasq's hosts file; the index of its process).
    pub slot_macs: Vec<Vec<String>>,
    dnsmasq: usize,
}

/// How the cloud behaves in one twin run, set before `vipsetup apply`.
#[derive(Clone, Debug)]
pub struct CloudSetup {
    /// Each node's Debian suite (node 1 first).
    pub suites: [&'static str; 2],
    /// Whether the metadata service answers `/opc/v1` (a tenancy can switch it off).
    pub imds_v1: bool,
    /// The simulator's IAM propagation delay: how long a new dynamic group or policy takes to
    /// reach instance principals.
    pub iam_delay: Duration,
}

impl Twin {
    /// Builds the images (or finds them cached), the cloud namespace and its services, and the
    /// pair with `vipsetup apply`. No VM runs yet.
    pub fn new(setup: &CloudSetup) -> Result<Twin, String> {
        clean_leftovers();
        let tag = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let root = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let dir = TempRoot(root);
        let images_start = std::time::Instant::now();
        let mut images: Vec<Image> = Vec::new();
        for suite in setup.suites {
            let built = match images.iter().find(|i| i.suite == suite) {
                Some(i) => i.clone(),
                None => image::build(suite, &dir.0.join(format!("image-build-{suite}.log")))?,
            };
            images.push(built);
        }
        let images_took = images_start.elapsed();
        let accel = vm::probe_accel(&images[0], &dir.0, Duration::from_secs(20));
        let ns = vcn::cloud_namespace(&format!("{tag}-c"))?;
        let mut procs = Vec::new();
        let bin = Path::new(env!("CARGO_BIN_EXE_vipsetup"));

        let cloud_dir = dir.0.join("cloud");
        std::fs::create_dir_all(&cloud_dir).map_err(|e| e.to_string())?;
        let seed = cloud::seed(
            bin,
            &cloud_dir,
            "10.0.0.0/16",
            &format!("10.0.0.0/{PREFIX_LEN}"),
        )?;
        let spawn = |procs: &mut Vec<Proc>, name: &str, program: &str, args: &[String]| {
            let mut cmd = ns.command(program);
            cmd.args(args);
            procs.push(Proc::spawn(name, cmd, &dir.0.join(format!("{name}.log")))?);
            Ok::<(), String>(())
        };
        spawn(
            &mut procs,
            "simulator",
            &bin.to_string_lossy(),
            &[
                "simulator".into(),
                "serve".into(),
                "--listen".into(),
                format!("0.0.0.0:{PORT}"),
                "--world".into(),
                seed.world.to_string_lossy().into_owned(),
            ],
        )?;
        let sim = SimCtl {
            netns: ns.name.clone(),
        };
        crate::wait::until(
            "the simulator to answer",
            Duration::from_secs(30),
            API_POLL,
            || Ok(sim.healthy().then_some(())),
        )?;
        sim.configure(serde_json::json!({
            "imdsV1": setup.imds_v1,
            "iamPropagationDelayMs": setup.iam_delay.as_millis() as u64,
        }))?;

        // The pair, built by `vipsetup apply` as a user runs it (here from inside the cloud
        // namespace, the only place the simulator is reachable).
        let bp_path = dir.0.join("blueprint.yaml");
        std::fs::write(&bp_path, blueprint_yaml(&seed)).map_err(|e| e.to_string())?;
        let apply_started = std::time::Instant::now();
        let apply_output = run(ns
            .command(&bin.to_string_lossy())
            .arg("apply")
            .arg(&bp_path)
            .arg("--config-file")
            .arg(&seed.oci_config)
            .args(["--endpoint", &format!("http://127.0.0.1:{PORT}")])
            .args(["--auto-approve", "--output", "json"]))
        .map_err(|e| format!("vipsetup apply against the simulator failed: {e}"))?;
        let applied: Value = serde_json::from_str(&apply_output)
            .map_err(|e| format!("apply printed no JSON ({e}): {apply_output}"))?;
        let report = &applied["report"];
        let field = |node: usize, key: &str| -> Result<String, String> {
            report["nodes"][node][key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("apply's report has no nodes[{node}].{key}: {report}"))
        };
        let vnics = vec![field(0, "vnic_id")?, field(1, "vnic_id")?];
        let private_ip_id = report["vip_id"]
            .as_str()
            .ok_or_else(|| format!("apply's report has no vip_id: {report}"))?
            .to_string();

        let world = sim.world()?;
        let vnic = |id: &str| world["resources"]["vnic"][id].clone();
        let macs = vnics
            .iter()
            .map(|v| {
                vnic(v)["macAddress"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("VNIC {v} has no macAddress in the simulator"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let instances = vnics
            .iter()
            .map(|v| {
                vnic(v)["_instanceId"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("VNIC {v} has no instance in the simulator"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let subnet_id = vnic(&vnics[0])["subnetId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let router: Ipv4Addr = world["resources"]["subnet"][&subnet_id]["virtualRouterIp"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("subnet {subnet_id} has no virtualRouterIp"))?;

        let mut vnic_taps = BTreeMap::new();
        for (i, v) in vnics.iter().enumerate() {
            let tap = format!("t{}", i + 1);
            vcn::add_link(&ns, &tap, router, PREFIX_LEN)?;
            vnic_taps.insert(v.clone(), tap);
        }

        // DHCP hands each VM its VNIC's private IP by MAC, the virtual router as gateway and the
        // VCN resolver's address (169.254.169.254) for DNS; DNS answers Oracle's host names with
        // the address the TLS front of the simulator listens on, and nothing else.
        let mut dhcp: Vec<String> = [
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--user=root",
            "--log-facility=-",
            "--log-dhcp",
            "--interface=lo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for tap in vnic_taps.values() {
            dhcp.push(format!("--interface={tap}"));
        }
        dhcp.extend([
            // Replies to a client without an address are broadcast on its tap (each VM is
            // alone on its own), never sent to the address it is being offered: that unicast
            // needs a neighbour entry on the tap, and one left INCOMPLETE by earlier traffic to
            // the node's address (the harness's probes while the VM was down) held dnsmasq's
            // OFFERs back. Seen twice (a bullseye first boot and a reboot in a drill): dnsmasq
            // logged DHCPOFFER after DHCPOFFER, the VM never sent a DHCPREQUEST and came up
            // without an IPv4 address; `ip neigh` showed 10.0.0.11 INCOMPLETE on t1.
            "--dhcp-broadcast".to_string(),
            "--dhcp-range=10.0.0.0,static,255.255.255.0,12h".to_string(),
            format!("--dhcp-option=option:router,{router}"),
            format!("--dhcp-option=option:dns-server,{IMDS_ADDR}"),
            format!("--address=/oraclecloud.com/{API_ADDR}"),
            format!(
                "--dhcp-leasefile={}",
                dir.0.join("dnsmasq.leases").display()
            ),
        ]);
        // The hosts come from a file dnsmasq re-reads on SIGHUP: a replacement's new MAC is
        // added to its slot's line, which lets dnsmasq hand the address over to it ("gives
        // dnsmasq permission to abandon a DHCP lease to one of the hardware addresses when
        // another one asks", dnsmasq(8) --dhcp-host).
        let slot_macs: Vec<Vec<String>> = macs.iter().map(|m| vec![m.clone()]).collect();
        let hosts = dir.0.join("dhcp-hosts");
        write_dhcp_hosts(&hosts, &slot_macs)?;
        dhcp.push(format!("--dhcp-hostsfile={}", hosts.display()));
        let dnsmasq = procs.len();
        spawn(&mut procs, "dnsmasq", "dnsmasq", &dhcp)?;

        // The package mirrors (OCI's regional mirrors' stand-in), one per suite, side by side.
        let mirror_root = dir.0.join("mirror-root");
        std::fs::create_dir_all(&mirror_root).map_err(|e| e.to_string())?;
        for im in &images {
            let link = mirror_root.join(&im.suite);
            if !link.exists() {
                std::os::unix::fs::symlink(im.mirror(), &link).map_err(|e| e.to_string())?;
            }
        }
        spawn(
            &mut procs,
            "mirror",
            "python3",
            &[
                "-m".into(),
                "http.server".into(),
                "8080".into(),
                "--bind".into(),
                MIRROR_ADDR.to_string(),
                "--directory".into(),
                mirror_root.to_string_lossy().into_owned(),
            ],
        )?;

        // TLS for iaas./auth.<region>.oraclecloud.com, signed by the CA the image trusts.
        // Every suite's image trusts the one CA (image.sh keeps it next to the images).
        let (cert, key) = leaf_cert(&images[0], &dir.0)?;
        spawn(
            &mut procs,
            "tls",
            "socat",
            &[
                format!(
                    "OPENSSL-LISTEN:443,bind={API_ADDR},reuseaddr,fork,cert={},key={},verify=0",
                    cert.display(),
                    key.display()
                ),
                format!("TCP:127.0.0.1:{PORT}"),
            ],
        )?;

        let vnic_taps = Arc::new(Mutex::new(vnic_taps));
        let router = Router::start(&ns.name, vnic_taps.clone(), API_POLL);
        let disks = instances
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), dir.0.join(format!("node{}", i + 1))))
            .collect();
        Ok(Twin {
            router: Some(router),
            vms: vec![None, None],
            procs,
            ns,
            dir,
            sim,
            images,
            images_took,
            apply_started,
            world_file: seed.world.clone(),
            accel,
            vnics,
            instances,
            macs,
            private_ip_id,
            blueprint: bp_path,
            oci_config: seed.oci_config.clone(),
            vnic_taps,
            disks,
            slot_macs,
            dnsmasq,
        })
    }

    /// Boots node `i` (again, after a power-off: same disk, same MAC).
    pub fn boot(&mut self, i: usize) -> Result<(), String> {
        let vm = Vm::start(
            &format!("node{}", i + 1),
            &self.ns,
            &self.images[i],
            self.accel,
            &self.macs[i],
            &format!("t{}", i + 1),
            &self.dir.0.join(format!("node{}", i + 1)),
        )?;
        self.vms[i] = Some(vm);
        Ok(())
    }

    /// Replaces node `i`'s user data (the simulator reloads its world file when it changes):
    /// the baseline boot's "install and start keepalived, nothing else".
    pub fn set_user_data(&self, i: usize, cloud_config: &str) -> Result<(), String> {
        use base64::Engine;
        let text = std::fs::read_to_string(&self.world_file)
            .map_err(|e| format!("cannot read {}: {e}", self.world_file.display()))?;
        let mut world: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let doc = world
            .pointer_mut(&format!("/resources/instance/{}", self.instances[i]))
            .ok_or_else(|| format!("no instance {} in the world file", self.instances[i]))?;
        doc["metadata"]["user_data"] =
            Value::String(base64::engine::general_purpose::STANDARD.encode(cloud_config));
        let tmp = self.world_file.with_extension("new");
        std::fs::write(&tmp, serde_json::to_vec(&world).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &self.world_file).map_err(|e| e.to_string())
    }

    /// `vipsetup ARGS` as a user runs it against the twin's cloud (from the cloud namespace),
    /// with JSON output.
    pub fn vipsetup_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.ns.command(env!("CARGO_BIN_EXE_vipsetup"));
        cmd.arg(args[0])
            .arg(&self.blueprint)
            .args(&args[1..])
            .arg("--config-file")
            .arg(&self.oci_config)
            .args(["--endpoint", &format!("http://127.0.0.1:{PORT}")])
            .args(["--output", "json"]);
        cmd
    }

    /// From now on the instance states move with the VMs (actions.rs): the simulator holds
    /// STOPPING, STARTING, PROVISIONING and TERMINATING until `obey` reports the VM's exit or
    /// start, or for OCI's 15-minute soft-stop grace at most.
    pub fn follow_actions(&self) -> Result<(), String> {
        let ms = actions::GRACE.as_millis() as u64;
        self.sim.configure(serde_json::json!({
            "terminatingDelayMs": ms,
            "provisioningDelayMs": ms,
        }))
    }

    /// One step of the hypervisor: reads the instances from the simulator and makes the VMs
    /// follow them (see actions.rs). Call it every second or so while anything may act on the
    /// instances; the events land in `f.events`.
    pub fn obey(&mut self, f: &mut actions::Follower) -> Result<(), String> {
        let world = self.sim.world()?;
        let offset = world["clock_offset_ms"]
            .as_i64()
            .or_else(|| world["clockOffsetMs"].as_i64())
            .unwrap_or(0);
        let now_ms = vipsetup::simulator::world::wall_ms() + offset;
        let views = instance_views(&world, now_ms);
        let running: Vec<bool> = self
            .vms
            .iter_mut()
            .map(|v| v.as_mut().is_some_and(|v| v.running()))
            .collect();
        let cmds = f.step(&views, &running, std::time::Instant::now());
        for cmd in cmds {
            match cmd {
                actions::Cmd::Boot { slot, instance } => {
                    self.boot_instance(&world, slot, &instance)?
                }
                actions::Cmd::AcpiPowerDown { slot } => {
                    if let Some(vm) = self.vms[slot].as_mut() {
                        vm.acpi_power_down()?;
                    }
                }
                actions::Cmd::PowerOff { slot } => {
                    if let Some(vm) = self.vms[slot].as_mut() {
                        vm.power_off()?;
                    }
                }
                actions::Cmd::Report { instance, started } => {
                    self.sim.json(
                        "POST",
                        "/_sim/instances/power",
                        Some(&serde_json::json!({
                            "instanceId": instance,
                            "event": if started { "started" } else { "exited" },
                        })),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Boots `instance` in `slot`: its own disk again, or (a new instance, a replacement) a
    /// fresh one from the image, with its VNIC's MAC on the slot's tap.
    fn boot_instance(&mut self, world: &Value, slot: usize, instance: &str) -> Result<(), String> {
        let vnic = world["resources"]["vnic"]
            .as_object()
            .and_then(|m| {
                m.iter()
                    .find(|(_, v)| v["_instanceId"].as_str() == Some(instance))
                    .map(|(id, v)| (id.clone(), v.clone()))
            })
            .ok_or_else(|| format!("instance {instance} has no VNIC in the simulator"))?;
        let mac = vnic.1["macAddress"]
            .as_str()
            .ok_or_else(|| format!("VNIC {} has no macAddress", vnic.0))?
            .to_string();
        if !self.disks.contains_key(instance) {
            let n = self.disks.len() + 1;
            self.disks.insert(
                instance.to_string(),
                self.dir.0.join(format!("node{}-{n}", slot + 1)),
            );
        }
        if !self.slot_macs[slot].contains(&mac) {
            self.slot_macs[slot].push(mac.clone());
            write_dhcp_hosts(&self.dir.0.join("dhcp-hosts"), &self.slot_macs)?;
            self.procs[self.dnsmasq].signal(libc::SIGHUP);
        }
        let tap = format!("t{}", slot + 1);
        self.vnic_taps
            .lock()
            .unwrap()
            .insert(vnic.0.clone(), tap.clone());
        self.instances[slot] = instance.to_string();
        self.vnics[slot] = vnic.0;
        self.macs[slot] = mac.clone();
        if let Some(old) = self.vms[slot].as_mut() {
            old.power_off()?;
        }
        let vm = Vm::start(
            &format!("node{}", slot + 1),
            &self.ns,
            &self.images[slot],
            self.accel,
            &mac,
            &tap,
            &self.disks[instance],
        )?;
        self.vms[slot] = Some(vm);
        Ok(())
    }

    pub fn vm(&self, i: usize) -> &Vm {
        self.vms[i].as_ref().expect("the VM is running")
    }

    /// Which node's VNIC the API says holds the VIP.
    pub fn api_owner(&self) -> Result<Option<usize>, String> {
        let vnic = self.sim.vip_vnic(&self.private_ip_id)?;
        Ok(vnic.and_then(|v| self.vnics.iter().position(|x| *x == v)))
    }

    /// Whether node `i` has the VIP on any interface (read through its channel).
    pub fn os_has_vip(&self, i: usize) -> Result<bool, String> {
        let out = self.vm(i).sh("ip -4 -o addr show")?;
        Ok(out.contains(&format!(" {VIP}/")))
    }

    /// What a TCP client in the cloud namespace hears from the VIP's listener.
    pub fn ask_vip(&self) -> Result<String, String> {
        self.ns
            .exec(
                "timeout",
                &[
                    "5",
                    "bash",
                    "-c",
                    &format!("exec 3<>/dev/tcp/{VIP}/{NAME_PORT}; cat <&3"),
                ],
            )
            .map(|s| s.trim().to_string())
    }

    /// Everything a failure message needs: consoles, service logs, routes, API view.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        // The nodes' own logs go last: a long failure message is shown cut in its middle.
        let mut nodes = String::new();
        for vm in self.vms.iter().flatten() {
            out.push_str(&format!(
                "\n=== {} console (tail)\n{}\n",
                vm.name,
                tail(&vm.dir.join("console.log"), 30)
            ));
            // The node's own logs, when its channel still answers.
            if let Ok((_, logs)) = vm.exec(
                "tail -n 25 /var/log/cloud-init-output.log; journalctl -b -u keepalived --no-pager | tail -n 25; \
                 echo '--- agent'; journalctl -b -t vipsetup-agent --no-pager | tail -n 30; \
                 echo '--- network'; journalctl -b -u networking -u vsfb-dhcp-guard --no-pager | tail -n 15; ip -br addr; \
                 echo '--- boots'; journalctl --list-boots --no-pager | tail -n 3",
                Duration::from_secs(20),
            ) {
                nodes.push_str(&format!("\n=== {} cloud-init output, keepalived, agent, network\n{logs}\n", vm.name));
            }
        }
        for p in &self.procs {
            out.push_str(&format!(
                "\n=== {} log (tail)\n{}\n",
                p.name,
                p.log_tail(25)
            ));
        }
        if let Some(r) = &self.router {
            out.push_str(&format!("\n=== routes changed\n{}\n", r.history()));
        }
        out.push_str(&format!(
            "\n=== API: VIP {} on {:?} (node VNICs {:?})\n",
            self.private_ip_id,
            self.sim.vip_vnic(&self.private_ip_id),
            self.vnics
        ));
        out.push_str(&nodes);
        out
    }
}

/// dnsmasq's hosts file: one line per slot, every MAC its instances had, its address and name.
fn write_dhcp_hosts(path: &Path, slot_macs: &[Vec<String>]) -> Result<(), String> {
    let text: String = slot_macs
        .iter()
        .enumerate()
        .map(|(i, macs)| format!("{},{},node{}\n", macs.join(","), NODE_IPS[i], i + 1))
        .collect();
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Every instance in the world that sits at one of the nodes' addresses, with its state now.
fn instance_views(world: &Value, now_ms: i64) -> Vec<actions::InstanceView> {
    let (Some(vnics), Some(instances)) = (
        world["resources"]["vnic"].as_object(),
        world["resources"]["instance"].as_object(),
    ) else {
        return Vec::new();
    };
    vnics
        .values()
        .filter(|v| v["isPrimary"].as_bool() != Some(false))
        .filter_map(|v| {
            let slot = NODE_IPS
                .iter()
                .position(|ip| v["privateIp"].as_str() == Some(ip.to_string().as_str()))?;
            let id = v["_instanceId"].as_str()?;
            let doc = instances.get(id)?.as_object()?;
            let action = doc
                .get("_lastAction")
                .and_then(Value::as_str)
                .zip(doc.get("_lastActionAtMs").and_then(Value::as_i64))
                .map(|(a, t)| (a.to_string(), t));
            Some(actions::InstanceView {
                id: id.to_string(),
                slot,
                state: vipsetup::simulator::instance_state(doc, now_ms).to_string(),
                action,
                created: doc
                    .get("timeCreated")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect()
}

/// A server certificate for the region's API and auth host names, signed by the image's CA.
fn leaf_cert(image: &Image, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let key = dir.join("tls.key");
    let csr = dir.join("tls.csr");
    let cert = dir.join("tls.crt");
    let ext = dir.join("tls.ext");
    std::fs::write(
        &ext,
        format!(
            "subjectAltName=DNS:iaas.{REGION}.oraclecloud.com,DNS:auth.{REGION}.oraclecloud.com,\
             DNS:identity.{REGION}.oraclecloud.com\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN=iaas.{REGION}.oraclecloud.com"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr))?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "7", "-set_serial", "1", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(image.ca_cert())
        .arg("-CAkey")
        .arg(image.ca_key())
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert))?;
    Ok((cert, key))
}
