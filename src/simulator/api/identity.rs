//! The identity service: the tenancy, its regions, availability domains and compartments, and
//! the dynamic groups and policies IAM checks instance principals against (with their
//! propagation delay).

use serde_json::{json, Map, Value};

use super::super::iam;
use super::super::world::{self, rfc3339, Doc};
use super::super::{ApiErr, Resp};
use super::authorize::effective;
use super::context::{s, Ctx};

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
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
        _ => return None,
    })
}

impl Ctx<'_> {
    /// Runs the operation when this service owns it.
    pub(super) fn run_identity(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "GetTenancy" => self.get_tenancy(),
            "ListRegionSubscriptions" => self.list_region_subscriptions(),
            "ListAvailabilityDomains" => self.list_availability_domains(),
            "GetCompartment" => self.get_compartment(),
            "ListCompartments" => self.list_compartments(),
            "CreateDynamicGroup" => self.create_dynamic_group(),
            "ListDynamicGroups" => self.list_dynamic_groups(),
            "GetDynamicGroup" => self.get_dynamic_group(),
            "UpdateDynamicGroup" | "UpdatePolicy" => self.update_iam(),
            "DeleteDynamicGroup" | "DeletePolicy" => self.delete_iam(),
            "CreatePolicy" => self.create_policy(),
            "ListPolicies" => self.list_policies(),
            "GetPolicy" => self.get_policy(),
            _ => return None,
        })
    }

    fn get_tenancy(&self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self
            .w
            .get(world::TENANCY, &id)
            .cloned()
            .ok_or_else(ApiErr::not_found)?;
        self.authorize(&id)?;
        Ok(self.one(world::TENANCY, &d, 200))
    }

    fn list_region_subscriptions(&self) -> Result<Resp, ApiErr> {
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

    fn list_availability_domains(&self) -> Result<Resp, ApiErr> {
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

    fn get_compartment(&self) -> Result<Resp, ApiErr> {
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

    fn list_compartments(&self) -> Result<Resp, ApiErr> {
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

    fn list_dynamic_groups(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        if c != self.w.tenancy_id {
            return Err(ApiErr::invalid(
                "Dynamic groups exist only in the tenancy compartment",
            ));
        }
        let items = self.iam_list(world::DYNAMIC_GROUP, &c);
        self.page(items)
    }

    fn get_dynamic_group(&self) -> Result<Resp, ApiErr> {
        let d = self.doc(world::DYNAMIC_GROUP, self.id())?;
        self.authorize(s(&d, "compartmentId"))?;
        Ok(self.one(world::DYNAMIC_GROUP, &d, 200))
    }

    /// What an update or delete of a policy or dynamic group acts on, once the rules every such
    /// write shares pass: IAM writes only in the home region, the caller allowed in the
    /// resource's compartment, and a matching `if-match`.
    fn iam_write_target(&self) -> Result<(&'static str, String, Doc), ApiErr> {
        let kind = if self.op.ends_with("Policy") {
            world::POLICY
        } else {
            world::DYNAMIC_GROUP
        };
        self.home_only()?;
        let id = self.id().to_string();
        let d = self.doc(kind, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        Ok((kind, id, d))
    }

    fn delete_iam(&mut self) -> Result<Resp, ApiErr> {
        let (kind, id, _) = self.iam_write_target()?;
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

    fn list_policies(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let items = self.iam_list(world::POLICY, &c);
        self.page(items)
    }

    fn get_policy(&self) -> Result<Resp, ApiErr> {
        let d = self.doc(world::POLICY, self.id())?;
        self.authorize(s(&d, "compartmentId"))?;
        Ok(self.one(world::POLICY, &d, 200))
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
    /// groups named exist and are visible to IAM already, a policy attached to a compartment
    /// does not grant `in tenancy`, and the compartment a statement names is in the policy's
    /// compartment subtree ("a policy can only govern its own compartment and below", docs
    /// Identity/Concepts/policies.htm, "Policy Attachment").
    ///
    /// Errors as OCI words them: "The group README specified in the policy statement does not
    /// exist under current compartment hierarchy." (oracle-devrel/terraform-oci-ocloud-foundation#6:
    /// 400 InvalidParameter; "dynamic group" for our subject is a guess), "The compartment X
    /// specified in the policy statement does not exist under current compartment hierarchy."
    /// (oracle-quickstart/oci-micronaut#3), "Compartment {ocid} does not exist or is not part of
    /// the policy compartment subtree" (oci-landing-zones/oracle-enterprise-landingzone#100).
    /// A group created less than the IAM propagation delay ago is not visible yet: the Go SDK
    /// retries this answer after IAM writes (common/eventual_consistency.go), so OCI lags here
    /// too; the length of the lag is the simulator's setting.
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
            let now = self.now;
            let visible = |kind_ok: &dyn Fn(&Doc) -> bool| {
                self.w
                    .all(world::DYNAMIC_GROUP)
                    .any(|d| effective(d, now).is_some() && kind_ok(d))
            };
            let missing = |who: &str| {
                ApiErr::invalid(format!(
                    "The dynamic group {who} specified in the policy statement does not exist under current compartment hierarchy."
                ))
            };
            match &parsed.subject {
                iam::Subject::DynamicGroupName(n)
                    if !visible(&|d| s(d, "name").eq_ignore_ascii_case(n)) =>
                {
                    return Err(missing(n))
                }
                iam::Subject::DynamicGroupId(i) if !visible(&|d| s(d, "id") == i) => {
                    return Err(missing(i))
                }
                _ => {}
            }
            match &parsed.location {
                iam::Location::CompartmentId(c)
                    if !self.ancestors(c).iter().any(|a| a == policy_compartment)
                        || !self.compartment_exists(c) =>
                {
                    return Err(ApiErr::invalid(format!(
                        "Compartment {c} does not exist or is not part of the policy compartment subtree"
                    )))
                }
                iam::Location::CompartmentName(n) => {
                    let found = self.w.all(world::COMPARTMENT).any(|c| {
                        c.get("_deleted").is_none()
                            && s(c, "name").eq_ignore_ascii_case(n)
                            && self
                                .ancestors(s(c, "id"))
                                .iter()
                                .any(|a| a == policy_compartment)
                    });
                    if !found {
                        return Err(ApiErr::invalid(format!(
                            "The compartment {n} specified in the policy statement does not exist under current compartment hierarchy."
                        )));
                    }
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
        let (kind, id, d) = self.iam_write_target()?;
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
}
