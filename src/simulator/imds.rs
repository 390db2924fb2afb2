//! The instance metadata service (v2) and the auth service's `/v1/x509` federation: how a node
//! learns who it is and turns its identity certificate into a session token.

use serde_json::{json, Value};

use super::world::{self, Doc};
use super::{pki, sig, ApiErr, Inner, Req, Resp};

fn s<'d>(d: &'d Doc, k: &str) -> &'d str {
    d.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The instance calling from `ip`: an alias, or the instance whose primary VNIC has that address.
fn caller_instance(g: &Inner, ip: &str) -> Option<Doc> {
    let w = &g.world;
    let id = w.imds_aliases.get(ip).cloned().or_else(|| {
        w.all(world::VNIC)
            .find(|v| {
                s(v, "privateIp") == ip && v.get("isPrimary").and_then(Value::as_bool) == Some(true)
            })
            .map(|v| s(v, "_instanceId").to_string())
    })?;
    w.get(world::INSTANCE, &id)
        .filter(|d| {
            d.get("_terminatedAtMs")
                .and_then(Value::as_i64)
                .is_none_or(|t| t > w.now_ms())
        })
        .cloned()
}

fn ensure_leaf(g: &mut Inner, inst: &Doc) -> Result<world::LeafCert, String> {
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

/// `GET /opc/v2/...` with `Authorization: Bearer Oracle`.
pub(crate) fn handle(g: &mut Inner, req: &Req) -> (Resp, String) {
    let ip = req.peer.ip().to_string();
    let who = format!("imds:{ip}");
    if req.method != "GET" {
        return (Resp::text(405, "Method Not Allowed"), who);
    }
    if req.header("authorization") != Some("Bearer Oracle") {
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
    let path = req.path.trim_end_matches('/');
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

/// `POST /v1/x509`: checks the request is signed by an instance's leaf key and the certificates
/// are the ones this simulator issued, then issues a session token for the given public key.
pub(crate) fn federate(g: &mut Inner, req: &Req) -> Result<(Resp, String), ApiErr> {
    let (params, key_ref) = req.signed(false)?;
    let sig::KeyRef::FedX509 {
        tenancy,
        sha256,
        fingerprint,
    } = key_ref
    else {
        return Err(ApiErr::unauthenticated("federation needs a fed-x509 keyId"));
    };
    if tenancy != g.world.tenancy_id {
        return Err(ApiErr::unauthenticated("unknown tenancy in keyId"));
    }
    let (instance_id, leaf) = g
        .world
        .leaf_certs
        .iter()
        .find(|(_, l)| {
            if sha256 {
                l.sha256.eq_ignore_ascii_case(&fingerprint)
            } else {
                l.sha1.eq_ignore_ascii_case(&fingerprint)
            }
        })
        .map(|(i, l)| (i.clone(), l.clone()))
        .ok_or_else(|| {
            ApiErr::unauthenticated("no certificate with this fingerprint was issued")
        })?;
    sig::verify_signature(&req.received(), &params, &leaf.public_key)
        .map_err(|e| ApiErr::unauthenticated(&e))?;
    let body: Value = serde_json::from_slice(&req.body).map_err(|_| {
        ApiErr::new(
            400,
            "CannotParseRequest",
            "Incorrectly formatted request body.",
        )
    })?;
    let cert = body
        .get("certificate")
        .and_then(Value::as_str)
        .and_then(pki::cert_der);
    if cert.is_none() || cert != pki::cert_der(&leaf.cert_pem) {
        return Err(ApiErr::unauthenticated(
            "the certificate is not the one the keyId names",
        ));
    }
    let intermediate = g
        .world
        .pki
        .as_ref()
        .and_then(|p| pki::cert_der(&p.intermediate_cert_pem));
    let chains = body
        .get("intermediateCertificates")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|c| c.as_str().and_then(pki::cert_der) == intermediate)
        });
    if !chains {
        return Err(ApiErr::unauthenticated(
            "the certificate does not chain to a trusted intermediate",
        ));
    }
    let public = body
        .get("publicKey")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiErr::missing("publicKey"))?;
    let public = pki::public_key_from_spki(public).map_err(ApiErr::invalid)?;
    let alive = g
        .world
        .get(world::INSTANCE, &instance_id)
        .is_some_and(|d| d.get("_terminatedAtMs").is_none());
    if !alive {
        return Err(ApiErr::unauthenticated("the instance is terminated"));
    }
    let iat = world::wall_ms() / 1000;
    let exp = iat + g.config.session_ttl_secs as i64;
    let token = pki::session_token(
        &g.world.token_secret,
        &g.world.tenancy_id,
        &instance_id,
        iat,
        exp,
    );
    g.world.sessions.insert(
        token.clone(),
        world::Session {
            instance_id: instance_id.clone(),
            user_id: None,
            public_key: public,
            exp,
        },
    );
    let now = world::wall_ms() / 1000;
    g.world.sessions.retain(|_, s| s.exp > now);
    g.persist();
    Ok((
        Resp::json(200, &json!({"token": token})),
        format!("instance:{instance_id}"),
    ))
}
