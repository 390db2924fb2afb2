//! The auth service's `/v1/x509` federation: an instance turns its identity certificate into a
//! session token.

use serde_json::{json, Value};

use super::super::world;
use super::super::{pki, sig, ApiErr, Inner, Req, Resp};

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    match (method, segs) {
        ("POST", ["v1", "x509"]) => Some("FederateX509"),
        _ => None,
    }
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
