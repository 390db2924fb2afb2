//! The simulator's strictness rules, checked with requests signed here by a small local signer:
//! signatures and skew, home-region IAM writes, private IP rules, etags, retry tokens, paging,
//! lifecycle derived from timestamps across processes, faults and the /_sim control API.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use vipsetup::simulator::{
    FaultKind, RandomFaults, SeedSpec, Seeded, SimConfig, SimHandle, Simulator, World,
};

#[path = "simulator_strict/identity.rs"]
mod identity;
#[path = "simulator_strict/network.rs"]
mod network;
#[path = "simulator_strict/public_ips.rs"]
mod public_ips;

/// One RSA key for every test (generating keys is slow in debug builds).
fn test_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| vipsetup::simulator::pki::generate_rsa().unwrap().0)
}

async fn start(config: SimConfig) -> (SimHandle, Seeded) {
    let spec = SeedSpec {
        user_key_pem: Some(test_key().to_string()),
        ..SeedSpec::default()
    };
    let (world, seeded) = World::seed(&spec).unwrap();
    (Simulator::start(config, world).await.unwrap(), seeded)
}

/// A minimal OCI request signer (signature version 1) for these tests.
struct Signer {
    key_id: String,
    key: ring::signature::RsaKeyPair,
}

struct Call {
    method: &'static str,
    path: String,
    body: Option<String>,
    date: SystemTime,
    host: Option<String>,
    signed_headers: Option<&'static str>,
    extra: Vec<(String, String)>,
    /// sent instead of what was signed (tampering)
    send_host: Option<String>,
    send_path: Option<String>,
}

impl Call {
    fn new(method: &'static str, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            body: None,
            date: SystemTime::now(),
            host: None,
            signed_headers: None,
            extra: Vec::new(),
            send_host: None,
            send_path: None,
        }
    }
    fn body(mut self, v: Value) -> Call {
        self.body = Some(v.to_string());
        self
    }
    fn header(mut self, k: &str, v: &str) -> Call {
        self.extra.push((k.into(), v.into()));
        self
    }
}

impl Signer {
    fn new(seeded: &Seeded) -> Signer {
        Signer::with_key(
            &format!(
                "{}/{}/{}",
                seeded.tenancy_id, seeded.user_id, seeded.fingerprint
            ),
            &seeded.private_key_pem,
        )
    }
    fn with_key(key_id: &str, pem_text: &str) -> Signer {
        let der = pem::parse(pem_text).unwrap().into_contents();
        Signer {
            key_id: key_id.into(),
            key: ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap(),
        }
    }

    async fn send(&self, base: &str, call: Call) -> (u16, Value, reqwest::header::HeaderMap) {
        let url = format!("{base}{}", call.path);
        let parsed = url::Url::parse(&url).unwrap();
        let host = call.host.clone().unwrap_or_else(|| {
            format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap())
        });
        let target = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let date = httpdate::fmt_http_date(call.date);
        let mut headers: Vec<(String, String)> = vec![
            ("date".into(), date),
            (
                "(request-target)".into(),
                format!("{} {target}", call.method.to_lowercase()),
            ),
            ("host".into(), host.clone()),
        ];
        let body = call.body.clone().unwrap_or_default();
        if matches!(call.method, "POST" | "PUT") {
            let sha = STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, body.as_bytes()));
            headers.push(("content-length".into(), body.len().to_string()));
            headers.push(("content-type".into(), "application/json".into()));
            headers.push(("x-content-sha256".into(), sha));
        }
        let names: Vec<String> = match call.signed_headers {
            Some(list) => list.split(' ').map(String::from).collect(),
            None => headers.iter().map(|(k, _)| k.clone()).collect(),
        };
        let signing: Vec<String> = names
            .iter()
            .map(|n| {
                let v = &headers.iter().find(|(k, _)| k == n).unwrap().1;
                format!("{n}: {v}")
            })
            .collect();
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing.join("\n").as_bytes(),
                &mut sig,
            )
            .unwrap();
        let auth = format!(
            "Signature version=\"1\",headers=\"{}\",keyId=\"{}\",algorithm=\"rsa-sha256\",signature=\"{}\"",
            names.join(" "),
            self.key_id,
            STANDARD.encode(sig)
        );
        let client = reqwest::Client::new();
        let url = match &call.send_path {
            Some(p) => format!("{base}{p}"),
            None => url,
        };
        let mut rb = client
            .request(call.method.parse().unwrap(), &url)
            .header("authorization", auth);
        for (k, v) in &headers {
            if k == "host" {
                rb = rb.header("host", call.send_host.as_deref().unwrap_or(v));
            } else if k != "(request-target)" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        for (k, v) in &call.extra {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if call.body.is_some() {
            rb = rb.body(body);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            h,
        )
    }
}

