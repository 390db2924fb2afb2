//! A VIP pair built by `vipsetup apply` in a `vipsetup simulator serve` on 127.0.0.1, for running
//! the rendered agent outside a node: the simulator verifies every signature, serves the
//! instance metadata (127.0.0.1 is made to look like one node) and federation.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vipsetup::render::{self, AgentSettings, Facts};

pub const VIP: &str = "172.16.2.10";
/// The IPv6 VIP and its subnet's prefix, with `Extras::ipv6`.
pub const VIP6: &str = "2603:c020:1:2::10";
pub const SUBNET_V6: &str = "2603:c020:1:2::/64";

/// What a pair may have beyond one IPv4 VIP.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// An IPv6 VIP (`network.vip6`), in a subnet with an IPv6 prefix.
    pub ipv6: bool,
    /// An alerts' topic (`failover.notify_topic`), so the policy lets the nodes publish.
    pub topic: bool,
    /// Further IPv4 VIPs in the same subnet (all on node 1 after apply).
    pub vips: Vec<&'static str>,
}
const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIpD1LTNXVbLDH4rU3VguLtrs9XRs478BOKUWzc0PESp vipsetup-quickstart-DEMO-KEY-do-not-use";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vipsetup")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `vipsetup simulator serve` of `dir`/world.json on a free port of 127.0.0.1: the process (its
/// output in `dir`/simulator.log) and its base URL.
fn serve(dir: &Path) -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join("simulator.log")).unwrap();
    let child = Command::new(bin())
        .args([
            "simulator",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--world")
        .arg(dir.join("world.json"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

/// The simulator process, stopped by PID on drop.
pub struct SimPair {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub instances: [String; 2],
    pub vnics: [String; 2],
    pub vip_id: String,
    /// The alerts' topic, with `Extras::topic`.
    pub topic_id: Option<String>,
    pub blueprint: PathBuf,
    pub oci_config: PathBuf,
    child: Child,
}

impl Drop for SimPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimPair {
    /// Seeds, serves and applies the pair (node 1 preferred, the VIP on node 1).
    pub fn start() -> SimPair {
        SimPair::start_with(&Extras::default())
    }

    /// The same, with what `extras` adds to the pair.
    pub fn start_with(extras: &Extras) -> SimPair {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        run(Command::new(bin()).args([
            "simulator",
            "seed",
            "--world",
            &s(p("world.json")),
            "--vcn-cidr",
            "172.16.0.0/16",
            "--subnet-cidr",
            // With an IPv6 VIP the nodes' subnet is another one, made below (OCI refuses
            // overlapping subnets in a VCN).
            if extras.ipv6 {
                "172.16.1.0/24"
            } else {
                "172.16.2.0/24"
            },
            "--creds-out",
            &s(p("creds.json")),
            "--key-out",
            &s(p("user-key.pem")),
            "--oci-config-out",
            &s(p("oci-config")),
        ]));
        let creds: Value =
            serde_json::from_str(&std::fs::read_to_string(p("creds.json")).unwrap()).unwrap();
        let (child, base) = serve(dir.path());
        let mut pair = SimPair {
            base,
            instances: Default::default(),
            vnics: Default::default(),
            vip_id: String::new(),
            topic_id: None,
            blueprint: p("blueprint.yaml"),
            oci_config: p("oci-config"),
            child,
            dir,
        };
        pair.wait_healthy();
        let id = |k: &str| creds[k].as_str().unwrap().to_string();
        let vips = if extras.vips.is_empty() {
            format!("{VIP}/24")
        } else {
            let all: Vec<String> = std::iter::once(VIP)
                .chain(extras.vips.iter().copied())
                .map(|v| format!("{v}/24"))
                .collect();
            format!("[{}]", all.join(", "))
        };
        let mut subnet = id("subnet_id");
        let (mut net, mut failover) = (String::new(), String::new());
        if extras.ipv6 {
            // The seeded subnet has no IPv6 prefix: one that has, in the seeded VCN, through the
            // simulator's control route.
            let made = pair.json(
                "POST",
                "/_sim/subnets",
                Some(
                    &json!({"vcnId": id("vcn_id"), "cidr": "172.16.2.0/24", "name": "agent-v6",
                    "ipv6CidrBlock": SUBNET_V6}),
                ),
            );
            subnet = made["id"].as_str().unwrap().to_string();
            net = format!("  vip6: [{VIP6}]\n");
        }
        if extras.topic {
            let made = pair.json(
                "POST",
                "/_sim/topics",
                Some(&json!({"name": "agent-alerts"})),
            );
            let topic = made["id"].as_str().unwrap().to_string();
            failover = format!("  notify_topic: {topic}\n");
            pair.topic_id = Some(topic);
        }
        std::fs::write(
            &pair.blueprint,
            format!(
                "name: agent-test\n\
                 oci:\n  region: us-ashburn-1\n  compartment: {}\n\
                 network:\n  subnet: {subnet}\n  vip: {vips}\n{net}  interface: ens3\n\
                 nodes:\n  - name: node1\n    private_ip: 172.16.2.11\n  - name: node2\n    private_ip: 172.16.2.12\n\
                 instance:\n  shape: VM.Standard.E4.Flex\n  ocpus: 1\n  memory_gb: 8\n  image:\n    os: Oracle Linux\n    version: \"9\"\n  ssh_keys:\n    - key: {SSH_KEY}\n\
                 failover:\n  preferred_node: node1\n  preempt: false\n{failover}",
                id("compartment_id"),
            ),
        )
        .unwrap();
        let out = run(Command::new(bin())
            .arg("apply")
            .arg(&pair.blueprint)
            .arg("--config-file")
            .arg(&pair.oci_config)
            .args(["--endpoint", &pair.base.clone()])
            .args(["--auto-approve", "--output", "json"])
            .env("HOME", pair.dir.path())
            .current_dir(pair.dir.path()));
        let applied: Value = serde_json::from_str(&out).unwrap();
        let r = &applied["report"];
        for i in 0..2 {
            pair.instances[i] = r["nodes"][i]["instance_id"].as_str().unwrap().into();
            pair.vnics[i] = r["nodes"][i]["vnic_id"].as_str().unwrap().into();
        }
        pair.vip_id = r["vip_id"].as_str().unwrap().into();
        pair
    }

    /// Another simulator serving a copy of this one's world as it is now, with its own files:
    /// a fresh pair in milliseconds instead of an apply.
    pub fn serve_copy(&self) -> SimPair {
        let dir = tempfile::tempdir().unwrap();
        for f in ["world.json", "creds.json", "user-key.pem", "blueprint.yaml"] {
            std::fs::copy(self.dir.path().join(f), dir.path().join(f)).unwrap();
        }
        let config = std::fs::read_to_string(&self.oci_config).unwrap().replace(
            &self.dir.path().to_string_lossy().into_owned(),
            &dir.path().to_string_lossy(),
        );
        std::fs::write(dir.path().join("oci-config"), config).unwrap();
        let (child, base) = serve(dir.path());
        let pair = SimPair {
            base,
            instances: self.instances.clone(),
            vnics: self.vnics.clone(),
            vip_id: self.vip_id.clone(),
            topic_id: self.topic_id.clone(),
            blueprint: dir.path().join("blueprint.yaml"),
            oci_config: dir.path().join("oci-config"),
            child,
            dir,
        };
        pair.wait_healthy();
        pair
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.control("GET", "/_sim/health", None).is_err() {
            assert!(Instant::now() < deadline, "the simulator did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One control-API request (curl); Err on a non-2xx answer or no connection. (60 s: on a
    /// loaded 2-core machine the simulator once took over 10 s to answer, while it made a node's
    /// instance certificate.)
    pub fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, String> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-f", "-m", "60", "-X", method])
            .arg(format!("{}{path}", self.base));
        if let Some(b) = body {
            cmd.args(["-H", "content-type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let text = self.control(method, path, body).unwrap();
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// One Core API call (`path` under /20160918/) as the seeded user (an operator), signed with
    /// the agent's own library and the user's API key (the signer's API-key path, checked by the
    /// simulator too); it must succeed. The answer's body.
    pub fn operator(&self, method: &str, path: &str, body: &str) -> String {
        let creds: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("creds.json")).unwrap(),
        )
        .unwrap();
        let key_id = format!(
            "{}/{}/{}",
            creds["tenancy_id"].as_str().unwrap(),
            creds["user_id"].as_str().unwrap(),
            creds["fingerprint"].as_str().unwrap()
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(
                r#". "$1" || exit 9
                OCI_WORK_DIR=$(mktemp -d)
                oci_http_date
                oci_signing_string "$6" "$2" "$OCI_DATE" "$3"
                oci_authorization "$4" "$5" || exit 8
                oci_http "$6" "$2" "$3" "${OCI_HEADERS[@]}" "authorization: $OCI_AUTHORIZATION" || { echo "$OCI_STATUS $OCI_BODY"; rm -rf "$OCI_WORK_DIR"; exit 1; }
                rm -rf "$OCI_WORK_DIR"
                printf '%s' "$OCI_BODY""#,
            )
            .arg("bash")
            .arg(super::sign_lib())
            .arg(format!("{}/20160918/{path}", self.base))
            .arg(body)
            .arg(key_id)
            .arg(self.dir.path().join("user-key.pem"))
            .arg(method)
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "operator {method} {path}: {answer}");
        answer
    }

    /// A metadata service read (v2) as the node 127.0.0.1 poses as.
    pub fn imds(&self, path: &str) -> Result<String, String> {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-f",
                "-m",
                "60",
                "-H",
                "Authorization: Bearer Oracle",
            ])
            .arg(format!("{}/opc/v2/{path}", self.base))
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Makes callers from 127.0.0.1 look like node `i` to the metadata service.
    pub fn be_node(&self, i: usize) {
        self.json(
            "POST",
            "/_sim/imds/aliases",
            Some(&json!({"ip": "127.0.0.1", "instanceId": self.instances[i]})),
        );
    }

    /// The VIP's private IP as the API holds it.
    pub fn vip(&self) -> Value {
        self.json("GET", "/_sim/world", None)["resources"]["privateip"][&self.vip_id].clone()
    }

    /// The private IP holding `addr` as the API holds it (Null when there is none).
    pub fn private_ip(&self, addr: &str) -> Value {
        let world = self.json("GET", "/_sim/world", None);
        world["resources"]["privateip"]
            .as_object()
            .and_then(|m| m.values().find(|p| p["ipAddress"] == addr).cloned())
            .unwrap_or(Value::Null)
    }

    /// Which node's VNIC holds the private IP of `addr`.
    pub fn owner_of(&self, addr: &str) -> Option<usize> {
        let v = self.private_ip(addr);
        let vnic = v["vnicId"].as_str()?;
        self.vnics.iter().position(|x| x == vnic)
    }

    /// Which node's VNIC holds the VIP.
    pub fn vip_owner(&self) -> Option<usize> {
        let v = self.vip();
        let vnic = v["vnicId"].as_str()?;
        self.vnics.iter().position(|x| x == vnic)
    }

    /// (operation, HTTP status, principal) of every API request so far.
    pub fn calls(&self) -> Vec<(String, u16, String)> {
        match self.json("GET", "/_sim/log", None) {
            Value::Array(a) => a
                .iter()
                .map(|e| {
                    (
                        e["operation"].as_str().unwrap_or_default().to_string(),
                        e["status"].as_u64().unwrap_or(0) as u16,
                        e["principal"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            other => panic!("log is not a list: {other}"),
        }
    }

    pub fn clear_log(&self) {
        self.control("DELETE", "/_sim/log", None).unwrap();
    }

    /// Operations (with status) made after the last `clear_log`, metadata reads left out.
    pub fn api_calls(&self) -> Vec<(String, u16)> {
        self.calls()
            .into_iter()
            .filter(|(op, _, _)| op != "Imds")
            .map(|(op, s, _)| (op, s))
            .collect()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|(op, _, _)| op == operation)
            .count()
    }

    /// The agent files for node `i`, rendered by the real renderer against this simulator,
    /// written into `dir` (`vip-agent`, `oci-sign.sh`, `agent.env`), with `extra` settings
    /// lines appended. Returns the settings file's path.
    pub fn write_agent(&self, i: usize, dir: &Path, extra: &str) -> PathBuf {
        let bp = vipsetup::blueprint::load(&self.blueprint).unwrap_or_else(|d| panic!("{d}"));
        let mut facts = Facts::offline(&bp).unwrap();
        facts.agent = AgentSettings {
            endpoint: Some(self.base.clone()),
            federation_endpoint: Some(format!("{}/v1/x509", self.base)),
            metadata_base_url: Some(format!("{}/opc/v2", self.base)),
            state_dir: Some(dir.join("state").to_string_lossy().into_owned()),
            runtime_dir: Some(dir.join("run").to_string_lossy().into_owned()),
            ..Default::default()
        };
        let node = render::render(&bp, &facts).unwrap().remove(i);
        for f in &node.files {
            if [
                render::paths::AGENT,
                render::paths::AGENT_ENV,
                render::paths::SIGN_LIB,
            ]
            .contains(&f.path.as_str())
            {
                let name = f.path.rsplit('/').next().unwrap();
                std::fs::write(dir.join(name), &f.content).unwrap();
            }
        }
        let env = dir.join("agent.env");
        let mut text = std::fs::read_to_string(&env).unwrap();
        text.push_str(extra);
        std::fs::write(&env, text).unwrap();
        env
    }
}
