//! The OCI operations: routing a path to an operation name, then running it against the world
//! with OCI's validation, conflicts, etags, retry tokens, pagination and IAM checks.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::iam;
use super::world::{self, rfc3339, Cidr, Doc, World};
use super::{ApiErr, Inner, Principal, Req, Resp, SimConfig};

/// The OCI operation a method and path name (`Unknown` when none).
pub(crate) fn operation_name(method: &str, path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, segs.as_slice()) {
        ("POST", ["v1", "x509"]) => "FederateX509",
        (_, ["opc", ..]) => "Imds",
        ("GET", ["20160918", "tenancies", _]) => "GetTenancy",
        ("GET", ["20160918", "tenancies", _, "regionSubscriptions"]) => "ListRegionSubscriptions",
        ("GET", ["20160918", "availabilityDomains"]) => "ListAvailabilityDomains",
        ("GET", ["20160918", "compartments"]) => "ListCompartments",
        ("GET", ["20160918", "compartments", _]) => "GetCompartment",
        ("POST", ["20160918", "dynamicGroups"]) => "CreateDynamicGroup",
        ("GET", ["20160918", "dynamicGroups"]) => "ListDynamicGroups",
        ("GET", ["20160918", "dynamicGroups", _]) => "GetDynamicGroup",
        ("PUT", ["20160918", "dynamicGroups", _]) => "UpdateDynamicGroup",
        ("DELETE", ["20160918", "dynamicGroups", _]) => "DeleteDynamicGroup",
        ("POST", ["20160918", "policies"]) => "CreatePolicy",
        ("GET", ["20160918", "policies"]) => "ListPolicies",
        ("GET", ["20160918", "policies", _]) => "GetPolicy",
        ("PUT", ["20160918", "policies", _]) => "UpdatePolicy",
        ("DELETE", ["20160918", "policies", _]) => "DeletePolicy",
        ("GET", ["20160918", "vcns", _]) => "GetVcn",
        ("GET", ["20160918", "subnets", _]) => "GetSubnet",
        ("GET", ["20160918", "images"]) => "ListImages",
        ("GET", ["20160918", "images", _]) => "GetImage",
        ("POST", ["20160918", "instances"]) => "LaunchInstance",
        ("GET", ["20160918", "instances"]) => "ListInstances",
        ("GET", ["20160918", "instances", _]) => "GetInstance",
        ("DELETE", ["20160918", "instances", _]) => "TerminateInstance",
        ("GET", ["20160918", "vnicAttachments"]) => "ListVnicAttachments",
        ("GET", ["20160918", "vnics", _]) => "GetVnic",
        ("POST", ["20160918", "privateIps"]) => "CreatePrivateIp",
        ("GET", ["20160918", "privateIps"]) => "ListPrivateIps",
        ("GET", ["20160918", "privateIps", _]) => "GetPrivateIp",
        ("PUT", ["20160918", "privateIps", _]) => "UpdatePrivateIp",
        ("DELETE", ["20160918", "privateIps", _]) => "DeletePrivateIp",
        ("POST", ["20160918", "networkSecurityGroups"]) => "CreateNetworkSecurityGroup",
        ("GET", ["20160918", "networkSecurityGroups"]) => "ListNetworkSecurityGroups",
        ("GET", ["20160918", "networkSecurityGroups", _]) => "GetNetworkSecurityGroup",
        ("DELETE", ["20160918", "networkSecurityGroups", _]) => "DeleteNetworkSecurityGroup",
        ("POST", ["20160918", "networkSecurityGroups", _, "actions", "addSecurityRules"]) => {
            "AddNetworkSecurityGroupSecurityRules"
        }
        ("GET", ["20160918", "networkSecurityGroups", _, "securityRules"]) => {
            "ListNetworkSecurityGroupSecurityRules"
        }
        _ => super::object_storage::operation_name(method, &segs),
    }
}

const RETRYABLE_CREATES: &[&str] = &[
    "CreateDynamicGroup",
    "CreatePolicy",
    "LaunchInstance",
    "CreatePrivateIp",
    "CreateNetworkSecurityGroup",
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
            let resp = if rec.request_sha256 == request_sha {
                let mut r = Resp::json(rec.status, &Value::Null);
                r.body = rec.body.as_bytes().to_vec();
                r.headers = rec.headers.clone();
                r
            } else {
                Resp::from_err(&ApiErr::new(
                    409,
                    "InvalidatedRetryToken",
                    "The retry token was already used for a request with different parameters; use a new token.",
                ))
            };
            if mutated {
                g.persist();
            }
            return resp;
        }
    }
    let mut ctx = Ctx {
        w: &mut g.world,
        cfg: &g.config,
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

pub(super) struct Ctx<'a> {
    pub(super) w: &'a mut World,
    cfg: &'a SimConfig,
    pub(super) req: &'a Req,
    pub(super) p: &'a Principal,
    pub(super) now: i64,
    pub(super) op: &'static str,
    pub(super) mutated: bool,
}

fn s<'d>(d: &'d Doc, k: &str) -> &'d str {
    d.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn obj(v: Value) -> Doc {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn instance_state(d: &Doc, now: i64) -> &'static str {
    if let Some(t) = d.get("_terminatedAtMs").and_then(Value::as_i64) {
        if now >= t {
            "TERMINATED"
        } else {
            "TERMINATING"
        }
    } else if now >= d.get("_runningAtMs").and_then(Value::as_i64).unwrap_or(0) {
        "RUNNING"
    } else {
        "PROVISIONING"
    }
}

/// The effective version of an IAM object for instance principals at `now`.
fn effective(d: &Doc, now: i64) -> Option<Doc> {
    d.get("_history")?
        .as_array()?
        .iter()
        .rev()
        .find(|h| h.get("at").and_then(Value::as_i64).unwrap_or(i64::MAX) <= now)
        .and_then(|h| h.get("doc"))
        .and_then(|d| d.as_object().cloned())
}

