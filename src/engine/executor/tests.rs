//! Executor tests against an in-memory cloud with lifecycles counted in polls, on tokio's paused
//! clock (no real waiting).

use std::collections::BTreeMap;

use super::*;
use crate::engine::cloud::Tags;
use crate::engine::model::*;
use crate::engine::observe::observe;
use crate::engine::plan::{destroy_plan, diff, tests::desired};
use crate::engine::progress::Silent;

mod fake_cloud;
pub(crate) use fake_cloud::FakeCloud;

fn opts() -> ExecOptions {
    ExecOptions {
        poll_interval: Duration::from_secs(1),
        wait_timeout: Duration::from_secs(60),
    }
}

struct Run {
    state: State,
    plan: Plan,
    result: Result<(), ExecError>,
}

async fn apply(
    cloud: &FakeCloud,
    d: &Desired,
    state: State,
    path: &std::path::Path,
    replace: &[usize],
) -> Run {
    let mut state = state;
    let observed = observe(cloud, &d.scope(), &mut state).await.unwrap();
    let plan = diff(d, &observed, &state.recorded(), replace).unwrap();
    let sink = crate::engine::backend::LocalBackend::new(path.to_path_buf());
    let ex = Executor::new(cloud, Some(d), &plan, state, &sink, &Silent, opts());
    let (state, result) = ex.run().await;
    Run {
        state,
        plan,
        result,
    }
}

async fn destroy(cloud: &FakeCloud, d: &Desired, state: State, path: &std::path::Path) -> Run {
    let mut state = state;
    let observed = observe(cloud, &d.scope(), &mut state).await.unwrap();
    let plan = destroy_plan(&observed);
    let sink = crate::engine::backend::LocalBackend::new(path.to_path_buf());
    let ex = Executor::new(cloud, None, &plan, state, &sink, &Silent, opts());
    let (state, result) = ex.run().await;
    Run {
        state,
        plan,
        result,
    }
}

fn pos(trace: &[String], what: &str) -> usize {
    trace
        .iter()
        .position(|t| t == what)
        .unwrap_or_else(|| panic!("{what} not in {trace:#?}"))
}

#[tokio::test(start_paused = true)]
async fn apply_builds_the_pair_concurrently_then_converges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let t = cloud.trace();
    // Both launches go out before either instance is RUNNING; IAM and the VIP don't wait for boot.
    let running1 = pos(&t, "RUNNING instance1");
    assert!(pos(&t, "!CreateNsg") < pos(&t, "!LaunchInstance"));
    let launches: Vec<_> = t
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "!LaunchInstance")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(launches.len(), 2);
    assert!(launches[1] < running1, "{t:#?}");
    assert!(pos(&t, "!CreateDynamicGroup") < running1, "{t:#?}");
    assert!(pos(&t, "!CreatePrivateIp") < running1, "{t:#?}");
    assert!(pos(&t, "!CreatePolicy") > pos(&t, "!CreateDynamicGroup"));

    // The cloud holds what the blueprint asked for.
    {
        let w = cloud.w.lock().unwrap();
        let ids: Vec<&str> = [Resource::Node1, Resource::Node2]
            .iter()
            .map(|r| run.state.id(*r).unwrap())
            .collect();
        let g = w.dgs.values().next().unwrap();
        assert_eq!(g.matching_rule, iam::matching_rule(&ids));
        assert_eq!(
            w.policies.values().next().unwrap().statements,
            d.policy.statements
        );
        let vip = w.ips.values().next().unwrap();
        assert_eq!(vip.vnic_id, run.state.get(Resource::Node1).unwrap().vnic_id);
        assert_eq!(
            w.nsgs.values().next().unwrap().rules,
            vrrp_rules(run.state.id(Resource::Nsg).unwrap())
        );
        for (inst, _) in w.instances.values() {
            assert_eq!(inst.tags[TAG_PAIR], "quickstart");
            assert_eq!(inst.tags["team"], "net");
        }
    }

    // The state on disk is the state returned.
    assert_eq!(State::load(&path, &d.pair).unwrap().unwrap(), run.state);

    // Re-apply: no change, no mutating call.
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
}

