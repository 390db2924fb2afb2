//! Instance principals: the instance's identity certificate from the metadata service (IMDS v2),
//! federation at the auth service (`POST /v1/x509`, signed with the certificate's key) for a
//! session token bound to a fresh session key, and renewal before the token expires or after a 401.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::sync::Mutex;
use url::Url;

use super::clock::{Clock, Sleeper};
use super::endpoint::{canonical_region, Endpoints, Service};
use super::error::AuthError;
use super::keys::{colon_hex, PrivateKey};
use super::request::{HttpRequest, HttpResponse};
use super::secret::SecretString;
use super::signer::{self, HeaderSet, RequestParts, SigningIdentity};
use super::transport::HttpSend;

/// The metadata service base on OCI instances.
pub const DEFAULT_METADATA_BASE_URL: &str = "http://169.254.169.254/opc/v2";

/// Renew this long before `exp`, as the Python SDK does (it also guards against clock skew).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Where to find the metadata service and the auth service.
#[derive(Clone, Debug)]
pub struct InstancePrincipalConfig {
    pub metadata_base_url: String,
    /// Full federation URL or a base to which `/v1/x509` is appended; `None` = the region's auth
    /// service (or the endpoint override).
    pub federation_endpoint: Option<String>,
    pub endpoints: Endpoints,
    /// Overrides the region the metadata service reports.
    pub region: Option<String>,
}

struct Session {
    token: SecretString,
    expires: SystemTime,
    key: PrivateKey,
}

/// An instance principal. Tokens are fetched lazily and shared by all clones of the client.
pub struct InstancePrincipal {
    http: Arc<dyn HttpSend>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    metadata_base: String,
    federation_url: String,
    region: String,
    tenancy: String,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for InstancePrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePrincipal")
            .field("tenancy", &self.tenancy)
            .field("region", &self.region)
            .field("federation_url", &self.federation_url)
            .finish()
    }
}

/// What the leaf certificate says: the tenancy and the SHA-1 fingerprint used in the key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafCertificate {
    pub tenancy: String,
    /// SHA-1 of the DER, uppercase hex with colons (the Python SDK's form).
    pub sha1_fingerprint: String,
}