impl Ctx<'_> {
    fn id(&self) -> &str {
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

    fn home_only(&self) -> Result<(), ApiErr> {
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

    fn compartment_exists(&self, id: &str) -> bool {
        id == self.w.tenancy_id || self.w.get(world::COMPARTMENT, id).is_some()
    }

    fn ancestors(&self, id: &str) -> Vec<String> {
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

    /// API-key users may do everything; instance principals need a matching dynamic group and a
    /// policy granting every permission of the operation in `compartment`.
    pub(super) fn authorize(&self, compartment: &str) -> Result<(), ApiErr> {
        self.authorize_with(compartment, iam::required_permissions(self.op))
    }

    /// `authorize` with an explicit permission list (for operations whose needs depend on
    /// what exists, such as PutObject over an existing object).
    pub(super) fn authorize_with(&self, compartment: &str, needed: &[&str]) -> Result<(), ApiErr> {
        let Principal::Instance { id, compartment_id } = self.p else {
            return Ok(());
        };
        let facts = iam::InstanceFacts { id, compartment_id };
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for dg in self.w.all(world::DYNAMIC_GROUP) {
            if let Some(v) = effective(dg, self.now) {
                let rule = iam::parse_matching_rule(s(&v, "matchingRule"));
                if rule.is_ok_and(|r| r.matches(&facts)) {
                    names.insert(s(&v, "name").to_lowercase());
                    ids.insert(s(dg, "id").to_string());
                }
            }
        }
        let ancestors = self.ancestors(compartment);
        let mut granted = BTreeSet::new();
        if !names.is_empty() {
            for pol in self.w.all(world::POLICY) {
                let Some(v) = effective(pol, self.now) else {
                    continue;
                };
                for st in v
                    .get("statements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Ok(st) = iam::parse_statement(st.as_str().unwrap_or_default()) else {
                        continue;
                    };
                    let subject_ok = match &st.subject {
                        iam::Subject::DynamicGroupName(n) => names.contains(&n.to_lowercase()),
                        iam::Subject::DynamicGroupId(i) => ids.contains(i),
                        iam::Subject::Other => false,
                    };
                    let place_ok = match &st.location {
                        iam::Location::Tenancy => true,
                        iam::Location::CompartmentId(c) => ancestors.contains(c),
                        iam::Location::CompartmentName(n) => self
                            .w
                            .all(world::COMPARTMENT)
                            .filter(|c| s(c, "name").eq_ignore_ascii_case(n))
                            .any(|c| ancestors.iter().any(|a| a == s(c, "id"))),
                    };
                    if subject_ok && place_ok {
                        granted.extend(st.permissions);
                    }
                }
            }
        }
        if needed.iter().all(|p| granted.contains(*p)) {
            Ok(())
        } else {
            Err(ApiErr::not_found())
        }
    }

    /// A live resource in this request's region.
    fn doc(&self, kind: &str, id: &str) -> Result<Doc, ApiErr> {
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

    fn if_match(&self, d: &Doc) -> Result<(), ApiErr> {
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

    fn touch(&mut self, kind: &str, id: &str, f: impl FnOnce(&mut Doc)) -> Doc {
        let etag = self.w.new_etag();
        let d = self.w.get_mut(kind, id).expect("resource exists");
        f(d);
        d.insert("_etag".into(), json!(etag));
        self.mutated = true;
        d.clone()
    }

    fn render(&self, kind: &str, d: &Doc) -> Value {
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
                    "RUNNING" => "AVAILABLE",
                    "TERMINATING" => "TERMINATING",
                    _ => "TERMINATED",
                };
                out.insert("lifecycleState".into(), json!(st));
            }
            world::VNIC_ATTACHMENT if s(d, "lifecycleState") != "DETACHED" => {
                let st = match inst_state(s(d, "instanceId")) {
                    "PROVISIONING" => "ATTACHING",
                    "RUNNING" => "ATTACHED",
                    "TERMINATING" => "DETACHING",
                    _ => "DETACHED",
                };
                out.insert("lifecycleState".into(), json!(st));
            }
            _ => {}
        }
        Value::Object(out)
    }

    fn one(&self, kind: &str, d: &Doc, status: u16) -> Resp {
        Resp::json(status, &self.render(kind, d)).header("etag", s(d, "_etag"))
    }

    /// A page of `items` following `limit`/`page`, with `opc-next-page` when more remain.
    fn page(&self, items: Vec<Value>) -> Result<Resp, ApiErr> {
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

    fn required_q(&self, name: &str) -> Result<String, ApiErr> {
        self.req
            .q(name)
            .map(String::from)
            .ok_or_else(|| ApiErr::missing(name))
    }

    fn list_compartment(&self) -> Result<String, ApiErr> {
        let c = self.required_q("compartmentId")?;
        if !self.compartment_exists(&c) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&c)?;
        Ok(c)
    }

    fn filter_eq(&self, d: &Doc, param: &str, field: &str) -> bool {
        match self.req.q(param) {
            Some(v) => s(d, field) == v,
            None => true,
        }
    }

    fn run(&mut self) -> Result<Resp, ApiErr> {
        match self.op {
            "GetTenancy" => {
                let id = self.id().to_string();
                let d = self
                    .w
                    .get(world::TENANCY, &id)
                    .cloned()
                    .ok_or_else(ApiErr::not_found)?;
                self.authorize(&id)?;
                Ok(self.one(world::TENANCY, &d, 200))
            }
            "ListRegionSubscriptions" => {
                let id = self.id().to_string();
                if id != self.w.tenancy_id {
                    return Err(ApiErr::not_found());
                }
                self.authorize(&id)?;
                let home = self.w.home_region.clone();
                let list: Vec<Value> = self
                    .w
                    .regions
                    .iter()
                    .map(|r| json!({"regionKey": r.key, "regionName": r.name, "status": "READY", "isHomeRegion": r.name == home}))
                    .collect();
                Ok(Resp::json(200, &Value::Array(list)))
            }
            "ListAvailabilityDomains" => {
                self.list_compartment()?;
                let t = self.w.tenancy_id.clone();
                let list: Vec<Value> = self
                    .w
                    .availability_domains(&self.req.region)
                    .into_iter()
                    .map(|n| {
                        let h = ring::digest::digest(&ring::digest::SHA256, format!("{t}{n}").as_bytes());
                        let hex: String = h.as_ref().iter().take(20).map(|b| format!("{b:02x}")).collect();
                        json!({"name": n, "id": format!("ocid1.availabilitydomain.oc1..{hex}"), "compartmentId": t})
                    })
                    .collect();
                Ok(Resp::json(200, &Value::Array(list)))
            }
            "GetCompartment" => {
                let id = self.id().to_string();
                if id == self.w.tenancy_id {
                    self.authorize(&id)?;
                    let t = self.w.get(world::TENANCY, &id).cloned().unwrap_or_default();
                    let v = json!({"id": id, "compartmentId": id, "name": s(&t, "name"), "description": s(&t, "description"),
                                   "timeCreated": rfc3339(0), "lifecycleState": "ACTIVE", "isAccessible": true,
                                   "freeformTags": {}, "definedTags": {}});
                    return Ok(Resp::json(200, &v).header("etag", s(&t, "_etag")));
                }
                let d = self.doc(world::COMPARTMENT, &id)?;
                self.authorize(&id)?;
                Ok(self.one(world::COMPARTMENT, &d, 200))
            }
            "ListCompartments" => {
                let parent = self.list_compartment()?;
                let subtree = self.req.q("compartmentIdInSubtree") == Some("true");
                if subtree && parent != self.w.tenancy_id {
                    return Err(ApiErr::invalid(
                        "compartmentIdInSubtree can only be used with the tenancy OCID",
                    ));
                }
                let items: Vec<Value> = self
                    .w
                    .all(world::COMPARTMENT)
                    .filter(|c| subtree || s(c, "compartmentId") == parent)
                    .filter(|c| {
                        self.filter_eq(c, "name", "name")
                            && self.filter_eq(c, "lifecycleState", "lifecycleState")
                    })
                    .map(|c| self.render(world::COMPARTMENT, c))
                    .collect();
                self.page(items)
            }
            "CreateDynamicGroup" => self.create_dynamic_group(),
            "ListDynamicGroups" => {
                let c = self.list_compartment()?;
                if c != self.w.tenancy_id {
                    return Err(ApiErr::invalid(
                        "Dynamic groups exist only in the tenancy compartment",
                    ));
                }
                let items = self.iam_list(world::DYNAMIC_GROUP, &c);
                self.page(items)
            }
            "GetDynamicGroup" => {
                let d = self.doc(world::DYNAMIC_GROUP, self.id())?;
                self.authorize(s(&d, "compartmentId"))?;
                Ok(self.one(world::DYNAMIC_GROUP, &d, 200))
            }
            "UpdateDynamicGroup" | "UpdatePolicy" => self.update_iam(),
            "DeleteDynamicGroup" | "DeletePolicy" => {
                let kind = if self.op == "DeletePolicy" {
                    world::POLICY
                } else {
                    world::DYNAMIC_GROUP
                };
                self.home_only()?;
                let id = self.id().to_string();
                let d = self.doc(kind, &id)?;
                self.authorize(s(&d, "compartmentId"))?;
                self.if_match(&d)?;
                let at = self.now + self.cfg.iam_propagation_delay_ms as i64;
                self.touch(kind, &id, |d| {
                    d.insert("_deleted".into(), json!(true));
                    d.insert("lifecycleState".into(), json!("DELETED"));
                    if let Some(h) = d.get_mut("_history").and_then(Value::as_array_mut) {
                        h.push(json!({"at": at, "doc": null}));
                    }
                });
                Ok(Resp::empty(204))
            }
            "CreatePolicy" => self.create_policy(),
            "ListPolicies" => {
                let c = self.list_compartment()?;
                let items = self.iam_list(world::POLICY, &c);
                self.page(items)
            }
            "GetPolicy" => {
                let d = self.doc(world::POLICY, self.id())?;
                self.authorize(s(&d, "compartmentId"))?;
                Ok(self.one(world::POLICY, &d, 200))
            }
            "GetVcn"
            | "GetSubnet"
            | "GetImage"
            | "GetInstance"
            | "GetVnic"
            | "GetPrivateIp"
            | "GetNetworkSecurityGroup" => {
                let kind = match self.op {
                    "GetVcn" => world::VCN,
                    "GetSubnet" => world::SUBNET,
                    "GetImage" => world::IMAGE,
                    "GetInstance" => world::INSTANCE,
                    "GetVnic" => world::VNIC,
                    "GetPrivateIp" => world::PRIVATE_IP,
                    _ => world::NSG,
                };
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
            "ListImages" => self.list_images(),
            "LaunchInstance" => self.launch(),
            "ListInstances" => {
                let c = self.list_compartment()?;
                let now = self.now;
                let items: Vec<Value> = self
                    .w
                    .all(world::INSTANCE)
                    .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
                    .filter(|d| {
                        self.filter_eq(d, "availabilityDomain", "availabilityDomain")
                            && self.filter_eq(d, "displayName", "displayName")
                    })
                    .filter(|d| {
                        self.req
                            .q("lifecycleState")
                            .is_none_or(|st| st == instance_state(d, now))
                    })
                    .map(|d| self.render(world::INSTANCE, d))
                    .collect();
                self.page(items)
            }
            "TerminateInstance" => {
                let id = self.id().to_string();
                let d = self.doc(world::INSTANCE, &id)?;
                self.authorize(s(&d, "compartmentId"))?;
                self.if_match(&d)?;
                if d.get("_terminatedAtMs").is_none() {
                    let at = self.now + self.cfg.terminating_delay_ms as i64;
                    let now = self.now;
                    self.touch(world::INSTANCE, &id, |d| {
                        d.insert("_terminatingAtMs".into(), json!(now));
                        d.insert("_terminatedAtMs".into(), json!(at));
                    });
                }
                let wr = self.w.new_id("workrequest", Some(&self.req.region.clone()));
                Ok(Resp::empty(204).header("opc-work-request-id", wr))
            }
            "ListVnicAttachments" => {
                let c = self.list_compartment()?;
                let items: Vec<Value> = self
                    .w
                    .all(world::VNIC_ATTACHMENT)
                    .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
                    .filter(|d| {
                        self.filter_eq(d, "instanceId", "instanceId")
                            && self.filter_eq(d, "vnicId", "vnicId")
                            && self.filter_eq(d, "availabilityDomain", "availabilityDomain")
                    })
                    .map(|d| self.render(world::VNIC_ATTACHMENT, d))
                    .collect();
                self.page(items)
            }
            "CreatePrivateIp" => self.create_private_ip(),
            "ListPrivateIps" => self.list_private_ips(),
            "UpdatePrivateIp" => self.update_private_ip(),
            "DeletePrivateIp" => {
                let id = self.id().to_string();
                let d = self.doc(world::PRIVATE_IP, &id)?;
                self.authorize(s(&d, "compartmentId"))?;
                self.if_match(&d)?;
                if d.get("isPrimary").and_then(Value::as_bool) == Some(true) {
                    return Err(ApiErr::invalid(
                        "A primary private IP cannot be deleted; it goes away with its VNIC.",
                    ));
                }
                self.w.remove(world::PRIVATE_IP, &id);
                self.mutated = true;
                Ok(Resp::empty(204))
            }
            "CreateNetworkSecurityGroup" => self.create_nsg(),
            "ListNetworkSecurityGroups" => {
                let c = self.list_compartment()?;
                let items: Vec<Value> = self
                    .w
                    .all(world::NSG)
                    .filter(|d| {
                        s(d, "compartmentId") == c
                            && s(d, "_region") == self.req.region
                            && d.get("_deleted").is_none()
                    })
                    .filter(|d| {
                        self.filter_eq(d, "vcnId", "vcnId")
                            && self.filter_eq(d, "displayName", "displayName")
                    })
                    .map(|d| self.render(world::NSG, d))
                    .collect();
                self.page(items)
            }
            "DeleteNetworkSecurityGroup" => {
                let id = self.id().to_string();
                let d = self.doc(world::NSG, &id)?;
                self.authorize(s(&d, "compartmentId"))?;
                self.if_match(&d)?;
                let in_use = self.w.all(world::VNIC).any(|v| {
                    v.get("nsgIds")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(id.as_str())))
                });
                if in_use {
                    return Err(ApiErr::new(
                        409,
                        "Conflict",
                        format!("Network security group {id} still has VNICs as members; remove them first."),
                    ));
                }
                self.touch(world::NSG, &id, |d| {
                    d.insert("_deleted".into(), json!(true));
                    d.insert("lifecycleState".into(), json!("TERMINATED"));
                });
                let rules: Vec<String> = self
                    .w
                    .all(world::SECURITY_RULE)
                    .filter(|r| s(r, "_nsgId") == id)
                    .map(|r| s(r, "_key").to_string())
                    .collect();
                for r in rules {
                    self.w.remove(world::SECURITY_RULE, &r);
                }
                Ok(Resp::empty(204))
            }
            "AddNetworkSecurityGroupSecurityRules" => self.add_rules(),
            "ListNetworkSecurityGroupSecurityRules" => {
                let id = self.id().to_string();
                let d = self.doc(world::NSG, &id)?;
                self.authorize(s(&d, "compartmentId"))?;
                let mut rules: Vec<&Doc> = self
                    .w
                    .all(world::SECURITY_RULE)
                    .filter(|r| s(r, "_nsgId") == id)
                    .filter(|r| self.filter_eq(r, "direction", "direction"))
                    .collect();
                rules.sort_by_key(|r| r.get("_order").and_then(Value::as_u64).unwrap_or(0));
                let items: Vec<Value> = rules
                    .into_iter()
                    .map(|r| self.render(world::SECURITY_RULE, r))
                    .collect();
                self.page(items)
            }
            op if super::object_storage::OPERATIONS.contains(&op) => self.object_storage(),
            _ => Err(ApiErr::not_found()),
        }
    }

    fn iam_list(&self, kind: &str, compartment: &str) -> Vec<Value> {
        self.w
            .all(kind)
            .filter(|d| d.get("_deleted").is_none() && s(d, "compartmentId") == compartment)
            .filter(|d| {
                self.filter_eq(d, "name", "name")
                    && self.filter_eq(d, "lifecycleState", "lifecycleState")
            })
            .map(|d| self.render(kind, d))
            .collect()
    }

    fn name_taken(&self, kind: &str, name: &str) -> bool {
        self.w
            .all(kind)
            .any(|d| d.get("_deleted").is_none() && s(d, "name").eq_ignore_ascii_case(name))
    }

    fn required_str(b: &Doc, k: &str) -> Result<String, ApiErr> {
        match b.get(k).and_then(Value::as_str) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(ApiErr::missing(k)),
        }
    }

    fn create_dynamic_group(&mut self) -> Result<Resp, ApiErr> {
        self.home_only()?;
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        let name = Self::required_str(&b, "name")?;
        let description = Self::required_str(&b, "description")?;
        let rule = Self::required_str(&b, "matchingRule")?;
        if comp != self.w.tenancy_id {
            if !self.compartment_exists(&comp) {
                return Err(ApiErr::not_found());
            }
            return Err(ApiErr::invalid(
                "Dynamic group can only be created in the tenancy compartment",
            ));
        }
        self.authorize(&comp)?;
        iam::parse_matching_rule(&rule)
            .map_err(|e| ApiErr::invalid(format!("Invalid matching rule: {e}")))?;
        if self.name_taken(world::DYNAMIC_GROUP, &name) {
            // code by analogy with PolicyAlreadyExists (see create_policy)
            return Err(ApiErr::new(
                409,
                "DynamicGroupAlreadyExists",
                format!("Dynamic group '{name}' already exists"),
            ));
        }
        let id = format!("ocid1.dynamicgroup.oc1..{}", world::random_suffix(60));
        let at = self.now + self.cfg.iam_propagation_delay_ms as i64;
        let doc = json!({"id": id, "compartmentId": comp, "name": name, "description": description,
            "matchingRule": rule, "timeCreated": rfc3339(self.now), "lifecycleState": "ACTIVE",
            "freeformTags": b.get("freeformTags").cloned().unwrap_or(json!({})),
            "definedTags": b.get("definedTags").cloned().unwrap_or(json!({})),
            "_history": [{"at": at, "doc": {"name": name, "matchingRule": rule}}]});
        self.w.insert(world::DYNAMIC_GROUP, doc);
        self.mutated = true;
        let d = self
            .w
            .get(world::DYNAMIC_GROUP, &id)
            .cloned()
            .unwrap_or_default();
        Ok(self.one(world::DYNAMIC_GROUP, &d, 200))
    }

    /// Parses every statement and checks what OCI checks when a policy is written: the dynamic
    /// groups named exist, and a policy attached to a compartment does not grant `in tenancy`.
    fn check_statements(
        &self,
        statements: &Value,
        policy_compartment: &str,
    ) -> Result<Vec<String>, ApiErr> {
        let arr = statements
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| ApiErr::missing("statements"))?;
        let mut out = Vec::new();
        for st in arr {
            let text = st
                .as_str()
                .ok_or_else(|| ApiErr::invalid("statements must be strings"))?;
            let parsed = iam::parse_statement(text).map_err(ApiErr::invalid)?;
            let live = |kind_ok: &dyn Fn(&Doc) -> bool| {
                self.w
                    .all(world::DYNAMIC_GROUP)
                    .any(|d| d.get("_deleted").is_none() && kind_ok(d))
            };
            match &parsed.subject {
                iam::Subject::DynamicGroupName(n)
                    if !live(&|d| s(d, "name").eq_ignore_ascii_case(n)) =>
                {
                    return Err(ApiErr::invalid(format!(
                        "Invalid policy statement `{text}`: dynamic group {n} does not exist"
                    )))
                }
                iam::Subject::DynamicGroupId(i) if !live(&|d| s(d, "id") == i) => {
                    return Err(ApiErr::invalid(format!(
                        "Invalid policy statement `{text}`: dynamic group {i} does not exist"
                    )))
                }
                _ => {}
            }
            if parsed.location == iam::Location::Tenancy && policy_compartment != self.w.tenancy_id
            {
                return Err(ApiErr::invalid(format!(
                    "Invalid policy statement `{text}`: only a policy in the root compartment can grant access in tenancy"
                )));
            }
            out.push(text.to_string());
        }
        Ok(out)
    }

    fn create_policy(&mut self) -> Result<Resp, ApiErr> {
        self.home_only()?;
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        let name = Self::required_str(&b, "name")?;
        let description = Self::required_str(&b, "description")?;
        if !self.compartment_exists(&comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&comp)?;
        let statements =
            self.check_statements(b.get("statements").unwrap_or(&Value::Null), &comp)?;
        if self.name_taken(world::POLICY, &name) {
            // observed: "409-PolicyAlreadyExists, Policy '<name>' already exists"
            // (oracle-terraform-modules/terraform-oci-oke#893, oracle-quickstart/oci-cloudnative#23)
            return Err(ApiErr::new(
                409,
                "PolicyAlreadyExists",
                format!("Policy '{name}' already exists"),
            ));
        }
        let id = format!("ocid1.policy.oc1..{}", world::random_suffix(60));
        let at = self.now + self.cfg.iam_propagation_delay_ms as i64;
        let doc = json!({"id": id, "compartmentId": comp, "name": name, "description": description,
            "statements": statements, "timeCreated": rfc3339(self.now), "lifecycleState": "ACTIVE",
            "versionDate": b.get("versionDate").cloned().unwrap_or(Value::Null),
            "freeformTags": b.get("freeformTags").cloned().unwrap_or(json!({})),
            "definedTags": b.get("definedTags").cloned().unwrap_or(json!({})),
            "_history": [{"at": at, "doc": {"name": name, "statements": statements}}]});
        self.w.insert(world::POLICY, doc);
        self.mutated = true;
        let d = self.w.get(world::POLICY, &id).cloned().unwrap_or_default();
        Ok(self.one(world::POLICY, &d, 200))
    }

    fn update_iam(&mut self) -> Result<Resp, ApiErr> {
        let kind = if self.op == "UpdatePolicy" {
            world::POLICY
        } else {
            world::DYNAMIC_GROUP
        };
        self.home_only()?;
        let id = self.id().to_string();
        let d = self.doc(kind, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let b = self.body()?;
        let mut changes = Map::new();
        if let Some(desc) = b.get("description").filter(|v| !v.is_null()) {
            changes.insert("description".into(), desc.clone());
        }
        for k in ["freeformTags", "definedTags", "versionDate"] {
            if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                changes.insert(k.into(), v.clone());
            }
        }
        if kind == world::DYNAMIC_GROUP {
            if let Some(rule) = b.get("matchingRule").and_then(Value::as_str) {
                iam::parse_matching_rule(rule)
                    .map_err(|e| ApiErr::invalid(format!("Invalid matching rule: {e}")))?;
                changes.insert("matchingRule".into(), json!(rule));
            }
        } else if let Some(st) = b.get("statements").filter(|v| !v.is_null()) {
            changes.insert(
                "statements".into(),
                json!(self.check_statements(st, s(&d, "compartmentId"))?),
            );
        }
        let at = self.now + self.cfg.iam_propagation_delay_ms as i64;
        let d = self.touch(kind, &id, |d| {
            for (k, v) in changes {
                d.insert(k, v);
            }
            let snapshot = if kind == world::DYNAMIC_GROUP {
                json!({"name": d.get("name"), "matchingRule": d.get("matchingRule")})
            } else {
                json!({"name": d.get("name"), "statements": d.get("statements")})
            };
            if let Some(h) = d.get_mut("_history").and_then(Value::as_array_mut) {
                h.push(json!({"at": at, "doc": snapshot}));
            }
        });
        Ok(self.one(kind, &d, 200))
    }

    fn list_images(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        let sort_by = self.req.q("sortBy").unwrap_or("TIMECREATED");
        if !matches!(sort_by, "TIMECREATED" | "DISPLAYNAME") {
            return Err(ApiErr::invalid("sortBy must be TIMECREATED or DISPLAYNAME"));
        }
        let desc = match self.req.q("sortOrder") {
            Some("ASC") => false,
            Some("DESC") => true,
            Some(_) => return Err(ApiErr::invalid("sortOrder must be ASC or DESC")),
            None => sort_by == "TIMECREATED",
        };
        let mut imgs: Vec<&Doc> = self
            .w
            .all(world::IMAGE)
            .filter(|d| s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "operatingSystem", "operatingSystem")
                    && self.filter_eq(d, "operatingSystemVersion", "operatingSystemVersion")
                    && self.filter_eq(d, "displayName", "displayName")
                    && self.filter_eq(d, "lifecycleState", "lifecycleState")
            })
            .filter(|d| match self.req.q("shape") {
                Some(shape) => d
                    .get("_shapes")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(shape))),
                None => true,
            })
            .collect();
        let key = if sort_by == "TIMECREATED" {
            "timeCreated"
        } else {
            "displayName"
        };
        imgs.sort_by(|a, b| s(a, key).cmp(s(b, key)));
        if desc {
            imgs.reverse();
        }
        let items = imgs
            .into_iter()
            .map(|d| self.render(world::IMAGE, d))
            .collect();
        self.page(items)
    }

    fn ip_in_use(&self, subnet: &str, ip: &str) -> bool {
        self.w
            .all(world::PRIVATE_IP)
            .any(|p| s(p, "subnetId") == subnet && s(p, "ipAddress") == ip)
    }

    /// Checks a requested address, or picks the lowest free one.
    fn pick_ip(&self, subnet: &Doc, requested: Option<&str>) -> Result<String, ApiErr> {
        let cidr = Cidr::parse(s(subnet, "cidrBlock"))
            .ok_or_else(|| ApiErr::invalid("subnet has no CIDR"))?;
        let sid = s(subnet, "id");
        match requested {
            Some(ip) => {
                let addr: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| ApiErr::invalid(format!("{ip} is not a valid IPv4 address")))?;
                if !cidr.is_usable(addr) {
                    return Err(ApiErr::invalid(format!(
                        "Private IP address {ip} is not within the usable range of subnet {} ({})",
                        sid,
                        s(subnet, "cidrBlock")
                    )));
                }
                if self.ip_in_use(sid, ip) {
                    return Err(ApiErr::new(
                        409,
                        "Conflict",
                        format!("Private IP address {ip} is already assigned in subnet {sid}"),
                    ));
                }
                Ok(ip.to_string())
            }
            None => (cidr.network() + 2..cidr.broadcast())
                .map(|v| Ipv4Addr::from(v).to_string())
                .find(|ip| !self.ip_in_use(sid, ip))
                .ok_or_else(|| {
                    ApiErr::new(
                        400,
                        "LimitExceeded",
                        format!("Subnet {sid} has no free private IP addresses"),
                    )
                }),
        }
    }

    fn launch(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        if !self.compartment_exists(&comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&comp)?;
        let ad = Self::required_str(&b, "availabilityDomain")?;
        let region = self.req.region.clone();
        if !self.w.availability_domains(&region).contains(&ad) {
            return Err(ApiErr::invalid(format!("Invalid availabilityDomain {ad}")));
        }
        let shape = Self::required_str(&b, "shape")?;
        let vnic_details = b
            .get("createVnicDetails")
            .cloned()
            .map(obj)
            .unwrap_or_default();
        let image_id = b
            .get("sourceDetails")
            .and_then(|sd| sd.get("imageId"))
            .or_else(|| b.get("imageId"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiErr::missing("sourceDetails.imageId"))?
            .to_string();
        let image = self.doc(world::IMAGE, &image_id)?;
        let compatible = image
            .get("_shapes")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(shape.as_str())));
        if !compatible {
            return Err(ApiErr::invalid(format!(
                "Shape {shape} is not compatible with image {image_id}"
            )));
        }
        let subnet_id = vnic_details
            .get("subnetId")
            .or_else(|| b.get("subnetId"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiErr::missing("createVnicDetails.subnetId"))?
            .to_string();
        let subnet = self.doc(world::SUBNET, &subnet_id)?;
        if let Some(sad) = subnet.get("availabilityDomain").and_then(Value::as_str) {
            if sad != ad {
                return Err(ApiErr::invalid(format!(
                    "Subnet {subnet_id} is in {sad}, not in {ad}"
                )));
            }
        }
        if vnic_details.get("assignPublicIp").and_then(Value::as_bool) == Some(true)
            && subnet
                .get("prohibitPublicIpOnVnic")
                .and_then(Value::as_bool)
                == Some(true)
        {
            return Err(ApiErr::invalid(
                "Public IP addresses are prohibited on this subnet (prohibitPublicIpOnVnic)",
            ));
        }
        let nsg_ids: Vec<String> = vnic_details
            .get("nsgIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if nsg_ids.len() > 5 {
            return Err(ApiErr::invalid(
                "A VNIC can be in at most 5 network security groups",
            ));
        }
        for n in &nsg_ids {
            let nsg = self
                .doc(world::NSG, n)
                .map_err(|_| ApiErr::invalid(format!("Network security group {n} not found")))?;
            if s(&nsg, "vcnId") != s(&subnet, "vcnId") {
                return Err(ApiErr::invalid(format!(
                    "Network security group {n} is not in the subnet's VCN"
                )));
            }
        }
        let meta_size: usize = ["metadata", "extendedMetadata"]
            .iter()
            .filter_map(|k| b.get(*k).and_then(Value::as_object))
            .flat_map(|m| m.iter())
            .map(|(k, v)| {
                k.len()
                    + v.as_str()
                        .map(str::len)
                        .unwrap_or_else(|| v.to_string().len())
            })
            .sum();
        if meta_size > 32_000 {
            return Err(ApiErr::invalid(format!(
                "The combined size of metadata and extendedMetadata is {meta_size} bytes; the limit is 32000 bytes"
            )));
        }
        let ip = self.pick_ip(
            &subnet,
            vnic_details.get("privateIp").and_then(Value::as_str),
        )?;
        let now = self.now;
        let display = b
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("instance{}", rfc3339(now).replace([':', '-', '.'], "")));
        let hostname = vnic_details
            .get("hostnameLabel")
            .or_else(|| b.get("hostnameLabel"))
            .and_then(Value::as_str)
            .map(String::from);
        let inst_id = self.w.new_id(world::INSTANCE, Some(&region));
        let vnic_id = self.w.new_id(world::VNIC, Some(&region));
        let att_id = self.w.new_id("vnicattachment", Some(&region));
        let pip_id = self.w.new_id("privateip", Some(&region));
        let shape_config = b.get("shapeConfig").cloned().unwrap_or(json!({}));
        let ocpus = shape_config
            .get("ocpus")
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        let mem = shape_config
            .get("memoryInGBs")
            .and_then(Value::as_f64)
            .unwrap_or(ocpus * 16.0);
        let short_region = match region.as_str() {
            "us-ashburn-1" => "iad".to_string(),
            "us-phoenix-1" => "phx".to_string(),
            r => r.to_string(),
        };
        let mut source = b
            .get("sourceDetails")
            .cloned()
            .unwrap_or(json!({"sourceType": "image"}));
        if let Some(m) = source.as_object_mut() {
            m.insert("imageId".into(), json!(image_id));
            m.entry("sourceType").or_insert(json!("image"));
        }
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        self.w.insert(
            world::INSTANCE,
            json!({"id": inst_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": display,
                "faultDomain": b.get("faultDomain").cloned().unwrap_or(json!("FAULT-DOMAIN-1")),
                "imageId": image_id, "launchMode": "PARAVIRTUALIZED", "region": short_region, "shape": shape,
                "shapeConfig": {"ocpus": ocpus, "memoryInGBs": mem, "vcpus": (ocpus * 2.0) as i64,
                                "processorDescription": "simulated", "networkingBandwidthInGbps": 1.0,
                                "maxVnicAttachments": 2, "gpus": 0, "localDisks": 0},
                "sourceDetails": source, "metadata": tags("metadata"), "extendedMetadata": tags("extendedMetadata"),
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "systemTags": {},
                "timeCreated": rfc3339(now), "lifecycleState": "PROVISIONING",
                "_region": region, "_runningAtMs": now + self.cfg.provisioning_delay_ms as i64}),
        );
        let mac = {
            let h = ring::digest::digest(&ring::digest::SHA256, vnic_id.as_bytes());
            let b = h.as_ref();
            format!("02:00:17:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
        };
        self.w.insert(
            world::VNIC,
            json!({"id": vnic_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": display,
                "hostnameLabel": hostname, "isPrimary": true, "macAddress": mac, "nsgIds": nsg_ids,
                "privateIp": ip, "publicIp": null, "skipSourceDestCheck": vnic_details.get("skipSourceDestCheck").and_then(Value::as_bool).unwrap_or(false),
                "subnetId": subnet_id, "timeCreated": rfc3339(now), "lifecycleState": "PROVISIONING",
                "freeformTags": {}, "definedTags": {}, "_region": region, "_instanceId": inst_id}),
        );
        self.w.insert(
            world::VNIC_ATTACHMENT,
            json!({"id": att_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": display,
                "instanceId": inst_id, "vnicId": vnic_id, "subnetId": subnet_id, "nicIndex": 0,
                "lifecycleState": "ATTACHING", "timeCreated": rfc3339(now), "_region": region}),
        );
        self.w.insert(
            world::PRIVATE_IP,
            json!({"id": pip_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": ip,
                "hostnameLabel": hostname, "ipAddress": ip, "isPrimary": true, "subnetId": subnet_id,
                "vnicId": vnic_id, "timeCreated": rfc3339(now), "ipState": "ASSIGNED", "lifetime": "EPHEMERAL",
                "freeformTags": {}, "definedTags": {}, "_region": region}),
        );
        self.mutated = true;
        let d = self
            .w
            .get(world::INSTANCE, &inst_id)
            .cloned()
            .unwrap_or_default();
        let wr = self.w.new_id("workrequest", Some(&region));
        Ok(self
            .one(world::INSTANCE, &d, 200)
            .header("opc-work-request-id", wr))
    }

    fn live_vnic(&self, id: &str) -> Result<Doc, ApiErr> {
        self.doc(world::VNIC, id)
    }

    fn create_private_ip(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let vnic_id = Self::required_str(&b, "vnicId")?;
        let vnic = self.live_vnic(&vnic_id)?;
        self.authorize(s(&vnic, "compartmentId"))?;
        let subnet = self.doc(world::SUBNET, s(&vnic, "subnetId"))?;
        let count = self
            .w
            .all(world::PRIVATE_IP)
            .filter(|p| s(p, "vnicId") == vnic_id)
            .count();
        if count >= 32 {
            return Err(ApiErr::new(
                400,
                "LimitExceeded",
                "A VNIC can have at most 32 private IPs (31 secondary)",
            ));
        }
        let ip = self.pick_ip(&subnet, b.get("ipAddress").and_then(Value::as_str))?;
        let region = self.req.region.clone();
        let id = self.w.new_id("privateip", Some(&region));
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        self.w.insert(
            world::PRIVATE_IP,
            json!({"id": id, "compartmentId": s(&vnic, "compartmentId"), "availabilityDomain": s(&vnic, "availabilityDomain"),
                "displayName": b.get("displayName").and_then(Value::as_str).unwrap_or(&ip), "hostnameLabel": b.get("hostnameLabel"),
                "ipAddress": ip, "isPrimary": false, "subnetId": s(&vnic, "subnetId"), "vnicId": vnic_id,
                "timeCreated": rfc3339(self.now), "ipState": "ASSIGNED", "lifetime": "EPHEMERAL",
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "_region": region}),
        );
        self.mutated = true;
        let d = self
            .w
            .get(world::PRIVATE_IP, &id)
            .cloned()
            .unwrap_or_default();
        Ok(self.one(world::PRIVATE_IP, &d, 200))
    }

    fn list_private_ips(&self) -> Result<Resp, ApiErr> {
        let ip = self.req.q("ipAddress");
        let subnet = self.req.q("subnetId");
        let vnic = self.req.q("vnicId");
        let comp = match (ip, subnet, vnic) {
            (_, _, Some(v)) => s(&self.live_vnic(v)?, "compartmentId").to_string(),
            (_, Some(sn), None) => s(&self.doc(world::SUBNET, sn)?, "compartmentId").to_string(),
            _ => {
                return Err(ApiErr::invalid(
                    "Specify ipAddress and subnetId, subnetId alone, or vnicId",
                ))
            }
        };
        self.authorize(&comp)?;
        let items: Vec<Value> = self
            .w
            .all(world::PRIVATE_IP)
            .filter(|p| s(p, "_region") == self.req.region)
            .filter(|p| vnic.is_none_or(|v| s(p, "vnicId") == v))
            .filter(|p| subnet.is_none_or(|v| s(p, "subnetId") == v))
            .filter(|p| ip.is_none_or(|v| s(p, "ipAddress") == v))
            .map(|p| self.render(world::PRIVATE_IP, p))
            .collect();
        self.page(items)
    }

    fn update_private_ip(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::PRIVATE_IP, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        if d.get("isPrimary").and_then(Value::as_bool) == Some(true) {
            return Err(ApiErr::invalid(
                "This operation cannot be used with primary private IPs; use UpdateVnic for a primary IP",
            ));
        }
        let b = self.body()?;
        let mut changes = Map::new();
        if let Some(target) = b.get("vnicId").and_then(Value::as_str) {
            let vnic = self.live_vnic(target)?;
            self.authorize(s(&vnic, "compartmentId"))?;
            if s(&vnic, "subnetId") != s(&d, "subnetId") {
                return Err(ApiErr::invalid(format!(
                    "VNIC {target} is in subnet {}, but private IP {id} belongs to subnet {}; a private IP can move only between VNICs in the same subnet",
                    s(&vnic, "subnetId"),
                    s(&d, "subnetId")
                )));
            }
            let count = self
                .w
                .all(world::PRIVATE_IP)
                .filter(|p| s(p, "vnicId") == target)
                .count();
            if s(&d, "vnicId") != target && count >= 32 {
                return Err(ApiErr::new(
                    400,
                    "LimitExceeded",
                    "A VNIC can have at most 32 private IPs (31 secondary)",
                ));
            }
            changes.insert("vnicId".into(), json!(target));
            changes.insert(
                "availabilityDomain".into(),
                json!(s(&vnic, "availabilityDomain")),
            );
        }
        for k in [
            "displayName",
            "hostnameLabel",
            "freeformTags",
            "definedTags",
        ] {
            if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                changes.insert(k.into(), v.clone());
            }
        }
        let d = self.touch(world::PRIVATE_IP, &id, |d| {
            for (k, v) in changes {
                d.insert(k, v);
            }
        });
        Ok(self.one(world::PRIVATE_IP, &d, 200))
    }

    fn create_nsg(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        let vcn_id = Self::required_str(&b, "vcnId")?;
        if !self.compartment_exists(&comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&comp)?;
        self.doc(world::VCN, &vcn_id)?;
        let region = self.req.region.clone();
        let id = self.w.new_id(world::NSG, Some(&region));
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        let display = b
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("nsg{}", rfc3339(self.now).replace([':', '-', '.'], "")));
        self.w.insert(
            world::NSG,
            json!({"id": id, "compartmentId": comp, "vcnId": vcn_id, "displayName": display,
                "lifecycleState": "AVAILABLE", "timeCreated": rfc3339(self.now),
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "systemTags": {},
                "_region": region}),
        );
        self.mutated = true;
        let d = self.w.get(world::NSG, &id).cloned().unwrap_or_default();
        Ok(self.one(world::NSG, &d, 200))
    }

    fn add_rules(&mut self) -> Result<Resp, ApiErr> {
        let nsg_id = self.id().to_string();
        let nsg = self.doc(world::NSG, &nsg_id)?;
        self.authorize(s(&nsg, "compartmentId"))?;
        let b = self.body()?;
        let rules = b
            .get("securityRules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if rules.is_empty() {
            return Err(ApiErr::missing("securityRules"));
        }
        if rules.len() > 25 {
            return Err(ApiErr::invalid(
                "At most 25 security rules can be added per call",
            ));
        }
        for r in &rules {
            let dir = r
                .get("direction")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !matches!(dir, "INGRESS" | "EGRESS") {
                return Err(ApiErr::invalid("direction must be INGRESS or EGRESS"));
            }
            let proto = r
                .get("protocol")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiErr::missing("protocol"))?;
            if proto != "all" && proto.parse::<u8>().is_err() {
                return Err(ApiErr::invalid(format!(
                    "protocol {proto} must be \"all\" or an IANA protocol number"
                )));
            }
            let (addr_key, type_key) = if dir == "INGRESS" {
                ("source", "sourceType")
            } else {
                ("destination", "destinationType")
            };
            let addr = r
                .get(addr_key)
                .and_then(Value::as_str)
                .ok_or_else(|| ApiErr::missing(addr_key))?;
            let ty = r
                .get(type_key)
                .and_then(Value::as_str)
                .unwrap_or("CIDR_BLOCK");
            match ty {
                "CIDR_BLOCK" if Cidr::parse(addr).is_none() => {
                    return Err(ApiErr::invalid(format!(
                        "{addr_key} {addr} is not a CIDR block"
                    )))
                }
                "NETWORK_SECURITY_GROUP" if self.doc(world::NSG, addr).is_err() => {
                    return Err(ApiErr::invalid(format!(
                        "{addr_key} {addr} is not a network security group"
                    )))
                }
                "CIDR_BLOCK" | "NETWORK_SECURITY_GROUP" | "SERVICE_CIDR_BLOCK" => {}
                other => return Err(ApiErr::invalid(format!("{type_key} {other} is not valid"))),
            }
            for (opt, allowed) in [("tcpOptions", "6"), ("udpOptions", "17")] {
                if r.get(opt).is_some_and(|v| !v.is_null()) && proto != allowed {
                    return Err(ApiErr::invalid(format!(
                        "{opt} is only valid with protocol {allowed}"
                    )));
                }
            }
            if r.get("icmpOptions").is_some_and(|v| !v.is_null()) && proto != "1" && proto != "58" {
                return Err(ApiErr::invalid(
                    "icmpOptions is only valid with protocol 1 or 58",
                ));
            }
        }
        let mut out = Vec::new();
        let first = self
            .w
            .all(world::SECURITY_RULE)
            .filter(|r| s(r, "_nsgId") == nsg_id)
            .count() as u64;
        for (n, r) in rules.into_iter().enumerate() {
            let rid: String = world::random_suffix(6).to_uppercase();
            let mut doc = obj(r);
            if s(&doc, "direction") == "INGRESS" {
                doc.entry("sourceType").or_insert(json!("CIDR_BLOCK"));
            } else {
                doc.entry("destinationType").or_insert(json!("CIDR_BLOCK"));
            }
            doc.entry("isStateless").or_insert(json!(false));
            doc.insert("id".into(), json!(rid));
            doc.insert("isValid".into(), json!(true));
            doc.insert("timeCreated".into(), json!(rfc3339(self.now)));
            doc.insert("_nsgId".into(), json!(nsg_id));
            doc.insert("_order".into(), json!(first + n as u64));
            out.push(self.render(world::SECURITY_RULE, &doc));
            // stored under "<nsg>/<rule id>": rule ids are unique only within their group
            let key = format!("{nsg_id}/{rid}");
            let mut stored = doc;
            stored.insert("id".into(), json!(key));
            stored.insert("_key".into(), json!(key));
            self.w.insert(world::SECURITY_RULE, Value::Object(stored));
            if let Some(m) = self.w.get_mut(world::SECURITY_RULE, &key) {
                m.insert("id".into(), json!(rid));
            }
        }
        self.touch(world::NSG, &nsg_id, |_| {});
        Ok(Resp::json(200, &json!({"securityRules": out})))
    }
}
