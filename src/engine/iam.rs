//! The IAM text vipsetup writes: the dynamic group's matching rule and the least-privilege
//! policy statements that let the two nodes move the VIP.
//!
//! Permissions, from Oracle's "Details for the Core Services" policy reference:
//! UpdatePrivateIp needs PRIVATE_IP_UPDATE (`use private-ips`) plus VNIC_ASSIGN and VNIC_UNASSIGN
//! (`use vnics`); CreatePrivateIp (the agent's fallback when the VIP's object is gone) also needs
//! SUBNET_ATTACH (`use subnets`); ListPrivateIps/GetPrivateIp/GetVnic are covered by those verbs.
//! Nothing broader (no `manage`, no tenancy-wide scope) is granted.
//!
//! The agent's view of itself (contract-12: `vipsetup-agent-*` freeform tags on its own VNIC)
//! is written with UpdateVnic, which needs VNIC_UPDATE: part of `use vnics` (core reference,
//! vnics row: "use: READ + VNIC_ATTACH, VNIC_DETACH, VNIC_UPDATE, ..."), so no statement is
//! added for it. Issue 12 adds, only when the blueprint uses them:
//! - IPv6 VIPs: UpdateIpv6 (and the Get/List the agent reads them with) need IPV6_UPDATE and
//!   IPV6_READ on `ipv6s` plus VNIC_ASSIGN/VNIC_UNASSIGN (`use vnics`, already granted):
//!   `use ipv6s` in the subnet's compartment. The `ipv6s` rows of the core reference are not
//!   in the library; that `use` carries IPV6_UPDATE, as for private-ips, is a guess.
//! - Failover alerts: PublishMessage needs ONS_TOPIC_PUBLISH, granted by `use ons-topics`
//!   ("Details for Notifications", notificationpolicyreference.htm), in the topic's compartment.

/// `ANY {instance.id = 'a', instance.id = 'b'}` for the pair's instances.
pub fn matching_rule(instance_ids: &[&str]) -> String {
    let conditions: Vec<String> = instance_ids
        .iter()
        .map(|id| format!("instance.id = '{id}'"))
        .collect();
    format!("ANY {{{}}}", conditions.join(", "))
}

/// Whitespace- and keyword-case-insensitive comparison, so a rule OCI echoes back with other
/// spacing is not reported as drift.
pub fn same_matching_rule(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> String {
        let squeezed: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        match squeezed.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("any{") => format!("ANY{{{}", &squeezed[4..]),
            _ => squeezed,
        }
    }
    norm(a) == norm(b)
}

/// `in tenancy` for the root compartment (which `compartment id` can't name), else
/// `in compartment id <ocid>`.
fn scope(compartment_id: &str) -> String {
    if compartment_id.starts_with("ocid1.tenancy.") {
        "tenancy".to_string()
    } else {
        format!("compartment id {compartment_id}")
    }
}

/// The three statements the agent needs, scoped to the pair's compartment, then the extras.
pub fn policy_statements(
    dynamic_group: &str,
    compartment_id: &str,
    extra: &[String],
) -> Vec<String> {
    policy_statements_with(dynamic_group, compartment_id, &AgentNeeds::default(), extra)
}

/// What the blueprint asks of the agent beyond moving IPv4 VIPs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentNeeds {
    /// The pair has IPv6 VIPs (UpdateIpv6).
    pub ipv6: bool,
    /// The compartment of the alerts' topic (PublishMessage), if the pair has one.
    pub topic_compartment: Option<String>,
}

/// `policy_statements` plus what `needs` asks for (see the module notes for the sources).
pub fn policy_statements_with(
    dynamic_group: &str,
    compartment_id: &str,
    needs: &AgentNeeds,
    extra: &[String],
) -> Vec<String> {
    let allow = |what: &str, place: &str| {
        format!("Allow dynamic-group {dynamic_group} to use {what} in {place}")
    };
    let here = scope(compartment_id);
    let mut statements: Vec<String> = ["private-ips", "vnics", "subnets"]
        .iter()
        .map(|r| allow(r, &here))
        .collect();
    if needs.ipv6 {
        statements.push(allow("ipv6s", &here));
    }
    if let Some(c) = &needs.topic_compartment {
        statements.push(allow("ons-topics", &scope(c)));
    }
    statements.extend(extra.iter().cloned());
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rule_names_both_instances() {
        assert_eq!(
            matching_rule(&["ocid1.instance.oc1..a", "ocid1.instance.oc1..b"]),
            "ANY {instance.id = 'ocid1.instance.oc1..a', instance.id = 'ocid1.instance.oc1..b'}"
        );
    }

    #[test]
    fn matching_rules_compare_loosely_on_spacing_only() {
        let ours = matching_rule(&["x", "y"]);
        assert!(same_matching_rule(
            &ours,
            "any {instance.id='x',instance.id='y'}"
        ));
        assert!(!same_matching_rule(&ours, "ANY {instance.id = 'x'}"));
        assert!(!same_matching_rule(
            &ours,
            "ALL {instance.id = 'x', instance.id = 'y'}"
        ));
    }

    #[test]
    fn statements_are_least_privilege_in_the_compartment() {
        let s = policy_statements("vip-dg", "ocid1.compartment.oc1..c", &["Allow x".into()]);
        assert_eq!(s.len(), 4);
        for st in &s[..3] {
            assert!(st.starts_with("Allow dynamic-group vip-dg to use "), "{st}");
            assert!(
                st.ends_with(" in compartment id ocid1.compartment.oc1..c"),
                "{st}"
            );
        }
        assert!(s
            .iter()
            .all(|st| !st.contains("manage") && !st.contains("tenancy")));
        assert_eq!(s[3], "Allow x");
    }

    #[test]
    fn ipv6_vips_and_alerts_add_exactly_their_statements() {
        let needs = AgentNeeds {
            ipv6: true,
            topic_compartment: Some("ocid1.compartment.oc1..t".into()),
        };
        let s = policy_statements_with("dg", "ocid1.compartment.oc1..c", &needs, &[]);
        assert_eq!(
            s[3..],
            [
                "Allow dynamic-group dg to use ipv6s in compartment id ocid1.compartment.oc1..c",
                "Allow dynamic-group dg to use ons-topics in compartment id ocid1.compartment.oc1..t"
            ]
        );
        let none = policy_statements_with(
            "dg",
            "ocid1.compartment.oc1..c",
            &AgentNeeds::default(),
            &[],
        );
        assert_eq!(
            none,
            policy_statements("dg", "ocid1.compartment.oc1..c", &[])
        );
    }

    #[test]
    fn the_root_compartment_is_named_as_the_tenancy() {
        let s = policy_statements("dg", "ocid1.tenancy.oc1..t", &[]);
        assert_eq!(s[0], "Allow dynamic-group dg to use private-ips in tenancy");
    }
}
