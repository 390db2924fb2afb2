//! The client's errors: `ApiError` for answers from OCI (status, code, message, opc-request-id,
//! operation, hint), `OciError` for everything a call can fail with, and `AuthError` for
//! credentials that cannot be set up or used (here, below `auth` and `instance_principal`,
//! which both return it).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::config::ConfigError;
use super::keys::KeyError;

/// An error answer from an OCI service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// OCI's error code (`NotAuthorizedOrNotFound`, `IncorrectState`, ...); empty when the body
    /// carried none (a proxy or load balancer answered).
    pub code: String,
    pub message: String,
    pub opc_request_id: Option<String>,
    /// The OCI operation name, e.g. `GetVnic`.
    pub operation: String,
    /// What the user can do about it, for the common cases.
    pub hint: Option<String>,
}

impl ApiError {
    /// Builds the error from a status and a response body `{"code","message"}` (or anything
    /// else, which becomes the message).
    pub fn from_parts(
        operation: &str,
        status: u16,
        body: &[u8],
        opc_request_id: Option<String>,
    ) -> ApiError {
        #[derive(serde::Deserialize)]
        struct Body {
            code: Option<String>,
            message: Option<String>,
        }
        let (code, message) = match serde_json::from_slice::<Body>(body) {
            Ok(b) => (b.code.unwrap_or_default(), b.message.unwrap_or_default()),
            Err(_) => (
                String::new(),
                String::from_utf8_lossy(body).chars().take(300).collect(),
            ),
        };
        let hint = hint(status, &code, &message).map(str::to_string);
        ApiError {
            status,
            code,
            message,
            opc_request_id,
            operation: operation.to_string(),
            hint,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed with HTTP {}", self.operation, self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message.trim_end_matches('.'))?;
        }
        if let Some(id) = &self.opc_request_id {
            write!(f, " (opc-request-id {id})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The hint for a status and code, for the errors users commonly hit.
pub fn hint(status: u16, code: &str, message: &str) -> Option<&'static str> {
    Some(match (status, code) {
        (404, "NotAuthorizedOrNotFound") | (404, "NotFound") => {
            "check the OCID and the compartment, and that an IAM policy lets this user or instance use the resource"
        }
        (401, _) => {
            "check the system clock (more than 5 minutes of skew is refused) and that the key file, fingerprint, user and tenancy in the profile belong to an API key uploaded to this user"
        }
        (403, "NotAllowed") => {
            "IAM changes must be made in the tenancy's home region; check the region subscriptions and --endpoint"
        }
        (403, _) => "grant this operation with an IAM policy",
        (409, "IncorrectState") | (409, "LockConflict") => {
            "the resource is busy with another change; wait for it to finish and try again"
        }
        (409, "InvalidatedRetryToken") => {
            "the retry token was already used for a different request; retry with a new token"
        }
        // An address clash is not a name clash: the address is taken in the subnet.
        (409, _) if message.contains("address") || message.contains("IP") => {
            "the address is already in use in the subnet; pick another private_ip (or leave it out to pick a free one), or free the address"
        }
        (409, _) => {
            "a resource with this name may already exist; choose another name or adopt the existing resource"
        }
        (412, _) => "the resource changed since it was read; read it again and retry",
        (429, _) => "OCI is throttling requests; wait a minute and try again",
        (400, "LimitExceeded") | (400, "QuotaExceeded") => {
            "a service limit or quota is reached; free resources or request a limit increase"
        }
        (400, "RelatedResourceNotAuthorizedOrNotFound") => {
            "a referenced resource (subnet, image, NSG, ...) does not exist or is not accessible; check its OCID and policies"
        }
        (400, _) => "check the values in the blueprint against the message",
        (500, _) if message.contains("Out of host capacity") => {
            "OCI has no capacity for this shape here; try another availability domain or shape"
        }
        (s, _) if s >= 500 => "OCI had a server-side problem; try again later",
        _ => return None,
    })
}

/// Why a transport-level call failed (no HTTP answer at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The connection could not be made or broke before an answer.
    Connect,
    Timeout,
    Other,
}

/// A failure below HTTP: DNS, connect, TLS, reset, timeout.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

/// Everything an OCI call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error("{operation}: no answer from {url} after {attempts} attempt(s) in {:.1} s: {source}; check the network, the proxy and --endpoint", .waited.as_secs_f64())]
    Transport {
        operation: String,
        url: String,
        attempts: u32,
        /// From the first attempt to giving up.
        waited: Duration,
        source: TransportError,
    },
    #[error("{operation}: cannot parse the response ({detail}, opc-request-id {opc_request_id:?}); the API may have changed, please report it")]
    Decode {
        operation: String,
        detail: String,
        opc_request_id: Option<String>,
    },
    #[error(transparent)]
    Auth(Box<AuthError>),
    #[error("{operation}: cannot build the request URL from {base} ({detail}); check --endpoint / VIPSETUP_OCI_ENDPOINT")]
    Url {
        operation: String,
        base: String,
        detail: String,
    },
    #[error("gave up after {waited:?} waiting for {what} to become {target} (last state {last}); check it in the OCI console")]
    WaitTimeout {
        what: String,
        target: String,
        last: String,
        waited: Duration,
    },
    #[error(
        "{what} reached state {state} while waiting for {target}; check it in the OCI console"
    )]
    WaitFailed {
        what: String,
        target: String,
        state: String,
    },
}

