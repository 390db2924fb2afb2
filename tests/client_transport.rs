//! The client's send loop without a network: a scripted transport answers, a fake clock records
//! sleeps. Covers signing of what is actually sent, retries, retry tokens, error mapping,
//! pagination, 401 refresh and home-region routing.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use vipsetup::oci::clock::{BoxFuture, FakeTime};
use vipsetup::oci::error::{TransportError, TransportErrorKind};
use vipsetup::oci::models::*;
use vipsetup::oci::request::{HttpRequest, HttpResponse};
use vipsetup::oci::signer;
use vipsetup::oci::transport::HttpSend;
use vipsetup::oci::{Client, Credentials, OciError, PrivateKey, SecretString, WaitOptions};

type Answer = Result<HttpResponse, TransportError>;
type Responder = Box<dyn Fn(&HttpRequest) -> Answer + Send + Sync>;

/// Answers from a script (or a function of the request) and records every request.
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    respond: Option<Responder>,
    seen: Mutex<Vec<HttpRequest>>,
}

impl Fake {
    fn scripted(answers: Vec<Answer>) -> Arc<Self> {
        Arc::new(Fake {
            script: Mutex::new(answers.into()),
            respond: None,
            seen: Mutex::new(Vec::new()),
        })
    }

    fn responding(f: impl Fn(&HttpRequest) -> Answer + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Fake {
            script: Mutex::new(VecDeque::new()),
            respond: Some(Box::new(f)),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<HttpRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl HttpSend for Fake {
    fn send(&self, req: HttpRequest) -> BoxFuture<'_, Answer> {
        let answer = match &self.respond {
            Some(f) => f(&req),
            None => self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .expect("more requests than scripted answers"),
        };
        self.seen.lock().unwrap().push(req);
        Box::pin(std::future::ready(answer))
    }
}

fn ok(body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    h.push(("opc-request-id".into(), "srv-req".into()));
    Ok(HttpResponse {
        status: 200,
        headers: h,
        body: body.as_bytes().to_vec(),
    })
}

fn status(code: u16, oci_code: &str) -> Answer {
    Ok(HttpResponse {
        status: code,
        headers: vec![("opc-request-id".into(), "srv-err".into())],
        body: format!(r#"{{"code":"{oci_code}","message":"m"}}"#).into_bytes(),
    })
}

fn dropped() -> Answer {
    Err(TransportError {
        kind: TransportErrorKind::Connect,
        message: "connection reset".into(),
    })
}

fn key() -> PrivateKey {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci-keys/pkcs8.pem");
    PrivateKey::from_file(&p, None).unwrap()
}

const TENANCY: &str = "ocid1.tenancy.oc1..t";

fn client(fake: Arc<Fake>, time: Arc<FakeTime>) -> Client {
    Client::builder(Credentials::api_key(
        TENANCY,
        "ocid1.user.oc1..u",
        key(),
        "us-phoenix-1",
    ))
    .transport(fake)
    .clock(time.clone())
    .sleeper(time)
    .build()
    .unwrap()
}

fn time() -> Arc<FakeTime> {
    Arc::new(FakeTime::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

/// Verifies the request's signature the way OCI does: rebuild the signing string from what was
/// sent and check it with the public key.
fn assert_signed_by(req: &HttpRequest, key: &PrivateKey) {
    let auth = req.header("authorization").expect("authorization header");
    let param = |name: &str| {
        let start = auth.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = auth[start..].find('"').unwrap() + start;
        auth[start..end].to_string()
    };
    let mut lines = Vec::new();
    for h in param("headers").split(' ') {
        let value = if h == "(request-target)" {
            signer::request_target(&req.method, &req.url)
        } else {
            req.header(h)
                .unwrap_or_else(|| panic!("signed header {h} not sent"))
                .to_string()
        };
        lines.push(format!("{h}: {value}"));
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(param("signature"))
        .unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_pkcs1_der())
        .verify(lines.join("\n").as_bytes(), &sig)
        .expect("signature verifies over what was sent");
    if let Some(body) = &req.body {
        assert_eq!(
            req.header("content-length").unwrap(),
            body.len().to_string()
        );
        assert_eq!(
            req.header("x-content-sha256").unwrap(),
            signer::body_sha256(body)
        );
    }
}

const PRIVATE_IP: &str = r#"{"id":"ocid1.privateip.oc1..p","compartmentId":"c","ipAddress":"10.0.0.50",
    "isPrimary":false,"subnetId":"s","vnicId":"v","ipState":"ASSIGNED","lifetime":"EPHEMERAL"}"#;

#[tokio::test]
async fn create_retries_5xx_and_drops_with_one_retry_token_and_backoff() {
    let fake = Fake::scripted(vec![
        status(503, "ServiceUnavailable"),
        dropped(),
        status(429, "TooManyRequests"),
        ok(PRIVATE_IP, &[("etag", "e1")]),
    ]);
    let t = time();
    let c = client(fake.clone(), t.clone());
    let details = CreatePrivateIpDetails {
        vnic_id: Some("v".into()),
        ip_address: Some("10.0.0.50".into()),
        ..Default::default()
    };
    let created = c.create_private_ip(&details, None).await.unwrap();
    assert_eq!(created.value.ip_address, "10.0.0.50");
    assert_eq!(created.etag.as_deref(), Some("e1"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 4);
    let token = seen[0]
        .header("opc-retry-token")
        .expect("a create gets a retry token")
        .to_string();
    assert_eq!(token.len(), 30);
    for r in &seen {
        assert_eq!(r.header("opc-retry-token"), Some(token.as_str()));
        assert_eq!(r.header("opc-request-id"), seen[0].header("opc-request-id"));
        assert_eq!(
            r.url.as_str(),
            "https://iaas.us-phoenix-1.oraclecloud.com/20160918/privateIps"
        );
        assert_signed_by(r, &key());
    }
    // 1 s·2^(n-1) plus up to 1 s of jitter.
    let sleeps = t.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (i, s) in sleeps.iter().enumerate() {
        let base = 1u64 << i;
        assert!(
            *s >= Duration::from_secs(base) && *s <= Duration::from_secs(base + 1),
            "{sleeps:?}"
        );
    }
}

#[tokio::test]
async fn a_given_retry_token_is_sent_as_is() {
    let fake = Fake::scripted(vec![ok(PRIVATE_IP, &[])]);
    let c = client(fake.clone(), time());
    c.create_private_ip(&CreatePrivateIpDetails::default(), Some("blueprint-vip-1"))
        .await
        .unwrap();
    assert_eq!(
        fake.seen()[0].header("opc-retry-token"),
        Some("blueprint-vip-1")
    );
}

#[tokio::test]
async fn not_found_is_not_retried_and_carries_everything_the_user_needs() {
    let fake = Fake::scripted(vec![status(404, "NotAuthorizedOrNotFound")]);
    let t = time();
    let c = client(fake.clone(), t.clone());
    let err = c.get_vnic("ocid1.vnic.oc1..v").await.unwrap_err();
    assert!(err.is_not_found());
    let api = err.api().unwrap();
    assert_eq!(api.status, 404);
    assert_eq!(api.code, "NotAuthorizedOrNotFound");
    assert_eq!(api.operation, "GetVnic");
    assert_eq!(api.opc_request_id.as_deref(), Some("srv-err"));
    assert!(api.hint.as_deref().unwrap().contains("policy"));
    assert!(t.sleeps().is_empty());
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(fake.seen()[0].method, "GET");
    assert_eq!(fake.seen()[0].body, None);
}

#[tokio::test]
async fn persistent_throttling_gives_up_after_eight_attempts() {
    let fake = Fake::responding(|_| status(429, "TooManyRequests"));
    let t = time();
    let c = client(fake.clone(), t.clone());
    let err = c.get_instance("i").await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(fake.seen().len(), 8);
    assert_eq!(t.sleeps().len(), 7);
    assert!(t.sleeps().iter().all(|s| *s <= Duration::from_secs(30)));
}

#[tokio::test]
async fn incorrect_state_is_retried_but_conflict_is_not() {
    let fake = Fake::scripted(vec![status(409, "IncorrectState"), ok("{}", &[])]);
    let c = client(fake.clone(), time());
    c.delete_private_ip("p", Some("e")).await.unwrap();
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(fake.seen()[0].header("if-match"), Some("e"));
    let fake = Fake::scripted(vec![status(409, "Conflict")]);
    let c = client(fake.clone(), time());
    let err = c.delete_private_ip("p", None).await.unwrap_err();
    assert_eq!(err.api().unwrap().code, "Conflict");
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(fake.seen()[0].header("if-match"), None);
}

#[tokio::test]
async fn connection_errors_that_never_end_become_transport_errors() {
    // The endpoint answered once: later connection errors get the SDKs' whole policy.
    let first = std::sync::atomic::AtomicBool::new(true);
    let fake = Fake::responding(move |_| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            status(404, "NotAuthorizedOrNotFound")
        } else {
            dropped()
        }
    });
    let c = client(fake.clone(), time());
    assert!(c.get_subnet("s").await.unwrap_err().is_not_found());
    let err = c.get_subnet("s").await.unwrap_err();
    match &err {
        OciError::Transport {
            operation,
            attempts,
            ..
        } => {
            assert_eq!(operation, "GetSubnet");
            assert_eq!(*attempts, 8);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("--endpoint"));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_reported_within_the_first_contact_budget() {
    // Regression (issue 11): an unreachable endpoint was retried silently for 93 s.
    let fake = Fake::responding(|_| dropped());
    let c = client(fake.clone(), time());
    let err = c.get_subnet("s").await.unwrap_err();
    match &err {
        OciError::Transport {
            attempts, waited, ..
        } => {
            assert!((3..=4).contains(attempts), "{attempts}");
            assert!(*waited <= Duration::from_secs(10), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("attempt(s) in "), "{msg}");
}

#[tokio::test]
async fn lists_follow_opc_next_page_to_the_end() {
    let fake = Fake::responding(|req| {
        let page = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .map(|(_, v)| v.into_owned());
        let item = |n: u32| {
            format!(
                r#"{{"id":"p{n}","compartmentId":"c","ipAddress":"10.0.0.{n}","subnetId":"s"}}"#
            )
        };
        match page.as_deref() {
            None => ok(
                &format!("[{},{}]", item(1), item(2)),
                &[("opc-next-page", "t2")],
            ),
            Some("t2") => ok(&format!("[{}]", item(3)), &[("opc-next-page", "t3")]),
            Some("t3") => ok("[]", &[]),
            Some(p) => panic!("unexpected page {p}"),
        }
    });
    let c = client(fake.clone(), time());
    let ips = c
        .list_private_ips(&vipsetup::oci::ListPrivateIpsRequest {
            vnic_id: Some("ocid1.vnic.oc1..v".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let addrs: Vec<_> = ips.iter().map(|p| p.ip_address.as_str()).collect();
    assert_eq!(addrs, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[1].url.query(),
        Some("vnicId=ocid1.vnic.oc1..v&page=t2")
    );
    for r in &seen {
        assert_signed_by(r, &key());
    }
}

#[tokio::test]
async fn session_token_key_id_and_one_refresh_after_401() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "tok-old\n").unwrap();
    let creds =
        Credentials::SessionToken(Arc::new(vipsetup::oci::auth::SessionTokenCredentials::new(
            SecretString::from("tok-old"),
            Some(token_path.clone()),
            key(),
            TENANCY.into(),
            "us-ashburn-1".into(),
        )));
    let path2 = token_path.clone();
    let fake = Fake::responding(move |req| {
        let auth = req.header("authorization").unwrap();
        if auth.contains("keyId=\"ST$tok-new\"") {
            ok(r#"{"id":"t","name":"n","homeRegionKey":"IAD"}"#, &[])
        } else {
            // The CLI refreshed the session meanwhile.
            std::fs::write(&path2, "tok-new").unwrap();
            status(401, "NotAuthenticated")
        }
    });
    let t = time();
    let c = Client::builder(creds)
        .transport(fake.clone())
        .clock(t.clone())
        .sleeper(t.clone())
        .build()
        .unwrap();
    let tenancy = c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(tenancy.home_region_key.as_deref(), Some("IAD"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0]
        .header("authorization")
        .unwrap()
        .contains("keyId=\"ST$tok-old\""));
    assert_eq!(
        seen[1].url.host_str(),
        Some("identity.us-ashburn-1.oci.oraclecloud.com")
    );
    assert!(t.sleeps().is_empty(), "a refresh retry does not back off");
    // The token never shows in Debug output of what was sent.
    assert!(!format!("{:?}", seen[0]).contains("tok-old"));
}

#[tokio::test]
async fn api_key_401_is_final_with_the_clock_and_key_hint() {
    let fake = Fake::scripted(vec![status(401, "NotAuthenticated")]);
    let c = client(fake.clone(), time());
    let err = c.get_tenancy(TENANCY).await.unwrap_err();
    assert!(err.to_string().contains("clock"), "{err}");
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn iam_writes_go_to_the_home_region_found_once() {
    let fake = Fake::responding(|req| {
        let path = req.url.path();
        if path.ends_with("/regionSubscriptions") {
            return ok(
                r#"[{"regionKey":"PHX","regionName":"us-phoenix-1","status":"READY","isHomeRegion":false},
                    {"regionKey":"IAD","regionName":"us-ashburn-1","status":"READY","isHomeRegion":true}]"#,
                &[],
            );
        }
        let pol = r#"{"id":"p","compartmentId":"c","name":"n","statements":["Allow x"],"lifecycleState":"ACTIVE"}"#;
        ok(pol, &[("etag", "e")])
    });
    let c = client(fake.clone(), time());
    let details = CreatePolicyDetails {
        compartment_id: "c".into(),
        name: "n".into(),
        statements: vec!["Allow x".into()],
        description: "d".into(),
        ..Default::default()
    };
    c.create_policy(&details, Some("tok")).await.unwrap();
    c.get_policy("p").await.unwrap();
    c.delete_policy("p", Some("e")).await.unwrap();
    let hosts: Vec<String> = fake
        .seen()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.host_str().unwrap()))
        .collect();
    assert_eq!(
        hosts,
        [
            "GET identity.us-phoenix-1.oci.oraclecloud.com",
            "POST identity.us-ashburn-1.oci.oraclecloud.com",
            "GET identity.us-phoenix-1.oci.oraclecloud.com",
            "DELETE identity.us-ashburn-1.oci.oraclecloud.com",
        ]
    );
}

#[tokio::test]
async fn endpoint_override_sends_everything_to_one_plain_http_base() {
    let fake = Fake::responding(|_| ok("[]", &[]));
    let c = Client::builder(Credentials::api_key(TENANCY, "u", key(), "us-phoenix-1"))
        .endpoint(Some("http://127.0.0.1:9999"))
        .transport(fake.clone())
        .build()
        .unwrap();
    c.list_dynamic_groups(TENANCY, None).await.unwrap();
    c.list_vnic_attachments("c", Some("i")).await.unwrap();
    for r in fake.seen() {
        assert_eq!(r.url.scheme(), "http");
        assert_eq!(r.header("host"), Some("127.0.0.1:9999"));
        assert_signed_by(&r, &key());
    }
}

#[tokio::test]
async fn wait_for_instance_polls_until_running() {
    let states = Arc::new(Mutex::new(vec!["PROVISIONING", "PROVISIONING", "RUNNING"]));
    let fake = Fake::responding(move |_| {
        let mut s = states.lock().unwrap();
        let state = if s.len() > 1 { s.remove(0) } else { s[0] };
        ok(
            &format!(
                r#"{{"id":"i","compartmentId":"c","availabilityDomain":"AD","shape":"s","region":"phx","lifecycleState":"{state}"}}"#
            ),
            &[("etag", "e")],
        )
    });
    let t = time();
    let c = client(fake.clone(), t.clone());
    let opts = WaitOptions {
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(60),
    };
    let i = c
        .wait_for_instance("i", InstanceLifecycleState::Running, opts)
        .await
        .unwrap();
    assert_eq!(i.value.lifecycle_state, InstanceLifecycleState::Running);
    assert_eq!(t.sleeps(), vec![Duration::from_secs(5); 2]);
}

#[tokio::test]
async fn wait_for_times_out_and_fails_on_terminal_states() {
    let fake = Fake::responding(|_| {
        ok(
            r#"{"id":"i","compartmentId":"c","availabilityDomain":"AD","shape":"s","region":"phx","lifecycleState":"PROVISIONING"}"#,
            &[],
        )
    });
    let t = time();
    let c = client(fake, t.clone());
    let opts = WaitOptions {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(30),
    };
    let err = c
        .wait_for_instance("i", InstanceLifecycleState::Running, opts)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::WaitTimeout { .. }), "{err}");
    assert_eq!(t.sleeps().len(), 3);

    let fake = Fake::responding(|_| {
        ok(
            r#"{"id":"i","compartmentId":"c","availabilityDomain":"AD","shape":"s","region":"phx","lifecycleState":"TERMINATED"}"#,
            &[],
        )
    });
    let c = client(fake, time());
    let err = c
        .wait_for_instance("i", InstanceLifecycleState::Running, opts)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::WaitFailed { .. }), "{err}");
}
