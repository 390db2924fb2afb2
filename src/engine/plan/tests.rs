//! Table tests for `diff` and `destroy_plan`.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::engine::model::*;

pub(crate) fn desired() -> Desired {
    let node = |i: usize| DesiredNode {
        name: format!("instance{}", i + 1),
        availability_domain: "Uocm:AP-TOKYO-1-AD-1".into(),
        fault_domain: format!("FAULT-DOMAIN-{}", i + 1),
        shape: "VM.Standard.E4.Flex".into(),
        ocpus: Some(1.0),
        memory_in_gbs: Some(8.0),
        image_id: "ocid1.image.oc1..img".into(),
        private_ip: format!("172.16.2.{}", 11 + i).parse().unwrap(),
        ssh_authorized_keys: "ssh-ed25519 AAAA me".into(),
        user_data: format!("dXNlcmRhdGE{i}"),
        boot: Default::default(),
        assign_public_ip: false,
        hostname_label: Some(format!("instance{}", i + 1)),
    };
    Desired {
        pair: "quickstart".into(),
        tenancy_id: "ocid1.tenancy.oc1..t".into(),
        compartment_id: "ocid1.compartment.oc1..c".into(),
        vcn_id: "ocid1.vcn.oc1..v".into(),
        subnet_id: "ocid1.subnet.oc1..s".into(),
        vip: "172.16.2.10".parse().unwrap(),
        extra_vips: vec![],
        public_ip: None,
        preferred: 0,
        nodes: [node(0), node(1)],
        nsg_name: "quickstart-vrrp".into(),
        dynamic_group: DesiredDynamicGroup {
            name: "quickstart-dg".into(),
            description: "vipsetup pair quickstart".into(),
        },
        policy: DesiredPolicy {
            compartment_id: "ocid1.compartment.oc1..c".into(),
            name: "quickstart-policy".into(),
            description: "vipsetup pair quickstart".into(),
            statements: iam::policy_statements("quickstart-dg", "ocid1.compartment.oc1..c", &[]),
        },
        tags: BTreeMap::from([("team".to_string(), "net".to_string())]),
        image_line: None,
    }
}

/// The cloud exactly as apply leaves it for `desired()`.
pub(crate) fn converged(d: &Desired) -> Observed {
    let nsg_id = "ocid1.networksecuritygroup.oc1..n".to_string();
    let node = |i: usize| {
        let w = &d.nodes[i];
        LiveInstance {
            id: format!("ocid1.instance.oc1..i{i}"),
            display_name: w.name.clone(),
            lifecycle_state: "RUNNING".into(),
            availability_domain: w.availability_domain.clone(),
            fault_domain: Some(w.fault_domain.clone()),
            shape: w.shape.clone(),
            ocpus: w.ocpus,
            memory_in_gbs: w.memory_in_gbs,
            image_id: Some(w.image_id.clone()),
            user_data: Some(w.user_data.clone()),
            ssh_authorized_keys: Some(w.ssh_authorized_keys.clone()),
            metadata: Default::default(),
            tags: d.tags_for(Resource::node(i)),
            vnic: Some(LiveVnic {
                id: format!("ocid1.vnic.oc1..v{i}"),
                private_ip: Some(w.private_ip),
                nsg_ids: vec![nsg_id.clone()],
                public_ip: None,
                tags: Default::default(),
            }),
        }
    };
    Observed {
        nsg: Some(LiveNsg {
            id: nsg_id.clone(),
            lifecycle_state: "AVAILABLE".into(),
            rules: vrrp_rules(&nsg_id),
            tags: d.tags_for(Resource::Nsg),
        }),
        nodes: [Some(node(0)), Some(node(1))],
        dynamic_group: Some(LiveDynamicGroup {
            id: "ocid1.dynamicgroup.oc1..d".into(),
            name: d.dynamic_group.name.clone(),
            description: d.dynamic_group.description.clone(),
            matching_rule: iam::matching_rule(&[
                "ocid1.instance.oc1..i0",
                "ocid1.instance.oc1..i1",
            ]),
            lifecycle_state: "ACTIVE".into(),
            tags: d.tags_for(Resource::DynamicGroup),
        }),
        policy: Some(LivePolicy {
            id: "ocid1.policy.oc1..p".into(),
            compartment_id: d.policy.compartment_id.clone(),
            name: d.policy.name.clone(),
            description: d.policy.description.clone(),
            statements: d.policy.statements.clone(),
            lifecycle_state: "ACTIVE".into(),
            tags: d.tags_for(Resource::Policy),
        }),
        vip: Some(LivePrivateIp {
            id: "ocid1.privateip.oc1..vip".into(),
            ip_address: d.vip,
            vnic_id: Some("ocid1.vnic.oc1..v0".into()),
            is_primary: false,
            tags: d.tags_for(Resource::Vip),
        }),
        vip_is_ours: true,
        stale_vip: None,
        extra_vips: vec![],
        stale_extra_vips: vec![],
        public_ip: None,
        public_ip_adopted: false,
        image_names: BTreeMap::new(),
    }
}

