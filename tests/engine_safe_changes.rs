//! Issue 10: no destructive surprise. Pre-flight refuses a bad launch input before anything is
//! terminated; a replacement of both nodes keeps a RUNNING node in the dynamic group at every
//! moment (the holder hands over with a soft stop); tags, NSG membership, a flex shape's size
//! and the public IP change in place.

mod engine_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use engine_support::*;
use serde_json::Value;
use vipsetup::engine::plan::{Action, Dep, Milestone, Plan};
use vipsetup::engine::progress::Silent;
use vipsetup::engine::{Resource, State};
use vipsetup::simulator::{instance_state, world};

fn yes(_: &Plan) -> bool {
    true
}

const VIP: &str = "172.16.2.10";

fn state(p: &Pair) -> State {
    State::load(&p.state_path(), "quickstart").unwrap().unwrap()
}

/// Both instances still the ones apply made, RUNNING, and nothing changed since `clear_log`.
async fn untouched(p: &Pair, before: &State) {
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
    for r in [Resource::Node1, Resource::Node2] {
        let inst = p
            .target
            .cloud
            .get_instance(before.id(r).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(inst.lifecycle_state, "RUNNING", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue_10_ad_1_with_replace_of_both_nodes_terminates_nothing() {
    let mut p = pair().await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let before = state(&p);
    p.sim.clear_log();

    // The trial's typo: a short AD name. Plan says so instead of proposing a replacement.
    p.target.spec.availability_domain = Some("AD-1".into());
    let e = p.session().plan(&[0, 1]).await.unwrap_err().to_string();
    assert!(
        e.contains("`instance.availability_domain` \"AD-1\" is not an availability domain")
            && e.contains("use one of: ")
            && e.contains("-AD-1"),
        "{e}"
    );
    let e = p
        .session()
        .apply(&[0, 1], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"AD-1\""), "{e}");
    untouched(&p, &before).await;
    p.target.spec.availability_domain = None;

    // A fault domain that does not exist, with --replace of that node.
    p.target.spec.nodes[1].fault_domain = Some("FAULT-DOMAIN-9".into());
    let e = p
        .session()
        .apply(&[1], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node instance2: fault domain \"FAULT-DOMAIN-9\"")
            && e.contains("FAULT-DOMAIN-1, FAULT-DOMAIN-2, FAULT-DOMAIN-3"),
        "{e}"
    );
    untouched(&p, &before).await;
    p.target.spec.nodes[1].fault_domain = None;

    // A shape the image does not run on.
    let image = p.world().seeded.unwrap().image_ids[0].clone();
    p.sim.with_world(|w| {
        w.get_mut(world::IMAGE, &image)
            .unwrap()
            .insert("_shapes".into(), serde_json::json!(["VM.Standard.E4.Flex"]));
    });
    p.target.spec.image = vipsetup::engine::resolve::ImageChoice::Ocid(image.clone());
    p.target.spec.shape = "VM.Standard.E5.Flex".into();
    let e = p
        .session()
        .apply(&[0, 1], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "image {image} can't run on shape VM.Standard.E5.Flex"
        )),
        "{e}"
    );
    untouched(&p, &before).await;

    // A node address taken by someone else in the subnet.
    p.target.spec.shape = "VM.Standard.E4.Flex".into();
    let other = p
        .target
        .cloud
        .create_private_ip(
            &vipsetup::engine::cloud::PrivateIpSpec {
                vnic_id: before
                    .get(Resource::Node1)
                    .unwrap()
                    .vnic_id
                    .clone()
                    .unwrap(),
                ip_address: "172.16.2.40".parse().unwrap(),
                display_name: "someone else's".into(),
                tags: Default::default(),
            },
            "token-someone-else",
        )
        .await
        .unwrap();
    p.target.spec.nodes[1].private_ip = Some("172.16.2.40".parse().unwrap());
    p.sim.clear_log();
    let e = p
        .session()
        .apply(&[1], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node instance2: address 172.16.2.40 is already in use") && e.contains(&other),
        "{e}"
    );
    untouched(&p, &before).await;
}

