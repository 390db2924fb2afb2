//! Issue 20: a running pair's settings change without replacing its nodes. Preempt, the advert
//! interval, the health check and the VIP list plan as in-place updates of both instances (the
//! `vipsetup-settings` metadata key, sent with UpdateInstance); apply makes them without a launch
//! or a termination; the plan afterwards is empty. The simulator holds UpdateInstance to OCI's
//! metadata rules and shows the change on the metadata service only after its delay.

mod engine_support;

use std::collections::BTreeMap;

use engine_support::*;
use serde_json::{json, Value};
use vipsetup::engine::cloud::InstanceUpdate;
use vipsetup::engine::plan::{Action, Plan};
use vipsetup::engine::progress::Silent;
use vipsetup::engine::Resource;
use vipsetup::ops::blueprint_view;
use vipsetup::render::settings;

fn yes(_: &Plan) -> bool {
    true
}

/// The blueprint's failover section, and its second VIP, as a change would write them.
fn edit(preempt: bool, advert: &str, health: bool, second_vip: bool) -> impl Fn(String) -> String {
    let advert = advert.to_string();
    move |t: String| {
        let mut t = t.replace(
            "  preempt: false\n",
            &format!("  preempt: {preempt}\n  advert_interval: {advert}\n"),
        );
        if health {
            t = t.replace(
                "failover:\n",
                "failover:\n  health_check:\n    command: \"curl -fsS http://127.0.0.1/ >/dev/null\"\n",
            );
        }
        if second_vip {
            t = t.replace(
                "  vip: 172.16.2.10/24\n",
                "  vip: [172.16.2.10/24, 172.16.2.20]\n",
            );
        }
        t
    }
}

/// Points the pair's renderer at the blueprint as `edit` leaves it (what the next run reads).
fn rewrite(p: &mut Pair, edit: impl Fn(String) -> String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let text = std::fs::read_to_string(root.join("quickstart.yaml")).unwrap();
    std::fs::write(&p.blueprint, edit(text)).unwrap();
    let bp = blueprint_view::load(&p.blueprint).unwrap();
    // The region the first apply rendered for (the simulator's home region).
    let region = instance_docs(p)[0]["_region"].as_str().unwrap().to_string();
    p.target.spec = blueprint_view::pair_spec(&bp);
    p.target.render = blueprint_view::renderer(bp, region, Default::default());
}

