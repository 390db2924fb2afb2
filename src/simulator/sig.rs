//! Verification of OCI request signatures (Signature version 1, rsa-sha256) as the service does:
//! parse the `Authorization` header, insist on the mandatory header sets, rebuild the signing
//! string from the request as received, check the body hash and length, the clock skew, and the
//! RSA signature with ring.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeMap;

/// OCI refuses requests whose `date`/`x-date` is further than this from its clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The parameters of an `Authorization: Signature ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    pub key_id: String,
    pub algorithm: String,
    pub headers: Vec<String>,
    pub signature: String,
    pub version: String,
}

/// Who a keyId names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    ApiKey {
        tenancy: String,
        user: String,
        fingerprint: String,
    },
    Session(String),
    FedX509 {
        tenancy: String,
        sha256: bool,
        fingerprint: String,
    },
}

/// The parts of a received request the signature covers.
pub struct Received<'a> {
    pub method: &'a str,
    /// path and query exactly as received
    pub target: &'a str,
    /// lowercase header name -> values
    pub headers: &'a BTreeMap<String, Vec<String>>,
    pub body: &'a [u8],
}

/// Parses `Signature k="v",...`; parameter order is free.
pub fn parse_authorization(value: &str) -> Result<AuthParams, String> {
    let rest = value
        .strip_prefix("Signature ")
        .ok_or("the Authorization header does not use the Signature scheme")?;
    let mut map = BTreeMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, after) = s.split_once('=').ok_or("malformed Signature parameters")?;
        let after = after
            .strip_prefix('"')
            .ok_or("Signature parameter values must be quoted")?;
        let end = after.find('"').ok_or("unterminated Signature parameter")?;
        map.insert(k.trim().to_string(), after[..end].to_string());
        s = after[end + 1..].trim_start_matches([',', ' ']);
    }
    let get = |k: &str| {
        map.get(k)
            .cloned()
            .ok_or_else(|| format!("the Signature is missing {k}"))
    };
    let params = AuthParams {
        key_id: get("keyId")?,
        algorithm: get("algorithm")?,
        headers: map
            .get("headers")
            .map(|h| h.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_else(|| vec!["date".into()]),
        signature: get("signature")?,
        version: map.get("version").cloned().unwrap_or_else(|| "1".into()),
    };
    if params.algorithm != "rsa-sha256" {
        return Err(format!("unsupported algorithm {}", params.algorithm));
    }
    if params.version != "1" {
        return Err(format!("unsupported signature version {}", params.version));
    }
    Ok(params)
}

/// Splits a keyId into who it names.
pub fn parse_key_id(key_id: &str) -> Result<KeyRef, String> {
    if let Some(token) = key_id.strip_prefix("ST$") {
        return Ok(KeyRef::Session(token.to_string()));
    }
    let parts: Vec<&str> = key_id.split('/').collect();
    match parts.as_slice() {
        [t, "fed-x509", fp] => Ok(KeyRef::FedX509 {
            tenancy: t.to_string(),
            sha256: false,
            fingerprint: fp.to_string(),
        }),
        [t, "fed-x509-sha256", fp] => Ok(KeyRef::FedX509 {
            tenancy: t.to_string(),
            sha256: true,
            fingerprint: fp.to_string(),
        }),
        [t, u, fp] if t.starts_with("ocid1.tenancy.") => Ok(KeyRef::ApiKey {
            tenancy: t.to_string(),
            user: u.to_string(),
            fingerprint: fp.to_string(),
        }),
        _ => Err("the keyId is not <tenancy>/<user>/<fingerprint> nor ST$<token>".into()),
    }
}

fn header(r: &Received, name: &str) -> Option<String> {
    r.headers.get(name).map(|v| v.join(", "))
}

/// Rebuilds the signing string for the listed headers.
pub fn signing_string(r: &Received, headers: &[String]) -> Result<String, String> {
    let mut lines = Vec::with_capacity(headers.len());
    for h in headers {
        if h == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {}",
                r.method.to_lowercase(),
                r.target
            ));
        } else {
            let v =
                header(r, h).ok_or_else(|| format!("signed header {h} is not in the request"))?;
            lines.push(format!("{h}: {v}"));
        }
    }
    Ok(lines.join("\n"))
}

