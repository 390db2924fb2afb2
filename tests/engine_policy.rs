//! The policy apply writes is enough for the failover agent and no more, judged by the
//! simulator's model of Oracle's policy reference (verb + resource type -> permissions, and the
//! permissions each API operation needs).

use std::collections::BTreeSet;

use vipsetup::engine::iam::policy_statements;
use vipsetup::simulator::iam::{parse_statement, required_permissions, Location, Subject};

const COMP: &str = "ocid1.compartment.oc1..aaaaaaaaquickstartcompartment";

fn granted(statements: &[String]) -> BTreeSet<String> {
    statements
        .iter()
        .flat_map(|s| parse_statement(s).unwrap().permissions)
        .collect()
}

fn allowed(granted: &BTreeSet<String>, operation: &str) -> bool {
    required_permissions(operation)
        .iter()
        .all(|p| granted.contains(*p))
}

#[test]
fn the_agent_can_move_and_recreate_the_vip_in_the_compartment_only() {
    let statements = policy_statements("quickstart-dg", COMP, &[]);
    for s in &statements {
        let st = parse_statement(s).unwrap();
        assert_eq!(
            st.subject,
            Subject::DynamicGroupName("quickstart-dg".into()),
            "{s}"
        );
        assert_eq!(st.location, Location::CompartmentId(COMP.into()), "{s}");
    }
    let g = granted(&statements);
    // What the agent calls: find its VNIC and the VIP's private IP, move it, or create it.
    for op in [
        "GetVnic",
        "ListPrivateIps",
        "GetPrivateIp",
        "UpdatePrivateIp",
        "CreatePrivateIp",
    ] {
        assert!(
            allowed(&g, op),
            "{op} needs {:?}, granted {g:?}",
            required_permissions(op)
        );
    }
    // Nothing that touches instances, the network's shape or IAM.
    for op in [
        "LaunchInstance",
        "TerminateInstance",
        "GetInstance",
        "CreateNetworkSecurityGroup",
        "DeleteNetworkSecurityGroup",
        "AddNetworkSecurityGroupSecurityRules",
        "CreatePolicy",
        "UpdatePolicy",
        "CreateDynamicGroup",
        "UpdateDynamicGroup",
    ] {
        assert!(!allowed(&g, op), "{op} must not be granted");
    }
}

#[test]
fn fewer_statements_would_not_do() {
    let statements = policy_statements("dg", COMP, &[]);
    // Each of the three statements is needed for one of the agent's calls.
    assert_eq!(statements.len(), 3, "{statements:#?}");
    for skip in 0..statements.len() {
        let some: Vec<String> = statements
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, s)| s.clone())
            .collect();
        let g = granted(&some);
        assert!(
            !allowed(&g, "UpdatePrivateIp")
                || !allowed(&g, "CreatePrivateIp")
                || !allowed(&g, "GetVnic"),
            "statement {:?} is not needed",
            statements[skip]
        );
    }
}