fn launch_body(seeded: &Seeded, name: &str, ip: &str, subnet: &str) -> Value {
    json!({"compartmentId": seeded.compartment_id, "availabilityDomain": seeded.availability_domains[0],
           "shape": "VM.Standard.E4.Flex", "displayName": name,
           "sourceDetails": {"sourceType": "image", "imageId": seeded.image_ids[0]},
           "createVnicDetails": {"subnetId": subnet, "privateIp": ip, "assignPublicIp": false},
           "metadata": {"ssh_authorized_keys": "ssh-ed25519 AAAA test"}})
}

/// LaunchInstance of `name` at `ip` in `subnet`, signed by `s`: the status and the answer.
async fn launch(
    s: &Signer,
    base: &str,
    seeded: &Seeded,
    name: &str,
    ip: &str,
    subnet: &str,
) -> (u16, Value) {
    let call = Call::new("POST", "/20160918/instances").body(launch_body(seeded, name, ip, subnet));
    let (st, v, _) = s.send(base, call).await;
    (st, v)
}

async fn primary_vnic(s: &Signer, base: &str, seeded: &Seeded, instance: &str) -> Value {
    let (st, atts, _) = s
        .send(
            base,
            Call::new(
                "GET",
                format!(
                    "/20160918/vnicAttachments?compartmentId={}&instanceId={instance}",
                    seeded.compartment_id
                ),
            ),
        )
        .await;
    assert_eq!(st, 200);
    let vnic_id = atts[0]["vnicId"].as_str().unwrap().to_string();
    s.send(base, Call::new("GET", format!("/20160918/vnics/{vnic_id}")))
        .await
        .1
}

#[tokio::test]
async fn signatures_dates_and_keys_are_checked() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let path = format!("/20160918/subnets/{}", seeded.subnet_id);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 200);

    let unsigned = reqwest::get(format!("{base}{path}")).await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    let mut old = Call::new("GET", &path);
    old.date = SystemTime::now() - Duration::from_secs(301);
    let (st, body, _) = s.send(&base, old).await;
    assert_eq!((st, body["code"].as_str()), (401, Some("NotAuthenticated")));
    let mut ahead = Call::new("GET", &path);
    ahead.date = SystemTime::now() + Duration::from_secs(240);
    assert_eq!(s.send(&base, ahead).await.0, 200);

    // a Host or path other than the signed one
    let mut other_host = Call::new("GET", &path);
    other_host.send_host = Some("iaas.us-ashburn-1.oraclecloud.com".into());
    assert_eq!(s.send(&base, other_host).await.0, 401);
    let mut other_path = Call::new("GET", &path);
    other_path.send_path = Some(format!("/20160918/vcns/{}", seeded.vcn_id));
    assert_eq!(s.send(&base, other_path).await.0, 401);
    // a Host naming an OCI region is fine when it is the one signed
    let mut named = Call::new("GET", &path);
    named.host = Some("iaas.us-ashburn-1.oraclecloud.com".into());
    assert_eq!(s.send(&base, named).await.0, 200);

    // a POST whose signature leaves out the body headers
    let body = json!({"compartmentId": seeded.compartment_id, "vcnId": seeded.vcn_id});
    let mut short = Call::new("POST", "/20160918/networkSecurityGroups").body(body.clone());
    short.signed_headers = Some("date (request-target) host");
    assert_eq!(s.send(&base, short).await.0, 401);
    assert_eq!(
        s.send(
            &base,
            Call::new("POST", "/20160918/networkSecurityGroups").body(body)
        )
        .await
        .0,
        200
    );

    let (other_key, _) = vipsetup::simulator::pki::generate_rsa().unwrap();
    let wrong = Signer::with_key(&s.key_id, &other_key);
    assert_eq!(wrong.send(&base, Call::new("GET", &path)).await.0, 401);
    let unknown_user = Signer::with_key(
        &format!(
            "{}/ocid1.user.oc1..nobody/{}",
            seeded.tenancy_id, seeded.fingerprint
        ),
        test_key(),
    );
    assert_eq!(
        unknown_user.send(&base, Call::new("GET", &path)).await.0,
        401
    );
    let log = sim.log();
    assert!(log.iter().any(|e| e.status == 401 && e.principal == "-"));
    assert!(log
        .iter()
        .any(|e| e.status == 200 && e.principal == format!("user:{}", seeded.user_id)));
}

