//! What every operation shares: the request context, reading and writing world documents
//! (region, deletion, etags), rendering, pagination and request parsing helpers.

use serde_json::{json, Map, Value};

use super::super::iam_cache::IamCache;
use super::super::world::{self, Doc, World};
use super::super::{ApiErr, Principal, Req, Resp, SimConfig};

pub(super) struct Ctx<'a> {
    pub(super) w: &'a mut World,
    pub(super) cfg: &'a SimConfig,
    /// parsed IAM text (`authorize`)
    pub(super) iam: &'a IamCache,
    pub(super) req: &'a Req,
    pub(super) p: &'a Principal,
    pub(super) now: i64,
    pub(super) op: &'static str,
    pub(super) mutated: bool,
}

pub(super) fn s<'d>(d: &'d Doc, k: &str) -> &'d str {
    d.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn obj(v: Value) -> Doc {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Ctx<'_> {
    pub(super) fn id(&self) -> &str {
        self.req
            .path
            .trim_end_matches('/')
            .split('/')
            .nth(3)
            .unwrap_or_default()
    }

    pub(super) fn body(&self) -> Result<Doc, ApiErr> {
        match serde_json::from_slice::<Value>(&self.req.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(ApiErr::new(
                400,
                "CannotParseRequest",
                "Incorrectly formatted request body.",
            )),
        }
    }

    pub(super) fn home_only(&self) -> Result<(), ApiErr> {
        if self.req.region != self.w.home_region {
            return Err(ApiErr::new(
                403,
                "NotAllowed",
                format!(
                    "Please go to your home region {} to execute CREATE, UPDATE and DELETE operations.",
                    self.w.home_region
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn compartment_exists(&self, id: &str) -> bool {
        id == self.w.tenancy_id || self.w.get(world::COMPARTMENT, id).is_some()
    }

    pub(super) fn ancestors(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut cur = id.to_string();
        for _ in 0..10 {
            match self.w.get(world::COMPARTMENT, &cur) {
                Some(c) => {
                    cur = s(c, "compartmentId").to_string();
                    out.push(cur.clone());
                }
                None => break,
            }
        }
        out
    }
    /// A live resource in this request's region.
    pub(super) fn doc(&self, kind: &str, id: &str) -> Result<Doc, ApiErr> {
        let d = self.w.get(kind, id).ok_or_else(ApiErr::not_found)?;
        if d.get("_deleted").is_some() {
            return Err(ApiErr::not_found());
        }
        if let Some(r) = d.get("_region").and_then(Value::as_str) {
            if r != self.req.region {
                return Err(ApiErr::not_found());
            }
        }
        Ok(d.clone())
    }

    pub(super) fn if_match(&self, d: &Doc) -> Result<(), ApiErr> {
        if let Some(m) = self.req.header("if-match") {
            if m != s(d, "_etag") {
                return Err(ApiErr::new(
                    412,
                    "NoEtagMatch",
                    "The If-Match header value does not match the current etag of the resource.",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn touch(&mut self, kind: &str, id: &str, f: impl FnOnce(&mut Doc)) -> Doc {
        let etag = self.w.new_etag();
        let d = self.w.get_mut(kind, id).expect("resource exists");
        f(d);
        d.insert("_etag".into(), json!(etag));
        self.mutated = true;
        d.clone()
    }

    pub(super) fn render(&self, kind: &str, d: &Doc) -> Value {
        let mut out: Map<String, Value> = d
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let inst_state = |id: &str| {
            self.w
                .get(world::INSTANCE, id)
                .map(|i| instance_state(i, self.now))
                .unwrap_or("TERMINATED")
        };
        match kind {
            world::INSTANCE => {
                out.insert("lifecycleState".into(), json!(instance_state(d, self.now)));
            }
            world::VNIC => {
                let st = match inst_state(s(d, "_instanceId")) {
                    "PROVISIONING" => "PROVISIONING",
                    // A stopped instance keeps its VNIC (docs: Compute, "Stopping and Starting
                    // an Instance": the private IPs stay).
                    "RUNNING" | "STOPPING" | "STOPPED" | "STARTING" => "AVAILABLE",
                    "TERMINATING" => "TERMINATING",
                    _ => "TERMINATED",
                };
                out.insert("lifecycleState".into(), json!(st));
            }
            world::VNIC_ATTACHMENT if s(d, "lifecycleState") != "DETACHED" => {
                let st = match inst_state(s(d, "instanceId")) {
                    "PROVISIONING" => "ATTACHING",
                    "RUNNING" | "STOPPING" | "STOPPED" | "STARTING" => "ATTACHED",
                    "TERMINATING" => "DETACHING",
                    _ => "DETACHED",
                };
                out.insert("lifecycleState".into(), json!(st));
            }
            _ => {}
        }
        Value::Object(out)
    }

    pub(super) fn one(&self, kind: &str, d: &Doc, status: u16) -> Resp {
        Resp::json(status, &self.render(kind, d)).header("etag", s(d, "_etag"))
    }

    /// A page of `items` following `limit`/`page`, with `opc-next-page` when more remain.
    pub(super) fn page(&self, items: Vec<Value>) -> Result<Resp, ApiErr> {
        let max = self.cfg.page_size.max(1);
        let limit = match self.req.q("limit") {
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n.min(max),
                _ => return Err(ApiErr::invalid("limit must be between 1 and 1000")),
            },
            None => max,
        };
        let start = match self.req.q("page") {
            Some(tok) => {
                let raw =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tok)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| ApiErr::invalid("invalid page token"))?;
                let (op, off) = raw
                    .split_once(':')
                    .ok_or_else(|| ApiErr::invalid("invalid page token"))?;
                if op != self.op {
                    return Err(ApiErr::invalid("invalid page token"));
                }
                off.parse::<usize>()
                    .map_err(|_| ApiErr::invalid("invalid page token"))?
            }
            None => 0,
        };
        let end = (start + limit).min(items.len());
        let slice: Vec<Value> = items
            .get(start.min(items.len())..end)
            .unwrap_or_default()
            .to_vec();
        let mut r = Resp::json(200, &Value::Array(slice));
        if end < items.len() {
            let tok = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                format!("{}:{end}", self.op),
            );
            r = r.header("opc-next-page", tok);
        }
        Ok(r)
    }

    pub(super) fn required_q(&self, name: &str) -> Result<String, ApiErr> {
        self.req
            .q(name)
            .map(String::from)
            .ok_or_else(|| ApiErr::missing(name))
    }

    pub(super) fn list_compartment(&self) -> Result<String, ApiErr> {
        let c = self.required_q("compartmentId")?;
        if !self.compartment_exists(&c) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&c)?;
        Ok(c)
    }

    pub(super) fn filter_eq(&self, d: &Doc, param: &str, field: &str) -> bool {
        match self.req.q(param) {
            Some(v) => s(d, field) == v,
            None => true,
        }
    }

    pub(super) fn required_str(b: &Doc, k: &str) -> Result<String, ApiErr> {
        match b.get(k).and_then(Value::as_str) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(ApiErr::missing(k)),
        }
    }

    /// `Get<Resource>`: the live resource named by the path, authorized in its compartment (the
    /// tenancy for resources without one, such as platform images).
    pub(super) fn get_one(&self, kind: &str) -> Result<Resp, ApiErr> {
        let d = self.doc(kind, self.id())?;
        let comp = s(&d, "compartmentId");
        let comp = if comp.is_empty() {
            self.w.tenancy_id.clone()
        } else {
            comp.to_string()
        };
        self.authorize(&comp)?;
        Ok(self.one(kind, &d, 200))
    }
}

/// An instance's lifecycle state at `now`, from the times it was launched, stopped, started
/// and terminated. Public so a test can read states from one snapshot of the world.
pub fn instance_state(d: &Doc, now: i64) -> &'static str {
    let at = |k: &str| d.get(k).and_then(Value::as_i64);
    if let Some(t) = at("_terminatedAtMs") {
        if now >= t {
            "TERMINATED"
        } else {
            "TERMINATING"
        }
    } else if let Some(t) = at("_stoppedAtMs") {
        if now >= t {
            "STOPPED"
        } else {
            "STOPPING"
        }
    } else if now >= at("_runningAtMs").unwrap_or(0) {
        "RUNNING"
    } else if at("_startingAtMs").is_some() {
        // Started again (InstanceAction START) or rebooting for a resize.
        "STARTING"
    } else {
        "PROVISIONING"
    }
}
