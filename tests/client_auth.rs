//! Each credential source: config profiles (DEFAULT inheritance, env/flag precedence, key files,
//! permission and fingerprint warnings, pass phrases), session tokens, and instance principals
//! against a small local metadata + auth server on 127.0.0.1:0.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use vipsetup::oci::auth::{AuthError, AuthMethod, AuthOptions};
use vipsetup::oci::clock::{FakeTime, SystemClock, TokioSleeper};
use vipsetup::oci::instance_principal::{jwt_expiry, parse_leaf_certificate, sanitize_pem};
use vipsetup::oci::{Client, Credentials, OciError, PrivateKey};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oci-keys")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn fingerprint() -> String {
    fixture_text("fingerprint.txt").trim().to_string()
}

/// A home directory with `.oci/config` and a private copy of a key fixture.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str, key_fixture: &str, mode: u32) -> Home {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".oci")).unwrap();
        std::fs::write(dir.path().join(".oci/config"), config).unwrap();
        let key = dir.path().join(".oci/key.pem");
        std::fs::copy(fixture(key_fixture), &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn opts(&self) -> AuthOptions {
        AuthOptions {
            home: Some(self.path().to_path_buf()),
            ..Default::default()
        }
    }
}

async fn client(opts: &AuthOptions) -> Result<Client, OciError> {
    Client::from_options_with(opts, None, Arc::new(SystemClock), Arc::new(TokioSleeper)).await
}

fn config(extra: &str) -> String {
    format!(
        "[DEFAULT]\nuser=ocid1.user.oc1..default\nfingerprint={}\nkey_file=~/.oci/key.pem\ntenancy=ocid1.tenancy.oc1..t\nregion=us-ashburn-1\n\n{extra}",
        fingerprint()
    )
}

