//! Sending HTTP requests: the only place that uses reqwest (rustls, timeouts). Everything above
//! it talks to the `HttpSend` trait, so tests substitute scripted answers.

use std::time::Duration;

use super::clock::BoxFuture;
use super::error::{TransportError, TransportErrorKind};
use super::request::{HttpRequest, HttpResponse};

/// Sends one request, no retries (those are the client's).
pub trait HttpSend: Send + Sync {
    fn send(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// Timeouts for the real transport.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
}

impl Default for Timeouts {
    /// The SDKs' defaults: 10 s to connect, 60 s to read.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
        }
    }
}

/// reqwest with rustls.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new(timeouts: Timeouts) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            // Redirects would change the signed request-target; OCI never redirects API calls.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TransportError {
                kind: TransportErrorKind::Other,
                message: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(ReqwestTransport { client })
    }
}

fn classify(e: &reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_builder() {
        TransportErrorKind::Other
    } else {
        // connect, reset, dropped mid-answer: the request may or may not have been processed.
        TransportErrorKind::Connect
    };
    let message = crate::error_chain::chain_message(e);
    TransportError { kind, message }
}

impl HttpSend for ReqwestTransport {
    fn send(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let method =
                reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| TransportError {
                    kind: TransportErrorKind::Other,
                    message: e.to_string(),
                })?;
            let mut builder = self.client.request(method, req.url.clone());
            for (k, v) in &req.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            if let Some(body) = req.body {
                builder = builder.body(body);
            }
            let resp = builder.send().await.map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp.bytes().await.map_err(|e| classify(&e))?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}