#[tokio::test]
async fn iam_writes_only_in_the_home_region() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let dg = json!({"compartmentId": seeded.tenancy_id, "name": "x", "description": "d",
                    "matchingRule": "instance.id = 'ocid1.instance.oc1..a'"});
    let (st, _, _) = s
        .send(&base, Call::new("POST", "/20160918/dynamicGroups").body(dg))
        .await;
    assert_eq!(st, 200);
    let policy = |name: &str| {
        json!({"compartmentId": seeded.tenancy_id, "name": name, "description": "d",
               "statements": ["Allow dynamic-group x to read private-ips in tenancy"]})
    };
    let (st, b, _) = s
        .send(
            &base,
            Call::new("POST", "/region/us-phoenix-1/20160918/policies").body(policy("p1")),
        )
        .await;
    assert_eq!((st, b["code"].as_str()), (403, Some("NotAllowed")));
    let mut by_host = Call::new("POST", "/20160918/policies").body(policy("p2"));
    by_host.host = Some("identity.us-phoenix-1.oci.oraclecloud.com".into());
    assert_eq!(s.send(&base, by_host).await.0, 403);
    // reads elsewhere are fine; a region the tenancy does not subscribe to is not
    let t = format!(
        "/region/us-phoenix-1/20160918/tenancies/{}",
        seeded.tenancy_id
    );
    assert_eq!(s.send(&base, Call::new("GET", t)).await.0, 200);
    let t = format!(
        "/region/eu-paris-1/20160918/tenancies/{}",
        seeded.tenancy_id
    );
    assert_eq!(s.send(&base, Call::new("GET", t)).await.0, 401);
    assert_eq!(
        s.send(
            &base,
            Call::new("POST", "/20160918/policies").body(policy("p3"))
        )
        .await
        .0,
        200
    );
    sim.set_region(Some("us-phoenix-1".into()));
    assert_eq!(
        s.send(
            &base,
            Call::new("POST", "/20160918/policies").body(policy("p4"))
        )
        .await
        .0,
        403
    );
    // core resources are regional
    let subnet = format!("/20160918/subnets/{}", seeded.subnet_id);
    assert_eq!(s.send(&base, Call::new("GET", subnet)).await.0, 404);
}

