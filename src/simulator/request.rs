//! A request as received ([`Req`]): its region, headers and signature form, and who signed it
//! ([`Principal`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{object_storage, sig, world, ApiErr};

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    User(String),
    Instance { id: String, compartment_id: String },
}

impl Principal {
    pub(super) fn label(&self) -> String {
        match self {
            Principal::User(u) => format!("user:{u}"),
            Principal::Instance { id, .. } => format!("instance:{id}"),
        }
    }
}

/// A request as received, with the region decided and the prefix removed from `path`.
pub(crate) struct Req {
    pub method: String,
    /// path and query exactly as received (what `(request-target)` covers)
    pub target: String,
    /// path without the region prefix and without the query
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
    pub region: String,
    pub peer: SocketAddr,
    /// the operation the path names (decides whether the body must be signed)
    pub operation: &'static str,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    /// The parts of this request a signature covers.
    pub fn received(&self) -> sig::Received<'_> {
        sig::Received {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            body: &self.body,
        }
    }
    /// Checks the signature's form (headers covered, body hash and length, clock skew) and
    /// says who its keyId names; the caller verifies it with that principal's key.
    /// `host_required` is false only for the federation endpoint.
    pub fn signed(&self, host_required: bool) -> Result<(sig::AuthParams, sig::KeyRef), ApiErr> {
        let auth = self
            .header("authorization")
            .ok_or_else(|| ApiErr::unauthenticated("the request is not signed"))?;
        let params = sig::parse_authorization(auth).map_err(|e| ApiErr::unauthenticated(&e))?;
        sig::check_request_body(
            &self.received(),
            &params,
            world::wall_ms() / 1000,
            host_required,
            !object_storage::BODY_NOT_SIGNED.contains(&self.operation),
        )
        .map_err(|e| ApiErr::unauthenticated(&e))?;
        let key = sig::parse_key_id(&params.key_id).map_err(|e| ApiErr::unauthenticated(&e))?;
        Ok((params, key))
    }
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn region_from_host(host: &str) -> Option<String> {
    let mut labels = host.split('.');
    let service = labels.next()?;
    if matches!(
        service,
        "identity" | "iaas" | "auth" | "objectstorage" | "notification" | "limits"
    ) {
        let r = labels.next()?;
        if r.contains('-') {
            return Some(r.to_string());
        }
    }
    None
}
