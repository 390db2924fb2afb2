//! The instance metadata service: how a node learns who it is, and where it gets the identity
//! certificate it turns into a session token (see `api::federation`).
//!
//! As OCI serves it (reference/oci-wire.md, "Instance metadata service"): `/opc/v2` needs
//! `Authorization: Bearer Oracle`; `/opc/v1` needs nothing and is on next to v2 until the tenancy
//! switches it off ([`super::SimConfig::imds_v1`]), after which it answers 404; a request carrying
//! `Forwarded` or `X-Forwarded-*` is refused; answers come with `Transfer-Encoding: chunked`, an
//! unquoted ETag and `Server: server` (the 2024 framing); short windows where everything answers
//! 404 (cloud-init's DataSourceOracle allows for them) are scripted with `/_sim/imds/not-found`.
//! `/openstack` (the other v1 family) is not served.

use serde_json::{json, Value};

use super::world::{self, Doc};
use super::{pki, Inner, Req, Resp};

fn s<'d>(d: &'d Doc, k: &str) -> &'d str {
    d.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The instance calling from `ip`: an alias, or the instance whose primary VNIC has that address.
fn caller_instance(g: &Inner, ip: &str) -> Option<Doc> {
    let w = &g.world;
    let alive = |d: &Doc| {
        d.get("_terminatedAtMs")
            .and_then(Value::as_i64)
            .is_none_or(|t| t > w.now_ms())
    };
    if let Some(id) = w.imds_aliases.get(ip) {
        return w.get(world::INSTANCE, id).filter(|d| alive(d)).cloned();
    }
    // A replacement reuses its predecessor's address while the terminated one's VNIC stays in
    // the world: the caller is the instance at that address that still exists (a terminated
    // instance makes no calls).
    w.all(world::VNIC)
        .filter(|v| {
            s(v, "privateIp") == ip && v.get("isPrimary").and_then(Value::as_bool) == Some(true)
        })
        .filter_map(|v| w.get(world::INSTANCE, s(v, "_instanceId")))
        .find(|d| alive(d))
        .cloned()
}

fn ensure_leaf(g: &mut Inner, inst: &Doc) -> Result<pki::LeafCert, String> {
    let id = s(inst, "id").to_string();
    if let Some(l) = g.world.leaf_certs.get(&id) {
        return Ok(l.clone());
    }
    let pki = g.world.pki.clone().ok_or("the simulator has no CA")?;
    let leaf = pki::issue_leaf(&pki, &g.world.tenancy_id, s(inst, "compartmentId"), &id)?;
    g.world.leaf_certs.insert(id, leaf.clone());
    g.persist();
    Ok(leaf)
}

/// Today's IMDS framing on every answer: chunked, `Server: server`, an unquoted ETag of the body.
fn framed(mut r: Resp) -> Resp {
    let digest = ring::digest::digest(&ring::digest::SHA256, &r.body);
    let etag: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    r.chunked = true;
    r.header("server", "server").header("etag", etag)
}

/// `GET /opc/v2/...` with `Authorization: Bearer Oracle`, or `GET /opc/v1/...` while v1 is on.
pub(crate) fn handle(g: &mut Inner, req: &Req) -> (Resp, String) {
    let (r, who) = answer(g, req);
    (framed(r), who)
}