#[tokio::test]
async fn private_ip_rules_etags_and_retry_tokens() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    // a second subnet in the VCN
    let other_subnet = sim
        .with_world(|w| w.add_subnet(&seeded.vcn_id, "10.0.2.0/24", "other"))
        .unwrap();
    assert!(sim
        .with_world(|w| w.add_subnet(&seeded.vcn_id, "10.0.1.128/25", "overlap"))
        .is_err());
    let token = Call::new("POST", "/20160918/instances")
        .body(launch_body(&seeded, "a", "10.0.1.10", &seeded.subnet_id))
        .header("opc-retry-token", "tok-a");
    let (st, a, h) = s.send(&base, token).await;
    assert_eq!(st, 200, "{a}");
    assert!(h.get("opc-work-request-id").is_some());
    let replay = Call::new("POST", "/20160918/instances")
        .body(launch_body(&seeded, "a", "10.0.1.10", &seeded.subnet_id))
        .header("opc-retry-token", "tok-a");
    let (st, again, _) = s.send(&base, replay).await;
    assert_eq!((st, &again["id"]), (200, &a["id"]));
    let changed = Call::new("POST", "/20160918/instances")
        .body(launch_body(&seeded, "a2", "10.0.1.12", &seeded.subnet_id))
        .header("opc-retry-token", "tok-a");
    assert_eq!(s.send(&base, changed).await.0, 409);
    assert_eq!(
        sim.world()
            .all(vipsetup::simulator::world::INSTANCE)
            .count(),
        1
    );
    // tokens last 24 hours; then the same token is a new request (its IP is taken now: 409)
    sim.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let late = Call::new("POST", "/20160918/instances")
        .body(launch_body(&seeded, "a2", "10.0.1.12", &seeded.subnet_id))
        .header("opc-retry-token", "tok-a");
    let (st, fresh, _) = s.send(&base, late).await;
    assert_eq!(st, 200);
    assert_ne!(fresh["id"], a["id"]);
    let (st, _, _) = s
        .send(
            &base,
            Call::new(
                "DELETE",
                format!("/20160918/instances/{}", fresh["id"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(st, 204);

    let (_, b) = launch(&s, &base, &seeded, "b", "10.0.1.11", &seeded.subnet_id).await;
    let (_, c) = launch(&s, &base, &seeded, "c", "10.0.2.10", &other_subnet).await;
    let va = primary_vnic(&s, &base, &seeded, a["id"].as_str().unwrap()).await;
    let vb = primary_vnic(&s, &base, &seeded, b["id"].as_str().unwrap()).await;
    let vc = primary_vnic(&s, &base, &seeded, c["id"].as_str().unwrap()).await;

    let create = |vnic: &Value, ip: &str| {
        Call::new("POST", "/20160918/privateIps")
            .body(json!({"vnicId": vnic["id"], "ipAddress": ip}))
    };
    assert_eq!(
        s.send(&base, create(&va, "10.0.1.11")).await.0,
        409,
        "in use"
    );
    assert_eq!(
        s.send(&base, create(&va, "10.0.2.50")).await.0,
        400,
        "other subnet"
    );
    assert_eq!(
        s.send(&base, create(&va, "10.0.1.0")).await.0,
        400,
        "network address"
    );
    let (st, vip, h) = s.send(&base, create(&va, "10.0.1.50")).await;
    assert_eq!(st, 200);
    let etag = h["etag"].to_str().unwrap().to_string();
    let vip_path = format!("/20160918/privateIps/{}", vip["id"].as_str().unwrap());

    let mv = |vnic: &Value| Call::new("PUT", vip_path.clone()).body(json!({"vnicId": vnic["id"]}));
    let (st, e, _) = s.send(&base, mv(&vb).header("if-match", "nope")).await;
    assert_eq!((st, e["code"].as_str()), (412, Some("NoEtagMatch")));
    assert_eq!(s.send(&base, mv(&vc)).await.0, 400, "different subnet");
    let (st, moved, _) = s.send(&base, mv(&vb).header("if-match", &etag)).await;
    assert_eq!((st, &moved["vnicId"]), (200, &vb["id"]));
    // the old etag is gone with the change
    assert_eq!(
        s.send(&base, mv(&va).header("if-match", &etag)).await.0,
        412
    );

    let (_, list, _) = s
        .send(
            &base,
            Call::new(
                "GET",
                format!("/20160918/privateIps?vnicId={}", va["id"].as_str().unwrap()),
            ),
        )
        .await;
    let primary = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["isPrimary"] == json!(true))
        .unwrap()
        .clone();
    let primary_path = format!("/20160918/privateIps/{}", primary["id"].as_str().unwrap());
    let upd = Call::new("PUT", primary_path.clone()).body(json!({"vnicId": vb["id"]}));
    assert_eq!(s.send(&base, upd).await.0, 400, "primary can't move");
    assert_eq!(
        s.send(&base, Call::new("DELETE", primary_path)).await.0,
        400,
        "primary can't be deleted"
    );
    assert_eq!(
        s.send(&base, Call::new("DELETE", vip_path.clone())).await.0,
        204
    );
    let (st, e, _) = s.send(&base, Call::new("GET", vip_path)).await;
    assert_eq!(
        (st, e["code"].as_str()),
        (404, Some("NotAuthorizedOrNotFound"))
    );
}

#[tokio::test]
async fn lists_page_with_opaque_tokens() {
    let (sim, seeded) = start(SimConfig {
        page_size: 2,
        ..SimConfig::default()
    })
    .await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let mut ids = Vec::new();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!(
            "/20160918/images?compartmentId={}&limit=50",
            seeded.compartment_id
        );
        if let Some(p) = &page {
            path.push_str(&format!("&page={p}"));
        }
        let (st, items, h) = s.send(&base, Call::new("GET", path)).await;
        assert_eq!(st, 200);
        assert!(items.as_array().unwrap().len() <= 2, "page size caps limit");
        ids.extend(items.as_array().unwrap().iter().map(|i| i["id"].clone()));
        pages += 1;
        match h.get("opc-next-page") {
            Some(p) => page = Some(p.to_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(ids.len(), seeded.image_ids.len());
    assert_eq!(pages, seeded.image_ids.len().div_ceil(2));
    let bad = format!(
        "/20160918/images?compartmentId={}&page=garbage",
        seeded.compartment_id
    );
    assert_eq!(s.send(&base, Call::new("GET", bad)).await.0, 400);
}

#[tokio::test]
async fn lifecycle_follows_timestamps_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("world.json");
    let config = SimConfig {
        world_file: Some(file.clone()),
        provisioning_delay_ms: 3_600_000,
        terminating_delay_ms: 3_600_000,
        ..SimConfig::default()
    };
    let (first, seeded) = start(config.clone()).await;
    let s = Signer::new(&seeded);
    let (_, inst) = launch(
        &s,
        &first.base_url(),
        &seeded,
        "n",
        "10.0.1.10",
        &seeded.subnet_id,
    )
    .await;
    let path = format!("/20160918/instances/{}", inst["id"].as_str().unwrap());
    // a second simulator on the same file (as a second process would be)
    let second = Simulator::start(config, World::default()).await.unwrap();
    let state = |v: &Value| v["lifecycleState"].as_str().unwrap().to_string();
    let (st, got, _) = s.send(&second.base_url(), Call::new("GET", &path)).await;
    assert_eq!((st, state(&got).as_str()), (200, "PROVISIONING"));
    second.advance_clock(Duration::from_secs(7200));
    let (_, got, _) = s.send(&first.base_url(), Call::new("GET", &path)).await;
    assert_eq!(
        state(&got),
        "RUNNING",
        "the first sees the clock moved by the second"
    );
    let vnic = primary_vnic(&s, &first.base_url(), &seeded, inst["id"].as_str().unwrap()).await;
    let vnic_path = format!("/20160918/vnics/{}", vnic["id"].as_str().unwrap());
    let (st, _, h) = s.send(&second.base_url(), Call::new("DELETE", &path)).await;
    assert_eq!(st, 204);
    assert!(h.get("opc-work-request-id").is_some());
    let (_, got, _) = s.send(&first.base_url(), Call::new("GET", &path)).await;
    assert_eq!(state(&got), "TERMINATING");
    assert_eq!(
        s.send(&first.base_url(), Call::new("GET", &vnic_path))
            .await
            .0,
        200
    );
    first.advance_clock(Duration::from_secs(7200));
    let (_, got, _) = s.send(&second.base_url(), Call::new("GET", &path)).await;
    assert_eq!(state(&got), "TERMINATED");
    assert_eq!(
        s.send(&second.base_url(), Call::new("GET", &vnic_path))
            .await
            .0,
        404
    );
    let list = format!(
        "/20160918/instances?compartmentId={}",
        seeded.compartment_id
    );
    let (_, all, _) = s.send(&first.base_url(), Call::new("GET", list)).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "terminated instances stay listed"
    );
}

#[tokio::test]
async fn faults_latency_and_control_api() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let path = format!("/20160918/subnets/{}", seeded.subnet_id);
    sim.inject_fault("GetSubnet", 2, FaultKind::too_many_requests());
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 429);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 429);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 200);
    assert_eq!(sim.count("GetSubnet"), 3);

    sim.inject_fault("GetSubnet", 1, FaultKind::Drop);
    let err = reqwest::get(format!("{base}{path}")).await;
    // unsigned: refused before faults apply
    assert_eq!(err.unwrap().status().as_u16(), 401);
    let client = reqwest::Client::new();
    let signed_get = {
        // signed by hand so the raw transport error is visible (Signer::send unwraps it)
        let date = httpdate::fmt_http_date(SystemTime::now());
        let host = base.trim_start_matches("http://").to_string();
        let signing = format!("date: {date}\n(request-target): get {path}\nhost: {host}");
        let key = ring::signature::RsaKeyPair::from_pkcs8(
            &pem::parse(test_key()).unwrap().into_contents(),
        )
        .unwrap();
        let mut sig = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing.as_bytes(),
            &mut sig,
        )
        .unwrap();
        client
            .get(format!("{base}{path}"))
            .header("date", date)
            .header(
                "authorization",
                format!(
                    "Signature version=\"1\",headers=\"date (request-target) host\",keyId=\"{}/{}/{}\",algorithm=\"rsa-sha256\",signature=\"{}\"",
                    seeded.tenancy_id, seeded.user_id, seeded.fingerprint, STANDARD.encode(sig)
                ),
            )
    };
    let r = signed_get.try_clone().unwrap().send().await;
    assert!(r.is_err(), "the connection is dropped without an answer");
    assert_eq!(signed_get.send().await.unwrap().status().as_u16(), 200);

    sim.set_random_faults(Some(RandomFaults {
        rate: 1.0,
        operations: vec!["GetSubnet".into()],
        faults: vec![FaultKind::service_unavailable()],
    }));
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 503);
    let vcn = format!("/20160918/vcns/{}", seeded.vcn_id);
    assert_eq!(
        s.send(&base, Call::new("GET", &vcn)).await.0,
        200,
        "other operations unaffected"
    );
    sim.clear_faults();
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 200);

    sim.inject_fault("LaunchInstance", 1, FaultKind::out_of_host_capacity());
    let (st, e) = launch(&s, &base, &seeded, "n", "10.0.1.10", &seeded.subnet_id).await;
    assert_eq!(st, 500);
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("Out of host capacity"));

    // the same over HTTP, as a harness in another namespace would
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"operation": "GetVcn", "count": 1,
                      "fault": {"kind": "status", "status": 409, "code": "IncorrectState", "message": "busy"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (st, e, _) = s.send(&base, Call::new("GET", &vcn)).await;
    assert_eq!((st, e["code"].as_str()), (409, Some("IncorrectState")));
    let r = http
        .put(format!("{base}/_sim/latency"))
        .json(&json!({"GetVcn": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(s.send(&base, Call::new("GET", &vcn)).await.0, 200);
    let log: Vec<Value> = http
        .get(format!("{base}/_sim/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vcn_calls: Vec<u64> = log
        .iter()
        .filter(|e| e["operation"] == "GetVcn")
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(vcn_calls, vec![200, 409, 200]);
    let cfg: Value = http
        .put(format!("{base}/_sim/config"))
        .json(&json!({"pageSize": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["pageSize"], 1);
    assert_eq!(sim.config().page_size, 1);
}

#[tokio::test]
async fn user_session_tokens_sign_as_the_user() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let (session_key, _) = vipsetup::simulator::pki::generate_rsa().unwrap();
    let spki = vipsetup::simulator::pki::public_spki_pem(&session_key).unwrap();
    let token = sim.issue_user_session(&seeded.user_id, &spki).unwrap();
    let s = Signer::with_key(&format!("ST${token}"), &session_key);
    let path = format!("/20160918/subnets/{}", seeded.subnet_id);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 200);
    assert_eq!(
        sim.log().last().unwrap().principal,
        format!("user:{}", seeded.user_id)
    );
    // the token with another key, and an unknown token
    let wrong = Signer::with_key(&format!("ST${token}"), test_key());
    assert_eq!(wrong.send(&base, Call::new("GET", &path)).await.0, 401);
    let forged = Signer::with_key("ST$eyJhbGciOiJIUzI1NiJ9.e30.x", &session_key);
    assert_eq!(forged.send(&base, Call::new("GET", &path)).await.0, 401);
    assert!(sim
        .issue_user_session("ocid1.user.oc1..nobody", &spki)
        .is_err());
}

#[tokio::test]
async fn open_seeds_once_then_reuses_the_world_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        world_file: Some(dir.path().join("w.json")),
        ..SimConfig::default()
    };
    let spec = SeedSpec {
        user_key_pem: Some(test_key().to_string()),
        ..SeedSpec::default()
    };
    let (first, seeded) = Simulator::open(config.clone(), &spec).await.unwrap();
    first.shutdown().await;
    let (second, again) = Simulator::open(config, &spec).await.unwrap();
    assert_eq!(again.tenancy_id, seeded.tenancy_id);
    assert_eq!(again.subnet_id, seeded.subnet_id);
    let s = Signer::new(&again);
    let path = format!("/20160918/tenancies/{}", seeded.tenancy_id);
    assert_eq!(
        s.send(&second.base_url(), Call::new("GET", path)).await.0,
        200
    );
    let http: Value = reqwest::get(format!("{}/_sim/seeded", second.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http["user_id"].as_str(), Some(seeded.user_id.as_str()));
}

/// Kills a child process by PID on drop, even when the test fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn seed_and_serve_commands_share_a_world_file() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let key_file = p("user.pem");
    std::fs::write(&key_file, test_key()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .args(["simulator", "seed", "--home-region", "eu-frankfurt-1"])
        .arg("--world")
        .arg(p("world.json"))
        .arg("--user-key")
        .arg(&key_file)
        .arg("--creds-out")
        .arg(p("creds.json"))
        .arg("--key-out")
        .arg(p("key.pem"))
        .arg("--oci-config-out")
        .arg(p("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seeded: Seeded =
        serde_json::from_str(&std::fs::read_to_string(p("creds.json")).unwrap()).unwrap();
    assert_eq!(seeded.home_region, "eu-frankfurt-1");
    let config = std::fs::read_to_string(p("config")).unwrap();
    assert!(config.contains(&format!("fingerprint={}", seeded.fingerprint)));
    assert!(config.contains("region=eu-frankfurt-1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key file is private");
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .args(["simulator", "serve", "--listen", "127.0.0.1:0"])
        .arg("--world")
        .arg(p("world.json"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Child(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let s = Signer::with_key(
        &format!(
            "{}/{}/{}",
            seeded.tenancy_id, seeded.user_id, seeded.fingerprint
        ),
        &std::fs::read_to_string(p("key.pem")).unwrap(),
    );
    let (st, subs, _) = s
        .send(
            &base,
            Call::new(
                "GET",
                format!(
                    "/20160918/tenancies/{}/regionSubscriptions",
                    seeded.tenancy_id
                ),
            ),
        )
        .await;
    assert_eq!(st, 200);
    let home: Vec<&Value> = subs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["isHomeRegion"] == json!(true))
        .collect();
    assert_eq!(home[0]["regionName"], "eu-frankfurt-1");
}

#[tokio::test]
async fn prints_request_throughput() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let path = format!("/20160918/subnets/{}", seeded.subnet_id);
    let n = 200;
    let t = std::time::Instant::now();
    for _ in 0..n {
        assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 200);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "simulator: {n} signed GetSubnet calls in {secs:.2}s ({:.0}/s, sequential, one client per call, signing included)",
        n as f64 / secs
    );
    assert_eq!(sim.count("GetSubnet"), n);
}

#[tokio::test]
async fn imds_and_federation_take_faults_too() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let (st, inst) = launch(&s, &base, &seeded, "n", "10.0.1.10", &seeded.subnet_id).await;
    assert_eq!(st, 200);
    sim.set_imds_alias("127.0.0.1", inst["id"].as_str().unwrap());
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!("{}/instance/", sim.metadata_base_url()))
            .header("authorization", "Bearer Oracle")
            .send()
    };
    sim.inject_fault("Imds", 1, FaultKind::service_unavailable());
    assert_eq!(get().await.unwrap().status().as_u16(), 503);
    let me: Value = get().await.unwrap().json().await.unwrap();
    assert_eq!(me["id"], inst["id"]);
    let ssh = http
        .get(format!(
            "{}/instance/metadata/ssh_authorized_keys",
            sim.metadata_base_url()
        ))
        .header("authorization", "Bearer Oracle")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ssh, "ssh-ed25519 AAAA test");
    let no_bearer = http
        .get(format!("{}/instance/", sim.metadata_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_bearer.status().as_u16(), 401);
    sim.inject_fault("FederateX509", 1, FaultKind::internal_error());
    let fed = http
        .post(sim.federation_endpoint())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(fed.status().as_u16(), 500);
    let unsigned = http
        .post(sim.federation_endpoint())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
}

/// The metadata service as OCI serves it (reference/oci-wire.md): v1 next to v2 until the
/// tenancy turns v1 off (404 then), v2 only with the Bearer header, Forwarded/X-Forwarded-*
/// refused, chunked answers with an unquoted ETag, and short windows of 404.
#[tokio::test]
async fn imds_serves_v1_and_v2_as_oci_does() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let (st, inst, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/instances").body(launch_body(
                &seeded,
                "n",
                "10.0.1.10",
                &seeded.subnet_id,
            )),
        )
        .await;
    assert_eq!(st, 200);
    let id = inst["id"].as_str().unwrap().to_string();
    sim.set_imds_alias("127.0.0.1", &id);
    let http = reqwest::Client::new();
    let get = |path: &str, bearer: bool, extra: Option<(&str, &str)>| {
        let mut r = http.get(format!("{base}{path}"));
        if bearer {
            r = r.header("authorization", "Bearer Oracle");
        }
        if let Some((k, v)) = extra {
            r = r.header(k, v);
        }
        r.send()
    };

    // v2 with the header, v1 without it: the same instance document, framed as today's IMDS.
    let v2 = get("/opc/v2/instance/", true, None).await.unwrap();
    assert_eq!(v2.status().as_u16(), 200);
    assert_eq!(
        v2.headers()
            .get("transfer-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("chunked")
    );
    assert!(v2.headers().get("content-length").is_none());
    assert_eq!(v2.headers()["server"], "server");
    let etag = v2.headers()["etag"].to_str().unwrap().to_string();
    assert!(!etag.is_empty() && !etag.starts_with('"'), "etag {etag:?}");
    let doc: Value = v2.json().await.unwrap();
    assert_eq!(doc["id"], inst["id"]);
    let v1: Value = get("/opc/v1/instance/", false, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1, doc);
    let v1_name = get("/opc/v1/instance/displayName", false, None)
        .await
        .unwrap();
    assert_eq!(v1_name.status().as_u16(), 200);
    assert_eq!(v1_name.text().await.unwrap(), "n");
    assert_eq!(
        get("/opc/v2/instance/", false, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    // Forwarded and X-Forwarded-* are refused on both versions.
    for (k, v) in [
        ("forwarded", "for=10.0.0.9"),
        ("x-forwarded-for", "10.0.0.9"),
        ("X-Forwarded-Host", "evil"),
    ] {
        for (path, bearer) in [("/opc/v2/instance/", true), ("/opc/v1/instance/", false)] {
            let r = get(path, bearer, Some((k, v))).await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{path} with {k}");
            assert!(r.text().await.unwrap().contains("Forwarded"));
        }
    }

    // The tenancy turns v1 off: v1 answers 404, v2 goes on.
    sim.set_imds_v1(false);
    assert_eq!(
        get("/opc/v1/instance/", false, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        get("/opc/v1/identity/cert.pem", false, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let cert = get("/opc/v2/identity/cert.pem", true, None).await.unwrap();
    assert_eq!(cert.status().as_u16(), 200);
    assert!(cert
        .text()
        .await
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    // A short 404 window, then v2 answers again.
    sim.imds_not_found_for(Duration::from_millis(400));
    assert_eq!(
        get("/opc/v2/instance/", true, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        get("/opc/v2/instance/", true, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // The same switch and window over the control API.
    let http2 = reqwest::Client::new();
    let r = http2
        .put(format!("{base}/_sim/config"))
        .json(&json!({"imdsV1": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        get("/opc/v1/instance/id", false, None)
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        id
    );
    let r = http2
        .post(format!("{base}/_sim/imds/not-found"))
        .json(&json!({"ms": 60000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        get("/opc/v1/instance/id", false, None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}
