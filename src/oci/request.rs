//! Requests and responses as plain values: an `ApiRequest` (operation, service, path, query,
//! body, retry token, if-match) becomes an `HttpRequest` (URL, signed headers, body) without any
//! I/O, and responses are parsed by pure functions, so all of it is tested without a network.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use url::Url;

use super::endpoint::Service;
use super::error::{ApiError, OciError};
use super::keys::{KeyError, PrivateKey};
use super::signer::{self, HeaderSet, RequestParts};

/// Everything but RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~) is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment or query component per RFC 3986 (space is `%20`, never `+`).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// The OCI API version both identity and core use.
pub const API_VERSION: &str = "/20160918";

/// One OCI API operation, before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// OCI operation name (`GetVnic`), used in errors and logs.
    pub operation: &'static str,
    pub service: Service,
    pub method: &'static str,
    /// Encoded path, starting with `/20160918/`.
    pub path: String,
    /// Unencoded query pairs, in the order they are sent.
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub retry_token: Option<String>,
    pub if_match: Option<String>,
    /// IAM writes: must go to the tenancy's home region.
    pub home_region: bool,
}

impl ApiRequest {
    fn new(operation: &'static str, service: Service, method: &'static str, path: String) -> Self {
        ApiRequest {
            operation,
            service,
            method,
            path: format!("{API_VERSION}{path}"),
            query: Vec::new(),
            body: None,
            retry_token: None,
            if_match: None,
            home_region: false,
        }
    }

    pub fn get(operation: &'static str, service: Service, path: String) -> Self {
        Self::new(operation, service, "GET", path)
    }

    pub fn delete(operation: &'static str, service: Service, path: String) -> Self {
        Self::new(operation, service, "DELETE", path)
    }

    pub fn post<B: serde::Serialize>(
        operation: &'static str,
        service: Service,
        path: String,
        body: &B,
    ) -> Self {
        let mut r = Self::new(operation, service, "POST", path);
        r.body = Some(serde_json::to_vec(body).expect("request models serialize"));
        r
    }

    /// A POST whose body is optional and left out (InstanceAction without power-action details).
    pub fn post_empty(operation: &'static str, service: Service, path: String) -> Self {
        Self::new(operation, service, "POST", path)
    }

    pub fn put<B: serde::Serialize>(
        operation: &'static str,
        service: Service,
        path: String,
        body: &B,
    ) -> Self {
        let mut r = Self::new(operation, service, "PUT", path);
        r.body = Some(serde_json::to_vec(body).expect("request models serialize"));
        r
    }

    pub fn query(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub fn query_opt(self, name: &str, value: Option<impl fmt::Display>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    pub fn retry_token(mut self, token: Option<&str>) -> Self {
        self.retry_token = token.map(str::to_string);
        self
    }

    pub fn if_match(mut self, etag: Option<&str>) -> Self {
        self.if_match = etag.map(str::to_string);
        self
    }

    pub fn home_region(mut self) -> Self {
        self.home_region = true;
        self
    }

    /// Whether this is a create that takes `opc-retry-token`.
    pub fn is_create(&self) -> bool {
        self.method == "POST" && self.retry_token.is_some()
    }

    /// The URL as it will be sent: base + path + RFC 3986 query, in order.
    pub fn url(&self, base: &str) -> Result<Url, OciError> {
        let mut s = format!("{}{}", base.trim_end_matches('/'), self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&encode(k));
            s.push('=');
            s.push_str(&encode(v));
        }
        Url::parse(&s).map_err(|e| OciError::Url {
            operation: self.operation.to_string(),
            base: base.to_string(),
            detail: e.to_string(),
        })
    }
}

/// A request ready to send. `Debug` leaves out the Authorization header.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: Url,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k == "authorization" {
                    (k.as_str(), "[redacted]")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// An HTTP answer.
#[derive(Clone, Debug, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn opc_request_id(&self) -> Option<String> {
        self.header("opc-request-id").map(str::to_string)
    }

    /// The `opc-next-page` token, when more pages follow.
    pub fn next_page(&self) -> Option<String> {
        self.header("opc-next-page")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Builds and signs the HTTP request for `req` at `url`.
pub fn build_http_request(
    req: &ApiRequest,
    url: Url,
    date: &str,
    opc_request_id: &str,
    key_id: &str,
    key: &PrivateKey,
) -> Result<HttpRequest, KeyError> {
    let content_type = "application/json";
    let body = if signer::has_body(req.method) {
        Some(req.body.clone().unwrap_or_default())
    } else {
        None
    };
    let parts = RequestParts {
        method: req.method,
        url: &url,
        date,
        content_type,
        body: body.as_deref(),
    };
    let signed = signer::sign(&parts, HeaderSet::Api, key_id, key)?;
    let mut headers = signed.headers;
    headers.push(("accept".into(), "application/json".into()));
    headers.push(("opc-request-id".into(), opc_request_id.to_string()));
    headers.push((
        "user-agent".into(),
        concat!("vipsetup/", env!("CARGO_PKG_VERSION")).into(),
    ));
    if let Some(t) = &req.retry_token {
        headers.push(("opc-retry-token".into(), t.clone()));
    }
    if let Some(e) = &req.if_match {
        headers.push(("if-match".into(), e.clone()));
    }
    Ok(HttpRequest {
        method: req.method.to_string(),
        url,
        headers,
        body,
    })
}

/// A resource with the `etag` it was returned with (for `if-match` on the next write).
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: Option<String>,
    pub opc_request_id: Option<String>,
}