/// The instance ids a dynamic group's matching rule names.
fn named(rule: &str) -> Vec<String> {
    rule.split('\'')
        .filter(|s| s.starts_with("ocid1.instance"))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_both_nodes_keeps_a_running_node_in_the_dynamic_group_at_every_moment() {
    let p = pair().await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let before = state(&p);
    let dg = before.id(Resource::DynamicGroup).unwrap().to_string();
    let holder = before.id(Resource::Node1).unwrap().to_string();
    p.sim.clear_log();

    let done = AtomicBool::new(false);
    let cloud = &p.target.cloud;
    // Samples the world while apply runs: the instances the dynamic group names, and their
    // states. Each sample is one snapshot at one instant. Reading the group and then each
    // instance with separate API requests could see the group before a change and an
    // instance after it (a request stalled by load for ~100 ms was enough to see an old,
    // already replaced peer TERMINATED next to the holder STOPPING), which is no moment
    // the cloud ever had.
    let sampler = async {
        let mut samples: Vec<Vec<(String, String)>> = Vec::new();
        while !done.load(Ordering::SeqCst) {
            samples.push(p.sim.inspect(|w| {
                let now = w.now_ms();
                let group = w.get(world::DYNAMIC_GROUP, &dg).expect("the dynamic group");
                let rule = group["matchingRule"].as_str().unwrap_or_default();
                named(rule)
                    .into_iter()
                    .map(|id| {
                        let st = w
                            .get(world::INSTANCE, &id)
                            .map_or("ABSENT", |i| instance_state(i, now));
                        (id, st.to_string())
                    })
                    .collect()
            }));
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        samples
    };
    let sess = p.session();
    let run = async {
        let out = sess.apply(&[0, 1], &yes, &Silent, &p.rendered_dir()).await;
        done.store(true, Ordering::SeqCst);
        out
    };
    let (out, samples) = tokio::join!(run, sampler);
    let out = out.unwrap();

    assert!(samples.len() > 8, "too few samples: {}", samples.len());
    for s in &samples {
        assert!(
            s.iter().any(|(_, st)| st == "RUNNING"),
            "a moment when no node in the dynamic group was RUNNING: {s:?}"
        );
    }
    // The old holder was seen stopping while named in the group, i.e. it handed over (the
    // sampler saw it only because the new peer was already in and running).
    assert!(
        samples
            .iter()
            .any(|s| s.iter().any(|(id, st)| id == &holder && st != "RUNNING")),
        "the holder's hand-over was never sampled"
    );

    // The order, from the request log: the holder goes only after its new peer was added to
    // the dynamic group, and it is soft-stopped before it is terminated.
    let log = p.sim.log();
    let pos = |op: &str, path_part: &str| {
        log.iter()
            .position(|e| e.operation == op && e.path.contains(path_part) && e.status < 300)
    };
    let softstop = pos("InstanceAction", &holder).expect("the holder was soft-stopped");
    let terminate = pos("TerminateInstance", &holder).expect("the holder was terminated");
    let first_dg_update = pos("UpdateDynamicGroup", &dg).expect("the group was updated");
    assert!(first_dg_update < softstop && softstop < terminate);
    assert_eq!(
        p.sim.count("InstanceAction"),
        1,
        "only the holder hands over"
    );
    assert_eq!(p.sim.count("LaunchInstance"), 2);

    // The pair ends whole: two new instances, both in the group, the VIP on node1.
    assert_eq!(out.report.vip_holder.as_deref(), Some("instance1"));
    let after = state(&p);
    let rule = cloud
        .get_dynamic_group(&dg)
        .await
        .unwrap()
        .unwrap()
        .matching_rule;
    for r in [Resource::Node1, Resource::Node2] {
        assert_ne!(after.id(r), before.id(r), "{r} replaced");
        assert!(named(&rule).contains(&after.id(r).unwrap().to_string()));
    }
    assert_eq!(counts(&p.world(), VIP), (2, 1, 1, 1, 1));
    assert!(!p.session().plan(&[]).await.unwrap().has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_nsg_shape_and_public_ip_drift_is_planned_and_applied_in_place() {
    let mut p = pair_setup(
        |t| t,
        Default::default(),
        |w, _| {
            // A public subnet, so the nodes may have public IPs.
            let ids: Vec<String> = w
                .all(world::SUBNET)
                .filter_map(|d| d.get("id").and_then(Value::as_str).map(String::from))
                .collect();
            for id in ids {
                w.get_mut(world::SUBNET, &id)
                    .unwrap()
                    .insert("prohibitPublicIpOnVnic".into(), Value::Bool(false));
            }
        },
    )
    .await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let st = state(&p);
    let id = |r: Resource| st.id(r).unwrap().to_string();
    let cloud = &p.target.cloud;

    // Out of band: a tag on node1, node2 out of the NSG, the NSG's tags wiped, and the agent's
    // takeover record on the VIP (which is never drift).
    let mut node1_tags = cloud
        .get_instance(&id(Resource::Node1))
        .await
        .unwrap()
        .unwrap()
        .tags;
    node1_tags.insert("owner".into(), "someone".into());
    cloud
        .update_instance(
            &id(Resource::Node1),
            &vipsetup::engine::cloud::InstanceUpdate {
                tags: Some(node1_tags),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let vnic2 = st.get(Resource::Node2).unwrap().vnic_id.clone().unwrap();
    cloud.update_vnic_nsgs(&vnic2, &[]).await.unwrap();
    cloud
        .update_nsg_tags(&id(Resource::Nsg), &Default::default())
        .await
        .unwrap();
    let mut vip_tags = cloud
        .get_private_ip(&id(Resource::Vip))
        .await
        .unwrap()
        .unwrap()
        .tags;
    vip_tags.insert("vipsetup-takeover".into(), "instance1 at 12:00".into());
    cloud
        .update_private_ip_tags(&id(Resource::Vip), &vip_tags)
        .await
        .unwrap();
    let plan = p.session().plan(&[]).await.unwrap();
    let text = plan.render_text();
    assert!(
        text.contains("freeform tag \"owner\": remove \"someone\""),
        "{text}"
    );
    assert!(text.contains("nsg_ids: [] -> ["), "{text}");
    assert!(
        text.contains("freeform tag \"vipsetup-pair\": add \"quickstart\""),
        "{text}"
    );
    assert_eq!(plan.action(Resource::Vip), Action::NoOp, "{text}");

    // In the blueprint: a new tag, a bigger flex shape and public IPs.
    p.target.spec.tags.insert("env".into(), "prod".into());
    p.target.spec.ocpus = Some(2.0);
    p.target.spec.memory_in_gbs = Some(16.0);
    p.target.spec.assign_public_ip = true;
    let plan = p.session().plan(&[]).await.unwrap();
    let text = plan.render_text();
    for r in [Resource::Node1, Resource::Node2] {
        let step = plan.step(r).unwrap();
        assert_eq!(step.action, Action::Update, "{text}");
        assert!(step.reboots, "{text}");
        let attrs: Vec<&str> = step.changes.iter().map(|c| c.attribute.as_str()).collect();
        for a in [
            "freeform_tags.env",
            "ocpus",
            "memory_gb",
            "assign_public_ip",
        ] {
            assert!(attrs.contains(&a), "{r}: {attrs:?}");
        }
    }
    assert!(
        text.contains("ocpus: 1 -> 2 (OCI reboots the instance to resize it)"),
        "{text}"
    );
    assert!(text.contains("assign_public_ip: false -> true"), "{text}");
    // Rebooting both: the VIP holder's waits for its peer's, so one node always runs.
    assert!(plan
        .step(Resource::Node1)
        .unwrap()
        .depends_on
        .contains(&Dep {
            resource: Resource::Node2,
            milestone: Milestone::Done
        }));
    let vip_step = plan.step(Resource::Vip).unwrap();
    assert_eq!(vip_step.action, Action::Update, "{text}");
    assert_eq!(
        vip_step.changes.len(),
        1,
        "only the blueprint's new key: {text}"
    );

    p.sim.clear_log();
    // No --replace needed: nothing is replaced.
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    for op in ["LaunchInstance", "TerminateInstance", "InstanceAction"] {
        assert_eq!(p.sim.count(op), 0, "{op}");
    }
    assert_eq!(p.sim.count("UpdateInstance"), 2);
    assert_eq!(p.sim.count("UpdateVnic"), 1);
    assert_eq!(p.sim.count("CreatePublicIp"), 2);
    assert_eq!(p.sim.count("UpdateNetworkSecurityGroup"), 1);
    let w = p.world();
    for r in [Resource::Node1, Resource::Node2] {
        let inst = w.get(world::INSTANCE, &id(r)).unwrap();
        assert_eq!(inst["shapeConfig"]["ocpus"], 2.0);
        assert_eq!(inst["freeformTags"]["env"], "prod");
        assert!(inst["freeformTags"].get("owner").is_none());
        let vnic = w
            .get(world::VNIC, st.get(r).unwrap().vnic_id.as_deref().unwrap())
            .unwrap();
        assert!(vnic["publicIp"].is_string(), "{r}");
        assert_eq!(vnic["nsgIds"], serde_json::json!([id(Resource::Nsg)]));
    }
    let vip = w.get(world::PRIVATE_IP, &id(Resource::Vip)).unwrap();
    assert_eq!(vip["freeformTags"]["env"], "prod");
    assert_eq!(
        vip["freeformTags"]["vipsetup-takeover"], "instance1 at 12:00",
        "the agent's record stays"
    );
    assert_eq!(
        w.get(world::NSG, &id(Resource::Nsg)).unwrap()["freeformTags"]["vipsetup-pair"],
        "quickstart"
    );
    let again = p.session().plan(&[]).await.unwrap();
    assert!(!again.has_changes(), "{}", again.render_text());

    // And back: the ephemeral public IPs are deleted.
    p.target.spec.assign_public_ip = false;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert_eq!(p.sim.count("DeletePublicIp"), 2);
    let again = p.session().plan(&[]).await.unwrap();
    assert!(!again.has_changes(), "{}", again.render_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_table_without_a_way_to_the_api_is_flagged_by_plan_and_apply() {
    // The seeded default route table leads to a NAT gateway and a service gateway: no warning.
    let p = pair().await;
    let plan = p.session().plan(&[]).await.unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // Only Object Storage through the service gateway, nothing to the internet.
    let p = pair_setup(
        |t| t,
        Default::default(),
        |w, _| {
            let ids: Vec<String> = w
                .all(world::ROUTE_TABLE)
                .filter_map(|d| d.get("id").and_then(Value::as_str).map(String::from))
                .collect();
            for id in ids {
                let d = w.get_mut(world::ROUTE_TABLE, &id).unwrap();
                let rules = d.get_mut("routeRules").unwrap().as_array_mut().unwrap();
                rules.retain(|r| r["destinationType"] == "SERVICE_CIDR_BLOCK");
                for r in rules.iter_mut() {
                    r["destination"] = Value::String("oci-nrt-objectstorage".into());
                }
            }
        },
    )
    .await;
    let plan = p.session().plan(&[]).await.unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    let text = plan.render_text();
    assert!(
        text.contains("warning: the nodes can't reach the OCI API from subnet")
            && text.contains(
                "add a service gateway with \"All <region> Services In Oracle Services Network\""
            ),
        "{text}"
    );
    // apply says it too (and still builds the pair: a proxy route vipsetup can't see may exist).
    let out = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    assert_eq!(out.plan.warnings, plan.warnings);
}
