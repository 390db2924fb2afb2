//! The real transport (reqwest) against a raw HTTP/1.1 server on 127.0.0.1:0 that checks what
//! actually goes over the wire (signature, headers, empty-body POST) and injects faults: 429,
//! 500, and connections dropped after the request was read.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use vipsetup::oci::clock::FakeTime;
use vipsetup::oci::models::*;
use vipsetup::oci::transport::{ReqwestTransport, Timeouts};
use vipsetup::oci::{Client, Credentials, PrivateKey};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Status(u16, &'static str),
    Drop,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(k, _)| k == name).count()
    }
}

struct Wire {
    faults: Mutex<VecDeque<Fault>>,
    seen: Mutex<Vec<Seen>>,
}

fn key() -> PrivateKey {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci-keys/pkcs1.pem");
    PrivateKey::from_file(&p, None).unwrap()
}

/// OCI's check: rebuild the signing string from the received request and verify it.
fn signature_ok(s: &Seen, key: &PrivateKey) -> bool {
    let Some(auth) = s.header("authorization") else {
        return false;
    };
    let param = |name: &str| {
        let start = auth.find(&format!("{name}=\""))? + name.len() + 2;
        let end = auth[start..].find('"')? + start;
        Some(auth[start..end].to_string())
    };
    let (Some(headers), Some(sig)) = (param("headers"), param("signature")) else {
        return false;
    };
    let mut lines = Vec::new();
    for h in headers.split(' ') {
        let v = if h == "(request-target)" {
            format!("{} {}", s.method.to_lowercase(), s.target)
        } else {
            match s.header(h) {
                Some(v) => v.to_string(),
                None => return false,
            }
        };
        lines.push(format!("{h}: {v}"));
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_pkcs1_der())
        .verify(lines.join("\n").as_bytes(), &sig)
        .is_ok()
}

async fn read_request(r: &mut BufReader<tokio::net::TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

fn response(status: u16, body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nopc-request-id: wire-{status}\r\n{extra}\r\n{body}",
        body.len()
    )
}

const PRIVATE_IP: &str = r#"{"id":"ocid1.privateip.oc1..p","compartmentId":"c","ipAddress":"10.0.0.50","isPrimary":false,"subnetId":"s","vnicId":"v2"}"#;

