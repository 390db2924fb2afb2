//! Renderer snapshots: every variant's cloud-config is compared with the committed file in
//! tests/snapshots/. After an intended change, regenerate with `UPDATE_SNAPSHOTS=1 cargo test
//! --test render_snapshots` and review the diff.

mod render_support;

use render_support::{rendered, repo};
use vipsetup::render::{self, AgentSettings, Facts, RenderError};

#[test]
fn cloud_configs_match_snapshots() {
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let dir = repo().join("tests/snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let mut mismatches = Vec::new();
    for (variant, _, nodes) in rendered() {
        for n in nodes {
            let path = dir.join(format!("{variant}.{}.cloud-init.yaml", n.name));
            if update {
                std::fs::write(&path, &n.cloud_config).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run UPDATE_SNAPSHOTS=1 cargo test --test render_snapshots",
                    path.display()
                )
            });
            if want != n.cloud_config {
                let line = want
                    .lines()
                    .zip(n.cloud_config.lines())
                    .position(|(a, b)| a != b)
                    .map_or(
                        want.lines().count().min(n.cloud_config.lines().count()),
                        |i| i,
                    )
                    + 1;
                mismatches.push(format!("{} differs from line {line}", path.display()));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\nif the change is intended: UPDATE_SNAPSHOTS=1 cargo test --test render_snapshots",
        mismatches.join("\n")
    );
}

#[test]
fn user_data_decodes_to_the_cloud_config() {
    for (variant, bp, nodes) in rendered() {
        for n in nodes {
            let text = render::decode_user_data(&n.user_data).unwrap();
            assert_eq!(text, n.cloud_config, "{variant}/{}", n.name);
            // "H4sI" is base64 of gzip's magic bytes and method: the flag says what was sent.
            assert_eq!(
                n.user_data.starts_with("H4sI"),
                n.gzipped,
                "{variant}/{}",
                n.name
            );
            assert_eq!(
                n.metadata_bytes,
                n.user_data.len() + bp.instance.ssh_authorized_keys().len()
            );
            assert!(n.metadata_bytes <= render::METADATA_LIMIT);
        }
    }
}

#[test]
fn each_node_names_the_other_as_its_unicast_peer() {
    for (variant, _, nodes) in rendered() {
        let conf = |i: usize| {
            nodes[i]
                .files
                .iter()
                .find(|f| f.path == render::paths::KEEPALIVED_CONF)
                .unwrap()
                .content
                .clone()
        };
        let field = |c: &str, key: &str| {
            let mut lines = c.lines().map(str::trim);
            lines.find(|l| l.starts_with(key));
            lines.next().unwrap().to_string()
        };
        let src = |c: &str| {
            c.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("unicast_src_ip "))
                .unwrap()
                .to_string()
        };
        let (a, b) = (conf(0), conf(1));
        assert_eq!(field(&a, "unicast_peer"), src(&b), "{variant}");
        assert_eq!(field(&b, "unicast_peer"), src(&a), "{variant}");
        assert_ne!(src(&a), src(&b), "{variant}");
    }
}

#[test]
fn rendering_is_deterministic_and_agent_overrides_reach_the_settings_file() {
    let (_, bp, first) = rendered().remove(0);
    let mut facts = Facts::offline(&bp).unwrap();
    assert_eq!(render::render(&bp, &facts).unwrap(), first);
    facts.agent = AgentSettings {
        endpoint: Some("http://127.0.0.1:18080".into()),
        federation_endpoint: Some("http://127.0.0.1:18080/v1/x509".into()),
        metadata_base_url: Some("http://127.0.0.1:18080/opc/v2".into()),
        state_dir: Some("/tmp/it's state".into()),
        runtime_dir: Some("/tmp/run".into()),
        ..Default::default()
    };
    let nodes = render::render(&bp, &facts).unwrap();
    let env = &nodes[0]
        .files
        .iter()
        .find(|f| f.path == render::paths::AGENT_ENV)
        .unwrap()
        .content;
    for line in [
        "OCI_ENDPOINT='http://127.0.0.1:18080'",
        "OCI_FEDERATION_ENDPOINT='http://127.0.0.1:18080/v1/x509'",
        "OCI_METADATA_BASE_URL='http://127.0.0.1:18080/opc/v2'",
        r"STATE_DIR='/tmp/it'\''s state'",
        "RUNTIME_DIR='/tmp/run'",
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line} in\n{env}");
    }
}

#[test]
fn facts_that_contradict_the_blueprint_are_refused() {
    let (_, bp, _) = rendered().remove(0);
    let mut facts = Facts::offline(&bp).unwrap();
    facts.node_ips[1] = "10.0.0.5".parse().unwrap();
    let err = render::render(&bp, &facts).unwrap_err();
    assert!(matches!(err, RenderError::Inconsistent(_)), "{err}");
    assert!(err.to_string().contains("10.0.0.5"), "{err}");
}