#[tokio::test]
async fn api_key_profile_inherits_default_values() {
    let home = Home::new(
        &config("[OTHER]\nuser=ocid1.user.oc1..other\nregion=fra\n"),
        "pkcs1.pem",
        0o600,
    );
    let mut opts = home.opts();
    opts.profile = Some("OTHER".into());
    let c = client(&opts).await.unwrap();
    assert_eq!(c.tenancy_id(), "ocid1.tenancy.oc1..t");
    assert_eq!(c.region(), "eu-frankfurt-1");
    let id = c.credentials().identity().await.unwrap();
    assert_eq!(
        id.key_id.expose(),
        &format!(
            "ocid1.tenancy.oc1..t/ocid1.user.oc1..other/{}",
            fingerprint()
        )
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    // The default profile is DEFAULT itself.
    let c = client(&home.opts()).await.unwrap();
    assert_eq!(c.region(), "us-ashburn-1");
    assert_eq!(c.credentials().method(), AuthMethod::ApiKey);
}

#[tokio::test]
async fn readable_key_and_wrong_fingerprint_warn() {
    let cfg = "[DEFAULT]\nuser=u\nfingerprint=00:11\nkey_file=~/.oci/key.pem\ntenancy=t\nregion=us-ashburn-1\n";
    let home = Home::new(cfg, "pkcs8.pem", 0o644);
    let c = client(&home.opts()).await.unwrap();
    let w = c.warnings().join("\n");
    assert!(w.contains("chmod 600"), "{w}");
    assert!(w.contains("does not match key file"), "{w}");
    assert!(w.contains(&fingerprint()), "{w}");
}

#[tokio::test]
async fn encrypted_key_uses_pass_phrase_from_the_profile() {
    let home = Home::new(
        &config("[ENC]\npass_phrase=vipsetup-test\n"),
        "pkcs1-aes256.pem",
        0o600,
    );
    let mut opts = home.opts();
    opts.profile = Some("ENC".into());
    let c = client(&opts).await.unwrap();
    let id = c.credentials().identity().await.unwrap();
    assert_eq!(id.key.fingerprint(), fingerprint());
    // Without it: a refusal naming the file and the setting.
    opts.profile = None;
    let err = client(&opts).await.unwrap_err().to_string();
    assert!(
        err.contains(".oci/key.pem") && err.contains("pass_phrase"),
        "{err}"
    );
}

#[tokio::test]
async fn session_token_profile_signs_with_st_key_id() {
    let home = Home::new(
        &config("[SESSION]\nsecurity_token_file=~/.oci/token\n"),
        "pkcs8.pem",
        0o600,
    );
    std::fs::write(home.path().join(".oci/token"), "eyJhbGciOi.payload.sig\n").unwrap();
    let mut opts = home.opts();
    opts.profile = Some("SESSION".into());
    opts.auth = Some(AuthMethod::SecurityToken);
    let c = client(&opts).await.unwrap();
    let id = c.credentials().identity().await.unwrap();
    assert_eq!(id.key_id.expose(), "ST$eyJhbGciOi.payload.sig");
    assert_eq!(format!("{:?}", id.key_id), "[redacted]");
    // A profile without the token file is refused with what to add.
    opts.profile = None;
    let err = client(&opts).await.unwrap_err().to_string();
    assert!(err.contains("security_token_file"), "{err}");
}

#[tokio::test]
async fn config_errors_say_what_to_do() {
    let home = Home::new(
        "[DEFAULT]\nuser=u\nfingerprint=f\nkey_file=~/.oci/key.pem\ntenancy=t\n",
        "pkcs8.pem",
        0o600,
    );
    let err = client(&home.opts()).await.unwrap_err();
    assert!(
        matches!(&err, OciError::Auth(e) if matches!(**e, AuthError::NoRegion { .. })),
        "{err}"
    );
    let mut opts = home.opts();
    opts.region = Some("us-phoenix-1".into());
    assert_eq!(client(&opts).await.unwrap().region(), "us-phoenix-1");
    opts.profile = Some("MISSING".into());
    let err = client(&opts).await.unwrap_err().to_string();
    assert!(
        err.contains("'MISSING' not found") && err.contains("--profile"),
        "{err}"
    );
    let mut opts = home.opts();
    opts.config_file = Some(home.path().join("nope"));
    let err = client(&opts).await.unwrap_err().to_string();
    assert!(err.contains("cannot read OCI config file"), "{err}");
}

#[test]
fn flags_win_over_environment_which_wins_over_defaults() {
    let env = |k: &str| {
        match k {
            "OCI_CLI_CONFIG_FILE" => Some("/env/config"),
            "OCI_CLI_PROFILE" => Some("ENVPROFILE"),
            "OCI_CLI_AUTH" => Some("security_token"),
            "VIPSETUP_OCI_ENDPOINT" => Some("http://127.0.0.1:1"),
            "HOME" => Some("/home/x"),
            _ => None,
        }
        .map(str::to_string)
    };
    let o = AuthOptions::default().with_env(env).unwrap();
    assert_eq!(o.config_file.as_deref(), Some(Path::new("/env/config")));
    assert_eq!(o.profile_name(), "ENVPROFILE");
    assert_eq!(o.method(), AuthMethod::SecurityToken);
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:1"));
    let flags = AuthOptions {
        config_file: Some("/flag/config".into()),
        profile: Some("FLAG".into()),
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some("http://127.0.0.1:2".into()),
        ..Default::default()
    };
    let o = flags.with_env(env).unwrap();
    assert_eq!(o.config_file.as_deref(), Some(Path::new("/flag/config")));
    assert_eq!(o.profile_name(), "FLAG");
    assert_eq!(o.method(), AuthMethod::InstancePrincipal);
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:2"));
    let o = AuthOptions::default()
        .with_env(|k| (k == "HOME").then(|| "/h".to_string()))
        .unwrap();
    assert_eq!(o.config_path(), PathBuf::from("/h/.oci/config"));
    assert_eq!(o.profile_name(), "DEFAULT");
    assert_eq!(o.method(), AuthMethod::ApiKey);
    let err = AuthOptions::default()
        .with_env(|k| (k == "OCI_CLI_AUTH").then(|| "password".to_string()))
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("use api_key, security_token or instance_principal"));
}