fn actions(plan: &Plan) -> Vec<(Resource, Action)> {
    plan.steps.iter().map(|s| (s.resource, s.action)).collect()
}

fn all_recorded() -> BTreeSet<Resource> {
    Resource::ALL.into_iter().collect()
}

#[test]
fn empty_cloud_creates_everything_in_dependency_order() {
    let d = desired();
    let plan = diff(&d, &Observed::default(), &BTreeSet::new(), &[]).unwrap();
    assert!(plan.steps.iter().all(|s| s.action == Action::Create));
    assert!(plan.steps.iter().all(|s| s.reasons.is_empty()), "{plan:?}");
    let deps = |r| plan.step(r).unwrap().depends_on.clone();
    assert!(deps(Resource::Nsg).is_empty());
    assert_eq!(
        deps(Resource::Node1),
        vec![dep(Resource::Nsg, Milestone::Launched)]
    );
    assert_eq!(
        deps(Resource::DynamicGroup),
        vec![
            dep(Resource::Node1, Milestone::Launched),
            dep(Resource::Node2, Milestone::Launched)
        ]
    );
    assert_eq!(
        deps(Resource::Policy),
        vec![dep(Resource::DynamicGroup, Milestone::Done)]
    );
    assert_eq!(
        deps(Resource::Vip),
        vec![dep(Resource::Node1, Milestone::VnicReady)]
    );
    assert!(plan.has_changes());
    assert_eq!(
        plan.summary(),
        "6 to create, 0 to update, 0 to replace, 0 unchanged"
    );
}

#[test]
fn converged_cloud_is_all_noop() {
    let d = desired();
    let plan = diff(&d, &converged(&d), &all_recorded(), &[]).unwrap();
    assert!(!plan.has_changes(), "{}", plan.render_text());
}

#[test]
fn vip_on_the_other_node_is_not_drift() {
    let d = desired();
    let mut o = converged(&d);
    o.vip.as_mut().unwrap().vnic_id = Some("ocid1.vnic.oc1..v1".into());
    // As the agent moves it: with its node's name and the time in the same call.
    let tags = &mut o.vip.as_mut().unwrap().tags;
    tags.insert(TAG_TAKEOVER_BY.into(), d.nodes[1].name.clone());
    tags.insert(TAG_TAKEOVER_AT.into(), "2026-12-07T02:00:00Z".into());
    let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
    assert!(!plan.has_changes());
    let why = &plan.step(Resource::Vip).unwrap().reasons[0];
    assert!(
        why.contains("failed over by the agent at 2026-12-07T02:00:00Z; left where it is"),
        "{why}"
    );
}

#[test]
fn issue_20_a_vip_moved_without_the_agents_takeover_tags_is_moved_outside_vipsetup() {
    let d = desired();
    let mut o = converged(&d);
    o.vip.as_mut().unwrap().vnic_id = Some("ocid1.vnic.oc1..v1".into());
    let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
    let why = &plan.step(Resource::Vip).unwrap().reasons[0];
    assert!(why.contains("moved outside vipsetup"), "{why}");
    assert!(!why.contains("failed over by the agent"), "{why}");
    // The tags name the other node's agent (its last takeover): still not this move.
    let tags = &mut o.vip.as_mut().unwrap().tags;
    tags.insert(TAG_TAKEOVER_BY.into(), d.nodes[0].name.clone());
    let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
    let why = &plan.step(Resource::Vip).unwrap().reasons[0];
    assert!(why.contains("moved outside vipsetup"), "{why}");
    assert!(
        why.contains(&format!("the last one recorded is {}'s", d.nodes[0].name)),
        "{why}"
    );
}