async fn serve(faults: Vec<Fault>) -> (String, Arc<Wire>, tokio::task::JoinHandle<()>) {
    let wire = Arc::new(Wire {
        faults: Mutex::new(faults.into()),
        seen: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let w = wire.clone();
    let task = tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let w = w.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                while let Some(seen) = read_request(&mut r).await {
                    w.seen.lock().unwrap().push(seen.clone());
                    let fault = w.faults.lock().unwrap().pop_front();
                    let out = match fault {
                        Some(Fault::Drop) => return,
                        Some(Fault::Status(code, oci)) => response(
                            code,
                            &format!(r#"{{"code":"{oci}","message":"injected"}}"#),
                            "",
                        ),
                        None if !signature_ok(&seen, &key()) => response(
                            401,
                            r#"{"code":"NotAuthenticated","message":"bad signature"}"#,
                            "",
                        ),
                        None if seen.method == "DELETE" => response(204, "", ""),
                        None if seen.method == "POST" && seen.target.contains("action=") => {
                            response(200, "{}", "")
                        }
                        None => response(200, PRIVATE_IP, "etag: e2\r\n"),
                    };
                    if r.get_mut().write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, wire, task)
}

fn client(base: &str, time: Arc<FakeTime>) -> Client {
    let http = ReqwestTransport::new(Timeouts {
        connect: Duration::from_secs(5),
        read: Duration::from_secs(5),
    })
    .unwrap();
    Client::builder(Credentials::api_key(
        "ocid1.tenancy.oc1..t",
        "ocid1.user.oc1..u",
        key(),
        "us-ashburn-1",
    ))
    .endpoint(Some(base))
    .transport(Arc::new(http))
    .clock(time.clone())
    .sleeper(time)
    .build()
    .unwrap()
}

fn fake_time() -> Arc<FakeTime> {
    Arc::new(FakeTime::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

#[tokio::test]
async fn requests_on_the_wire_are_signed_exactly_as_sent() {
    let (base, wire, task) = serve(vec![]).await;
    let c = client(&base, fake_time());
    c.get_private_ip("ocid1.privateip.oc1..p").await.unwrap();
    let moved = c
        .update_private_ip(
            "ocid1.privateip.oc1..p",
            &UpdatePrivateIpDetails {
                vnic_id: Some("v2".into()),
                ..Default::default()
            },
            Some("e1"),
        )
        .await
        .unwrap();
    assert_eq!(moved.etag.as_deref(), Some("e2"));
    c.delete_private_ip("ocid1.privateip.oc1..p", Some("e2"))
        .await
        .unwrap();
    c.list_private_ips(&vipsetup::oci::ListPrivateIpsRequest {
        ip_address: Some("10.0.0.50".into()),
        subnet_id: Some("ocid1.subnet.oc1..s".into()),
        ..Default::default()
    })
    .await
    .unwrap_err(); // the canned body is an object, not a list: a decode error
                   // An empty POST (an instance action) must carry content-length: 0 and the empty-body hash.
    let req = vipsetup::oci::request::ApiRequest {
        operation: "InstanceAction",
        service: vipsetup::oci::Service::Core,
        method: "POST",
        path: "/20160918/instances/ocid1.instance.oc1..i".into(),
        query: vec![("action".into(), "STOP".into())],
        body: None,
        retry_token: None,
        if_match: None,
        if_none_match: None,
        content_type: "application/json",
        body_unsigned: false,
        home_region: false,
    };
    c.send(req).await.unwrap();
    task.abort();
    let seen = wire.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for s in &seen {
        assert!(signature_ok(s, &key()), "{} {}", s.method, s.target);
        assert_eq!(s.count("host"), 1, "one host header");
        assert_eq!(s.count("date"), 1);
        assert!(s.header("opc-request-id").is_some());
    }
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].header("if-match"), Some("e1"));
    assert_eq!(seen[1].body, br#"{"vnicId":"v2"}"#);
    assert_eq!(seen[2].method, "DELETE");
    assert_eq!(
        seen[3].target,
        "/20160918/privateIps?ipAddress=10.0.0.50&subnetId=ocid1.subnet.oc1..s"
    );
    let stop = &seen[4];
    assert_eq!(
        stop.target,
        "/20160918/instances/ocid1.instance.oc1..i?action=STOP"
    );
    assert_eq!(stop.header("content-length"), Some("0"));
    assert_eq!(
        stop.header("x-content-sha256"),
        Some(vipsetup::oci::signer::EMPTY_BODY_SHA256)
    );
    assert!(
        stop.header("opc-retry-token").is_some(),
        "instance actions take a retry token"
    );
}

#[tokio::test]
async fn survives_429_500_and_dropped_connections() {
    let (base, wire, task) = serve(vec![
        Fault::Status(429, "TooManyRequests"),
        Fault::Drop,
        Fault::Status(500, "InternalServerError"),
        Fault::Drop,
        Fault::Status(503, "ServiceUnavailable"),
    ])
    .await;
    let time = fake_time();
    let c = client(&base, time.clone());
    let created = c
        .create_private_ip(
            &CreatePrivateIpDetails {
                vnic_id: Some("v2".into()),
                ip_address: Some("10.0.0.50".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.value.ip_address, "10.0.0.50");
    task.abort();
    let seen = wire.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "5 faults, then success");
    let token = seen[0].header("opc-retry-token").unwrap();
    assert!(seen
        .iter()
        .all(|s| s.header("opc-retry-token") == Some(token)));
    assert_eq!(time.sleeps().len(), 5);
}

#[tokio::test]
async fn non_retryable_errors_surface_at_once_with_request_id() {
    let (base, wire, task) = serve(vec![Fault::Status(412, "NoEtagMatch")]).await;
    let c = client(&base, fake_time());
    let err = c
        .update_private_ip("p", &UpdatePrivateIpDetails::default(), Some("stale"))
        .await
        .unwrap_err();
    task.abort();
    let api = err.api().unwrap();
    assert_eq!((api.status, api.code.as_str()), (412, "NoEtagMatch"));
    assert_eq!(api.opc_request_id.as_deref(), Some("wire-412"));
    assert!(err.to_string().contains("read it again"), "{err}");
    assert_eq!(wire.seen.lock().unwrap().len(), 1);
}
