//! Serving one request: the control API or an OCI call; region, latency, faults, authentication,
//! the operation, the log entry; one world-file lock around it all.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::request::region_from_host;
use super::response::to_http;
use super::{api, control, imds, sig, world};
use super::{fault_response, lock, ApiErr, Inner, LogEntry, Principal, Req, Resp, Shared, MAX_LOG};

pub(super) async fn dispatch(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in parts.headers.iter() {
        headers
            .entry(k.as_str().to_lowercase())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    if raw_path.starts_with("/_sim/") || raw_path == "/_sim" {
        return to_http(
            control::handle(&shared, parts.method.as_ref(), &raw_path, &body),
            None,
        );
    }
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut path = raw_path.clone();
    let mut region = None;
    if let Some(rest) = raw_path.strip_prefix("/region/") {
        if let Some((r, tail)) = rest.split_once('/') {
            region = Some(r.to_string());
            path = format!("/{tail}");
        }
    }
    if region.is_none() {
        region = headers
            .get("host")
            .and_then(|h| h.first())
            .and_then(|h| region_from_host(h));
    }
    let opc_request_id = headers
        .get("opc-request-id")
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| world::random_suffix(32).to_uppercase());
    let (operation, latency) = {
        let mut g = lock(&shared);
        g.reload_if_changed();
        let op = api::operation_name(parts.method.as_str(), &path);
        let lat = g
            .latency
            .get(op)
            .or_else(|| g.latency.get("*"))
            .copied()
            .unwrap_or(0);
        if region.is_none() {
            region = Some(
                g.config
                    .region
                    .clone()
                    .unwrap_or_else(|| g.world.home_region.clone()),
            );
        }
        (op, lat)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let req = Req {
        method: parts.method.to_string(),
        target,
        path,
        query,
        headers,
        body,
        region: region.unwrap_or_default(),
        peer,
        operation,
    };
    let mut drop_connection = false;
    let (resp, principal) = {
        let queued = std::time::Instant::now();
        let _other_processes = world_file_lock(&shared);
        let mut g = lock(&shared);
        let locked = std::time::Instant::now();
        g.reload_if_changed();
        let (resp, principal, fault_drop) = serve(&mut g, operation, &req);
        drop_connection = drop_connection || fault_drop;
        let entry = LogEntry {
            operation: operation.to_string(),
            method: req.method.clone(),
            path: req.target.clone(),
            status: if fault_drop { 0 } else { resp.status },
            principal: principal.clone(),
            region: req.region.clone(),
            at: world::wall_ms(),
            opc_request_id: opc_request_id.clone(),
        };
        // a long-running standalone simulator keeps the most recent entries only
        if g.log.len() >= MAX_LOG {
            g.log.drain(..MAX_LOG / 10);
        }
        g.log.push(entry);
        g.record_timing(operation.to_string(), queued, locked);
        (resp, principal)
    };
    let _ = principal;
    if drop_connection {
        // Unwinding out of the connection task makes hyper close the socket without answering,
        // which is what a dropped connection looks like to the client. resume_unwind skips the
        // panic hook, so nothing is printed.
        std::panic::resume_unwind(Box::new("simulated dropped connection"));
    }
    to_http(resp, Some(&opc_request_id))
}

/// Serialises the requests of every simulator sharing one world file (two `--simulate` runs side
/// by side each run their own): read the file, serve, write it back, as one step, so a
/// conditional write (`if-none-match: *` on a lock object) is as atomic across processes as OCI
/// makes it. Released when the returned file is dropped.
fn world_file_lock(shared: &Shared) -> Option<std::fs::File> {
    let path = lock(shared).config.world_file.clone()?;
    let mut name = path.into_os_string();
    name.push(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(name)
        .ok()?;
    f.lock().ok()?;
    Some(f)
}

/// Authenticates, applies faults, runs the operation. Returns (response, principal label, drop).
fn serve(g: &mut Inner, operation: &'static str, req: &Req) -> (Resp, String, bool) {
    // IMDS and federation take faults before anything else (they have no signature to check
    // first, or check it themselves)
    if operation == "Imds" || operation == "FederateX509" {
        if let Some(f) = g.take_fault(operation) {
            return fault_response(f, "-".into());
        }
    }
    if req.path.starts_with("/opc/") {
        let (r, who) = imds::handle(g, req);
        return (r, who, false);
    }
    if operation == "FederateX509" {
        return match api::federation::federate(g, req) {
            Ok((r, who)) => (r, who, false),
            Err(e) => (Resp::from_err(&e), "-".into(), false),
        };
    }
    if !g.world.regions.iter().any(|r| r.name == req.region) {
        let e = ApiErr::unauthenticated(&format!(
            "the tenancy is not subscribed to region {}",
            req.region
        ));
        return (Resp::from_err(&e), "-".into(), false);
    }
    let principal = match authenticate(g, req) {
        Ok(p) => p,
        Err(e) => return (Resp::from_err(&e), "-".into(), false),
    };
    let label = principal.label();
    if operation != "Unknown" {
        if let Some(f) = g.take_fault(operation) {
            return fault_response(f, label);
        }
    }
    let resp = api::execute(g, operation, req, &principal);
    (resp, label, false)
}

fn authenticate(g: &Inner, req: &Req) -> Result<Principal, ApiErr> {
    let (params, key_ref) = req.signed(true)?;
    let received = req.received();
    match key_ref {
        sig::KeyRef::ApiKey {
            tenancy,
            user,
            fingerprint,
        } => {
            if tenancy != g.world.tenancy_id {
                return Err(ApiErr::unauthenticated("unknown tenancy in keyId"));
            }
            let key = g
                .world
                .users
                .get(&user)
                .and_then(|u| u.api_keys.get(&fingerprint))
                .ok_or_else(|| ApiErr::unauthenticated("no such user or API key fingerprint"))?;
            sig::verify_signature(&received, &params, key)
                .map_err(|e| ApiErr::unauthenticated(&e))?;
            Ok(Principal::User(user))
        }
        sig::KeyRef::Session(token) => {
            let s = g
                .world
                .sessions
                .get(&token)
                .ok_or_else(|| ApiErr::unauthenticated("unknown session token"))?;
            if s.exp <= world::wall_ms() / 1000 {
                return Err(ApiErr::unauthenticated("the session token has expired"));
            }
            sig::verify_signature(&received, &params, &s.public_key)
                .map_err(|e| ApiErr::unauthenticated(&e))?;
            if let Some(user) = &s.user_id {
                return Ok(Principal::User(user.clone()));
            }
            let inst = g
                .world
                .get(world::INSTANCE, &s.instance_id)
                .filter(|d| d.get("_terminatedAtMs").is_none())
                .ok_or_else(|| ApiErr::unauthenticated("the instance of this session is gone"))?;
            Ok(Principal::Instance {
                id: s.instance_id.clone(),
                compartment_id: inst
                    .get("compartmentId")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            })
        }
        sig::KeyRef::FedX509 { .. } => Err(ApiErr::unauthenticated(
            "an x509 federation key can only sign /v1/x509",
        )),
    }
}
