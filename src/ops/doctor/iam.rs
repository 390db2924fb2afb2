//! The IAM read check: what the pair's dynamic group and policy would collide with.

use super::policy::place;
use super::report::{ok, problem, unknown, Check};
use super::Doctor;

impl Doctor<'_> {
    /// Reads what the pair's IAM objects would collide with. Reading proves nothing about
    /// creating (OCI has no dry run); the report's operator policy says what that needs.
    pub(super) async fn check_iam_read(
        &self,
        home: Option<&str>,
        network_compartment: &str,
    ) -> Check {
        let dg = &self.spec.dynamic_group;
        let pol = &self.spec.policy;
        let tenancy = &self.t.tenancy_id;
        let fix_read = format!(
            "ask an administrator for `Allow group <your-group> to inspect dynamic-groups in \
             tenancy` and `... to inspect policies {}` (apply needs `manage` on both, see below)",
            place(network_compartment, tenancy)
        );
        let groups = match self.client().list_dynamic_groups(tenancy, Some(dg)).await {
            Ok(g) => g,
            Err(e) if e.is_not_found() || e.status() == Some(403) => {
                return problem(
                    "iam_read",
                    format!("you may not read the tenancy's dynamic groups ({e})"),
                    fix_read,
                )
            }
            Err(e) => {
                return unknown(
                    "iam_read",
                    format!("could not list dynamic groups: {e}"),
                    "run doctor again",
                )
            }
        };
        let policies = match self
            .client()
            .list_policies(network_compartment, Some(pol))
            .await
        {
            Ok(p) => p,
            Err(e) if e.is_not_found() || e.status() == Some(403) => {
                return problem(
                    "iam_read",
                    format!(
                        "you may not read the policies {} ({e})",
                        place(network_compartment, tenancy)
                    ),
                    fix_read,
                )
            }
            Err(e) => {
                return unknown(
                    "iam_read",
                    format!("could not list policies: {e}"),
                    "run doctor again",
                )
            }
        };
        let theirs = |tags: &std::collections::BTreeMap<String, String>| {
            tags.get("vipsetup-pair") != Some(&self.spec.pair)
        };
        let mut clashes = Vec::new();
        if let Some(g) = groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(dg) && theirs(&g.freeform_tags))
        {
            clashes.push(format!(
                "a dynamic group named {} already exists ({})",
                g.name, g.id
            ));
        }
        if let Some(p) = policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(pol) && theirs(&p.freeform_tags))
        {
            clashes.push(format!(
                "a policy named {} already exists ({})",
                p.name, p.id
            ));
        }
        if clashes.is_empty() {
            ok(
                "iam_read",
                format!(
                    "you can read dynamic groups and policies; the names {dg} and {pol} are \
                     free or this pair's (made in the home region {})",
                    home.unwrap_or("of the tenancy")
                ),
            )
        } else {
            problem(
                "iam_read",
                clashes.join("; "),
                "choose other names in `iam.dynamic_group` / `iam.policy`",
            )
        }
    }
}
