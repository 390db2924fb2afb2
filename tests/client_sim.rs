//! The vipsetup OCI client against the strict simulator (issue 3, "done when"): the operations
//! vipsetup and its agent use, as an API-key user (through a real `~/.oci/config`), with a session
//! token (`security_token_file`) and as an instance principal (IMDS + federation), and through
//! injected 429/500/503/409 faults and dropped connections.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vipsetup::oci::auth::{AuthMethod, AuthOptions};
use vipsetup::oci::clock::SystemClock;
use vipsetup::oci::instance_principal::{
    federation_body, federation_request, parse_leaf_certificate,
};
use vipsetup::oci::models::*;
use vipsetup::oci::request::HttpRequest;
use vipsetup::oci::transport::{HttpSend, ReqwestTransport};
use vipsetup::oci::{Client, ListImagesRequest, ListPrivateIpsRequest, PrivateKey, WaitOptions};
use vipsetup::simulator::{FaultKind, SeedSpec, Seeded, SimConfig, SimHandle, Simulator, World};

const SHAPE: &str = "VM.Standard.E4.Flex";

fn waits() -> WaitOptions {
    WaitOptions {
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
    }
}

/// A seeded simulator with small pages (so every list really pages) and short lifecycles.
async fn start() -> (SimHandle, Seeded) {
    let (world, seeded) = World::seed(&SeedSpec::default()).unwrap();
    let config = SimConfig {
        page_size: 2,
        provisioning_delay_ms: 50,
        terminating_delay_ms: 50,
        ..Default::default()
    };
    let sim = Simulator::start(config, world).await.unwrap();
    (sim, seeded)
}

/// A home directory with `.oci/config` for the seeded user, as `oci setup config` writes it.
fn api_key_home(seeded: &Seeded) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let oci = home.path().join(".oci");
    std::fs::create_dir(&oci).unwrap();
    let key = oci.join("oci_api_key.pem");
    std::fs::write(&key, &seeded.private_key_pem).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // `~` in key_file: the client expands it as Oracle's CLI does.
    std::fs::write(
        oci.join("config"),
        seeded.oci_config("~/.oci/oci_api_key.pem"),
    )
    .unwrap();
    home
}

async fn api_key_client(sim: &SimHandle, home: &Path) -> Client {
    let opts = AuthOptions {
        endpoint: Some(sim.base_url()),
        home: Some(home.to_path_buf()),
        ..Default::default()
    };
    let c = Client::from_options(&opts).await.unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    c
}

fn node_details(
    seeded: &Seeded,
    image: &str,
    name: &str,
    ip: &str,
    nsg: &str,
) -> LaunchInstanceDetails {
    LaunchInstanceDetails {
        availability_domain: seeded.availability_domains[0].clone(),
        compartment_id: seeded.compartment_id.clone(),
        shape: SHAPE.into(),
        shape_config: Some(LaunchInstanceShapeConfigDetails {
            ocpus: Some(1.0),
            memory_in_gbs: Some(8.0),
        }),
        display_name: Some(name.into()),
        source_details: InstanceSourceViaImageDetails::new(image),
        create_vnic_details: CreateVnicDetails {
            subnet_id: seeded.subnet_id.clone(),
            assign_public_ip: Some(false),
            private_ip: Some(ip.into()),
            nsg_ids: Some(vec![nsg.into()]),
            hostname_label: Some(name.into()),
            ..Default::default()
        },
        metadata: [("user_data".to_string(), "I2Nsb3VkLWNvbmZpZwo=".to_string())].into(),
        fault_domain: None,
        freeform_tags: Some([("vipsetup".to_string(), "client-sim".to_string())].into()),
        defined_tags: None,
    }
}

/// What the two-node set-up leaves for the later stages.
struct Nodes {
    nsg: String,
    instances: Vec<String>,
    vnics: Vec<String>,
}