#[tokio::test(start_paused = true)]
async fn destroy_removes_everything_in_reverse_and_reruns_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let built = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    built.result.unwrap();
    cloud.clear_trace();
    let run = destroy(&cloud, &d, built.state, &path).await;
    run.result.unwrap();
    let t = cloud.mutations();
    assert!(pos(&t, "!DeletePrivateIp") < pos(&t, "!TerminateInstance"));
    assert!(pos(&t, "!DeletePolicy") < pos(&t, "!DeleteDynamicGroup"));
    // The NSG goes once no VNIC is in it (both instances TERMINATED), alongside the IAM objects.
    let last_terminate = t.iter().rposition(|c| c == "!TerminateInstance").unwrap();
    assert!(pos(&t, "!DeleteNsg") > last_terminate);
    assert!(run.state.recorded().is_empty());
    {
        let w = cloud.w.lock().unwrap();
        assert!(w
            .instances
            .values()
            .all(|(i, _)| i.lifecycle_state == "TERMINATED"));
        assert!(w.dgs.is_empty() && w.policies.is_empty() && w.ips.is_empty());
    }
    cloud.clear_trace();
    let again = destroy(&cloud, &d, run.state, &path).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes());
    assert!(cloud.mutations().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_lost_state_file_is_rebuilt_from_tags_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    cloud.clear_trace();
    let rebuilt = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    rebuilt.result.unwrap();
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
    for r in Resource::ALL {
        assert_eq!(rebuilt.state.id(r), first.state.id(r), "{r}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_stops_only_its_dependents_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    cloud.w.lock().unwrap().fail.insert("!CreateDynamicGroup");
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    let err = run.result.unwrap_err();
    let failed: Vec<_> = err.failures.iter().map(|(r, _)| *r).collect();
    assert_eq!(failed, vec![Resource::DynamicGroup, Resource::Policy]);
    assert!(
        err.to_string()
            .contains("policy: not started: dynamic-group failed"),
        "{err}"
    );
    // Independent work went on: both nodes and the VIP exist and are recorded.
    for r in [
        Resource::Nsg,
        Resource::Node1,
        Resource::Node2,
        Resource::Vip,
    ] {
        assert!(run.state.id(r).is_some(), "{r}");
    }
    cloud.w.lock().unwrap().fail.clear();
    cloud.clear_trace();
    let again = apply(
        &cloud,
        &d,
        State::load(&path, &d.pair).unwrap().unwrap(),
        &path,
        &[],
    )
    .await;
    again.result.unwrap();
    assert_eq!(
        cloud.mutations(),
        vec!["!CreateDynamicGroup", "!CreatePolicy"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_launch_whose_result_was_lost_is_replayed_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    // Simulate a kill right after node1's launch: the cloud has it, state does not, and the
    // instance lost its tags so tag lookup can't find it either (worst case).
    let mut state = State::new(&d.pair);
    state.save(&path).unwrap();
    let spec_token = crate::engine::token::token_for(&state, Resource::Node1);
    let first = apply(&cloud, &d, state.clone(), &path, &[]).await;
    first.result.unwrap();
    let id1 = first.state.id(Resource::Node1).unwrap().to_string();
    assert_eq!(cloud.w.lock().unwrap().tokens.get(&spec_token), Some(&id1));
    // Now the same pre-crash state again: the launch is re-sent with the same token.
    for (i, _) in cloud.w.lock().unwrap().instances.values_mut() {
        i.tags.clear();
    }
    let again = apply(&cloud, &d, state, &path, &[]).await;
    again.result.unwrap();
    assert_eq!(again.state.id(Resource::Node1), Some(id1.as_str()));
    assert_eq!(cloud.w.lock().unwrap().instances.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn deleted_instance_is_recreated_with_a_fresh_token_and_the_vip_follows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    let old = first.state.id(Resource::Node1).unwrap().to_string();
    // Out of band: node1 (holding the VIP) terminated; its secondary IP went with the VNIC.
    let _ = cloud.terminate_instance(&old).await;
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    assert_eq!(again.plan.action(Resource::Node1), Action::Create);
    assert_ne!(again.state.id(Resource::Node1), Some(old.as_str()));
    assert_eq!(again.state.generation(Resource::Node1), 1);
    assert_eq!(
        cloud.mutations(),
        vec!["!LaunchInstance", "!UpdateDynamicGroup", "!CreatePrivateIp"]
    );
}

#[tokio::test(start_paused = true)]
async fn failed_over_vip_is_left_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    let vnic2 = first
        .state
        .get(Resource::Node2)
        .unwrap()
        .vnic_id
        .clone()
        .unwrap();
    let vip = first.state.id(Resource::Vip).unwrap().to_string();
    let _ = cloud.move_private_ip(&vip, &vnic2).await;
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    assert!(cloud.mutations().is_empty());
    assert_eq!(
        cloud.w.lock().unwrap().ips[&vip].vnic_id.as_deref(),
        Some(vnic2.as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn replacing_the_vip_holder_puts_the_vip_back_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    d.nodes[0].user_data = "Y2hhbmdlZA==".into();
    cloud.clear_trace();
    let run = apply(&cloud, &d, first.state, &path, &[]).await;
    run.result.unwrap();
    assert_eq!(run.plan.replaced_nodes(), vec![0]);
    // The holder hands over (soft stop) before it is terminated.
    assert_eq!(
        cloud.mutations(),
        vec![
            "!InstanceAction",
            "!TerminateInstance",
            "!LaunchInstance",
            "!UpdateDynamicGroup",
            "!CreatePrivateIp"
        ]
    );
    let w = cloud.w.lock().unwrap();
    let vip = w.ips.values().next().unwrap();
    assert_eq!(vip.vnic_id, run.state.get(Resource::Node1).unwrap().vnic_id);
}

#[tokio::test(start_paused = true)]
async fn replacing_both_nodes_is_rolling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    cloud.clear_trace();
    let run = apply(&cloud, &d, first.state, &path, &[0, 1]).await;
    run.result.unwrap();
    let t = cloud.trace();
    // node2 is replaced and RUNNING before node1 (the VIP's holder) is terminated.
    let running2 = pos(&t, "RUNNING instance2");
    let terminations: Vec<_> = t
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "!TerminateInstance")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(terminations.len(), 2);
    assert!(
        terminations[0] < running2 && running2 < terminations[1],
        "{t:#?}"
    );
    assert_eq!(cloud.w.lock().unwrap().ips.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_vip_the_agent_recreated_untagged_on_a_node_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    // The VIP object vanished and the agent on node2 made a new one, without vipsetup's tags.
    let vnic2 = first
        .state
        .get(Resource::Node2)
        .unwrap()
        .vnic_id
        .clone()
        .unwrap();
    let old = first.state.id(Resource::Vip).unwrap().to_string();
    {
        let mut w = cloud.w.lock().unwrap();
        w.ips.remove(&old);
        w.ips.insert(
            "ocid1.privateip.oc1..byagent".into(),
            LivePrivateIp {
                id: "ocid1.privateip.oc1..byagent".into(),
                ip_address: d.vip,
                vnic_id: Some(vnic2.clone()),
                is_primary: false,
                tags: BTreeMap::new(),
            },
        );
    }
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    // Adopted where it is, and given the pair's tags (so lost state can find it again).
    assert_eq!(again.plan.action(Resource::Vip), Action::Update);
    assert!(
        again
            .plan
            .render_text()
            .contains("freeform tag \"vipsetup-pair\": add"),
        "{}",
        again.plan.render_text()
    );
    assert_eq!(cloud.mutations(), vec!["!UpdatePrivateIp"]);
    assert_eq!(
        again.state.id(Resource::Vip),
        Some("ocid1.privateip.oc1..byagent")
    );
    let w = cloud.w.lock().unwrap();
    let ip = &w.ips["ocid1.privateip.oc1..byagent"];
    assert_eq!(ip.vnic_id.as_deref(), Some(vnic2.as_str()), "not moved");
    assert_eq!(ip.tags, d.tags_for(Resource::Vip));
}

#[tokio::test(start_paused = true)]
async fn extra_vips_are_made_with_the_first_kept_and_removed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let v4: std::net::IpAddr = "172.16.2.20".parse().unwrap();
    let v6: std::net::IpAddr = "2603:c020:1:2::10".parse().unwrap();
    d.extra_vips = vec![v4, v6];
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let node1_vnic = run.state.get(Resource::Node1).unwrap().vnic_id.clone();
    {
        let w = cloud.w.lock().unwrap();
        let second = w
            .ips
            .values()
            .find(|p| p.ip_address.to_string() == "172.16.2.20");
        assert_eq!(second.unwrap().vnic_id, node1_vnic, "with the first vip");
        let six = w.ipv6s.values().next().unwrap();
        assert_eq!((six.address, &six.vnic_id), (v6, &node1_vnic));
        assert_eq!(six.tags[TAG_PAIR], "quickstart");
    }
    assert_eq!(run.state.addresses.len(), 2);
    assert!(run.state.address_id("2603:c020:1:2::10").is_some());

    // Converged: nothing to do, no mutating call.
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());

    // The IPv6 VIP leaves the blueprint: the plan says so and apply deletes it.
    let mut fewer = d.clone();
    fewer.extra_vips = vec![v4];
    cloud.clear_trace();
    let shrink = apply(&cloud, &fewer, again.state, &path, &[]).await;
    shrink.result.unwrap();
    let text = shrink.plan.render_text();
    assert!(text.contains("remove vip 2603:c020:1:2::10"), "{text}");
    assert_eq!(cloud.mutations(), ["!DeleteIpv6"]);
    assert!(cloud.w.lock().unwrap().ipv6s.is_empty());
    assert_eq!(shrink.state.addresses.len(), 1);

    // Destroy takes every VIP.
    let gone = destroy(&cloud, &fewer, shrink.state, &path).await;
    gone.result.unwrap();
    assert!(cloud.w.lock().unwrap().ips.is_empty());
    assert!(gone.state.addresses.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_extra_vip_held_by_someone_else_stops_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::default();
    let mut d = desired();
    d.extra_vips = vec!["172.16.2.30".parse().unwrap()];
    cloud.w.lock().unwrap().ips.insert(
        "ocid1.privateip.oc1..other".into(),
        LivePrivateIp {
            id: "ocid1.privateip.oc1..other".into(),
            ip_address: "172.16.2.30".parse().unwrap(),
            vnic_id: Some("ocid1.vnic.oc1..someone".into()),
            is_primary: false,
            tags: Tags::new(),
        },
    );
    let mut state = State::new(&d.pair);
    let observed = observe(&cloud, &d.scope(), &mut state).await.unwrap();
    let err = diff(&d, &observed, &state.recorded(), &[]).unwrap_err();
    assert!(
        err.to_string().contains("172.16.2.30 is already in use"),
        "{err}"
    );
    let _ = dir;
}

#[tokio::test(start_paused = true)]
async fn a_reserved_public_ip_is_made_on_the_first_vip_and_deleted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    {
        let w = cloud.w.lock().unwrap();
        let p = w.public_ips.values().next().unwrap();
        assert_eq!(p.private_ip_id.as_deref(), Some(vip.as_str()));
        assert_eq!(p.tags[TAG_PAIR], "quickstart");
    }
    assert!(run.state.public_ip.as_ref().unwrap().id.is_some());
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
    let gone = destroy(&cloud, &d, again.state, &path).await;
    gone.result.unwrap();
    assert!(
        cloud.w.lock().unwrap().public_ips.is_empty(),
        "ours: deleted"
    );
    assert!(gone.state.public_ip.is_none());
}

/// A reserved public IP the user owns, unassigned; its OCID.
fn their_public_ip(cloud: &FakeCloud) -> &'static str {
    let theirs = "ocid1.publicip.oc1..theirs";
    cloud.w.lock().unwrap().public_ips.insert(
        theirs.into(),
        LivePublicIp {
            id: theirs.into(),
            ip_address: Some("198.51.100.77".into()),
            lifetime: "RESERVED".into(),
            private_ip_id: None,
            lifecycle_state: "AVAILABLE".into(),
            tags: Tags::new(),
        },
    );
    theirs
}

#[tokio::test(start_paused = true)]
async fn the_users_public_ip_is_assigned_then_unassigned_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let theirs = their_public_ip(&cloud);
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Existing(theirs.into()));
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    assert_eq!(
        cloud.w.lock().unwrap().public_ips[theirs]
            .private_ip_id
            .as_deref(),
        Some(vip.as_str())
    );
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    cloud.clear_trace();
    let gone = destroy(&cloud, &d, again.state, &path).await;
    gone.result.unwrap();
    let w = cloud.w.lock().unwrap();
    assert_eq!(w.public_ips[theirs].private_ip_id, None, "unassigned");
    assert!(!w.trace.iter().any(|t| t == "!DeletePublicIp"), "kept");
}

