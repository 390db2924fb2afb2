//! apply / plan / status / destroy of the quickstart pair against the in-process simulator:
//! the resources and their fields, idempotence (zero mutating calls), drift, lost state, the
//! agent's failover left alone, and faults.

mod engine_support;

use engine_support::*;
use serde_json::Value;
use vipsetup::engine::plan::{Action, Plan};
use vipsetup::engine::progress::Silent;
use vipsetup::engine::Resource;
use vipsetup::render::{self, AgentSettings, Facts};
use vipsetup::simulator::{world, FaultKind, RandomFaults};

fn yes(_: &Plan) -> bool {
    true
}

const VIP: &str = "172.16.2.10";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_lifecycle_holds_the_expected_resources_then_nothing() {
    let p = pair().await;
    let sess = p.session();
    let out = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert_eq!(out.report.vip_holder.as_deref(), Some("instance1"));

    let w = p.world();
    assert_eq!(
        counts(&w, VIP),
        (1 + 1, 1, 1, 1, 1),
        "two instances, one of everything else"
    );
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    let id = |r: Resource| state.id(r).unwrap().to_string();

    // Instances: names, fault domains, tags, user data = the rendered cloud-config.
    let bp = vipsetup::ops::blueprint_view::load(&p.blueprint).unwrap();
    let facts = Facts {
        node_ips: [
            "172.16.2.11".parse().unwrap(),
            "172.16.2.12".parse().unwrap(),
        ],
        subnet_cidr: "172.16.2.0/24".parse().unwrap(),
        region: "ap-tokyo-1".into(),
        agent: AgentSettings::default(),
    };
    let rendered = render::render(&bp, &facts).unwrap();
    for (i, r) in [Resource::Node1, Resource::Node2].into_iter().enumerate() {
        let inst = Value::Object(w.get(world::INSTANCE, &id(r)).unwrap().clone());
        assert_eq!(inst["displayName"], format!("instance{}", i + 1));
        assert_eq!(inst["faultDomain"], format!("FAULT-DOMAIN-{}", i + 1));
        assert_eq!(inst["shape"], "VM.Standard.E4.Flex");
        assert_eq!(inst["freeformTags"]["vipsetup-pair"], "quickstart");
        assert_eq!(inst["freeformTags"]["vipsetup-role"], r.key());
        let ud = decode_user_data(inst["metadata"]["user_data"].as_str().unwrap());
        assert_eq!(ud, rendered[i].cloud_config, "node {i} user data");
        let on_disk = std::fs::read_to_string(
            p.rendered_dir()
                .join(format!("instance{}.cloud-init.yaml", i + 1)),
        )
        .unwrap();
        assert_eq!(on_disk, ud);
        assert!(inst["metadata"]["ssh_authorized_keys"]
            .as_str()
            .unwrap()
            .starts_with("ssh-"));
    }

    // Dynamic group: both instances, in the tenancy.
    let dg = Value::Object(
        w.get(world::DYNAMIC_GROUP, &id(Resource::DynamicGroup))
            .unwrap()
            .clone(),
    );
    assert_eq!(
        dg["matchingRule"],
        format!(
            "ANY {{instance.id = '{}', instance.id = '{}'}}",
            id(Resource::Node1),
            id(Resource::Node2)
        )
    );
    assert_eq!(dg["compartmentId"], w.tenancy_id.as_str());
    assert_eq!(dg["freeformTags"]["vipsetup-role"], "dynamic-group");

    // Policy: least privilege in the compartment.
    let pol = Value::Object(w.get(world::POLICY, &id(Resource::Policy)).unwrap().clone());
    let comp = bp.oci.compartment.to_string();
    let want: Vec<String> = ["private-ips", "vnics", "subnets"]
        .iter()
        .map(|r| format!("Allow dynamic-group quickstart-dg to use {r} in compartment id {comp}"))
        .collect();
    assert_eq!(pol["statements"], serde_json::json!(want));

    // NSG: VRRP in and out between its members, and both VNICs in it.
    let nsg = id(Resource::Nsg);
    let rules: Vec<Value> = w
        .all(world::SECURITY_RULE)
        .filter(|r| r.get("_nsgId").and_then(Value::as_str) == Some(nsg.as_str()))
        .map(|r| Value::Object(r.clone()))
        .collect();
    assert_eq!(rules.len(), 2, "{rules:?}");
    let mut directions: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["direction"].as_str())
        .collect();
    directions.sort();
    assert_eq!(directions, ["EGRESS", "INGRESS"], "{rules:?}");
    for r in &rules {
        assert_eq!(r["protocol"], "112");
        let peer = if r["direction"] == "INGRESS" {
            &r["source"]
        } else {
            &r["destination"]
        };
        assert_eq!(peer, nsg.as_str());
    }
    for r in [Resource::Node1, Resource::Node2] {
        let vnic = state.get(r).unwrap().vnic_id.clone().unwrap();
        let v = Value::Object(w.get(world::VNIC, &vnic).unwrap().clone());
        assert_eq!(v["nsgIds"], serde_json::json!([nsg]));
    }

    // The VIP: a secondary IP on node1's VNIC.
    let vip = Value::Object(
        w.get(world::PRIVATE_IP, &id(Resource::Vip))
            .unwrap()
            .clone(),
    );
    assert_eq!(vip["ipAddress"], VIP);
    assert_eq!(
        vip["vnicId"],
        state.get(Resource::Node1).unwrap().vnic_id.clone().unwrap()
    );
    assert_eq!(vip["isPrimary"], false);

    // Re-apply right after: no mutating call at all.
    p.sim.clear_log();
    let again = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());

    // Destroy: nothing of the pair is left; a second destroy has nothing to do.
    let gone = sess.destroy(&yes, &Silent).await.unwrap();
    assert!(gone.plan.has_changes());
    assert_eq!(counts(&p.world(), VIP), (0, 0, 0, 0, 0));
    p.sim.clear_log();
    let again = sess.destroy(&yes, &Silent).await.unwrap();
    assert!(!again.plan.has_changes());
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_state_is_rebuilt_from_tags() {
    let p = pair().await;
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    std::fs::remove_file(p.state_path()).unwrap();
    p.sim.clear_log();
    let plan = sess.plan(&[]).await.unwrap();
    assert!(!plan.has_changes(), "{}", plan.render_text());
    let again = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert!(!again.plan.has_changes());
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    assert_eq!(state.recorded().len(), 6, "{state:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_deleted_out_of_band_shows_in_plan_and_is_recreated() {
    let p = pair().await;
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    let old = state.id(Resource::Node2).unwrap().to_string();
    // Terminate node2 behind vipsetup's back, as a console user would.
    p.target.cloud.terminate_instance(&old).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(TERMINATING_MS * 3)).await;

    let plan = sess.plan(&[]).await.unwrap();
    assert_eq!(plan.action(Resource::Node2), Action::Create);
    assert!(
        plan.render_text()
            .contains("node2 recorded in state was deleted outside vipsetup"),
        "{}",
        plan.render_text()
    );
    assert_eq!(plan.action(Resource::DynamicGroup), Action::Update);

    let out = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let new = out.report.nodes[1].instance_id.clone().unwrap();
    assert_ne!(new, old);
    let w = p.world();
    assert_eq!(counts(&w, VIP), (2, 1, 1, 1, 1));
    let dg = live(&w, world::DYNAMIC_GROUP).remove(0);
    assert!(dg["matchingRule"].as_str().unwrap().contains(&new));
    assert!(!sess.plan(&[]).await.unwrap().has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_over_vip_is_left_where_it_is() {
    let p = pair().await;
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    let vip = state.id(Resource::Vip).unwrap().to_string();
    let vnic2 = state.get(Resource::Node2).unwrap().vnic_id.clone().unwrap();
    // The agent on node2 took the VIP over, writing its name and the time in the VIP's tags.
    p.target.cloud.move_private_ip(&vip, &vnic2).await.unwrap();
    let mut tags = p
        .target
        .cloud
        .get_private_ip(&vip)
        .await
        .unwrap()
        .unwrap()
        .tags;
    tags.insert("vipsetup-owner".into(), "instance2".into());
    tags.insert("vipsetup-takeover-at".into(), "2026-12-07T02:00:00Z".into());
    p.target
        .cloud
        .update_private_ip_tags(&vip, &tags)
        .await
        .unwrap();

    p.sim.clear_log();
    let plan = sess.plan(&[]).await.unwrap();
    assert!(!plan.has_changes(), "{}", plan.render_text());
    assert!(plan
        .render_text()
        .contains("on node2 (failed over by the agent at 2026-12-07T02:00:00Z; left where it is)"));
    let out = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
    assert_eq!(out.report.vip_holder.as_deref(), Some("instance2"));
    let w = p.world();
    assert_eq!(
        w.get(world::PRIVATE_IP, &vip).unwrap()["vnicId"],
        vnic2.as_str()
    );
    let status = sess.status().await.unwrap();
    assert_eq!(status.vip_holder.as_deref(), Some("instance2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_destroy_finish_with_a_fifth_of_calls_failing() {
    let p = pair_with(|t| t, fast_retries()).await;
    p.sim.set_random_faults(Some(RandomFaults {
        rate: 0.2,
        operations: vec![],
        faults: vec![
            FaultKind::too_many_requests(),
            FaultKind::internal_error(),
            FaultKind::Drop,
        ],
    }));
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let faulted = p.sim.log().iter().filter(|e| e.status >= 429).count();
    assert!(faulted > 0, "the fault injection must have hit some calls");
    assert_eq!(counts(&p.world(), VIP), (2, 1, 1, 1, 1));
    sess.destroy(&yes, &Silent).await.unwrap();
    assert_eq!(counts(&p.world(), VIP), (0, 0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_vip_address_replaces_the_private_ip() {
    let mut p = pair().await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    p.target.spec.vip = "172.16.2.20".parse().unwrap();
    let sess = p.session();
    let plan = sess.plan(&[]).await.unwrap();
    assert_eq!(
        plan.action(Resource::Vip),
        Action::Replace,
        "{}",
        plan.render_text()
    );
    assert!(plan
        .render_text()
        .contains("forces replacement because the address changed (172.16.2.10 -> 172.16.2.20)"));
    let out = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert_eq!(out.report.vip_holder.as_deref(), Some("instance1"));
    let w = p.world();
    assert_eq!(counts(&w, VIP).4, 0, "the old address is gone");
    assert_eq!(counts(&w, "172.16.2.20").4, 1, "the new one is there");
    assert!(!sess.plan(&[]).await.unwrap().has_changes());
    sess.destroy(&yes, &Silent).await.unwrap();
    assert_eq!(counts(&p.world(), "172.16.2.20"), (0, 0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_propagation_lag_is_waited_out() {
    let p = pair().await;
    // Right after the dynamic group is made, the policy naming it is "not found" twice.
    p.sim.inject_fault(
        "CreatePolicy",
        2,
        FaultKind::status(
            404,
            "NotAuthorizedOrNotFound",
            "Authorization failed or requested resource not found.",
        ),
    );
    let out = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert_eq!(out.report.vip_holder.as_deref(), Some("instance1"));
    assert_eq!(p.sim.count("CreatePolicy"), 3);
    assert_eq!(counts(&p.world(), VIP), (2, 1, 1, 1, 1));
}

/// OCI refuses a hostnameLabel in a subnet without a DNS label ("Invalid VNIC creation
/// parameters", terraform-provider-oci#460): apply sends none there and the pair comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_without_a_dns_label_gets_nodes_without_hostnames() {
    let p = pair_setup(
        |t| t,
        vipsetup::oci::RetryPolicy::default(),
        |w, _| {
            let ids: Vec<String> = w
                .all(world::SUBNET)
                .filter_map(|d| d.get("id")?.as_str().map(String::from))
                .collect();
            for id in ids {
                w.get_mut(world::SUBNET, &id)
                    .unwrap()
                    .insert("dnsLabel".into(), Value::Null);
            }
        },
    )
    .await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let vnics = p.live(world::VNIC);
    assert_eq!(vnics.len(), 2);
    assert!(
        vnics.iter().all(|v| v["hostnameLabel"].is_null()),
        "{vnics:?}"
    );
}

/// With a DNS label the node names are the hostnames; a name already used as a hostname in the
/// subnet is a clear error naming it, and no launch is tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostname_taken_in_the_subnet_is_named_and_nothing_is_launched() {
    let p = pair().await;
    let subnet = p.target.spec.subnet_id.clone();
    let region = p.world().home_region.clone();
    p.sim.with_world(|w| {
        w.insert(
            world::PRIVATE_IP,
            serde_json::json!({"id": "ocid1.privateip.oc1..squatter", "subnetId": subnet,
                "ipAddress": "172.16.2.200", "hostnameLabel": "instance2", "isPrimary": true,
                "compartmentId": "ocid1.compartment.oc1..other",
                "vnicId": "ocid1.vnic.oc1..squatter", "_region": region}),
        );
    });
    let e = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("hostname instance2 is already used"), "{e}");
    assert!(e.contains("rename node instance2"), "{e}");
    let launched: Vec<String> = p
        .mutations()
        .iter()
        .filter(|m| m.operation == "LaunchInstance")
        .map(|m| m.path.clone())
        .collect();
    assert_eq!(
        launched.len(),
        1,
        "only instance1 is launched: {launched:?}"
    );
    let names: Vec<Value> = p
        .live(world::INSTANCE)
        .iter()
        .map(|i| i["displayName"].clone())
        .collect();
    assert_eq!(names, vec![Value::from("instance1")]);
}

/// A 404 on an IAM write with nothing of this run propagating is the user's missing
/// permission: said at once, with the statement to add, not waited on for minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_for_the_dynamic_group_is_an_error_at_once() {
    let p = pair().await;
    p.sim.inject_fault(
        "CreateDynamicGroup",
        1,
        FaultKind::status(
            404,
            "NotAuthorizedOrNotFound",
            "Authorization failed or requested resource not found.",
        ),
    );
    let started = std::time::Instant::now();
    let e = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Allow group <your-group> to manage dynamic-groups in tenancy"),
        "{e}"
    );
    assert_eq!(p.sim.count("CreateDynamicGroup"), 1, "not retried");
    assert_eq!(p.sim.count("CreatePolicy"), 0);
    // prints the time for the record; the bound is generous for a loaded machine
    println!("failed after {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// A create killed before its OCID was saved, whose resource was then deleted: OCI answers the
/// re-sent retry token with 409 InvalidatedRetryToken; apply takes a fresh token and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_retry_token_is_replaced_by_a_fresh_one() {
    let p = pair().await;
    let sess = p.session();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    // Lose the VIP's recorded OCID (as a kill right after CreatePrivateIp would), then delete it.
    let path = p.state_path();
    let mut state = vipsetup::engine::State::load(&path, "quickstart")
        .unwrap()
        .unwrap();
    let vip_id = state.id(Resource::Vip).unwrap().to_string();
    state.entry(Resource::Vip).id = None;
    state.save(&path).unwrap();
    p.sim.with_world(|w| w.remove(world::PRIVATE_IP, &vip_id));
    p.sim.clear_log();
    sess.apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let creates: Vec<u16> = p
        .sim
        .log()
        .iter()
        .filter(|e| e.operation == "CreatePrivateIp")
        .map(|e| e.status)
        .collect();
    assert_eq!(creates, vec![409, 200]);
    assert_eq!(counts(&p.world(), VIP).4, 1);
}