// ---- instance principals against a local metadata + auth + API server ----

const TENANCY: &str = "ocid1.tenancy.oc1..testtenancy";

struct Server {
    /// `exp` of the tokens issued (seconds since the epoch).
    exp: Mutex<u64>,
    federations: AtomicUsize,
    /// Answer the next API call with 401 (to exercise the refresh).
    fail_next_api_call: Mutex<bool>,
    /// The latest token and the session public key it was issued for.
    session: Mutex<Option<(String, Vec<u8>)>>,
    api_calls: AtomicUsize,
    errors: Mutex<Vec<String>>,
    /// What `instance/regionInfo` answers (404 when `None`, as older metadata services do).
    region_info: Mutex<Option<String>>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Checks an OCI signature as the service would; returns the keyId.
fn verify(
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    public_pkcs1: &[u8],
    expect_headers: &str,
) -> Result<String, String> {
    let auth = header(h, "authorization");
    let param = |name: &str| -> Result<String, String> {
        let start = auth
            .find(&format!("{name}=\""))
            .ok_or(format!("no {name}"))?
            + name.len()
            + 2;
        let end = auth[start..].find('"').ok_or("unterminated")? + start;
        Ok(auth[start..end].to_string())
    };
    let headers = param("headers")?;
    if headers != expect_headers {
        return Err(format!(
            "signed headers `{headers}`, expected `{expect_headers}`"
        ));
    }
    let mut lines = Vec::new();
    for name in headers.split(' ') {
        let value = if name == "(request-target)" {
            format!(
                "{} {}",
                method.as_str().to_lowercase(),
                uri.path_and_query().unwrap()
            )
        } else {
            header(h, name).to_string()
        };
        lines.push(format!("{name}: {value}"));
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(param("signature")?)
        .map_err(|e| e.to_string())?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_pkcs1)
        .verify(lines.join("\n").as_bytes(), &sig)
        .map_err(|_| "bad signature".to_string())?;
    param("keyId")
}

fn pkcs1_from_spki_b64(b64: &str) -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let k = rsa::RsaPublicKey::from_public_key_der(&der).unwrap();
    k.to_pkcs1_der().unwrap().as_bytes().to_vec()
}

fn jwt(exp: u64, n: usize) -> String {
    let b = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    format!(
        "{}.{}.sig",
        b(serde_json::json!({"alg":"RS256"})),
        b(serde_json::json!({"exp": exp, "n": n, "tenant": TENANCY}))
    )
}