/// The apply side: lookups, NSG + VRRP rules, two instances, their VNICs.
async fn build_nodes(c: &Client, seeded: &Seeded) -> Nodes {
    let tenancy = c.get_tenancy(&seeded.tenancy_id).await.unwrap();
    assert_eq!(tenancy.id, seeded.tenancy_id);
    let subs = c
        .list_region_subscriptions(&seeded.tenancy_id)
        .await
        .unwrap();
    assert!(subs
        .iter()
        .any(|s| s.is_home_region && s.region_name == seeded.home_region));
    assert_eq!(c.home_region().await.unwrap(), seeded.home_region);
    let ads = c
        .list_availability_domains(&seeded.tenancy_id)
        .await
        .unwrap();
    assert_eq!(ads.len(), 3, "three ADs through pages of two");
    let comps = c.list_compartments(&seeded.tenancy_id, None).await.unwrap();
    assert!(comps.iter().any(|x| x.id == seeded.compartment_id));
    let subnet = c.get_subnet(&seeded.subnet_id).await.unwrap();
    assert_eq!(subnet.value.cidr_block, "10.0.1.0/24");
    assert!(subnet.etag.is_some());
    let vcn = c.get_vcn(&subnet.value.vcn_id).await.unwrap();
    assert_eq!(vcn.value.id, seeded.vcn_id);
    let images = c
        .list_images(&ListImagesRequest {
            compartment_id: seeded.compartment_id.clone(),
            shape: Some(SHAPE.into()),
            lifecycle_state: Some("AVAILABLE".into()),
            sort_by: Some("TIMECREATED".into()),
            sort_order: Some("DESC".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(images.len() > 2, "images span pages");
    let image = c.get_image(&images[0].id).await.unwrap().value;
    assert_eq!(image.lifecycle_state, ImageLifecycleState::Available);

    let nsg = c
        .create_network_security_group(
            &CreateNetworkSecurityGroupDetails {
                compartment_id: seeded.compartment_id.clone(),
                vcn_id: seeded.vcn_id.clone(),
                display_name: Some("vip-vrrp".into()),
                ..Default::default()
            },
            Some("client-sim-nsg"),
        )
        .await
        .unwrap()
        .value;
    c.wait_for_network_security_group_available(&nsg.id, waits())
        .await
        .unwrap();
    let rule = |direction, peer: &str| AddSecurityRuleDetails {
        direction,
        protocol: "112".into(),
        source: (direction == SecurityRuleDirection::Ingress).then(|| peer.to_string()),
        source_type: (direction == SecurityRuleDirection::Ingress)
            .then(|| "NETWORK_SECURITY_GROUP".into()),
        destination: (direction == SecurityRuleDirection::Egress).then(|| peer.to_string()),
        destination_type: (direction == SecurityRuleDirection::Egress)
            .then(|| "NETWORK_SECURITY_GROUP".into()),
        is_stateless: Some(false),
        description: Some("VRRP".into()),
        tcp_options: None,
        udp_options: None,
        icmp_options: None,
    };
    let added = c
        .add_network_security_group_security_rules(
            &nsg.id,
            &AddNetworkSecurityGroupSecurityRulesDetails {
                security_rules: vec![
                    rule(SecurityRuleDirection::Ingress, &nsg.id),
                    rule(SecurityRuleDirection::Egress, &nsg.id),
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(added.security_rules.len(), 2);
    let rules = c
        .list_network_security_group_security_rules(&nsg.id, None)
        .await
        .unwrap();
    assert_eq!(rules.len(), 2);
    let nsgs = c
        .list_network_security_groups(&seeded.compartment_id, Some(&seeded.vcn_id), None)
        .await
        .unwrap();
    assert!(nsgs.iter().any(|n| n.id == nsg.id));

    let mut instances = Vec::new();
    for (name, ip) in [("node1", "10.0.1.10"), ("node2", "10.0.1.11")] {
        let launched = c
            .launch_instance(&node_details(seeded, &image.id, name, ip, &nsg.id), None)
            .await
            .unwrap();
        instances.push(launched.value.id);
    }
    let mut vnics = Vec::new();
    for id in &instances {
        let running = c
            .wait_for_instance(id, InstanceLifecycleState::Running, waits())
            .await
            .unwrap();
        assert_eq!(
            running.value.lifecycle_state,
            InstanceLifecycleState::Running
        );
        let atts = c
            .list_vnic_attachments(&seeded.compartment_id, Some(id))
            .await
            .unwrap();
        let vnic_id = atts[0].vnic_id.clone().expect("attached VNIC");
        let vnic = c.get_vnic(&vnic_id).await.unwrap().value;
        assert_eq!(vnic.subnet_id, seeded.subnet_id);
        assert!(vnic.nsg_ids.contains(&nsg.id));
        vnics.push(vnic_id);
    }
    let listed = c
        .list_instances(&vipsetup::oci::ListInstancesRequest {
            compartment_id: seeded.compartment_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(instances.iter().all(|i| listed.iter().any(|l| &l.id == i)));
    Nodes {
        nsg: nsg.id,
        instances,
        vnics,
    }
}

/// The dynamic group and policy that let the nodes move the VIP.
async fn grant_nodes(c: &Client, seeded: &Seeded, nodes: &Nodes) -> (String, String) {
    let rule = format!(
        "ANY {{instance.id = '{}', instance.id = '{}'}}",
        nodes.instances[0], nodes.instances[1]
    );
    let dg = c
        .create_dynamic_group(
            &CreateDynamicGroupDetails {
                compartment_id: seeded.tenancy_id.clone(),
                name: "vip-nodes".into(),
                matching_rule: rule.clone(),
                description: "vipsetup client test".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let dg = c
        .wait_for_dynamic_group_active(&dg.value.id, waits())
        .await
        .unwrap();
    let updated = c
        .update_dynamic_group(
            &dg.value.id,
            &UpdateDynamicGroupDetails {
                description: Some("nodes of the VIP".into()),
                ..Default::default()
            },
            dg.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(updated.value.matching_rule, rule);
    let found = c
        .list_dynamic_groups(&seeded.tenancy_id, Some("vip-nodes"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let statements = vec![
        format!(
            "Allow dynamic-group vip-nodes to use private-ips in compartment id {}",
            seeded.compartment_id
        ),
        format!(
            "Allow dynamic-group vip-nodes to use vnics in compartment id {}",
            seeded.compartment_id
        ),
        format!(
            "Allow dynamic-group vip-nodes to use subnets in compartment id {}",
            seeded.compartment_id
        ),
    ];
    let policy = c
        .create_policy(
            &CreatePolicyDetails {
                compartment_id: seeded.tenancy_id.clone(),
                name: "vip-nodes-move-vip".into(),
                statements: statements.clone(),
                description: "vipsetup client test".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let policy = c
        .wait_for_policy_active(&policy.value.id, waits())
        .await
        .unwrap();
    let p2 = c
        .update_policy(
            &policy.value.id,
            &UpdatePolicyDetails {
                statements: Some(statements),
                description: Some("moves the VIP".into()),
                ..Default::default()
            },
            policy.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(p2.value.description.as_deref(), Some("moves the VIP"));
    assert!(c
        .list_policies(&seeded.tenancy_id, Some("vip-nodes-move-vip"))
        .await
        .unwrap()
        .iter()
        .any(|p| p.id == policy.value.id));
    (dg.value.id, policy.value.id)
}

/// The agent's part: create the VIP on node 1 if missing, move it to node 2, read it back.
async fn move_vip(c: &Client, seeded: &Seeded, nodes: &Nodes, vip: &str) -> String {
    let existing = c
        .list_private_ips(&ListPrivateIpsRequest {
            ip_address: Some(vip.into()),
            subnet_id: Some(seeded.subnet_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let created = match existing.first() {
        Some(p) => p.clone(),
        None => {
            c.create_private_ip(
                &CreatePrivateIpDetails {
                    vnic_id: Some(nodes.vnics[0].clone()),
                    ip_address: Some(vip.into()),
                    display_name: Some("vip".into()),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap()
            .value
        }
    };
    let current = c.get_private_ip(&created.id).await.unwrap();
    let target = if current.value.vnic_id.as_deref() == Some(nodes.vnics[1].as_str()) {
        &nodes.vnics[0]
    } else {
        &nodes.vnics[1]
    };
    let moved = c
        .update_private_ip(
            &created.id,
            &UpdatePrivateIpDetails {
                vnic_id: Some(target.clone()),
                ..Default::default()
            },
            current.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(moved.value.vnic_id.as_deref(), Some(target.as_str()));
    let on_target = c
        .list_private_ips(&ListPrivateIpsRequest {
            vnic_id: Some(target.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        on_target.iter().any(|p| p.ip_address == vip),
        "paged list shows the VIP"
    );
    created.id
}

/// Destroy: VIP, instances, NSG, policy, dynamic group; 404 afterwards.
async fn tear_down(c: &Client, nodes: &Nodes, vip_id: &str, dg: &str, policy: &str) {
    c.delete_private_ip(vip_id, None).await.unwrap();
    assert!(c.get_private_ip(vip_id).await.unwrap_err().is_not_found());
    for id in &nodes.instances {
        let i = c.get_instance(id).await.unwrap();
        c.terminate_instance(id, false, i.etag.as_deref())
            .await
            .unwrap();
    }
    for id in &nodes.instances {
        c.wait_for_instance(id, InstanceLifecycleState::Terminated, waits())
            .await
            .unwrap();
    }
    let nsg = c.get_network_security_group(&nodes.nsg).await.unwrap();
    c.delete_network_security_group(&nodes.nsg, nsg.etag.as_deref())
        .await
        .unwrap();
    c.delete_policy(policy, None).await.unwrap();
    c.delete_dynamic_group(dg, None).await.unwrap();
}

#[tokio::test]
async fn api_key_user_runs_every_operation() {
    let (sim, seeded) = start().await;
    let home = api_key_home(&seeded);
    let c = api_key_client(&sim, home.path()).await;
    let nodes = build_nodes(&c, &seeded).await;
    let (dg, policy) = grant_nodes(&c, &seeded, &nodes).await;
    let vip = move_vip(&c, &seeded, &nodes, "10.0.1.50").await;
    // Moving again goes back to node 1 (one PUT each time, with the etag).
    move_vip(&c, &seeded, &nodes, "10.0.1.50").await;
    tear_down(&c, &nodes, &vip, &dg, &policy).await;
    let log = sim.log();
    assert!(
        log.iter().all(|e| e.status != 401),
        "no signature was refused: {:?}",
        log.iter().filter(|e| e.status == 401).collect::<Vec<_>>()
    );
    assert!(log.iter().any(|e| e.principal.starts_with("user:")));
    assert!(sim.count("ListImages") >= 2, "paged");
}

/// Fetches the instance's identity from the simulator's IMDS and federates with `session`'s
/// public key, as `oci session authenticate` would leave a token for a profile.
async fn session_token_for(sim: &SimHandle, session_public_pem: &str) -> String {
    let http = ReqwestTransport::new(Default::default()).unwrap();
    let get = |path: &str| {
        let url = url::Url::parse(&format!("{}/{path}", sim.metadata_base_url())).unwrap();
        HttpRequest {
            method: "GET".into(),
            url,
            headers: vec![("authorization".into(), "Bearer Oracle".into())],
            body: None,
        }
    };
    let text = |r: vipsetup::oci::request::HttpResponse| {
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    };
    let cert = text(http.send(get("identity/cert.pem")).await.unwrap());
    let key = text(http.send(get("identity/key.pem")).await.unwrap());
    let inter = text(http.send(get("identity/intermediate.pem")).await.unwrap());
    let leaf = parse_leaf_certificate(&cert).unwrap();
    let leaf_key = PrivateKey::from_pem(key.as_bytes(), None, "imds key.pem").unwrap();
    let url = url::Url::parse(&sim.federation_endpoint()).unwrap();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let req = federation_request(
        &url,
        &date,
        federation_body(&cert, &inter, session_public_pem),
        &leaf,
        &leaf_key,
    )
    .unwrap();
    let resp = http.send(req).await.unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    v["token"].as_str().unwrap().to_string()
}

fn session_key_pair() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let k = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let private = k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
    (private, public)
}

#[tokio::test]
async fn instance_principal_and_session_token_move_the_vip() {
    let (sim, seeded) = start().await;
    let home = api_key_home(&seeded);
    let admin = api_key_client(&sim, home.path()).await;
    let nodes = build_nodes(&admin, &seeded).await;
    // Before any grant the instance principal sees nothing (IAM that means something).
    sim.set_imds_alias("127.0.0.1", &nodes.instances[0]);
    let ip_opts = AuthOptions {
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some(sim.base_url()),
        metadata_base_url: Some(sim.metadata_base_url()),
        ..Default::default()
    };
    let node = Client::from_options(&ip_opts).await.unwrap();
    assert_eq!(node.tenancy_id(), seeded.tenancy_id);
    let denied = node.get_vnic(&nodes.vnics[0]).await.unwrap_err();
    assert!(denied.is_not_found(), "{denied}");

    let (dg, policy) = grant_nodes(&admin, &seeded, &nodes).await;
    let vip = move_vip(&node, &seeded, &nodes, "10.0.1.60").await;
    let vnic = node.get_vnic(&nodes.vnics[1]).await.unwrap();
    assert_eq!(vnic.value.id, nodes.vnics[1]);
    assert_eq!(sim.count("FederateX509"), 1, "one token serves every call");

    // Session token (`oci session authenticate` style): a profile with security_token_file.
    let (private_pem, public_pem) = session_key_pair();
    let token = session_token_for(&sim, &public_pem).await;
    let oci = home.path().join(".oci");
    std::fs::write(oci.join("session_key.pem"), &private_pem).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            oci.join("session_key.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    std::fs::write(oci.join("token"), &token).unwrap();
    let cfg = std::fs::read_to_string(oci.join("config")).unwrap();
    std::fs::write(
        oci.join("config"),
        format!(
            "{cfg}\n[SESSION]\nkey_file=~/.oci/session_key.pem\nsecurity_token_file=~/.oci/token\n"
        ),
    )
    .unwrap();
    let st_opts = AuthOptions {
        profile: Some("SESSION".into()),
        auth: Some(AuthMethod::SecurityToken),
        endpoint: Some(sim.base_url()),
        home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    let st = Client::from_options(&st_opts).await.unwrap();
    move_vip(&st, &seeded, &nodes, "10.0.1.60").await;
    let principals: Vec<String> = sim.log().iter().map(|e| e.principal.clone()).collect();
    assert!(
        principals.iter().any(|p| p.starts_with("instance:")),
        "{principals:?}"
    );

    tear_down(&admin, &nodes, &vip, &dg, &policy).await;
}

#[tokio::test]
async fn survives_injected_faults_and_dropped_connections() {
    let (sim, seeded) = start().await;
    let home = api_key_home(&seeded);
    // Real sleeps would make this slow; the retry decisions are what is under test here.
    let opts = AuthOptions {
        endpoint: Some(sim.base_url()),
        home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    let time = Arc::new(NoSleep(std::sync::atomic::AtomicUsize::new(0)));
    let c = Client::from_options_with(&opts, None, Arc::new(SystemClock), time.clone())
        .await
        .unwrap();
    sim.inject_fault("GetSubnet", 1, FaultKind::too_many_requests());
    sim.inject_fault("GetSubnet", 1, FaultKind::Drop);
    sim.inject_fault("GetSubnet", 1, FaultKind::internal_error());
    sim.inject_fault("GetSubnet", 1, FaultKind::service_unavailable());
    let subnet = c.get_subnet(&seeded.subnet_id).await.unwrap();
    assert_eq!(subnet.value.id, seeded.subnet_id);
    let statuses: Vec<u16> = sim
        .log()
        .iter()
        .filter(|e| e.operation == "GetSubnet")
        .map(|e| e.status)
        .collect();
    // The simulator logs a dropped connection with status 0.
    assert_eq!(statuses, [429, 0, 500, 503, 200]);

    // A create that fails after the simulator did the work (dropped answer) is retried with the
    // same opc-retry-token, so there is still exactly one NSG.
    sim.inject_fault("CreateNetworkSecurityGroup", 1, FaultKind::Drop);
    sim.inject_fault(
        "CreateNetworkSecurityGroup",
        1,
        FaultKind::incorrect_state(),
    );
    let details = CreateNetworkSecurityGroupDetails {
        compartment_id: seeded.compartment_id.clone(),
        vcn_id: seeded.vcn_id.clone(),
        display_name: Some("faulty".into()),
        ..Default::default()
    };
    c.create_network_security_group(&details, None)
        .await
        .unwrap();
    assert_eq!(sim.count("CreateNetworkSecurityGroup"), 3);
    let nsgs = c
        .list_network_security_groups(&seeded.compartment_id, None, Some("faulty"))
        .await
        .unwrap();
    assert_eq!(nsgs.len(), 1);

    // Paged lists survive faults in the middle.
    sim.set_page_size(1);
    sim.inject_fault("ListImages", 2, FaultKind::Drop);
    let images = c
        .list_images(&ListImagesRequest {
            compartment_id: seeded.compartment_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(images.len() > 1);

    // Not retried: a 404 comes back at once with its hint.
    let before = sim.count("GetVnic");
    let err = c
        .get_vnic("ocid1.vnic.oc1.iad.doesnotexist")
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("policy"), "{err}");
    assert_eq!(sim.count("GetVnic") - before, 1);

    // Out of host capacity is a 500: retried (as the SDKs do), then the launch goes through.
    let image = &images[0].id;
    sim.inject_fault("LaunchInstance", 1, FaultKind::out_of_host_capacity());
    let nsg = &nsgs[0].id;
    let launched = c
        .launch_instance(&node_details(&seeded, image, "n1", "10.0.1.20", nsg), None)
        .await
        .unwrap();
    let all = c
        .list_instances(&vipsetup::oci::ListInstancesRequest {
            compartment_id: seeded.compartment_id.clone(),
            display_name: Some("n1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "one instance despite the retry");
    assert_eq!(all[0].id, launched.value.id);
    assert!(time.count() >= 9, "slept between retries: {}", time.count());
}

/// Counts sleeps without sleeping.
struct NoSleep(std::sync::atomic::AtomicUsize);

impl NoSleep {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl vipsetup::oci::clock::Sleeper for NoSleep {
    fn sleep(&self, _: Duration) -> vipsetup::oci::clock::BoxFuture<'_, ()> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}

#[tokio::test]
async fn iam_writes_outside_the_home_region_are_refused_with_a_hint() {
    let (sim, seeded) = start().await;
    let home = api_key_home(&seeded);
    // The simulator reads the region from a path prefix of the single endpoint override.
    let opts = AuthOptions {
        endpoint: Some(format!("{}/region/us-phoenix-1", sim.base_url())),
        home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    let c = Client::from_options(&opts).await.unwrap();
    // Reads work in any region.
    c.list_dynamic_groups(&seeded.tenancy_id, None)
        .await
        .unwrap();
    let err = c
        .create_dynamic_group(
            &CreateDynamicGroupDetails {
                compartment_id: seeded.tenancy_id.clone(),
                name: "elsewhere".into(),
                matching_rule: "ANY {instance.id = 'x'}".into(),
                description: "d".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    let api = err.api().expect("an OCI error");
    assert_eq!((api.status, api.code.as_str()), (403, "NotAllowed"));
    assert!(api.opc_request_id.is_some());
    assert!(err.to_string().contains("home region"), "{err}");
    assert_eq!(sim.count("CreateDynamicGroup"), 1, "403 is not retried");
}