#[tokio::test(start_paused = true)]
async fn switching_public_ips_never_leaves_one_untracked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let theirs = their_public_ip(&cloud);
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let made = run.state.public_ip.as_ref().unwrap().id.clone().unwrap();

    // reserved -> the user's: ours is deleted, theirs assigned.
    d.public_ip = Some(DesiredPublicIp::Existing(theirs.into()));
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    assert!(
        run.plan.render_text().contains("delete public ip"),
        "{}",
        run.plan.render_text()
    );
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    {
        let w = cloud.w.lock().unwrap();
        assert!(!w.public_ips.contains_key(&made));
        assert_eq!(
            w.public_ips[theirs].private_ip_id.as_deref(),
            Some(vip.as_str())
        );
    }

    // the user's -> reserved: theirs unassigned and kept, a new one made (a new retry token).
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    let w = cloud.w.lock().unwrap();
    assert_eq!(w.public_ips[theirs].private_ip_id, None);
    let new = run.state.public_ip.as_ref().unwrap().id.clone().unwrap();
    assert_ne!(new, made);
    assert_eq!(
        w.public_ips[&new].private_ip_id.as_deref(),
        Some(vip.as_str())
    );
    assert_eq!(
        w.public_ips.len(),
        2,
        "theirs and the new one, nothing else"
    );
}

