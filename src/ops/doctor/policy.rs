//! The policy the operator's own group needs for apply and destroy (OCI has no dry run, so
//! doctor states it instead of checking it).

use crate::blueprint::Blueprint;

/// `in tenancy` or `in compartment id <ocid>`.
pub(super) fn place(compartment: &str, tenancy: &str) -> String {
    if compartment == tenancy || compartment.starts_with("ocid1.tenancy.") {
        "in tenancy".to_string()
    } else {
        format!("in compartment id {compartment}")
    }
}

/// The operator's policy for this blueprint. Sources: docs.oracle.com
/// Identity/Reference/corepolicyreference.htm ("Details for Verb + Resource-Type Combinations":
/// VCN_ATTACH, which CreateNetworkSecurityGroup needs, comes only with `manage vcns`;
/// LaunchInstance needs `manage instance-family` plus `use` of subnets, VNICs and NSGs;
/// CreatePrivateIp needs `use private-ips`, `use vnics` and `use subnets`) and
/// iampolicyreference.htm (dynamic groups and policies).
pub fn operator_policy(bp: &Blueprint, tenancy: &str, network_compartment: &str) -> Vec<String> {
    let g = "<your-group>";
    let comp = place(&bp.oci.compartment.to_string(), tenancy);
    let net = place(network_compartment, tenancy);
    let mut out = vec![
        format!("Allow group {g} to manage dynamic-groups in tenancy"),
        format!("Allow group {g} to manage policies {net}"),
        format!("Allow group {g} to manage instance-family {comp}"),
        format!("Allow group {g} to manage network-security-groups {comp}"),
        format!("Allow group {g} to manage vcns {net}"),
        format!("Allow group {g} to use virtual-network-family {net}"),
    ];
    if bp.network.public_ip.is_some() {
        out.push(format!("Allow group {g} to manage public-ips {net}"));
    }
    if bp.failover.notify_topic.is_some() {
        out.push(format!("Allow group {g} to read ons-topics {comp}"));
    }
    if let Some(st) = &bp.state {
        out.push(format!(
            "Allow group {g} to manage objects in tenancy where target.bucket.name = '{}'",
            st.bucket
        ));
    }
    out
}
