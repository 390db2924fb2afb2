//! The OCI operations: routing a path to an operation name, then running it against the world
//! with OCI's validation, conflicts, etags, retry tokens, pagination and IAM checks.
//!
//! One file per service: [`identity`], [`core_compute`], [`core_network`], [`core_routing`],
//! [`object_storage`], [`ipv6s`], [`public_ips`], [`notifications`] and
//! [`federation`] (the auth service) each own their paths and operations; [`context`] holds what every operation
//! shares and [`authorize`] the IAM check for instance principals.

mod authorize;
mod context;
mod core_compute;
pub use context::instance_state;
mod core_network;
mod core_routing;
pub(crate) mod federation;
mod identity;
mod in_place;
mod ipv6s;
pub(crate) mod limits;
mod notifications;
pub mod object_storage;
pub(crate) mod placement;
mod public_ips;
pub(crate) mod security_lists;

use serde_json::Value;

use super::world;
use super::{ApiErr, Inner, Principal, Req, Resp};
use context::Ctx;

/// The OCI operation a method and path name (`Unknown` when none).
pub(crate) fn operation_name(method: &str, path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    if let ["opc", ..] = segs.as_slice() {
        return "Imds";
    }
    federation::route(method, &segs)
        .or_else(|| identity::route(method, &segs))
        .or_else(|| core_compute::route(method, &segs))
        .or_else(|| core_network::route(method, &segs))
        .or_else(|| placement::route(method, &segs))
        .or_else(|| in_place::route(method, &segs))
        .or_else(|| public_ips::route(method, &segs))
        .or_else(|| ipv6s::route(method, &segs))
        .or_else(|| notifications::route(method, &segs))
        .or_else(|| core_routing::route(method, &segs))
        .or_else(|| object_storage::route(method, &segs))
        .or_else(|| limits::route(method, &segs))
        .or_else(|| security_lists::route(method, &segs))
        .unwrap_or("Unknown")
}

impl Ctx<'_> {
    /// Runs the operation in the service that owns it.
    fn run(&mut self) -> Result<Resp, ApiErr> {
        self.run_identity()
            .or_else(|| self.run_core_compute())
            .or_else(|| self.run_core_network())
            .or_else(|| self.run_placement())
            .or_else(|| self.run_in_place())
            .or_else(|| self.run_public_ips())
            .or_else(|| self.run_ipv6s())
            .or_else(|| self.run_notifications())
            .or_else(|| self.run_core_routing())
            .or_else(|| self.run_object_storage())
            .or_else(|| self.run_limits())
            .or_else(|| self.run_security_lists())
            .unwrap_or_else(|| Err(ApiErr::not_found()))
    }
}

const RETRYABLE_CREATES: &[&str] = &[
    "CreateDynamicGroup",
    "CreatePolicy",
    "LaunchInstance",
    "CreatePrivateIp",
    "CreateNetworkSecurityGroup",
    "CreatePublicIp",
    "CreateIpv6",
];

/// Runs an authenticated request.
pub(crate) fn execute(g: &mut Inner, op: &'static str, req: &Req, p: &Principal) -> Resp {
    let mut mutated = g.world.sweep();
    let retry_key = req
        .header("opc-retry-token")
        .filter(|_| RETRYABLE_CREATES.contains(&op))
        .map(|t| format!("{}|{op}|{t}", p.label()));
    let request_sha = {
        let mut all = req.path.as_bytes().to_vec();
        all.push(0);
        all.extend_from_slice(&req.body);
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            ring::digest::digest(&ring::digest::SHA256, &all),
        )
    };
    // "Retry tokens expire after 24 hours" (OCI API docstrings)
    let now = g.world.now_ms();
    let before = g.world.retry_tokens.len();
    g.world
        .retry_tokens
        .retain(|_, r| now - r.at < 24 * 3_600_000);
    mutated |= g.world.retry_tokens.len() != before;
    if let Some(key) = &retry_key {
        if let Some(rec) = g.world.retry_tokens.get(key) {
            let resp = if rec.request_sha256 != request_sha {
                Resp::from_err(&ApiErr::new(
                    409,
                    "InvalidatedRetryToken",
                    "The retry token was already used for a request with different parameters; use a new token.",
                ))
            } else if created_entity_gone(&g.world, op, &rec.body) {
                // "InvalidatedRetryToken: The provided retry token was used in an earlier request
                // that resulted in a system update, but a subsequent operation invalidated the
                // token" (docs, Content/API/References/apierrors.htm): here, the entity that
                // request made was deleted since. That a terminated instance counts is a guess.
                Resp::from_err(&ApiErr::new(
                    409,
                    "InvalidatedRetryToken",
                    "The retry token was used by an earlier request whose resource has since been deleted; use a new token.",
                ))
            } else {
                let mut r = Resp::json(rec.status, &Value::Null);
                r.body = rec.body.as_bytes().to_vec();
                r.headers = rec.headers.clone();
                r
            };
            if mutated {
                g.persist();
            }
            return resp;
        }
    }
    // A user whose (unmodelled) groups lack the permission: OCI's answer to that.
    if let Principal::User(u) = p {
        if g.world
            .users
            .get(u)
            .is_some_and(|u| u.denied_operations.iter().any(|o| o == op))
        {
            if mutated {
                g.persist();
            }
            return Resp::from_err(&ApiErr::not_found());
        }
    }
    let mut ctx = Ctx {
        w: &mut g.world,
        cfg: &g.config,
        iam: &g.iam,
        req,
        p,
        now,
        op,
        mutated: false,
    };
    let result = ctx.run();
    mutated |= ctx.mutated;
    let resp = match result {
        Ok(r) => r,
        Err(e) => Resp::from_err(&e),
    };
    if let Some(key) = retry_key {
        if (200..300).contains(&resp.status) {
            g.world.retry_tokens.insert(
                key,
                world::RetryRecord {
                    at: now,
                    request_sha256: request_sha,
                    status: resp.status,
                    body: String::from_utf8_lossy(&resp.body).into_owned(),
                    headers: resp.headers.clone(),
                },
            );
            mutated = true;
        }
    }
    if mutated {
        g.persist();
    }
    resp
}

/// Whether the resource a create answered with (`body`, the stored response) is gone now:
/// deleted, or an instance whose termination was requested.
fn created_entity_gone(w: &world::World, op: &str, body: &str) -> bool {
    let kind = match op {
        "CreateDynamicGroup" => world::DYNAMIC_GROUP,
        "CreatePolicy" => world::POLICY,
        "LaunchInstance" => world::INSTANCE,
        "CreatePrivateIp" => world::PRIVATE_IP,
        "CreateNetworkSecurityGroup" => world::NSG,
        "CreateIpv6" => world::IPV6,
        "CreatePublicIp" => world::PUBLIC_IP,
        _ => return false,
    };
    let Some(id) = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(String::from))
    else {
        return false;
    };
    match w.get(kind, &id) {
        None => true,
        Some(d) => d.get("_deleted").is_some() || d.get("_terminatedAtMs").is_some(),
    }
}