/// Each row: a change to the converged cloud or blueprint, and the actions it must give.
#[test]
fn drift_table() {
    type Mutate = fn(&mut Desired, &mut Observed);
    type Row = (&'static str, Mutate, Vec<(Resource, Action)>, &'static str);
    let rows: Vec<Row> = vec![
        (
            "user data changed",
            |d, _| d.nodes[1].user_data = "bmV3".into(),
            vec![
                (Resource::Node2, Action::Replace),
                (Resource::DynamicGroup, Action::Update),
            ],
            // Not vipsetup's user data: nothing in it can be told apart as settings.
            "forces replacement because the user data changed",
        ),
        // UpdateInstance changes the shape and the fault domain in place (OCI reboots it).
        (
            "shape changed",
            |d, _| d.nodes[0].shape = "VM.Standard.E5.Flex".into(),
            vec![(Resource::Node1, Action::Update)],
            "shape: VM.Standard.E4.Flex -> VM.Standard.E5.Flex (OCI reboots the instance for it)",
        ),
        // OCI can't change the keys of a running instance: a note, never a silent replacement.
        (
            "ssh keys changed",
            |d, _| d.nodes[0].ssh_authorized_keys = "ssh-rsa BBBB other".into(),
            vec![],
            "",
        ),
        (
            "fault domain changed",
            |d, _| d.nodes[1].fault_domain = "FAULT-DOMAIN-3".into(),
            vec![(Resource::Node2, Action::Update)],
            "fault_domain: FAULT-DOMAIN-2 -> FAULT-DOMAIN-3",
        ),
        (
            "extra policy statement",
            |d, _| {
                d.policy
                    .statements
                    .push("Allow dynamic-group quickstart-dg to read buckets in tenancy".into())
            },
            vec![(Resource::Policy, Action::Update)],
            "statements: + Allow dynamic-group quickstart-dg to read buckets in tenancy",
        ),
        (
            "policy statement removed out of band",
            |_, o| {
                o.policy.as_mut().unwrap().statements.pop();
            },
            vec![(Resource::Policy, Action::Update)],
            "statements: + Allow dynamic-group quickstart-dg to use subnets",
        ),
        (
            "matching rule edited out of band",
            |_, o| {
                o.dynamic_group.as_mut().unwrap().matching_rule = "ANY {instance.id = 'x'}".into()
            },
            vec![(Resource::DynamicGroup, Action::Update)],
            "matching_rule: ANY {instance.id = 'x'} -> ",
        ),
        (
            "tag added in the blueprint",
            |d, _| {
                d.tags.insert("env".into(), "prod".into());
            },
            vec![
                (Resource::Nsg, Action::Update),
                (Resource::Node1, Action::Update),
                (Resource::Node2, Action::Update),
                (Resource::DynamicGroup, Action::Update),
                (Resource::Policy, Action::Update),
                (Resource::Vip, Action::Update),
            ],
            "freeform tag \"env\": add \"prod\"",
        ),
        (
            "tag edited on an instance out of band",
            |_, o| {
                o.nodes[1]
                    .as_mut()
                    .unwrap()
                    .tags
                    .insert("team".into(), "ops".into());
            },
            vec![(Resource::Node2, Action::Update)],
            "freeform tag \"team\": \"ops\" -> \"net\"",
        ),
        (
            "the agent's takeover record on the vip is not drift",
            |_, o| {
                let v = o.vip.as_mut().unwrap();
                v.tags
                    .insert("vipsetup-takeover".into(), "instance2".into());
            },
            vec![],
            "on node1",
        ),
        (
            "nsg tag removed out of band",
            |_, o| {
                o.nsg.as_mut().unwrap().tags.remove("team");
            },
            vec![(Resource::Nsg, Action::Update)],
            "freeform tag \"team\": add \"net\"",
        ),
        (
            "vnic taken out of the nsg",
            |_, o| {
                let n = o.nodes[0].as_mut().unwrap();
                n.vnic.as_mut().unwrap().nsg_ids.clear();
            },
            vec![(Resource::Node1, Action::Update)],
            "nsg_ids: [] -> [ocid1.networksecuritygroup.oc1..n]",
        ),
        (
            "flex shape resized in the blueprint",
            |d, _| d.nodes[1].ocpus = Some(2.0),
            vec![(Resource::Node2, Action::Update)],
            "ocpus: 1 -> 2 (OCI reboots the instance to resize it)",
        ),
        (
            "public ip asked for",
            |d, _| d.nodes[0].assign_public_ip = true,
            vec![(Resource::Node1, Action::Update)],
            "assign_public_ip: false -> true",
        ),
        (
            "instance deleted out of band",
            |_, o| o.nodes[1].as_mut().unwrap().lifecycle_state = "TERMINATED".into(),
            vec![
                (Resource::Node2, Action::Create),
                (Resource::DynamicGroup, Action::Update),
            ],
            "node2 recorded in state was deleted outside vipsetup",
        ),
        (
            "instance holding the vip deleted out of band",
            |_, o| {
                o.nodes[0] = None;
                o.vip = None;
            },
            vec![
                (Resource::Node1, Action::Create),
                (Resource::DynamicGroup, Action::Update),
                (Resource::Vip, Action::Create),
            ],
            "node1 recorded in state was deleted outside vipsetup",
        ),
        (
            "vrrp rule removed",
            |_, o| {
                o.nsg.as_mut().unwrap().rules.remove(0);
            },
            vec![(Resource::Nsg, Action::Update)],
            "rules: + INGRESS protocol 112",
        ),
        (
            "dynamic group renamed in the blueprint",
            |d, _| d.dynamic_group.name = "other-dg".into(),
            vec![(Resource::DynamicGroup, Action::Replace)],
            "OCI can't rename a dynamic group",
        ),
        (
            "instance launched by a killed run, still provisioning",
            |_, o| {
                let n = o.nodes[0].as_mut().unwrap();
                n.lifecycle_state = "PROVISIONING".into();
                n.vnic = None;
                o.vip = None;
            },
            vec![
                (Resource::Node1, Action::Wait),
                (Resource::Vip, Action::Create),
            ],
            "PROVISIONING (launched by an earlier run): wait for its vnic and RUNNING",
        ),
        (
            "vip address changed in the blueprint",
            |d, o| {
                d.vip = "172.16.2.20".parse().unwrap();
                o.stale_vip = o.vip.take();
            },
            vec![(Resource::Vip, Action::Replace)],
            "forces replacement because the address changed (172.16.2.10 -> 172.16.2.20)",
        ),
        (
            "vip on a foreign vnic of ours",
            |_, o| o.vip.as_mut().unwrap().vnic_id = Some("ocid1.vnic.oc1..elsewhere".into()),
            vec![(Resource::Vip, Action::Update)],
            "it is on a vnic outside the pair",
        ),
    ];
    for (name, mutate, want, reason) in rows {
        let mut d = desired();
        let mut o = converged(&d);
        mutate(&mut d, &mut o);
        let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
        let changed: Vec<_> = actions(&plan)
            .into_iter()
            .filter(|(_, a)| *a != Action::NoOp)
            .collect();
        assert_eq!(changed, want, "row {name:?}:\n{}", plan.render_text());
        assert!(
            plan.render_text().contains(reason),
            "row {name:?}: no {reason:?} in\n{}",
            plan.render_text()
        );
    }
}