/// The error for a non-2xx answer.
pub fn api_error(operation: &str, resp: &HttpResponse) -> ApiError {
    ApiError::from_parts(operation, resp.status, &resp.body, resp.opc_request_id())
}

/// Parses a 2xx JSON body (unknown fields ignored).
pub fn parse_json<T: DeserializeOwned>(
    operation: &str,
    resp: &HttpResponse,
) -> Result<T, OciError> {
    serde_json::from_slice(&resp.body).map_err(|e| OciError::Decode {
        operation: operation.to_string(),
        detail: e.to_string(),
        opc_request_id: resp.opc_request_id(),
    })
}

/// Parses a 2xx JSON body with its etag.
pub fn parse_versioned<T: DeserializeOwned>(
    operation: &str,
    resp: &HttpResponse,
) -> Result<Versioned<T>, OciError> {
    Ok(Versioned {
        value: parse_json(operation, resp)?,
        etag: resp.header("etag").map(str::to_string),
        opc_request_id: resp.opc_request_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_rfc3986_encoded_in_order() {
        let r = ApiRequest::get("ListImages", Service::Core, "/images".into())
            .query("compartmentId", "ocid1.compartment.oc1..aaa")
            .query("operatingSystem", "Oracle Linux")
            .query("availabilityDomain", "Pjwf:PHX-AD-1")
            .query("x", "a+b/c~d");
        let u = r.url("https://iaas.us-phoenix-1.oraclecloud.com").unwrap();
        assert_eq!(
            u.as_str(),
            "https://iaas.us-phoenix-1.oraclecloud.com/20160918/images?compartmentId=ocid1.compartment.oc1..aaa&operatingSystem=Oracle%20Linux&availabilityDomain=Pjwf%3APHX-AD-1&x=a%2Bb%2Fc~d"
        );
        // The signed request-target is exactly what the URL sends.
        assert_eq!(
            signer::request_target("GET", &u),
            format!("get {}?{}", u.path(), u.query().unwrap())
        );
    }

    #[test]
    fn override_base_with_prefix_and_plain_http() {
        let r = ApiRequest::get(
            "GetVnic",
            Service::Core,
            format!("/vnics/{}", encode("ocid1.vnic.oc1..x")),
        );
        let u = r.url("http://127.0.0.1:9/sim/").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/sim/20160918/vnics/ocid1.vnic.oc1..x"
        );
    }

    #[test]
    fn next_page_header() {
        let mut resp = HttpResponse {
            status: 200,
            headers: vec![("opc-next-page".into(), "tok2".into())],
            body: b"[]".to_vec(),
        };
        assert_eq!(resp.next_page().as_deref(), Some("tok2"));
        resp.headers.clear();
        assert_eq!(resp.next_page(), None);
    }

    #[test]
    fn decode_errors_name_the_operation() {
        let resp = HttpResponse {
            status: 200,
            headers: vec![("opc-request-id".into(), "r1".into())],
            body: b"{not json".to_vec(),
        };
        let err = parse_json::<serde_json::Value>("GetVnic", &resp).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("GetVnic: cannot parse"), "{msg}");
        assert!(msg.contains("r1"), "{msg}");
    }
}
