//! Who may run an operation: API-key users everything, instance principals what their dynamic
//! groups' policies grant in the resource's compartment or one of its ancestors.

use serde_json::Value;
use std::collections::BTreeSet;

use super::super::iam;
use super::super::world::{self, Doc};
use super::super::{ApiErr, Principal};
use super::context::{s, Ctx};

/// The effective version of an IAM object for instance principals at `now`: the last entry of
/// its `_history` whose time has come (each write adds one, `iamPropagationDelayMs` after the
/// write); `None` before the first, or once a deletion is in force.
pub(super) fn effective(d: &Doc, now: i64) -> Option<&Doc> {
    d.get("_history")?
        .as_array()?
        .iter()
        .rev()
        .find(|h| h.get("at").and_then(Value::as_i64).unwrap_or(i64::MAX) <= now)
        .and_then(|h| h.get("doc"))
        .and_then(Value::as_object)
}

impl Ctx<'_> {
    /// API-key users may do everything; instance principals need a matching dynamic group and a
    /// policy granting every permission of the operation in `compartment`.
    pub(super) fn authorize(&self, compartment: &str) -> Result<(), ApiErr> {
        self.authorize_with(compartment, iam::required_permissions(self.op))
    }

    /// `authorize` for permissions that depend on the request, not only on the operation (e.g.
    /// joining network security groups at launch).
    pub(super) fn authorize_with(
        &self,
        compartment: &str,
        permissions: &[&str],
    ) -> Result<(), ApiErr> {
        let Principal::Instance { id, compartment_id } = self.p else {
            return Ok(());
        };
        let facts = iam::InstanceFacts { id, compartment_id };
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for dg in self.w.all(world::DYNAMIC_GROUP) {
            if let Some(v) = effective(dg, self.now) {
                // parsed once per distinct text (iam_cache.rs); the version in force is chosen
                // above, per call
                let rule = self.iam.matching_rule(s(v, "matchingRule"));
                if rule.is_some_and(|r| r.matches(&facts)) {
                    names.insert(s(v, "name").to_lowercase());
                    ids.insert(s(dg, "id"));
                }
            }
        }
        let ancestors = self.ancestors(compartment);
        // the statements that apply here; what they grant together is checked below
        let mut granting = Vec::new();
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
                    let Some(grant) = self.iam.grant(st.as_str().unwrap_or_default()) else {
                        continue;
                    };
                    let st = &grant.statement;
                    let subject_ok = match &st.subject {
                        iam::Subject::DynamicGroupName(_) => grant
                            .group_name_lower
                            .as_ref()
                            .is_some_and(|n| names.contains(n)),
                        iam::Subject::DynamicGroupId(i) => ids.contains(i.as_str()),
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
                        granting.push(grant);
                    }
                }
            }
        }
        let granted = |p: &str| {
            granting
                .iter()
                .any(|g| g.statement.permissions.iter().any(|x| x == p))
        };
        if permissions.iter().all(|p| granted(p)) {
            Ok(())
        } else {
            Err(ApiErr::not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::world::{SeedSpec, World};
    use super::super::super::{Inner, Principal, Req, SimConfig};
    use super::super::execute;
    use serde_json::{json, Value};

    fn req(g: &Inner, op: &'static str, method: &str, path: &str, body: Value) -> Req {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Req {
            method: method.into(),
            target: path.into(),
            path: path.into(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers: Default::default(),
            body: if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
            region: g.world.home_region.clone(),
            peer: "127.0.0.1:1".parse().unwrap(),
            operation: op,
        }
    }

    fn call(g: &mut Inner, p: &Principal, op: &'static str, m: &str, path: &str, b: Value) -> u16 {
        let r = req(g, op, m, path, b);
        execute(g, op, &r, p).status
    }

    #[test]
    fn a_changed_policy_or_dynamic_group_is_seen_once_its_propagation_delay_has_passed() {
        let (world, seeded) = World::seed(&SeedSpec::default()).unwrap();
        let config = SimConfig {
            iam_propagation_delay_ms: 60_000,
            ..SimConfig::default()
        };
        let mut g = Inner::new(world, config);
        let admin = Principal::User(seeded.user_id.clone());
        let node = Principal::Instance {
            id: "ocid1.instance.oc1..node".into(),
            compartment_id: seeded.compartment_id.clone(),
        };
        let advance = |g: &mut Inner, ms: i64| g.world.clock_offset_ms += ms;
        // ListPrivateIps of the seeded subnet needs PRIVATE_IP_READ in its compartment. Asked
        // twice: with the cache as the calls so far left it, and with an empty one; both must
        // agree, so the cache changes nothing but the parsing.
        let list = |g: &mut Inner| {
            let path = format!("/20160918/privateIps?subnetId={}", seeded.subnet_id);
            let cached = call(g, &node, "ListPrivateIps", "GET", &path, Value::Null);
            let kept = std::mem::take(&mut g.iam);
            let fresh = call(g, &node, "ListPrivateIps", "GET", &path, Value::Null);
            g.iam = kept;
            assert_eq!(
                cached, fresh,
                "the cache answered differently from a fresh parse"
            );
            cached
        };
        let tenancy = seeded.tenancy_id.clone();
        let c = seeded.compartment_id.clone();
        let made = |g: &mut Inner, op: &'static str, path: &str, body: Value| {
            let r = req(g, op, "POST", path, body);
            let resp = execute(g, op, &r, &admin);
            assert_eq!(
                resp.status,
                200,
                "{op}: {}",
                String::from_utf8_lossy(&resp.body)
            );
            let v: Value = serde_json::from_slice(&resp.body).unwrap();
            v["id"].as_str().unwrap().to_string()
        };
        let dg = made(
            &mut g,
            "CreateDynamicGroup",
            "/20160918/dynamicGroups",
            json!({"compartmentId": tenancy, "name": "vip", "description": "d",
                   "matchingRule": "instance.id = 'ocid1.instance.oc1..node'"}),
        );
        advance(&mut g, 61_000);
        let vnics = format!("Allow dynamic-group vip to use vnics in compartment id {c}");
        let policy = made(
            &mut g,
            "CreatePolicy",
            "/20160918/policies",
            json!({"compartmentId": tenancy, "name": "vip", "description": "d",
                   "statements": [vnics]}),
        );
        advance(&mut g, 61_000);
        assert_eq!(
            list(&mut g),
            404,
            "use vnics does not grant PRIVATE_IP_READ"
        );
        let (rules, statements) = g.iam.sizes();
        assert!(rules >= 1 && statements >= 1, "parsed texts kept");

        // The policy gains `read private-ips`: not in force for the next 60 s.
        let read = format!("Allow dynamic-group vip to read private-ips in compartment id {c}");
        let path = format!("/20160918/policies/{policy}");
        let body = json!({"statements": [vnics, read]});
        assert_eq!(
            call(&mut g, &admin, "UpdatePolicy", "PUT", &path, body),
            200
        );
        assert_eq!(
            list(&mut g),
            404,
            "the old statements until the delay passes"
        );
        advance(&mut g, 59_000);
        assert_eq!(list(&mut g), 404, "still within the delay");
        advance(&mut g, 2_000);
        assert_eq!(list(&mut g), 200, "the changed policy is seen");

        // The dynamic group stops matching the node: the same, in its turn.
        let path = format!("/20160918/dynamicGroups/{dg}");
        let body = json!({"matchingRule": "instance.id = 'ocid1.instance.oc1..other'"});
        assert_eq!(
            call(&mut g, &admin, "UpdateDynamicGroup", "PUT", &path, body),
            200
        );
        assert_eq!(list(&mut g), 200, "the old rule until the delay passes");
        advance(&mut g, 61_000);
        assert_eq!(list(&mut g), 404, "the changed rule is seen");

        // A statement edited in the world directly (no API write, no new history entry: the
        // version in force changes in place) is seen at once, since the cache is keyed by text.
        let path = format!("/20160918/dynamicGroups/{dg}");
        let body = json!({"matchingRule": "instance.id = 'ocid1.instance.oc1..node'"});
        assert_eq!(
            call(&mut g, &admin, "UpdateDynamicGroup", "PUT", &path, body),
            200
        );
        advance(&mut g, 61_000);
        assert_eq!(list(&mut g), 200);
        let pol = g.world.get_mut(super::world::POLICY, &policy).unwrap();
        let last = pol["_history"].as_array_mut().unwrap().last_mut().unwrap();
        last["doc"]["statements"] = json!([vnics]);
        assert_eq!(list(&mut g), 404, "an in-place edit is seen");
    }
}