/// Checks everything but the key: mandatory headers, body hash and length, clock skew.
/// `host_required` is false only for the federation endpoint.
pub fn check_request(
    r: &Received,
    p: &AuthParams,
    now_secs: i64,
    host_required: bool,
) -> Result<(), String> {
    check_request_body(r, p, now_secs, host_required, true)
}

/// `check_request`, where `body_signed` false lets a PUT/POST leave its body headers out of the
/// signature (Object Storage PutObject: the SDKs sign `(request-target) host date` only); a body
/// hash or length that is sent and signed is still checked.
pub fn check_request_body(
    r: &Received,
    p: &AuthParams,
    now_secs: i64,
    host_required: bool,
    body_signed: bool,
) -> Result<(), String> {
    let has = |h: &str| p.headers.iter().any(|x| x == h);
    let date_header = if has("x-date") {
        "x-date"
    } else if has("date") {
        "date"
    } else {
        return Err("the signature must cover date or x-date".into());
    };
    if !has("(request-target)") {
        return Err("the signature must cover (request-target)".into());
    }
    if host_required && !has("host") {
        return Err("the signature must cover host".into());
    }
    let method = r.method.to_uppercase();
    let body_method = body_signed && matches!(method.as_str(), "POST" | "PUT" | "PATCH");
    if body_method {
        for h in ["content-length", "content-type", "x-content-sha256"] {
            if !has(h) {
                return Err(format!("the signature of a {method} must cover {h}"));
            }
        }
    }
    let date = header(r, date_header).ok_or("the request has no date")?;
    let t = httpdate::parse_http_date(&date)
        .map_err(|_| format!("cannot parse {date_header} {date}"))?;
    let t = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (t - now_secs).abs() > MAX_SKEW_SECS {
        return Err(format!(
            "the request date is {}s away from the server clock (more than 5 minutes)",
            t - now_secs
        ));
    }
    if has("x-content-sha256") || body_method {
        let sent = header(r, "x-content-sha256").ok_or("x-content-sha256 is missing")?;
        let actual = STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, r.body));
        if sent != actual {
            return Err("x-content-sha256 does not match the body".into());
        }
    }
    if has("content-length") || body_method {
        let sent = header(r, "content-length").ok_or("content-length is missing")?;
        if sent.trim().parse::<usize>().ok() != Some(r.body.len()) {
            return Err("content-length does not match the body".into());
        }
    }
    Ok(())
}