impl From<ApiError> for OciError {
    fn from(e: ApiError) -> Self {
        OciError::Api(Box::new(e))
    }
}

impl From<AuthError> for OciError {
    fn from(e: AuthError) -> Self {
        OciError::Auth(Box::new(e))
    }
}

impl OciError {
    /// The API error, when OCI answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            OciError::Api(e) => Some(e),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// True for 404 (destroy treats it as already done).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// Why credentials could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("unknown auth method `{0}`; use api_key, security_token or instance_principal")]
    Method(String),
    #[error("no region for profile '{profile}' in {path}; set `region` in the profile, OCI_CLI_REGION or --region")]
    NoRegion { profile: String, path: PathBuf },
    #[error("cannot read session token file {path}: {source}; run `oci session authenticate` (or `oci session refresh`)")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("session token file {path} is empty; run `oci session authenticate`")]
    EmptyToken { path: PathBuf },
    #[error("instance metadata service {url}: {detail}; instance principal auth works only on an OCI instance (or set the metadata base URL)")]
    Metadata { url: String, detail: String },
    #[error("instance certificate from {url}: {detail}; the metadata service returned an unusable identity certificate")]
    Certificate { url: String, detail: String },
    #[error("federation at {url} failed{}: {detail}; check that the instance can reach the auth service and retry", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default())]
    Federation {
        url: String,
        status: Option<u16>,
        detail: String,
        opc_request_id: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_map_to_code_message_and_hint() {
        let cases: &[(u16, &str, &str)] = &[
            (
                404,
                r#"{"code":"NotAuthorizedOrNotFound","message":"Authorization failed or requested resource not found."}"#,
                "IAM policy",
            ),
            (
                401,
                r#"{"code":"NotAuthenticated","message":"The required information to complete authentication was not provided."}"#,
                "clock",
            ),
            (
                403,
                r#"{"code":"NotAllowed","message":"Please go to your home region IAD to execute CREATE, UPDATE and DELETE operations."}"#,
                "home region",
            ),
            (409, r#"{"code":"IncorrectState","message":"busy"}"#, "busy"),
            (
                409,
                r#"{"code":"NotAuthorizedOrResourceAlreadyExists","message":"x"}"#,
                "already exist",
            ),
            (
                412,
                r#"{"code":"NoEtagMatch","message":"The resource's etag does not match"}"#,
                "read it again",
            ),
            (
                429,
                r#"{"code":"TooManyRequests","message":"slow down"}"#,
                "throttling",
            ),
            (
                500,
                r#"{"code":"InternalError","message":"Out of host capacity."}"#,
                "another availability domain",
            ),
            (
                400,
                r#"{"code":"LimitExceeded","message":"x"}"#,
                "limit increase",
            ),
        ];
        for (status, body, hint_part) in cases {
            let e =
                ApiError::from_parts("GetThing", *status, body.as_bytes(), Some("req-1".into()));
            let json: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(e.code, json["code"].as_str().unwrap());
            assert_eq!(e.message, json["message"].as_str().unwrap());
            let hint = e.hint.clone().unwrap_or_default();
            assert!(hint.contains(hint_part), "{status} {}: {hint}", e.code);
            let shown = e.to_string();
            assert!(shown.starts_with("GetThing failed with HTTP "), "{shown}");
            assert!(shown.contains("opc-request-id req-1"), "{shown}");
            assert!(!shown.ends_with('.'), "{shown}");
        }
    }

    #[test]
    fn non_json_bodies_keep_the_text() {
        let e = ApiError::from_parts("ListVnics", 502, b"<html>Bad Gateway</html>", None);
        assert_eq!(e.code, "");
        assert!(e.message.contains("Bad Gateway"));
        assert!(e.hint.is_some());
        assert!(e
            .to_string()
            .starts_with("ListVnics failed with HTTP 502: <html>"));
    }

    #[test]
    fn an_address_clash_says_so_not_the_name_clash_hint() {
        let h = hint(
            409,
            "Conflict",
            "Private IP address 10.0.0.5 is already assigned in subnet ocid1.subnet.oc1..s",
        )
        .unwrap();
        assert!(h.starts_with("the address is already in use"), "{h}");
        let h = hint(409, "PolicyAlreadyExists", "Policy 'p' already exists").unwrap();
        assert!(h.contains("name may already exist"), "{h}");
    }

    #[test]
    fn unknown_codes_have_no_hint() {
        assert_eq!(hint(302, "", ""), None);
        assert_eq!(hint(200, "", ""), None);
    }
}