#[tokio::test(start_paused = true)]
async fn an_extra_vip_off_the_pair_is_moved_back_and_retagged_keeping_the_agents_tags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let v6: std::net::IpAddr = "2603:c020:1:2::10".parse().unwrap();
    d.extra_vips = vec![v6];
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let node1_vnic = run.state.get(Resource::Node1).unwrap().vnic_id.clone();
    {
        let mut w = cloud.w.lock().unwrap();
        let a = w.ipv6s.values_mut().next().unwrap();
        a.vnic_id = Some("ocid1.vnic.oc1..elsewhere".into());
        a.tags.insert(TAG_TAKEOVER_BY.into(), "instance2".into());
    }
    d.tags.insert("owner".into(), "ops".into());
    cloud.clear_trace();
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    let text = run.plan.render_text();
    assert!(
        text.contains("move vip 2603:c020:1:2::10") && text.contains("vip 2603:c020:1:2::10: "),
        "{text}"
    );
    let w = cloud.w.lock().unwrap();
    let a = w.ipv6s.values().next().unwrap();
    assert_eq!(a.vnic_id, node1_vnic);
    assert_eq!(a.tags["owner"], "ops");
    assert_eq!(
        a.tags[TAG_TAKEOVER_BY], "instance2",
        "the agent's tag stays"
    );
}

