//! The policy apply writes is enough for the failover agent and no more, judged by the
//! simulator's model of Oracle's policy reference (verb + resource type -> permissions, and the
//! permissions each API operation needs).

mod engine_support;

use std::collections::BTreeSet;

use engine_support::*;
use serde_json::{json, Value};
use vipsetup::engine::iam::policy_statements;
use vipsetup::engine::plan::Plan;
use vipsetup::engine::progress::Silent;
use vipsetup::oci::auth::{AuthMethod, AuthOptions};
use vipsetup::oci::models::{
    CreateNetworkSecurityGroupDetails, CreatePrivateIpDetails, UpdatePrivateIpDetails,
};
use vipsetup::oci::{Client, ListInstancesRequest, ListPrivateIpsRequest};
use vipsetup::simulator::iam::{parse_statement, required_permissions, Location, Subject};
use vipsetup::simulator::world;

const VIP: &str = "172.16.2.10";

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

/// The usual landing-zone layout: the network (VCN, subnet, and so the VNICs and the VIP) in a
/// compartment of its own. With exactly the policy apply wrote, a node can do everything the
/// failover agent does, as an instance principal over REST, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_in_a_network_compartment_fails_over_with_exactly_the_written_policy() {
    let mut net = String::new();
    let p = pair_setup(
        |t| t,
        vipsetup::oci::RetryPolicy::default(),
        |w, _| {
            let tenancy = w.tenancy_id.clone();
            net = w.add_compartment("network", &tenancy);
            for kind in [world::VCN, world::SUBNET] {
                let ids: Vec<String> = w
                    .all(kind)
                    .filter_map(|d| d.get("id")?.as_str().map(String::from))
                    .collect();
                for id in ids {
                    w.get_mut(kind, &id)
                        .unwrap()
                        .insert("compartmentId".into(), json!(net));
                }
            }
        },
    )
    .await;
    p.session()
        .apply(&[], &|_: &Plan| true, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let w = p.world();
    let doc = |kind: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        live(&w, kind).into_iter().find(|d| pred(d)).unwrap()
    };
    let node2 = doc(world::INSTANCE, &|d| d["displayName"] == "instance2");
    let node2_id = node2["id"].as_str().unwrap().to_string();
    let pair_comp = node2["compartmentId"].as_str().unwrap().to_string();
    assert_ne!(pair_comp, net);
    let vnic2 = doc(world::VNIC, &|d| d["_instanceId"] == node2_id.as_str());
    assert_eq!(
        vnic2["compartmentId"],
        json!(net),
        "VNICs live with their subnet"
    );
    let policy = doc(world::POLICY, &|_| true);
    assert_eq!(policy["compartmentId"], json!(net), "{policy}");
    for st in policy["statements"].as_array().unwrap() {
        let st = parse_statement(st.as_str().unwrap()).unwrap();
        assert_eq!(st.location, Location::CompartmentId(net.clone()));
    }

    // Node 2 takes the VIP over as the agent does.
    p.sim.set_imds_alias("127.0.0.1", &node2_id);
    let node = Client::from_options(&AuthOptions {
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some(p.sim.base_url()),
        metadata_base_url: Some(p.sim.metadata_base_url()),
        ..Default::default()
    })
    .await
    .unwrap();
    let subnet = p.target.spec.subnet_id.clone();
    let vips = node
        .list_private_ips(&ListPrivateIpsRequest {
            ip_address: Some(VIP.into()),
            subnet_id: Some(subnet.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let vip_id = vips[0].id.clone();
    let before = node.get_private_ip(&vip_id).await.unwrap();
    let own_vnic = vnic2["id"].as_str().unwrap();
    assert_ne!(before.value.vnic_id.as_deref(), Some(own_vnic));
    let moved = node
        .update_private_ip(
            &vip_id,
            &UpdatePrivateIpDetails {
                vnic_id: Some(own_vnic.into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(moved.value.vnic_id.as_deref(), Some(own_vnic));
    assert_eq!(node.get_vnic(own_vnic).await.unwrap().value.id, own_vnic);
    // The agent's fallback when the VIP's object is gone: create it on its own VNIC.
    let spare = node
        .create_private_ip(
            &CreatePrivateIpDetails {
                vnic_id: Some(own_vnic.into()),
                ip_address: Some("172.16.2.99".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(spare.value.ip_address, "172.16.2.99");

    // Nothing beyond that: not the instances, not the network's shape.
    let e = node.get_instance(&node2_id).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = node
        .list_instances(&ListInstancesRequest {
            compartment_id: pair_comp.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = node
        .create_network_security_group(
            &CreateNetworkSecurityGroupDetails {
                compartment_id: net.clone(),
                vcn_id: vnic2_vcn(&w, &subnet),
                display_name: Some("sneaky".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

fn vnic2_vcn(w: &vipsetup::simulator::World, subnet: &str) -> String {
    w.get(world::SUBNET, subnet).unwrap()["vcnId"]
        .as_str()
        .unwrap()
        .to_string()
}
