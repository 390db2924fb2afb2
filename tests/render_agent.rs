//! The rendered failover agent (vip-agent + its settings file) run for real, outside a node:
//! a fake `oci` CLI (tests/fixtures/render/fake-oci) keeps the private IP's state in files, and
//! a tiny instance-metadata server on 127.0.0.1 answers `/opc/v2/vnics/`.

mod render_support;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use render_support::{load_variant, repo, require, write_agent};
use vipsetup::render::{self, AgentSettings, Facts};

const MINE: &str = "ocid1.vnic.oc1.ap-tokyo-1.mine";
const OTHER: &str = "ocid1.vnic.oc1.ap-tokyo-1.other";
const VIP_ID: &str = "ocid1.privateip.oc1.ap-tokyo-1.vip";

/// Serves IMDS v2 `vnics/` (primary VNIC first) to callers that send the Oracle bearer header.
fn imds() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let (status, body) = if !req.contains("Authorization: Bearer Oracle") {
                ("401 Unauthorized", "{}".to_string())
            } else if req.starts_with("GET /opc/v2/vnics/ ") {
                let body = format!(
                    "[ {{\n  \"vnicId\" : \"{MINE}\",\n  \"privateIp\" : \"172.16.2.11\"\n}}, {{\n  \"vnicId\" : \"ocid1.vnic.oc1.ap-tokyo-1.secondary\"\n}} ]"
                );
                ("200 OK", body)
            } else {
                ("404 Not Found", "{}".to_string())
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/opc/v2")
}

struct Agent {
    dir: tempfile::TempDir,
}

impl Agent {
    /// Renders the quickstart node 1 with the given overrides (plus the fake CLI, the local
    /// IMDS and a temp state dir) and writes the agent and its settings file.
    fn new(mut agent: AgentSettings) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        agent.oci_cli = Some(
            repo()
                .join("tests/fixtures/render/fake-oci")
                .display()
                .to_string(),
        );
        agent.metadata_base_url = Some(imds());
        agent.state_dir = Some(dir.path().join("state").display().to_string());
        let bp = load_variant("blueprints/quickstart.yaml", &[]);
        let mut facts = Facts::offline(&bp).unwrap();
        facts.agent = agent;
        let node = render::render(&bp, &facts).unwrap().remove(0);
        write_agent(&node, dir.path());
        // Short intervals so the test does not wait on production timings.
        let mut env = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("agent.env"))
            .unwrap();
        writeln!(
            env,
            "RECHECK_INTERVAL='1'\nBACKOFF_INITIAL='1'\nBACKOFF_MAX='1'\nCLI_DEADLINE='2'"
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("oci")).unwrap();
        Agent { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn set(&self, name: &str, value: &str) {
        std::fs::write(self.path("oci").join(name), format!("{value}\n")).unwrap();
    }

    fn get(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("oci").join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn calls(&self) -> Vec<String> {
        self.get("calls").lines().map(str::to_string).collect()
    }

    fn command(&self, arg: &Path) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(self.path("vip-agent"))
            .arg(arg)
            .env("VIPSETUP_AGENT_ENV", self.path("agent.env"))
            .env("FAKE_OCI_DIR", self.path("oci"));
        cmd
    }

    fn claim_once(&self) -> bool {
        let out = self.command(Path::new("--claim-once")).output().unwrap();
        out.status.success()
    }
}

fn prerequisites() -> bool {
    require("curl", &["--version"]).is_ok() && require("setsid", &["--version"]).is_ok()
}

#[test]
fn takeover_is_one_update_then_a_confirming_get() {
    if !prerequisites() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    assert!(a.claim_once());
    assert_eq!(a.get("owner"), MINE);
    let calls = a.calls();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(calls[0].contains("network private-ip list --subnet-id ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaquickstartsubnet --ip-address 172.16.2.10"), "{}", calls[0]);
    assert!(calls[1].contains(&format!("raw-request --http-method PUT --target-uri https://iaas.ap-tokyo-1.oraclecloud.com/20160918/privateIps/{VIP_ID} --request-body {{\"vnicId\": \"{MINE}\"}}")), "{}", calls[1]);
    assert!(
        calls[2].contains(&format!("raw-request --http-method GET --target-uri https://iaas.ap-tokyo-1.oraclecloud.com/20160918/privateIps/{VIP_ID}")),
        "{}",
        calls[2]
    );
    for c in &calls {
        assert!(c.starts_with("--auth instance_principal --region ap-tokyo-1 --no-retry --connection-timeout 5 --read-timeout 15"), "{c}");
        assert!(
            !c.contains("--endpoint") && !c.contains("--federation-endpoint"),
            "{c}"
        );
    }
    // The VNIC and private IP OCIDs are cached: the next takeover is two CLI calls.
    assert_eq!(
        std::fs::read_to_string(a.path("state/vnic-id"))
            .unwrap()
            .trim(),
        MINE
    );
    assert_eq!(
        std::fs::read_to_string(a.path("state/vip-private-ip-id"))
            .unwrap()
            .trim(),
        VIP_ID
    );
    a.set("owner", OTHER);
    assert!(a.claim_once());
    assert_eq!(a.calls().len(), 5);
    assert_eq!(a.get("owner"), MINE);
}

#[test]
fn the_private_ip_is_created_only_when_none_exists() {
    if !prerequisites() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    assert!(a.claim_once());
    assert_eq!(a.get("owner"), MINE);
    let calls = a.calls();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(
        calls[1].contains(&format!(
            "network private-ip create --vnic-id {MINE} --ip-address 172.16.2.10"
        )),
        "{}",
        calls[1]
    );
    assert!(
        !calls.iter().any(|c| c.contains("--http-method PUT")),
        "{calls:#?}"
    );
}