#[test]
fn offline_render_says_what_to_add() {
    let (_, mut bp, _) = rendered().remove(0);
    bp.nodes[1].private_ip = None;
    bp.network.vip_prefix = None;
    let err = Facts::offline(&bp).unwrap_err().to_string();
    assert!(
        err.contains("`private_ip` for nodes[1] (instance2)"),
        "{err}"
    );
    assert!(err.contains("vip: 172.16.2.10/24"), "{err}");
}

#[test]
fn oversized_user_data_is_gzipped_then_refused() {
    let (_, mut bp, _) = rendered().remove(0);
    let facts = Facts::offline(&bp).unwrap();
    // Pseudo-random text compresses poorly; grow it until even gzip cannot help.
    let mut seed = 7u64;
    let noise: String = (0..40_000)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + (seed >> 59) as u8 % 26)
        })
        .collect();
    bp.failover.health_check = Some(vipsetup::blueprint::HealthCheck {
        // 1000: the health check travels twice (in the user data and in the settings key).
        command: format!("test -n {}", &noise[..1000]),
        interval: 2,
        timeout: 2,
        fall: 2,
        rise: 2,
    });
    let nodes = render::render(&bp, &facts).unwrap();
    assert!(nodes[0].gzipped, "plain user data should no longer fit");
    bp.failover.health_check.as_mut().unwrap().command = format!("test -n {noise}");
    let err = render::render(&bp, &facts).unwrap_err();
    assert!(matches!(err, RenderError::TooLarge { .. }), "{err}");
}

#[test]
fn every_vip_the_topic_and_the_interface_placeholder_reach_both_files() {
    let (_, bp, nodes) = rendered()
        .into_iter()
        .find(|(v, _, _)| v == "quickstart-multi-vip")
        .unwrap();
    let file = |n: &render::RenderedNode, p: &str| n.file(p).unwrap().content.clone();
    for n in &nodes {
        let env = file(n, render::paths::AGENT_ENV);
        for line in [
            "VIP='172.16.2.10'",
            "VIPS='172.16.2.10/24 172.16.2.20/24'",
            "VIPS6='2603:c020:1:2::10/64 2603:c020:1:2::20/64'",
            "NOTIFY_TOPIC='ocid1.onstopic.oc1.ap-tokyo-1.aaaaaaaaquickstarttopic'",
            "NOTIFY_ENDPOINT=''",
            "INTERFACE='vipsetup-auto'",
        ] {
            assert!(env.lines().any(|l| l == line), "{line} missing:\n{env}");
        }
        let conf = file(n, render::paths::KEEPALIVED_CONF);
        let block = |name: &str| -> Vec<String> {
            let mut lines = conf.lines().map(str::trim);
            lines.find(|l| *l == format!("{name} {{"));
            lines.take_while(|l| *l != "}").map(String::from).collect()
        };
        assert_eq!(
            block("virtual_ipaddress"),
            ["172.16.2.10/24 dev vipsetup-auto"]
        );
        // The other VIPs stay out of the adverts (keepalived.conf.tera says why).
        assert_eq!(
            block("virtual_ipaddress_excluded"),
            [
                "172.16.2.20/24 dev vipsetup-auto",
                "2603:c020:1:2::10/64 dev vipsetup-auto",
                "2603:c020:1:2::20/64 dev vipsetup-auto"
            ]
        );
        // The settings key carries the same VIPs, in settings.env.
        assert!(n
            .settings
            .payload
            .contains("\nVIPS='172.16.2.10/24 172.16.2.20/24'\n"));
    }
    // One IPv4 VIP and no IPv6: no excluded block, VIPS6 empty, no topic.
    let (_, _, plain) = rendered().remove(0);
    let conf = file(&plain[0], render::paths::KEEPALIVED_CONF);
    assert!(!conf.contains("virtual_ipaddress_excluded"));
    let env = file(&plain[0], render::paths::AGENT_ENV);
    assert!(env.contains("\nVIPS='172.16.2.10/24'\n") && env.contains("\nVIPS6=''\n"));
    assert!(env.contains("\nNOTIFY_TOPIC=''\n") && env.contains("\nINTERFACE='ens3'\n"));
    // Tests point the alerts at a simulator like the other endpoints.
    let mut facts = Facts::offline(&bp).unwrap();
    facts.agent.notify_endpoint = Some("http://127.0.0.1:18080".into());
    let env = file(
        &render::render(&bp, &facts).unwrap()[0],
        render::paths::AGENT_ENV,
    );
    assert!(env.contains("\nNOTIFY_ENDPOINT='http://127.0.0.1:18080'\n"));
}
