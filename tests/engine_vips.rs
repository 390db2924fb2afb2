//! Issue 12 against the in-process simulator: a pair with two IPv4 VIPs, one IPv6 VIP and a
//! failover-alert topic. apply makes every VIP on the preferred node with the pair's tags and a
//! policy with exactly the extra statements the agent needs; a re-apply changes nothing; destroy
//! leaves nothing of the pair. An IPv6 VIP outside the subnet's prefix is refused before any
//! change.

mod engine_support;

use engine_support::*;
use serde_json::Value;
use vipsetup::engine::plan::Plan;
use vipsetup::engine::progress::Silent;
use vipsetup::engine::Resource;
use vipsetup::simulator::world;

fn yes(_: &Plan) -> bool {
    true
}

const TOPIC: &str = "ocid1.onstopic.oc1.ap-tokyo-1.aaaaaaaaquickstarttopic";

fn with_extras(vip6: &'static str) -> impl FnOnce(String) -> String {
    with_public_ip(vip6, "reserved")
}

fn with_public_ip(vip6: &'static str, public_ip: &'static str) -> impl FnOnce(String) -> String {
    move |t: String| {
        t.replace(
            "  vip: 172.16.2.10/24\n",
            &format!(
                "  vip: [172.16.2.10/24, 172.16.2.20/24]\n  vip6: {vip6}\n  public_ip: {public_ip}\n"
            ),
        )
        .replace(
            "  preempt: false\n",
            &format!("  preempt: false\n  notify_topic: {TOPIC}\n"),
        )
    }
}