/// vipsetup never moves the VIP off a node it replaces: that node's agent, MASTER until the
/// end, would move it straight back. The VIP goes with the VNIC, the peer's agent re-creates it,
/// and apply adopts that (or creates it) once the replacement is done.
#[test]
fn replacing_the_vip_holder_does_not_fight_its_agent() {
    let mut d = desired();
    let o = converged(&d);
    d.nodes[0].image_id = "ocid1.image.oc1..newer".into();
    let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
    assert_eq!(plan.replaced_nodes(), vec![0]);
    assert_eq!(plan.action(Resource::Vip), Action::Create);
    assert_eq!(
        plan.step(Resource::Vip).unwrap().depends_on,
        vec![dep(Resource::Node1, Milestone::Done)]
    );
    assert!(plan
        .render_text()
        .contains("the agent on the peer re-creates it"));
    assert!(!plan
        .step(Resource::Node1)
        .unwrap()
        .depends_on
        .iter()
        .any(|x| x.resource == Resource::Vip));
}

#[test]
fn replacing_both_nodes_rolls_the_vip_holder_last() {
    let d = desired();
    let o = converged(&d);
    let plan = diff(&d, &o, &all_recorded(), &[0, 1]).unwrap();
    assert_eq!(plan.replaced_nodes(), vec![0, 1]);
    assert!(plan.step(Resource::Node1).unwrap().reasons[0].contains("--replace"));
    // node2 first, then node1 (the holder): one node is always there to hold the VIP.
    assert!(plan
        .step(Resource::Node1)
        .unwrap()
        .depends_on
        .contains(&dep(Resource::Node2, Milestone::Done)));
    assert!(!plan
        .step(Resource::Node2)
        .unwrap()
        .depends_on
        .iter()
        .any(|x| x.resource == Resource::Node1));
    assert_eq!(plan.action(Resource::Vip), Action::Create);
}