fn answer(g: &mut Inner, req: &Req) -> (Resp, String) {
    let ip = req.peer.ip().to_string();
    let who = format!("imds:{ip}");
    // Oracle: "requests that include a Forwarded or X-Forwarded-* header are rejected" (the
    // status is not documented: 403 is a guess).
    if req
        .headers
        .keys()
        .any(|k| k == "forwarded" || k.starts_with("x-forwarded-"))
    {
        return (
            Resp::text(
                403,
                "Forbidden: requests with Forwarded or X-Forwarded-* headers are refused",
            ),
            who,
        );
    }
    if super::world::wall_ms() < g.imds_not_found_until_ms {
        return (Resp::text(404, "Not Found"), who);
    }
    let version = match req.path.split('/').nth(2) {
        Some(v @ ("v1" | "v2")) => v,
        _ => return (Resp::text(404, "Not Found"), who),
    };
    if version == "v1" && !g.config.imds_v1 {
        // The tenancy switched v1 off: 404, as OCI answers then.
        return (Resp::text(404, "Not Found"), who);
    }
    if req.method != "GET" {
        return (Resp::text(405, "Method Not Allowed"), who);
    }
    if version == "v2" && req.header("authorization") != Some("Bearer Oracle") {
        return (
            Resp::text(
                401,
                "Unauthorized: the Authorization: Bearer Oracle header is required",
            ),
            who,
        );
    }
    g.world.sweep();
    let Some(inst) = caller_instance(g, &ip) else {
        return (
            Resp::text(404, "Not Found: no instance has this address"),
            who,
        );
    };
    let who = format!("imds:{ip}:{}", s(&inst, "id"));
    // v1 and v2 serve the same documents; match on the v2 spelling.
    let v2_path = format!("/opc/v2{}", &req.path["/opc/v1".len()..]);
    let path = v2_path.trim_end_matches('/');
    let region = s(&inst, "_region").to_string();
    let region_info = json!({"realmKey": "oc1", "realmDomainComponent": "oraclecloud.com",
        "regionKey": world::region_key(&region), "regionIdentifier": region});
    let vnic_list: Vec<Value> = g
        .world
        .all(world::VNIC)
        .filter(|v| s(v, "_instanceId") == s(&inst, "id"))
        .map(|v| {
            let subnet = g.world.get(world::SUBNET, s(v, "subnetId")).cloned().unwrap_or_default();
            json!({"vnicId": s(v, "id"), "privateIp": s(v, "privateIp"), "vlanTag": 0, "macAddr": s(v, "macAddress"),
                   "virtualRouterIp": s(&subnet, "virtualRouterIp"), "subnetCidrBlock": s(&subnet, "cidrBlock"),
                   "nicIndex": 0})
        })
        .collect();
    let instance_json = {
        let mut m = serde_json::Map::new();
        for k in [
            "availabilityDomain",
            "compartmentId",
            "displayName",
            "faultDomain",
            "id",
            "image",
            "metadata",
            "region",
            "shape",
            "shapeConfig",
            "timeCreated",
            "freeformTags",
            "definedTags",
        ] {
            if let Some(v) = inst.get(k) {
                m.insert(k.to_string(), v.clone());
            }
        }
        // Until an UpdateInstance's change reaches the metadata service (in_place.rs).
        if let Some(at) = inst.get("_imdsMetadataAtMs").and_then(Value::as_i64) {
            if g.world.now_ms() < at {
                if let Some(old) = inst.get("_imdsOldMetadata") {
                    m.insert("metadata".into(), old.clone());
                }
            }
        }
        m.insert("image".into(), json!(s(&inst, "imageId")));
        m.insert("hostname".into(), json!(s(&inst, "displayName")));
        m.insert("canonicalRegionName".into(), json!(region));
        m.insert(
            "ociAdName".into(),
            json!(s(&inst, "availabilityDomain").to_lowercase()),
        );
        m.insert("state".into(), json!("Running"));
        m.insert("regionInfo".into(), region_info.clone());
        Value::Object(m)
    };
    let resp = match path {
        "/opc/v2/instance" => Resp::json(200, &instance_json),
        "/opc/v2/instance/regionInfo" => Resp::json(200, &region_info),
        "/opc/v2/vnics" => Resp::json(200, &Value::Array(vnic_list)),
        "/opc/v2/identity/cert.pem"
        | "/opc/v2/identity/key.pem"
        | "/opc/v2/identity/intermediate.pem" => match ensure_leaf(g, &inst) {
            Ok(leaf) => {
                let text = match path.rsplit('/').next() {
                    Some("cert.pem") => leaf.cert_pem,
                    Some("key.pem") => leaf.key_pem,
                    _ => g
                        .world
                        .pki
                        .as_ref()
                        .map(|p| p.intermediate_cert_pem.clone())
                        .unwrap_or_default(),
                };
                Resp::text(200, &text)
            }
            Err(e) => Resp::text(500, &format!("cannot issue the instance certificate: {e}")),
        },
        p => match p.strip_prefix("/opc/v2/instance/") {
            // nested keys too, e.g. /opc/v2/instance/metadata/user_data
            Some(field) => match field.split('/').try_fold(&instance_json, |v, k| v.get(k)) {
                Some(Value::String(v)) => Resp::text(200, v),
                Some(v) => Resp::json(200, v),
                None => Resp::text(404, "Not Found"),
            },
            None => Resp::text(404, "Not Found"),
        },
    };
    (resp, who)
}
