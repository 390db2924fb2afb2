//! OCI request signing (Signature version 1, rsa-sha256): a pure function of the request, the
//! date string and the key, with every stage (signing string, signature, `Authorization`) a value.
//!
//! The date is a parameter, never read from a clock here: Oracle's own vectors carry a date
//! string that no formatter would produce ("Thu" for a Sunday), and tests must pass it verbatim.

use std::fmt;

use base64::Engine as _;
use ring::digest;
use url::Url;

use super::keys::{KeyError, PrivateKey};
use super::secret::SecretString;

/// base64(SHA-256("")): what an empty POST/PUT still has to send and sign.
pub const EMPTY_BODY_SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// Which headers to sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderSet {
    /// Every API call: `date (request-target) host`, plus the body headers on POST/PUT/PATCH.
    Api,
    /// The instance-principal federation call (`POST /v1/x509`), which leaves `host` out.
    Federation,
    /// `date (request-target) host` even on a PUT: Object Storage PutObject, whose body the
    /// SDKs do not sign (py `enforce_content_headers=False`, go `RequestSignerExcludeBody`).
    BodyUnsigned,
}

/// What to sign one request with.
#[derive(Clone, Debug)]
pub struct SigningIdentity {
    /// `tenancy/user/fingerprint`, or `ST$<token>` (a bearer secret, hence the type).
    pub key_id: SecretString,
    pub key: PrivateKey,
}

/// The parts of a request the signature covers. `url` must be the URL exactly as it will be
/// sent: its path and query are signed byte for byte.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub date: &'a str,
    pub content_type: &'a str,
    /// `None` for requests without a body; POST/PUT/PATCH treat it as empty.
    pub body: Option<&'a [u8]>,
}

/// The signing string as an ordered list of (header name, value); render it with `Display`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningString {
    pub headers: Vec<(String, String)>,
}

impl SigningString {
    /// The `headers="..."` parameter: the signed header names in signing order.
    pub fn header_names(&self) -> String {
        self.headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for SigningString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{name}: {value}")?;
        }
        Ok(())
    }
}

/// Everything signing produced: the headers to put on the request (including `authorization`)
/// and the intermediate values, for tests and debugging. `Debug` hides the Authorization header
/// because a session-token key id is a bearer credential.
#[derive(Clone)]
pub struct Signed {
    pub signing_string: SigningString,
    pub signature: String,
    pub authorization: SecretString,
    /// Headers to send, lowercase names; the signed ones with exactly the signed values.
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("signing_string", &self.signing_string.header_names())
            .field("authorization", &"[redacted]")
            .finish()
    }
}

/// Whether the method carries a body and so signs the body headers.
pub fn has_body(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    )
}

/// `(request-target)`: lowercase method, space, path and query exactly as in the URL.
pub fn request_target(method: &str, url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{} {}?{}", method.to_ascii_lowercase(), url.path(), q),
        None => format!("{} {}", method.to_ascii_lowercase(), url.path()),
    }
}

/// `host`: the URL host, with `:port` only when the port is not the scheme's default.
pub fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `x-content-sha256`: base64 of the SHA-256 of the body.
pub fn body_sha256(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest::digest(&digest::SHA256, body))
}

/// Stage 1: the signing string.
pub fn signing_string(parts: &RequestParts<'_>, set: HeaderSet) -> SigningString {
    let mut headers = vec![
        ("date".to_string(), parts.date.to_string()),
        (
            "(request-target)".to_string(),
            request_target(parts.method, parts.url),
        ),
    ];
    if set != HeaderSet::Federation {
        headers.push(("host".to_string(), host_header(parts.url)));
    }
    if has_body(parts.method) && set != HeaderSet::BodyUnsigned {
        let body = parts.body.unwrap_or_default();
        headers.push(("content-length".to_string(), body.len().to_string()));
        headers.push(("content-type".to_string(), parts.content_type.to_string()));
        headers.push(("x-content-sha256".to_string(), body_sha256(body)));
    }
    SigningString { headers }
}