#[test]
fn vip_taken_by_someone_else_is_an_error() {
    let d = desired();
    let o = Observed {
        vip: Some(LivePrivateIp {
            id: "ocid1.privateip.oc1..x".into(),
            ip_address: d.vip,
            vnic_id: Some("ocid1.vnic.oc1..foreign".into()),
            is_primary: true,
            tags: BTreeMap::new(),
        }),
        ..Observed::default()
    };
    let err = diff(&d, &o, &BTreeSet::new(), &[]).unwrap_err();
    assert!(err.to_string().contains("already in use"), "{err}");
    assert!(err.to_string().contains("ocid1.vnic.oc1..foreign"));
}

#[test]
fn destroy_deletes_what_is_there_in_reverse_order() {
    let d = desired();
    let plan = destroy_plan(&converged(&d));
    assert_eq!(
        actions(&plan),
        vec![
            (Resource::Vip, Action::Delete),
            (Resource::Node1, Action::Delete),
            (Resource::Node2, Action::Delete),
            (Resource::Policy, Action::Delete),
            (Resource::DynamicGroup, Action::Delete),
            (Resource::Nsg, Action::Delete),
        ]
    );
    assert_eq!(
        plan.step(Resource::Nsg).unwrap().depends_on,
        vec![
            dep(Resource::Node1, Milestone::Done),
            dep(Resource::Node2, Milestone::Done)
        ]
    );
    let gone = destroy_plan(&Observed::default());
    assert!(!gone.has_changes());
    assert_eq!(gone.summary(), "0 to delete, 6 already gone");
}

#[test]
fn destroy_leaves_a_vip_that_is_not_ours() {
    let d = desired();
    let mut o = converged(&d);
    o.vip_is_ours = false;
    assert_eq!(destroy_plan(&o).action(Resource::Vip), Action::NoOp);
}

/// A new ssh key is noted (OCI fixes the keys at launch) and replaces the node only when asked.
#[test]
fn ssh_keys_are_noted_and_replaced_only_with_replace() {
    let mut d = desired();
    let o = converged(&d);
    d.nodes[0].ssh_authorized_keys = "ssh-rsa BBBB other".into();
    let plan = diff(&d, &o, &all_recorded(), &[]).unwrap();
    assert!(!plan.has_changes(), "{}", plan.render_text());
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("instance1: the ssh keys differ")
                && w.contains("apply --replace instance1")),
        "{:?}",
        plan.warnings
    );
    let plan = diff(&d, &o, &all_recorded(), &[0]).unwrap();
    assert_eq!(plan.action(Resource::Node1), Action::Replace);
}

/// A replacement nobody asked for is held: the rest of the plan goes as if the node stays.
#[test]
fn a_held_replacement_lets_other_changes_go() {
    let mut d = desired();
    let o = converged(&d);
    d.nodes[1].user_data = "bmV3".into();
    d.policy
        .statements
        .push("Allow dynamic-group quickstart-dg to read buckets in tenancy".into());
    let plan = super::diff_holding(&d, &o, &all_recorded(), &[], &[1]).unwrap();
    assert_eq!(plan.action(Resource::Node2), Action::NoOp);
    assert_eq!(plan.action(Resource::DynamicGroup), Action::NoOp);
    assert_eq!(plan.action(Resource::Policy), Action::Update);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("instance2 is not replaced") && w.contains("--replace instance2")),
        "{:?}",
        plan.warnings
    );
}