#[test]
fn api_errors_leave_the_state_unknown_and_are_retried() {
    if !prerequisites() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    a.set("fail", "1000");
    assert!(!a.claim_once());
    assert_eq!(a.get("owner"), OTHER);
    assert!(
        !a.path("state/vip-private-ip-id").exists(),
        "an error must not be cached"
    );
    a.set("fail", "0");
    assert!(a.claim_once());
    assert_eq!(a.get("owner"), MINE);
}

#[test]
fn a_deleted_private_ip_is_forgotten_and_looked_up_again() {
    if !prerequisites() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    assert!(a.claim_once());
    a.set("pip-id", "ocid1.privateip.oc1.ap-tokyo-1.recreated");
    a.set("owner", OTHER);
    assert!(!a.claim_once(), "the cached OCID now answers 404");
    assert!(!a.path("state/vip-private-ip-id").exists());
    assert!(a.claim_once());
    assert_eq!(a.get("owner"), MINE);
}

#[test]
fn endpoint_overrides_reach_every_cli_call() {
    if !prerequisites() {
        return;
    }
    let a = Agent::new(AgentSettings {
        endpoint: Some("http://127.0.0.1:9".into()),
        federation_endpoint: Some("http://127.0.0.1:9/v1/x509".into()),
        ..AgentSettings::default()
    });
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    assert!(a.claim_once());
    let calls = a.calls();
    for c in &calls {
        assert!(
            c.contains("--federation-endpoint http://127.0.0.1:9/v1/x509"),
            "{c}"
        );
        if c.contains("raw-request") {
            // raw-request refuses --endpoint; the override goes into the URL instead.
            assert!(!c.contains("--endpoint "), "{c}");
            assert!(
                c.contains(&format!(
                    "--target-uri http://127.0.0.1:9/20160918/privateIps/{VIP_ID}"
                )),
                "{c}"
            );
        } else {
            assert!(c.contains("--endpoint http://127.0.0.1:9 "), "{c}");
        }
    }
}

/// Stops the agent (TERM by PID, then KILL) even when the test fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a condition the agent must reach; the deadline only bounds a hung test.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn fifo_events_start_and_stop_the_claim_loop() {
    if !prerequisites() || require("mkfifo", &["--version"]).is_err() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    let fifo = a.path("keepalived.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = a
        .command(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Running(child);
    // Like keepalived: one writer, held open.
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let mut send = |line: &str| {
        writeln!(w, "{line}").unwrap();
        w.flush().unwrap();
    };

    send("INSTANCE \"VIPSETUP\" MASTER 150");
    eventually("the MASTER claims the VIP", || a.get("owner") == MINE);

    // Partition heals with the API pointing at the peer: no new event, the re-check reclaims.
    a.set("owner", OTHER);
    eventually("the MASTER re-claims the VIP", || a.get("owner") == MINE);

    send("INSTANCE \"VIPSETUP\" BACKUP 150");
    // Once stopped, the loop makes no more calls; wait for the count to settle.
    let mut last = a.calls().len();
    eventually("the claim loop stops after BACKUP", || {
        std::thread::sleep(Duration::from_millis(2500));
        let now = a.calls().len();
        let settled = now == last;
        last = now;
        settled
    });
    a.set("owner", OTHER);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(a.get("owner"), OTHER, "a BACKUP must never move the VIP");
    assert_eq!(a.calls().len(), last);

    send("INSTANCE \"VIPSETUP\" MASTER 150");
    eventually("MASTER again claims the VIP", || a.get("owner") == MINE);

    // keepalived stopping: TERM the agent; its claim loop must go with it.
    drop(agent);
    let settled = a.calls().len();
    a.set("owner", OTHER);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(a.get("owner"), OTHER, "the claim loop outlived the agent");
    assert_eq!(a.calls().len(), settled);
}

fn pid_alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_hung_cli_call_is_cut_off_and_counts_as_unknown() {
    if !prerequisites() || require("timeout", &["--version"]).is_err() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    a.set("hang", "");
    // CLI_DEADLINE is 2 s here; the fake call would otherwise sleep 1000 s.
    let mut child = a.command(Path::new("--claim-once")).spawn().unwrap();
    let mut status = None;
    eventually("claim-once gives up on the hung call", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(!status.unwrap().success());
    assert_eq!(a.get("owner"), OTHER);
    let pid = a.get("hung.pid");
    eventually("the hung CLI process is gone", || !pid_alive(&pid));
}

#[test]
fn backup_kills_a_cli_call_in_flight() {
    if !prerequisites() || require("mkfifo", &["--version"]).is_err() {
        return;
    }
    let a = Agent::new(AgentSettings::default());
    // A long deadline: only the BACKUP event may end this call.
    std::fs::OpenOptions::new()
        .append(true)
        .open(a.path("agent.env"))
        .unwrap()
        .write_all(b"CLI_DEADLINE='600'\n")
        .unwrap();
    a.set("pip-id", VIP_ID);
    a.set("owner", OTHER);
    a.set("hang", "");
    let fifo = a.path("keepalived.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = a
        .command(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = Running(child);
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writeln!(w, "INSTANCE \"VIPSETUP\" MASTER 150").unwrap();
    w.flush().unwrap();
    eventually("a CLI call hangs in flight", || {
        !a.get("hung.pid").is_empty()
    });
    let pid = a.get("hung.pid");
    assert!(pid_alive(&pid));
    writeln!(w, "INSTANCE \"VIPSETUP\" BACKUP 150").unwrap();
    w.flush().unwrap();
    eventually("BACKUP kills the call in flight", || !pid_alive(&pid));
    assert_eq!(a.get("owner"), OTHER);
}