/// Stage 3: the `Authorization` header value. Parameters in the order Oracle's Python SDK
/// writes them (the order is not significant to the service).
pub fn authorization(key_id: &str, header_names: &str, signature: &str) -> String {
    format!(
        "Signature algorithm=\"rsa-sha256\",headers=\"{header_names}\",keyId=\"{key_id}\",signature=\"{signature}\",version=\"1\""
    )
}

/// All stages at once: signing string, signature (stage 2), Authorization header.
pub fn sign(
    parts: &RequestParts<'_>,
    set: HeaderSet,
    key_id: &str,
    key: &PrivateKey,
) -> Result<Signed, KeyError> {
    let signing_string = signing_string(parts, set);
    let signature = key.sign_sha256_base64(signing_string.to_string().as_bytes())?;
    let authorization = SecretString::new(authorization(
        key_id,
        &signing_string.header_names(),
        &signature,
    ));
    let mut headers: Vec<(String, String)> = signing_string
        .headers
        .iter()
        .filter(|(n, _)| n != "(request-target)")
        .cloned()
        .collect();
    headers.push(("authorization".to_string(), authorization.expose().clone()));
    Ok(Signed {
        signing_string,
        signature,
        authorization,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_has_port_only_when_not_default() {
        assert_eq!(
            host_header(&url("https://a.example.com/x")),
            "a.example.com"
        );
        assert_eq!(
            host_header(&url("https://a.example.com:443/x")),
            "a.example.com"
        );
        assert_eq!(
            host_header(&url("http://127.0.0.1:8080/x")),
            "127.0.0.1:8080"
        );
        assert_eq!(host_header(&url("http://127.0.0.1:80/x")), "127.0.0.1");
        assert_eq!(
            host_header(&url("https://a.example.com:8443/x")),
            "a.example.com:8443"
        );
    }

    #[test]
    fn request_target_keeps_encoding_and_query_order() {
        let u = url("https://h/20160918/x?b=2&a=Pjwf%3A%20PHX-AD-1");
        assert_eq!(
            request_target("GET", &u),
            "get /20160918/x?b=2&a=Pjwf%3A%20PHX-AD-1"
        );
    }

    #[test]
    fn get_and_delete_sign_three_headers_post_put_patch_six() {
        let u = url("https://h/p");
        for (m, n) in [
            ("GET", 3),
            ("DELETE", 3),
            ("HEAD", 3),
            ("POST", 6),
            ("PUT", 6),
            ("PATCH", 6),
        ] {
            let parts = RequestParts {
                method: m,
                url: &u,
                date: "d",
                content_type: "application/json",
                body: None,
            };
            assert_eq!(
                signing_string(&parts, HeaderSet::Api).headers.len(),
                n,
                "{m}"
            );
        }
    }

    #[test]
    fn empty_post_signs_zero_length_and_empty_hash() {
        let u = url("https://h/p?action=STOP");
        let parts = RequestParts {
            method: "POST",
            url: &u,
            date: "d",
            content_type: "application/json",
            body: None,
        };
        let s = signing_string(&parts, HeaderSet::Api).to_string();
        assert!(s.contains("\ncontent-length: 0\n"), "{s}");
        assert!(
            s.ends_with(&format!("x-content-sha256: {EMPTY_BODY_SHA256}")),
            "{s}"
        );
        assert_eq!(body_sha256(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn object_put_signs_date_target_and_host_only_as_the_sdks_do() {
        // py put_object(... enforce_content_headers=False); go RequestSignerExcludeBody.
        let u = url("https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/b/o/x.json");
        let parts = RequestParts {
            method: "PUT",
            url: &u,
            date: "d",
            content_type: "application/json",
            body: Some(b"{}"),
        };
        let s = signing_string(&parts, HeaderSet::BodyUnsigned);
        assert_eq!(s.header_names(), "date (request-target) host");
    }

    #[test]
    fn federation_set_leaves_host_out() {
        let u = url("https://auth.us-ashburn-1.oraclecloud.com/v1/x509");
        let parts = RequestParts {
            method: "POST",
            url: &u,
            date: "d",
            content_type: "application/json",
            body: Some(b"{}"),
        };
        let s = signing_string(&parts, HeaderSet::Federation);
        assert_eq!(
            s.header_names(),
            "date (request-target) content-length content-type x-content-sha256"
        );
    }
}