async fn handle(
    State(s): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let fail = |s: &Server, msg: String| {
        s.errors.lock().unwrap().push(msg.clone());
        (
            StatusCode::UNAUTHORIZED,
            format!(r#"{{"code":"NotAuthenticated","message":"{msg}"}}"#),
        )
            .into_response()
    };
    if let Some(item) = path.strip_prefix("/opc/v2/") {
        if header(&h, "authorization") != "Bearer Oracle" {
            return fail(&s, "imds without Bearer Oracle".into());
        }
        return match item {
            "instance/region" => "iad".into_response(),
            "instance/regionInfo" => match s.region_info.lock().unwrap().clone() {
                Some(info) => info.into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
            "identity/cert.pem" => fixture_text("instance-cert.pem").into_response(),
            "identity/key.pem" => fixture_text("instance-key.pem").into_response(),
            "identity/intermediate.pem" => fixture_text("intermediate-cert.pem").into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if path == "/v1/x509" {
        let leaf = PrivateKey::from_file(&fixture("instance-key.pem"), None).unwrap();
        let expected = "date (request-target) content-length content-type x-content-sha256";
        let key_id = match verify(&method, &uri, &h, leaf.public_key_pkcs1_der(), expected) {
            Ok(k) => k,
            Err(e) => return fail(&s, format!("federation: {e}")),
        };
        let sha1 = fixture_text("instance-cert.sha1");
        let sha1 = sha1.trim().trim_start_matches("sha1 Fingerprint=");
        if key_id != format!("{TENANCY}/fed-x509/{sha1}") {
            return fail(&s, format!("federation keyId {key_id}"));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if v["certificate"] != sanitize_pem(&fixture_text("instance-cert.pem"))
            || v["intermediateCertificates"][0]
                != sanitize_pem(&fixture_text("intermediate-cert.pem"))
        {
            return fail(&s, "federation body certificates".into());
        }
        let n = s.federations.fetch_add(1, Ordering::SeqCst) + 1;
        let token = jwt(*s.exp.lock().unwrap(), n);
        let public = pkcs1_from_spki_b64(v["publicKey"].as_str().unwrap());
        *s.session.lock().unwrap() = Some((token.clone(), public));
        return axum::Json(serde_json::json!({ "token": token })).into_response();
    }
    s.api_calls.fetch_add(1, Ordering::SeqCst);
    let Some((token, public)) = s.session.lock().unwrap().clone() else {
        return fail(&s, "api call before federation".into());
    };
    match verify(&method, &uri, &h, &public, "date (request-target) host") {
        Ok(k) if k == format!("ST${token}") => {}
        Ok(k) => return fail(&s, format!("api keyId {}", &k[..k.len().min(20)])),
        Err(e) => return fail(&s, format!("api: {e}")),
    }
    if std::mem::take(&mut *s.fail_next_api_call.lock().unwrap()) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code":"NotAuthenticated","message":"token expired"}"#,
        )
            .into_response();
    }
    let body = serde_json::json!({"id": TENANCY, "name": "test", "homeRegionKey": "IAD"});
    ([("opc-request-id", "r1")], axum::Json(body)).into_response()
}

/// Serves on 127.0.0.1:0 until dropped.
struct Running {
    base: String,
    state: Arc<Server>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(exp: u64) -> Running {
    let state = Arc::new(Server {
        exp: Mutex::new(exp),
        federations: AtomicUsize::new(0),
        fail_next_api_call: Mutex::new(false),
        session: Mutex::new(None),
        api_calls: AtomicUsize::new(0),
        errors: Mutex::new(Vec::new()),
        region_info: Mutex::new(None),
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Running { base, state, task }
}

fn ip_opts(base: &str) -> AuthOptions {
    AuthOptions {
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some(base.to_string()),
        metadata_base_url: Some(format!("{base}/opc/v2")),
        ..Default::default()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `instance/regionInfo` names the region even when the region table does not know it (a
/// region newer than the table); without it the short code from `instance/region` is mapped.
#[tokio::test]
async fn instance_principal_takes_its_region_from_region_info() {
    let srv = serve(now_secs() + 3600).await;
    *srv.state.region_info.lock().unwrap() = Some(
        r#"{"realmKey":"oc1","realmDomainComponent":"oraclecloud.com","regionKey":"NEW","regionIdentifier":"xx-newcity-1"}"#
            .into(),
    );
    let c = client(&ip_opts(&srv.base)).await.unwrap();
    assert_eq!(c.region(), "xx-newcity-1");
}

#[tokio::test]
async fn instance_principal_federates_signs_with_the_session_key_and_refreshes_after_401() {
    let srv = serve(now_secs() + 3600).await;
    let c = client(&ip_opts(&srv.base)).await.unwrap();
    assert_eq!(
        c.tenancy_id(),
        TENANCY,
        "tenancy from the certificate subject"
    );
    assert_eq!(c.region(), "us-ashburn-1", "short region code mapped");
    assert_eq!(c.credentials().method(), AuthMethod::InstancePrincipal);

    let t = c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(t.home_region_key.as_deref(), Some("IAD"));
    c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(
        srv.state.federations.load(Ordering::SeqCst),
        1,
        "the token is reused"
    );

    *srv.state.fail_next_api_call.lock().unwrap() = true;
    c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(
        srv.state.federations.load(Ordering::SeqCst),
        2,
        "a 401 federates again"
    );
    assert_eq!(srv.state.api_calls.load(Ordering::SeqCst), 4);
    assert!(
        srv.state.errors.lock().unwrap().is_empty(),
        "{:?}",
        srv.state.errors.lock().unwrap()
    );
}

#[tokio::test]
async fn instance_principal_renews_a_token_about_to_expire() {
    let start = UNIX_EPOCH + Duration::from_secs(now_secs());
    let time = Arc::new(FakeTime::new(start));
    let srv = serve(now_secs() + 120).await;
    let c = Client::from_options_with(&ip_opts(&srv.base), None, time.clone(), time.clone())
        .await
        .unwrap();
    c.get_tenancy(TENANCY).await.unwrap();
    time.advance(Duration::from_secs(30));
    c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(
        srv.state.federations.load(Ordering::SeqCst),
        1,
        "90 s left: still valid"
    );
    time.advance(Duration::from_secs(40));
    c.get_tenancy(TENANCY).await.unwrap();
    assert_eq!(
        srv.state.federations.load(Ordering::SeqCst),
        2,
        "50 s left: renewed first"
    );
    assert!(
        srv.state.errors.lock().unwrap().is_empty(),
        "{:?}",
        srv.state.errors.lock().unwrap()
    );
}

#[tokio::test]
async fn without_metadata_service_the_error_says_so() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let time = Arc::new(FakeTime::new(UNIX_EPOCH));
    let opts = ip_opts(&format!("http://127.0.0.1:{port}"));
    let err = Client::from_options_with(&opts, None, time.clone(), time.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("instance metadata service"), "{err}");
    assert!(err.contains("only on an OCI instance"), "{err}");
    assert_eq!(time.sleeps().len(), 3, "retried before giving up");
}

#[test]
fn certificate_and_jwt_parsing() {
    let leaf = parse_leaf_certificate(&fixture_text("instance-cert.pem")).unwrap();
    assert_eq!(leaf.tenancy, TENANCY);
    let sha1 = fixture_text("instance-cert.sha1");
    assert_eq!(
        leaf.sha1_fingerprint,
        sha1.trim().trim_start_matches("sha1 Fingerprint=")
    );
    assert!(
        parse_leaf_certificate(&fixture_text("intermediate-cert.pem"))
            .unwrap_err()
            .contains("opc-tenant")
    );
    assert_eq!(
        jwt_expiry(&jwt(1_800_000_000, 1)).unwrap(),
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    );
    assert!(jwt_expiry("garbage").is_err());
    let s = sanitize_pem(&fixture_text("instance-cert.pem"));
    assert!(!s.contains('\n') && !s.contains("BEGIN"));
}

#[tokio::test]
async fn instance_principal_federation_url_defaults_to_the_regions_auth_service() {
    use vipsetup::oci::instance_principal::{InstancePrincipal, InstancePrincipalConfig};
    let srv = serve(now_secs() + 3600).await;
    let cfg = InstancePrincipalConfig {
        metadata_base_url: format!("{}/opc/v2", srv.base),
        federation_endpoint: None,
        endpoints: vipsetup::oci::Endpoints::Oci,
        region: None,
    };
    let http =
        Arc::new(vipsetup::oci::transport::ReqwestTransport::new(Default::default()).unwrap());
    let ip = InstancePrincipal::new(cfg, http, Arc::new(SystemClock), Arc::new(TokioSleeper))
        .await
        .unwrap();
    assert_eq!(
        ip.federation_url(),
        "https://auth.us-ashburn-1.oraclecloud.com/v1/x509"
    );
    let creds = Credentials::InstancePrincipal(Arc::new(ip));
    assert_eq!(creds.tenancy_id(), TENANCY);
}