fn instance_docs(p: &Pair) -> Vec<Value> {
    p.live(vipsetup::simulator::world::INSTANCE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preempt_advert_health_check_and_vips_change_in_place() {
    let mut p = pair_with(edit(false, "1", false, false), Default::default()).await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let ids: Vec<String> = instance_docs(&p)
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!p.session().plan(&[]).await.unwrap().has_changes());
    // Launched without the key: the user data holds the first settings (version 1).
    for d in instance_docs(&p) {
        assert!(d["metadata"].get(settings::SETTINGS_KEY).is_none(), "{d}");
    }

    // Each change, and the setting the plan names (read from the settings key the node runs
    // from the second change on, from its user data before).
    type Edit = Box<dyn Fn(String) -> String>;
    let steps: [(&str, Edit, &str); 4] = [
        (
            "preempt",
            Box::new(edit(true, "1", false, false)),
            "preempt: false -> true",
        ),
        (
            "advert interval",
            Box::new(edit(true, "2", false, false)),
            "advert_interval: 1 -> 2",
        ),
        (
            "health check",
            Box::new(edit(true, "2", true, false)),
            "health_check: + enabled",
        ),
        (
            "a second vip",
            Box::new(edit(true, "2", true, true)),
            "vips: + 172.16.2.20/24",
        ),
    ];
    for (n, (what, e, shown)) in steps.into_iter().enumerate() {
        rewrite(&mut p, e);
        let plan = p.session().plan(&[]).await.unwrap();
        for r in [Resource::Node1, Resource::Node2] {
            let step = plan.step(r).unwrap();
            assert_eq!(
                step.action,
                Action::Update,
                "{what}: {}",
                plan.render_text()
            );
            let c = step
                .changes
                .iter()
                .find(|c| c.attribute == "settings")
                .unwrap();
            assert_eq!(
                c.from.as_deref(),
                Some(format!("v{}", n + 1).as_str()),
                "{what}"
            );
            assert_eq!(
                c.to.as_deref(),
                Some(format!("v{}", n + 2).as_str()),
                "{what}"
            );
            assert!(!step.reboots, "{what}");
            // The setting itself, in place: nothing forces a replacement, no secret shows.
            let lines: Vec<String> = step
                .changes
                .iter()
                .map(vipsetup::engine::attributes::line)
                .collect();
            assert!(
                lines.iter().any(|l| l == shown),
                "{what}: {}",
                plan.render_text()
            );
            assert!(
                step.changes.iter().all(|c| !c.forces_replacement),
                "{what}: {}",
                plan.render_text()
            );
            let text = plan.render_text();
            assert!(
                !text.contains("curl") && !text.contains("(sensitive) sha256"),
                "{what}: {text}"
            );
        }
        assert_eq!(plan.replaced_nodes(), Vec::<usize>::new(), "{what}");
        p.sim.clear_log();
        p.session()
            .apply(&[], &yes, &Silent, &p.rendered_dir())
            .await
            .unwrap();
        let ops: Vec<String> = p.mutations().into_iter().map(|e| e.operation).collect();
        assert!(
            !ops.iter()
                .any(|o| o == "LaunchInstance" || o == "TerminateInstance"),
            "{what}: {ops:?}"
        );
        assert_eq!(
            ops.iter().filter(|o| *o == "UpdateInstance").count(),
            2,
            "{what}: {ops:?}"
        );
        // The same instances, each with the new version, its user data and keys as launched.
        let docs = instance_docs(&p);
        let now: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(now, ids, "{what}");
        for d in &docs {
            let v = d["metadata"][settings::SETTINGS_KEY].as_str().unwrap();
            assert_eq!(
                settings::parse_header(v).unwrap().version,
                n as u32 + 2,
                "{what}"
            );
            let payload = settings::decode_payload(v).unwrap();
            assert!(payload.starts_with("=== keepalived.conf\n"), "{payload}");
            assert!(d["metadata"]["user_data"].as_str().is_some());
        }
        let plan = p.session().plan(&[]).await.unwrap();
        assert!(!plan.has_changes(), "{what}: {}", plan.render_text());
    }
    // What the last version says, as the agent will read it.
    let v = instance_docs(&p)[0]["metadata"][settings::SETTINGS_KEY]
        .as_str()
        .unwrap()
        .to_string();
    let payload = settings::decode_payload(&v).unwrap();
    assert!(payload.contains("advert_int 2\n") && !payload.contains("nopreempt"));
    assert!(payload.contains("VIPS='172.16.2.10/24 172.16.2.20/24'"));
    assert!(payload.contains("=== health-check\n"));
}

/// UpdateInstanceDetails.metadata: user_data and ssh_authorized_keys must go back unchanged;
/// metadata and extendedMetadata together at most 32,000 bytes; the metadata service shows a
/// change only after the delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_holds_update_instance_to_the_metadata_rules() {
    let p = pair_setup(
        |t| t,
        Default::default(),
        |_, c| c.metadata_delay_ms = 60_000,
    )
    .await;
    p.session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap();
    let d = instance_docs(&p).remove(0);
    let id = d["id"].as_str().unwrap().to_string();
    let meta: BTreeMap<String, String> = serde_json::from_value(d["metadata"].clone()).unwrap();
    let put = |m: BTreeMap<String, String>| {
        let u = InstanceUpdate {
            metadata: Some(m),
            ..Default::default()
        };
        let cloud = &p.target.cloud;
        let id = id.clone();
        async move {
            cloud
                .update_instance(&id, &u)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let mut changed = meta.clone();
    changed.insert("user_data".into(), "Y2hhbmdlZA==".into());
    let e = put(changed).await.unwrap_err();
    assert!(
        e.contains("400") && e.contains("user_data cannot be changed"),
        "{e}"
    );
    let mut dropped = meta.clone();
    dropped.remove("ssh_authorized_keys");
    let e = put(dropped).await.unwrap_err();
    assert!(e.contains("ssh_authorized_keys cannot be changed"), "{e}");
    let mut big = meta.clone();
    big.insert(settings::SETTINGS_KEY.into(), "x".repeat(32_000));
    let e = put(big).await.unwrap_err();
    assert!(e.contains("32000"), "{e}");
    let mut ok = meta.clone();
    ok.insert(
        settings::SETTINGS_KEY.into(),
        "vipsetup-settings v2 sha256:00".into(),
    );
    put(ok).await.unwrap();
    // The API shows it at once; the metadata service only after the delay.
    assert_eq!(
        instance_docs(&p)[0]["metadata"][settings::SETTINGS_KEY],
        json!("vipsetup-settings v2 sha256:00")
    );
    p.sim.set_imds_alias("127.0.0.1", &id);
    let imds = |base: String| async move {
        reqwest::Client::new()
            .get(format!(
                "{base}/instance/metadata/{}",
                settings::SETTINGS_KEY
            ))
            .header("Authorization", "Bearer Oracle")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(imds(p.sim.metadata_base_url()).await, 404);
    p.sim
        .advance_clock(std::time::Duration::from_millis(60_001));
    assert_eq!(imds(p.sim.metadata_base_url()).await, 200);
}
