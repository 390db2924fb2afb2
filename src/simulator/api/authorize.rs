//! Who may run an operation: API-key users everything, instance principals what their dynamic
//! groups' policies grant in the resource's compartment or one of its ancestors.

use serde_json::Value;
use std::collections::BTreeSet;

use super::super::iam;
use super::super::world::{self, Doc};
use super::super::{ApiErr, Principal};
use super::context::{s, Ctx};

/// The effective version of an IAM object for instance principals at `now`.
pub(super) fn effective(d: &Doc, now: i64) -> Option<Doc> {
    d.get("_history")?
        .as_array()?
        .iter()
        .rev()
        .find(|h| h.get("at").and_then(Value::as_i64).unwrap_or(i64::MAX) <= now)
        .and_then(|h| h.get("doc"))
        .and_then(|d| d.as_object().cloned())
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
        if permissions.iter().all(|p| granted.contains(*p)) {
            Ok(())
        } else {
            Err(ApiErr::not_found())
        }
    }
}