/// Sets the agent's view tags on `name`'s VNIC (state, heartbeat time).
fn set_view(cloud: &FakeCloud, name: &str, state: &str, seen: &str) {
    let mut w = cloud.w.lock().unwrap();
    for (i, _) in w.instances.values_mut() {
        if i.display_name == name && !i.is_gone() {
            let tags = &mut i.vnic.as_mut().unwrap().tags;
            tags.insert(TAG_AGENT_STATE.into(), state.into());
            tags.insert(TAG_AGENT_SEEN.into(), seen.into());
            tags.insert(TAG_AGENT_BEAT.into(), "120".into());
        }
    }
    w.trace.push(format!("VIEW {name} {state}"));
}

fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    crate::engine::readiness::format_utc(now)
}

// Issue 19 (1b): the holder is soft-stopped only once its peer's agent reports, fresh.
#[tokio::test(start_paused = true)]
async fn replacing_the_holder_waits_for_its_peers_agent_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    set_view(&cloud, "instance1", "MASTER", &utc_now());
    // The peer's agent died long ago: its BACKUP view is stale.
    set_view(&cloud, "instance2", "BACKUP", "2000-01-01T00:00:00Z");
    d.nodes[0].user_data = "Y2hhbmdlZA==".into();
    cloud.clear_trace();
    let fresh = async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        set_view(&cloud, "instance2", "BACKUP", &utc_now());
    };
    let (run, ()) = tokio::join!(apply(&cloud, &d, first.state, &path, &[]), fresh);
    run.result.unwrap();
    let t = cloud.trace();
    assert!(
        pos(&t, "VIEW instance2 BACKUP") < pos(&t, "SOFTSTOP instance1"),
        "{t:#?}"
    );

    // A peer that never becomes ready: the holder is never stopped, and the step says why.
    let first = apply(&cloud, &d, run.state, &path, &[]).await;
    first.result.unwrap();
    set_view(&cloud, "instance1", "MASTER", &utc_now());
    set_view(&cloud, "instance2", "FAULT", &utc_now());
    d.nodes[0].user_data = "YWdhaW4=".into();
    cloud.clear_trace();
    let run = apply(&cloud, &d, first.state, &path, &[]).await;
    let e = run.result.unwrap_err().to_string();
    assert!(e.contains("its peer never became ready"), "{e}");
    assert!(!cloud.mutations().contains(&"!InstanceAction".to_string()));
}
