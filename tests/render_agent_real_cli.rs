//! The rendered agent driving Oracle's real `oci` CLI (from the venv) against a minimal
//! private-IP API and instance-metadata service on 127.0.0.1, so the CLI commands, flags and
//! output parsing the agent relies on are checked against the real tool, not only a stand-in.
//! The API here does not verify signatures (the simulator's tests do); it records requests.

mod render_support;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use render_support::{load_variant, require, write_agent};
use vipsetup::render::{self, AgentAuth, AgentSettings, Facts};

const MINE: &str = "ocid1.vnic.oc1.ap-tokyo-1.mine";
const OTHER: &str = "ocid1.vnic.oc1.ap-tokyo-1.other";
const SUBNET: &str = "ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaquickstartsubnet";

#[derive(Default)]
struct Api {
    /// private IP OCID -> (ip address, vnic OCID)
    ips: HashMap<String, (String, String)>,
    log: Vec<String>,
}

fn private_ip_json(id: &str, ip: &str, vnic: &str) -> String {
    format!(
        r#"{{"id": "{id}", "ipAddress": "{ip}", "vnicId": "{vnic}", "subnetId": "{SUBNET}", "isPrimary": false, "compartmentId": "ocid1.compartment.oc1..aaaa"}}"#
    )
}

fn handle(stream: TcpStream, api: &Mutex<Api>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).to_string();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut api = api.lock().unwrap();
    api.log.push(format!("{method} {path}"));
    let not_found = (
        404,
        r#"{"code": "NotAuthorizedOrNotFound", "message": "not found"}"#.to_string(),
    );
    let vnic_in = |body: &str| {
        body.split("\"vnicId\"")
            .nth(1)
            .and_then(|r| r.split('"').nth(1))
            .unwrap_or_default()
            .to_string()
    };
    let (status, reply) = match (method, path) {
        ("GET", "/opc/v2/vnics/") => (
            200,
            format!(r#"[{{"vnicId": "{MINE}", "privateIp": "172.16.2.11"}}]"#),
        ),
        ("GET", "/20160918/privateIps") => {
            let want = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("ipAddress="))
                .unwrap_or_default()
                .to_string();
            let items: Vec<String> = api
                .ips
                .iter()
                .filter(|(_, (ip, _))| *ip == want)
                .map(|(id, (ip, vnic))| private_ip_json(id, ip, vnic))
                .collect();
            (200, format!("[{}]", items.join(",")))
        }
        ("POST", "/20160918/privateIps") => {
            let ip = body
                .split("\"ipAddress\"")
                .nth(1)
                .and_then(|r| r.split('"').nth(1))
                .unwrap_or_default()
                .to_string();
            let id = "ocid1.privateip.oc1.ap-tokyo-1.created".to_string();
            let vnic = vnic_in(&body);
            api.ips.insert(id.clone(), (ip.clone(), vnic.clone()));
            (200, private_ip_json(&id, &ip, &vnic))
        }
        (m, p) if p.starts_with("/20160918/privateIps/") => {
            let id = p.trim_start_matches("/20160918/privateIps/").to_string();
            match (m, api.ips.get(&id).cloned()) {
                ("GET", Some((ip, vnic))) => (200, private_ip_json(&id, &ip, &vnic)),
                ("PUT", Some((ip, _))) => {
                    let vnic = vnic_in(&body);
                    api.ips.insert(id.clone(), (ip.clone(), vnic.clone()));
                    (200, private_ip_json(&id, &ip, &vnic))
                }
                _ => not_found.clone(),
            }
        }
        _ => not_found.clone(),
    };
    drop(api);
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut s = stream;
    let _ = write!(
        s,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nopc-request-id: test\r\netag: \"1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

fn serve() -> (String, Arc<Mutex<Api>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(Mutex::new(Api::default()));
    let shared = api.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let api = shared.clone();
            std::thread::spawn(move || handle(stream, &api));
        }
    });
    (base, api)
}

fn venv() -> PathBuf {
    PathBuf::from(std::env::var("VIPSETUP_VENV").unwrap_or_else(|_| "/opt/vipsetup-venv".into()))
}

