//! An answer before it is HTTP ([`Resp`]), OCI's error answer ([`ApiErr`]) and the HTTP
//! response made from them.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};

/// An OCI error answer.
#[derive(Debug, Clone)]
pub(crate) struct ApiErr {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiErr {
        ApiErr {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found() -> ApiErr {
        Self::new(
            404,
            "NotAuthorizedOrNotFound",
            "Authorization failed or requested resource not found.",
        )
    }
    pub fn unauthenticated(why: &str) -> ApiErr {
        Self::new(
            401,
            "NotAuthenticated",
            format!("The required information to complete authentication was not provided or was incorrect: {why}"),
        )
    }
    pub fn invalid(message: impl Into<String>) -> ApiErr {
        Self::new(400, "InvalidParameter", message)
    }
    pub fn missing(name: &str) -> ApiErr {
        Self::new(400, "MissingParameter", format!("Missing {name}"))
    }
}

/// A response before it is turned into HTTP.
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// sent with `Transfer-Encoding: chunked` (no `Content-Length`), as today's IMDS answers
    pub chunked: bool,
}

impl Resp {
    pub fn json(status: u16, v: &serde_json::Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            content_type: "application/json",
            chunked: false,
        }
    }
    pub fn text(status: u16, s: &str) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: s.as_bytes().to_vec(),
            content_type: "text/plain",
            chunked: false,
        }
    }
    pub fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_type: "application/json",
            chunked: false,
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    pub fn from_err(e: &ApiErr) -> Resp {
        Resp::json(
            e.status,
            &serde_json::json!({"code": e.code, "message": e.message}),
        )
    }
}

pub(super) fn to_http(resp: Resp, opc_request_id: Option<&str>) -> Response<Body> {
    let body = if resp.chunked && !resp.body.is_empty() {
        // A body of unknown length: hyper frames it with Transfer-Encoding: chunked. Two chunks
        // (when it has two bytes), so a client that reads only the first one is caught.
        let mut first = resp.body;
        let second = first.split_off(first.len().div_ceil(2));
        let parts: Vec<Result<Vec<u8>, std::convert::Infallible>> = vec![Ok(first), Ok(second)];
        Body::from_stream(futures_util::stream::iter(parts))
    } else {
        Body::from(resp.body)
    };
    let mut out = Response::new(body);
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h: &mut HeaderMap = out.headers_mut();
    if let Ok(v) = HeaderValue::from_str(resp.content_type) {
        h.insert("content-type", v);
    }
    if let Some(id) = opc_request_id {
        if let Ok(v) = HeaderValue::from_str(id) {
            h.insert("opc-request-id", v);
        }
    }
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(k, v);
        }
    }
    out
}