/// Verifies the RSA signature over the rebuilt signing string.
pub fn verify_signature(
    r: &Received,
    p: &AuthParams,
    public_pkcs1_b64: &str,
) -> Result<(), String> {
    let signing = signing_string(r, &p.headers)?;
    let sig = STANDARD
        .decode(&p.signature)
        .map_err(|_| "the signature is not base64")?;
    let key = STANDARD
        .decode(public_pkcs1_b64)
        .map_err(|_| "stored key is not base64")?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signing.as_bytes(), &sig)
        .map_err(|_| "the signature does not verify".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    // Oracle's Python SDK vector (tests/vectors/oci-signing, python-sdk-post).
    const PY_PUB: &str = include_str!("../../tests/vectors/oci-signing/python-sdk-2048.pub.pem");
    const PY_POST_AUTH: &str = "Signature algorithm=\"rsa-sha256\",headers=\"date (request-target) host content-length content-type x-content-sha256\",keyId=\"ocid1.tenancy.oc1..aaaaaaaatesttenancy/ocid1.user.oc1..aaaaaaaatestuser/33:5b:5a:57:bf:ad:58:e6:9b:ad:e3:e2:31:86:10:df\",signature=\"IsDlnZT53GBkLyWwwuMDpFv6REnzj2jLeX1BR1VsQ/I4wB66Pyl5t8BprBTR8ZxHODGsnoSz0cIJNiHN4EehdlhoA218pkF/YN5Tp594nXHt5d4ZTOv6djzQNeRRxECAhc0ZjnF15rmBamJqZEbhU2CflRaZHDEXN/2C9bQOhOyXZP5vW8gvKRfEQmX1uy2U2UI7NE/c5m3PhByDC/yLxONJhK3AN7xF/lqgX0XgvMgDmJGpdc9qBqSgTgxeizartcZZIrndLc0uSrZ/SM58W9BOuCUuhxLF7QVeFN9xOKHAnHGqT5twU7PgBQvpJPT5BQ3mI9WbwC/Gr+F+/CQmlw==\",version=\"1\"";
    const BODY: &str = "{\"vnicId\": \"ocid1.vnic.oc1.iad.abc\", \"ipAddress\": \"10.0.0.100\"}";
    const DATE: &str = "Thu, 05 Jan 2014 21:31:40 GMT";
    const VECTOR_TIME: i64 = 1_388_957_500;

    fn py_headers() -> BTreeMap<String, Vec<String>> {
        headers(&[
            ("date", DATE),
            ("host", "iaas.us-ashburn-1.oraclecloud.com"),
            ("content-length", "63"),
            ("content-type", "application/json"),
            (
                "x-content-sha256",
                "EsHiFPoZ1UPG4GI2Mx7nVeD+Dze+C5bI3I+4xyfku8Q=",
            ),
        ])
    }

    fn pub_key() -> String {
        crate::simulator::pki::public_key_from_spki(PY_PUB).unwrap()
    }

    #[test]
    fn accepts_oracle_python_sdk_vector() {
        let h = py_headers();
        let r = Received {
            method: "POST",
            target: "/20160918/privateIps",
            headers: &h,
            body: BODY.as_bytes(),
        };
        let p = parse_authorization(PY_POST_AUTH).unwrap();
        verify_signature(&r, &p, &pub_key()).unwrap();
        // The vector's "Thu" is not 5 Jan 2014's weekday, which a strict date parser refuses:
        // check the non-signature rules on the correctly named day.
        let mut fixed = h.clone();
        fixed.insert("date".into(), vec![DATE.replace("Thu", "Sun")]);
        let r = Received {
            headers: &fixed,
            ..r
        };
        check_request(&r, &p, VECTOR_TIME + 60, true).unwrap();
        assert!(matches!(
            parse_key_id(&p.key_id).unwrap(),
            KeyRef::ApiKey { .. }
        ));
    }

    #[test]
    fn refuses_tampering_and_skew() {
        let h = py_headers();
        let p = parse_authorization(PY_POST_AUTH).unwrap();
        let mut h = h;
        h.insert("date".into(), vec![DATE.replace("Thu", "Sun")]);
        let tampered_body = BODY.replace("100", "101");
        let r = Received {
            method: "POST",
            target: "/20160918/privateIps",
            headers: &h,
            body: tampered_body.as_bytes(),
        };
        assert!(check_request(&r, &p, VECTOR_TIME, true).is_err());
        let r = Received {
            method: "POST",
            target: "/20160918/privateIps?x=1",
            headers: &h,
            body: BODY.as_bytes(),
        };
        assert!(verify_signature(&r, &p, &pub_key()).is_err());
        let r = Received {
            method: "POST",
            target: "/20160918/privateIps",
            headers: &h,
            body: BODY.as_bytes(),
        };
        check_request(&r, &p, VECTOR_TIME + 299, true).unwrap();
        assert!(check_request(&r, &p, VECTOR_TIME + 301, true).is_err());
        let mut short = p.clone();
        short.headers = vec!["date".into(), "(request-target)".into(), "host".into()];
        assert!(check_request(&r, &short, VECTOR_TIME, true).is_err());
    }

    #[test]
    fn key_ids() {
        assert_eq!(
            parse_key_id("ST$abc.def").unwrap(),
            KeyRef::Session("abc.def".into())
        );
        assert!(matches!(
            parse_key_id("ocid1.tenancy.oc1..x/fed-x509/AB:CD").unwrap(),
            KeyRef::FedX509 { sha256: false, .. }
        ));
        assert!(parse_key_id("nonsense").is_err());
    }
}