/// An OCI config file with a fresh API key (made with the venv's `cryptography`).
fn api_key_config(dir: &Path) -> PathBuf {
    let key = dir.join("key.pem");
    let script = format!(
        "from cryptography.hazmat.primitives.asymmetric import rsa\nfrom cryptography.hazmat.primitives import serialization as s\nk = rsa.generate_private_key(public_exponent=65537, key_size=2048)\nopen({:?}, 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))\n",
        key.display().to_string()
    );
    let ok = Command::new(venv().join("bin/python"))
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(ok.success());
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nuser=ocid1.user.oc1..aaaa\nfingerprint=11:22:33:44:55:66:77:88:99:00:aa:bb:cc:dd:ee:ff\ntenancy=ocid1.tenancy.oc1..aaaa\nregion=ap-tokyo-1\nkey_file={}\n",
            key.display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn the_agent_moves_and_creates_the_vip_with_the_real_cli() {
    let cli = venv().join("bin/oci");
    if require(cli.to_str().unwrap(), &["--version"]).is_err()
        || require("curl", &["--version"]).is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (base, api) = serve();
    let bp = load_variant("blueprints/quickstart.yaml", &[]);
    let mut facts = Facts::offline(&bp).unwrap();
    facts.agent = AgentSettings {
        auth: AgentAuth::ApiKey,
        endpoint: Some(base.clone()),
        metadata_base_url: Some(format!("{base}/opc/v2")),
        oci_cli: Some(cli.display().to_string()),
        config_file: Some(api_key_config(dir.path()).display().to_string()),
        state_dir: Some(dir.path().join("state").display().to_string()),
        ..AgentSettings::default()
    };
    let node = render::render(&bp, &facts).unwrap().remove(0);
    write_agent(&node, dir.path());
    let claim_once = || {
        let out = Command::new("bash")
            .arg(dir.path().join("vip-agent"))
            .arg("--claim-once")
            .env("VIPSETUP_AGENT_ENV", dir.path().join("agent.env"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let owner = |api: &Mutex<Api>| {
        let api = api.lock().unwrap();
        api.ips
            .values()
            .find(|(ip, _)| ip == "172.16.2.10")
            .map(|(_, v)| v.clone())
    };
    let take_log = |api: &Mutex<Api>| std::mem::take(&mut api.lock().unwrap().log);

    // No private IP for the VIP yet: list finds none, create puts it here, a GET confirms.
    let (ok, err) = claim_once();
    assert!(ok, "claim failed: {err}");
    assert_eq!(owner(&api).as_deref(), Some(MINE));
    assert_eq!(
        take_log(&api),
        [
            "GET /opc/v2/vnics/",
            "GET /20160918/privateIps",
            "POST /20160918/privateIps",
            "GET /20160918/privateIps/ocid1.privateip.oc1.ap-tokyo-1.created",
        ]
    );

    // The peer took it; a takeover is one PUT and one confirming GET (OCIDs cached).
    api.lock()
        .unwrap()
        .ips
        .get_mut("ocid1.privateip.oc1.ap-tokyo-1.created")
        .unwrap()
        .1 = OTHER.into();
    let (ok, err) = claim_once();
    assert!(ok, "claim failed: {err}");
    assert_eq!(owner(&api).as_deref(), Some(MINE));
    assert_eq!(
        take_log(&api),
        [
            "PUT /20160918/privateIps/ocid1.privateip.oc1.ap-tokyo-1.created",
            "GET /20160918/privateIps/ocid1.privateip.oc1.ap-tokyo-1.created",
        ]
    );

    // The private IP was deleted behind the agent's back: 404 forgets the cache, no claim.
    api.lock().unwrap().ips.clear();
    let (ok, _) = claim_once();
    assert!(!ok);
    assert!(!dir.path().join("state/vip-private-ip-id").exists());

    // Someone re-created it on the peer: the agent finds it by address and moves it.
    let existing = "ocid1.privateip.oc1.ap-tokyo-1.existing";
    api.lock()
        .unwrap()
        .ips
        .insert(existing.into(), ("172.16.2.10".into(), OTHER.into()));
    take_log(&api);
    let (ok, err) = claim_once();
    assert!(ok, "claim failed: {err}");
    assert_eq!(owner(&api).as_deref(), Some(MINE));
    assert_eq!(
        take_log(&api),
        [
            "GET /20160918/privateIps".to_string(),
            format!("PUT /20160918/privateIps/{existing}"),
            format!("GET /20160918/privateIps/{existing}"),
        ]
    );
}