/// Reads the tenancy OCID from the subject attribute `opc-tenant:<ocid>` (or `opc-identity:`).
pub fn parse_leaf_certificate(pem_text: &str) -> Result<LeafCertificate, String> {
    let block = pem::parse(pem_text).map_err(|e| format!("not PEM: {e}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(block.contents())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut tenancy = None;
    for attr in cert.subject().iter_attributes() {
        if let Ok(v) = attr.as_str() {
            if let Some(t) = v.strip_prefix("opc-tenant:") {
                tenancy = Some(t.to_string());
            } else if let Some(t) = v.strip_prefix("opc-identity:") {
                tenancy.get_or_insert_with(|| t.to_string());
            }
        }
    }
    let tenancy = tenancy.ok_or("the subject has no opc-tenant: attribute")?;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, block.contents());
    Ok(LeafCertificate {
        tenancy,
        sha1_fingerprint: colon_hex(digest.as_ref(), true),
    })
}

/// A PEM block without its BEGIN/END lines and line breaks, as the auth service wants it.
pub fn sanitize_pem(pem_text: &str) -> String {
    pem_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect()
}

/// The `/v1/x509` request body.
pub fn federation_body(
    cert_pem: &str,
    intermediate_pem: &str,
    session_public_pem: &str,
) -> Vec<u8> {
    let mut body = serde_json::json!({
        "certificate": sanitize_pem(cert_pem),
        "publicKey": sanitize_pem(session_public_pem),
    });
    if !intermediate_pem.trim().is_empty() {
        body["intermediateCertificates"] = serde_json::json!([sanitize_pem(intermediate_pem)]);
    }
    serde_json::to_vec(&body).expect("json")
}

/// The signed federation request: headers `date (request-target) content-length content-type
/// x-content-sha256` (no host), key id `<tenancy>/fed-x509/<SHA-1 fingerprint>`, leaf key.
pub fn federation_request(
    url: &Url,
    date: &str,
    body: Vec<u8>,
    leaf: &LeafCertificate,
    leaf_key: &PrivateKey,
) -> Result<HttpRequest, AuthError> {
    let key_id = format!("{}/fed-x509/{}", leaf.tenancy, leaf.sha1_fingerprint);
    let parts = RequestParts {
        method: "POST",
        url,
        date,
        content_type: "application/json",
        body: Some(&body),
    };
    let signed = signer::sign(&parts, HeaderSet::Federation, &key_id, leaf_key)?;
    let mut headers = signed.headers;
    headers.push(("accept".into(), "application/json".into()));
    Ok(HttpRequest {
        method: "POST".into(),
        url: url.clone(),
        headers,
        body: Some(body),
    })
}

/// The `exp` claim of a JWT, without verifying it (the service does that).
pub fn jwt_expiry(token: &str) -> Result<SystemTime, String> {
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("JWT payload is not base64url: {e}"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("JWT payload is not JSON: {e}"))?;
    let exp = claims["exp"].as_f64().ok_or("JWT has no exp claim")?;
    Ok(UNIX_EPOCH + Duration::from_secs_f64(exp.max(0.0)))
}

fn federation_url(cfg: &InstancePrincipalConfig, region: &str) -> String {
    match &cfg.federation_endpoint {
        Some(e) if e.trim_end_matches('/').ends_with("/v1/x509") => {
            e.trim_end_matches('/').to_string()
        }
        Some(e) => format!("{}/v1/x509", e.trim_end_matches('/')),
        None => format!("{}/v1/x509", cfg.endpoints.base_url(Service::Auth, region)),
    }
}

impl InstancePrincipal {
    /// Asks the metadata service for the region and the certificate's tenancy. Federation
    /// happens on first use.
    pub async fn new(
        cfg: InstancePrincipalConfig,
        http: Arc<dyn HttpSend>,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, AuthError> {
        let mut ip = InstancePrincipal {
            http,
            clock,
            sleeper,
            metadata_base: cfg.metadata_base_url.trim_end_matches('/').to_string(),
            federation_url: String::new(),
            region: String::new(),
            tenancy: String::new(),
            session: Mutex::new(None),
        };
        ip.region = match &cfg.region {
            Some(r) => canonical_region(r),
            None => match ip.region_info().await {
                Some(region) => region,
                None => canonical_region(ip.metadata("instance/region").await?.trim()),
            },
        };
        let cert_url = ip.metadata_url("identity/cert.pem");
        let cert = ip.metadata("identity/cert.pem").await?;
        ip.tenancy = parse_leaf_certificate(&cert)
            .map_err(|detail| AuthError::Certificate {
                url: cert_url,
                detail,
            })?
            .tenancy;
        ip.federation_url = federation_url(&cfg, &ip.region);
        Ok(ip)
    }

    pub fn tenancy_id(&self) -> &str {
        &self.tenancy
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn federation_url(&self) -> &str {
        &self.federation_url
    }

    fn metadata_url(&self, path: &str) -> String {
        format!("{}/{path}", self.metadata_base)
    }

    /// The region's full name from `instance/regionInfo` (`regionIdentifier`), which names even
    /// regions newer than our region table (the Python SDK's auth_utils reads it as well). One
    /// try: without it (older metadata services, test fakes) `instance/region` is used instead.
    async fn region_info(&self) -> Option<String> {
        let url = Url::parse(&self.metadata_url("instance/regionInfo")).ok()?;
        let req = HttpRequest {
            method: "GET".into(),
            url,
            headers: vec![("authorization".into(), "Bearer Oracle".into())],
            body: None,
        };
        let r = self.http.send(req).await.ok().filter(|r| r.is_success())?;
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        let region = v.get("regionIdentifier")?.as_str()?.trim();
        (!region.is_empty()).then(|| canonical_region(region))
    }

    /// GET from the metadata service (`Authorization: Bearer Oracle`), retrying connection
    /// errors, 404, 429 and 5xx a few times as the Python SDK does.
    async fn metadata(&self, path: &str) -> Result<String, AuthError> {
        let url_s = self.metadata_url(path);
        let url = Url::parse(&url_s).map_err(|e| AuthError::Metadata {
            url: url_s.clone(),
            detail: e.to_string(),
        })?;
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                self.sleeper
                    .sleep(Duration::from_secs(1 << (attempt - 1)))
                    .await;
            }
            let req = HttpRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![("authorization".into(), "Bearer Oracle".into())],
                body: None,
            };
            match self.http.send(req).await {
                Ok(r) if r.is_success() => return Ok(String::from_utf8_lossy(&r.body).into_owned()),
                Ok(r) if r.status == 404 || r.status == 429 || r.status >= 500 => {
                    last = format!("HTTP {}", r.status);
                }
                Ok(r) => {
                    return Err(AuthError::Metadata {
                        url: url_s,
                        detail: format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)),
                    })
                }
                Err(e) => last = e.message,
            }
        }
        Err(AuthError::Metadata {
            url: url_s,
            detail: last,
        })
    }

    /// The session key and `ST$<token>`, federating when there is no token or it expires within
    /// [`EXPIRY_MARGIN`].
    pub async fn identity(&self) -> Result<SigningIdentity, AuthError> {
        let mut session = self.session.lock().await;
        let now = self.clock.now();
        let fresh = session
            .as_ref()
            .is_some_and(|s| now + EXPIRY_MARGIN < s.expires);
        if !fresh {
            *session = Some(self.federate().await?);
        }
        let s = session.as_ref().expect("session set above");
        Ok(SigningIdentity {
            key_id: SecretString::new(format!("ST${}", s.token.expose())),
            key: s.key.clone(),
        })
    }

    /// Federates again now (after a 401).
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let mut session = self.session.lock().await;
        *session = Some(self.federate().await?);
        Ok(())
    }

    async fn federate(&self) -> Result<Session, AuthError> {
        // Re-read everything: the certificate rotates, and a renewal must use the current one.
        let cert_url = self.metadata_url("identity/cert.pem");
        let cert = self.metadata("identity/cert.pem").await?;
        let leaf_key_pem = self.metadata("identity/key.pem").await?;
        let intermediate = self.metadata("identity/intermediate.pem").await?;
        let leaf = parse_leaf_certificate(&cert).map_err(|detail| AuthError::Certificate {
            url: cert_url.clone(),
            detail,
        })?;
        if leaf.tenancy != self.tenancy {
            return Err(AuthError::Certificate {
                url: cert_url,
                detail: format!(
                    "the tenancy changed from {} to {}",
                    self.tenancy, leaf.tenancy
                ),
            });
        }
        let leaf_key = PrivateKey::from_pem(
            leaf_key_pem.as_bytes(),
            None,
            &format!("instance key {}", self.metadata_url("identity/key.pem")),
        )?;
        let session_key = tokio::task::spawn_blocking(PrivateKey::generate_session_key)
            .await
            .map_err(|e| super::keys::KeyError::Generate(e.to_string()))??;
        let body = federation_body(&cert, &intermediate, &session_key.public_key_pem());
        let url = Url::parse(&self.federation_url).map_err(|e| AuthError::Federation {
            url: self.federation_url.clone(),
            status: None,
            detail: e.to_string(),
            opc_request_id: None,
        })?;
        let fail =
            |status: Option<u16>, detail: String, id: Option<String>| AuthError::Federation {
                url: self.federation_url.clone(),
                status,
                detail,
                opc_request_id: id,
            };
        // Three attempts on 5xx and connection errors, none on 4xx (as the SDKs do).
        let mut last = None;
        for attempt in 0..3u32 {
            if attempt > 0 {
                self.sleeper
                    .sleep(Duration::from_secs(1 << (attempt - 1)))
                    .await;
            }
            let date = httpdate::fmt_http_date(self.clock.now());
            let req = federation_request(&url, &date, body.clone(), &leaf, &leaf_key)?;
            match self.http.send(req).await {
                Ok(r) if r.is_success() => return self.session_from(&r, session_key),
                Ok(r) if r.status >= 500 || r.status == 429 => {
                    last = Some(fail(Some(r.status), body_text(&r), r.opc_request_id()))
                }
                Ok(r) => return Err(fail(Some(r.status), body_text(&r), r.opc_request_id())),
                Err(e) => last = Some(fail(None, e.message, None)),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn session_from(&self, r: &HttpResponse, key: PrivateKey) -> Result<Session, AuthError> {
        let bad = |detail: String| AuthError::Federation {
            url: self.federation_url.clone(),
            status: Some(r.status),
            detail,
            opc_request_id: r.opc_request_id(),
        };
        #[derive(serde::Deserialize)]
        struct TokenBody {
            token: String,
        }
        let t: TokenBody = serde_json::from_slice(&r.body)
            .map_err(|e| bad(format!("no token in the answer: {e}")))?;
        let expires = jwt_expiry(&t.token).map_err(bad)?;
        Ok(Session {
            token: SecretString::new(t.token),
            expires,
            key,
        })
    }
}

fn body_text(r: &HttpResponse) -> String {
    // Never echo a token that a misbehaving server might put in an error body.
    let text: String = String::from_utf8_lossy(&r.body).chars().take(300).collect();
    if text.contains("\"token\"") {
        "[answer redacted]".to_string()
    } else {
        text
    }
}