/// A fresh simulated pair with the edited quickstart applied, and the state apply left.
async fn applied(edit: impl FnOnce(String) -> String) -> (Pair, vipsetup::engine::State) {
    let p = pair_with(edit, fast_retries()).await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    (p, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ipv4_vips_one_ipv6_vip_and_alerts_then_nothing() {
    let (p, state) = applied(with_extras("2603:c020:1:2::10")).await;
    let sess = p.session();
    let node1_vnic = state.get(Resource::Node1).unwrap().vnic_id.clone().unwrap();

    let w = p.world();
    let ours = |d: &Value| d["freeformTags"]["vipsetup-pair"] == "quickstart";
    let mut v4: Vec<(String, String)> = live(&w, world::PRIVATE_IP)
        .iter()
        .filter(|d| ours(d) && d["isPrimary"] == false)
        .map(|d| {
            (
                d["ipAddress"].as_str().unwrap().to_string(),
                d["vnicId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v4.sort();
    assert_eq!(
        v4,
        [
            ("172.16.2.10".to_string(), node1_vnic.clone()),
            ("172.16.2.20".to_string(), node1_vnic.clone())
        ]
    );
    let v6: Vec<Value> = live(&w, world::IPV6).into_iter().filter(ours).collect();
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0]["ipAddress"], "2603:c020:1:2::10");
    assert_eq!(v6[0]["vnicId"], node1_vnic.as_str());
    assert_eq!(
        state.address_id("2603:c020:1:2::10"),
        v6[0]["id"].as_str(),
        "recorded in state"
    );
    // A reserved public IP, made by vipsetup, on the first VIP's private IP.
    let first = state.id(Resource::Vip).unwrap();
    let public: Vec<Value> = live(&w, world::PUBLIC_IP)
        .into_iter()
        .filter(ours)
        .collect();
    assert_eq!(public.len(), 1);
    assert_eq!(
        (&public[0]["lifetime"], &public[0]["privateIpId"]),
        (&Value::from("RESERVED"), &Value::from(first))
    );

    // The policy: the three base statements, then exactly `use ipv6s` and `use ons-topics`.
    let policy = live(&w, world::POLICY)
        .into_iter()
        .find(|d| ours(d))
        .unwrap();
    let statements: Vec<&str> = policy["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let comp = "ocid1.compartment.oc1..aaaaaaaaquickstartcompartment";
    assert_eq!(
        statements[3..],
        [
            format!("Allow dynamic-group quickstart-dg to use ipv6s in compartment id {comp}"),
            format!("Allow dynamic-group quickstart-dg to use ons-topics in compartment id {comp}"),
        ]
    );

    // The rendered user data carries every VIP and the topic.
    let cc = std::fs::read_to_string(p.rendered_dir().join("instance1.cloud-init.yaml")).unwrap();
    assert!(cc.contains("VIPS='172.16.2.10/24 172.16.2.20/24'"), "{cc}");
    assert!(cc.contains("VIPS6='2603:c020:1:2::10/64'"));
    assert!(cc.contains(&format!("NOTIFY_TOPIC='{TOPIC}'")));

    // Converged: a re-apply plans nothing.
    let again = sess.plan(&[]).await.unwrap();
    assert!(!again.has_changes(), "{}", again.render_text());

    // Destroy: nothing of the pair is left, IPv6 and public IP included.
    sess.destroy(&yes, &Silent).await.unwrap();
    let w = p.world();
    assert!(live(&w, world::IPV6).is_empty());
    assert!(live(&w, world::PUBLIC_IP).is_empty());
    assert!(live(&w, world::PRIVATE_IP)
        .iter()
        .all(|d| !ours(d) && d["isPrimary"] == true));
    assert_eq!(counts(&w, "172.16.2.10"), (0, 0, 0, 0, 0));
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    assert!(state.addresses.is_empty() && state.recorded().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_vip_outside_the_subnets_prefix_is_refused_before_any_change() {
    // The simulated subnet gets the /64 of the first IPv6 VIP; the second is in another /64.
    let p = pair_with(
        with_extras("[2603:c020:1:2::10, 2603:c020:1:3::10]"),
        fast_retries(),
    )
    .await;
    let err = p.session().plan(&[]).await.unwrap_err().to_string();
    assert!(
        err.contains("2603:c020:1:3::10 is not in subnet") && err.contains("2603:c020:1:2::/64"),
        "{err}"
    );
    assert!(p.mutations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_public_ip_is_assigned_then_kept_and_unassigned() {
    const THEIRS: &str = "ocid1.publicip.oc1.ap-tokyo-1.aaaaaaaaquickstartpublicip";
    let (p, state) = applied(with_public_ip("2603:c020:1:2::10", THEIRS)).await;
    let sess = p.session();
    let first = state.id(Resource::Vip).unwrap().to_string();
    let theirs = |w: &vipsetup::simulator::World| {
        Value::Object(w.get(world::PUBLIC_IP, THEIRS).unwrap().clone())
    };
    assert_eq!(theirs(&p.world())["privateIpId"], first.as_str());
    assert!(!sess.plan(&[]).await.unwrap().has_changes());
    sess.destroy(&yes, &Silent).await.unwrap();
    let after = theirs(&p.world());
    assert_eq!(
        (&after["privateIpId"], &after["lifecycleState"]),
        (&Value::Null, &Value::from("AVAILABLE")),
        "kept and unassigned: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_every_vip_the_public_ip_and_each_agents_own_view() {
    let (p, state) = applied(with_extras("2603:c020:1:2::10")).await;
    let sess = p.session();
    let vnic = |r: Resource| state.get(r).unwrap().vnic_id.clone().unwrap();
    // The agents' own views, as they write them on their VNICs (contract-12).
    let tag = |id: String, st: &'static str| {
        p.sim.with_world(move |w| {
            let v = w.get_mut(world::VNIC, &id).unwrap();
            v.insert(
                "freeformTags".into(),
                serde_json::json!({"vipsetup-agent-state": st,
                    "vipsetup-agent-since": "2026-12-01T21:00:00Z",
                    "vipsetup-agent-claim": if st == "MASTER" { "2026-12-01T21:00:01Z" } else { "" },
                    "vipsetup-agent-error": ""}),
            );
        })
    };
    tag(vnic(Resource::Node1), "MASTER");
    tag(vnic(Resource::Node2), "BACKUP");
    let r = sess.status().await.unwrap();
    let holders: Vec<(String, Option<String>)> = r
        .vips
        .iter()
        .map(|v| (v.address.to_string(), v.holder.clone()))
        .collect();
    let on1 = Some("instance1".to_string());
    assert_eq!(
        holders,
        [
            ("172.16.2.10".to_string(), on1.clone()),
            ("172.16.2.20".to_string(), on1.clone()),
            ("2603:c020:1:2::10".to_string(), on1.clone())
        ]
    );
    let public = r.public_ip.as_ref().unwrap();
    assert!(public.on_first_vip && !public.adopted);
    let a1 = r.nodes[0].agent.as_ref().unwrap();
    assert_eq!(
        (
            a1.state.as_str(),
            a1.last_claim.as_deref(),
            a1.last_error.as_deref()
        ),
        ("MASTER", Some("2026-12-01T21:00:01Z"), None)
    );
    assert!(r.disagreements.is_empty(), "{:?}", r.disagreements);
    assert!(
        !sess.plan(&[]).await.unwrap().has_changes(),
        "agent tags are not drift"
    );

    // node2's agent claims MASTER while the API shows everything on node1: said so.
    tag(vnic(Resource::Node2), "MASTER");
    let r = sess.status().await.unwrap();
    let text = r.render_text();
    assert!(
        r.disagreements
            .iter()
            .any(|d| d.contains("both agents say MASTER"))
            && r.disagreements
                .iter()
                .any(|d| d.contains("instance2's agent says MASTER, but the API shows")),
        "{text}"
    );
    assert!(text.contains("views disagree:") && text.contains("agent on instance1: MASTER"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["vips"].as_array().unwrap().len(), 3);
    assert_eq!(json["nodes"][1]["agent"]["state"], "MASTER");
}
