//! vipsetup's own OCI client against the simulator, seen from the simulator's side: an API-key
//! user, a session token, and an instance principal whose access follows IAM propagation.
//! (tests/client_sim.rs covers the client's side, including faults and dropped connections.)

use std::path::Path;
use std::time::Duration;
use vipsetup::oci::models::*;
use vipsetup::oci::{
    AuthMethod, AuthOptions, Client, ListImagesRequest, ListPrivateIpsRequest, OciError,
};
use vipsetup::simulator::{SeedSpec, Seeded, SimConfig, SimHandle, Simulator};

async fn sim() -> (SimHandle, Seeded) {
    Simulator::start_seeded(
        SimConfig {
            page_size: 2,
            ..SimConfig::default()
        },
        &SeedSpec::default(),
    )
    .await
    .unwrap()
}

fn write_profile(dir: &Path, seeded: &Seeded, extra: &str) -> std::path::PathBuf {
    let key = dir.join("key.pem");
    std::fs::write(&key, &seeded.private_key_pem).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cfg = dir.join("config");
    let profile = seeded.oci_config(&key.display().to_string());
    std::fs::write(&cfg, format!("{profile}{extra}")).unwrap();
    cfg
}

async fn api_key_client(sim: &SimHandle, seeded: &Seeded, dir: &Path) -> Client {
    let cfg = write_profile(dir, seeded, "");
    Client::from_options(&AuthOptions {
        config_file: Some(cfg),
        endpoint: Some(sim.base_url()),
        ..AuthOptions::default()
    })
    .await
    .unwrap()
}

fn launch_details(seeded: &Seeded, name: &str, ip: &str) -> LaunchInstanceDetails {
    serde_json::from_value(serde_json::json!({
        "availabilityDomain": seeded.availability_domains[0], "compartmentId": seeded.compartment_id,
        "shape": "VM.Standard.E4.Flex", "displayName": name,
        "sourceDetails": {"sourceType": "image", "imageId": seeded.image_ids[0]},
        "createVnicDetails": {"subnetId": seeded.subnet_id, "privateIp": ip, "assignPublicIp": false}
    }))
    .unwrap()
}

fn status(e: &OciError) -> Option<u16> {
    match e {
        OciError::Api(a) => Some(a.status),
        _ => None,
    }
}

#[tokio::test]
async fn api_key_client_runs_every_operation() {
    let (sim, seeded) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let c = api_key_client(&sim, &seeded, dir.path()).await;
    assert_eq!(c.home_region().await.unwrap(), seeded.home_region);
    let t = c.get_tenancy(&seeded.tenancy_id).await.unwrap();
    assert_eq!(t.id, seeded.tenancy_id);
    let images = c
        .list_images(&ListImagesRequest {
            compartment_id: seeded.compartment_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(images.len(), seeded.image_ids.len(), "pages followed");
    let subnet = c.get_subnet(&seeded.subnet_id).await.unwrap();
    assert_eq!(subnet.value.cidr_block, "10.0.1.0/24");
    let a = c
        .launch_instance(&launch_details(&seeded, "a", "10.0.1.10"), Some("tok-a"))
        .await
        .unwrap();
    let again = c
        .launch_instance(&launch_details(&seeded, "a", "10.0.1.10"), Some("tok-a"))
        .await
        .unwrap();
    assert_eq!(a.value.id, again.value.id);
    let atts = c
        .list_vnic_attachments(&seeded.compartment_id, Some(&a.value.id))
        .await
        .unwrap();
    let vnic = c
        .get_vnic(atts[0].vnic_id.as_deref().unwrap())
        .await
        .unwrap();
    let vip = c
        .create_private_ip(
            &serde_json::from_value(
                serde_json::json!({"vnicId": vnic.value.id, "ipAddress": "10.0.1.50"}),
            )
            .unwrap(),
            Some("tok-vip"),
        )
        .await
        .unwrap();
    let found = c
        .list_private_ips(&ListPrivateIpsRequest {
            ip_address: Some("10.0.1.50".into()),
            subnet_id: Some(seeded.subnet_id.clone()),
            vnic_id: None,
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let err = c
        .delete_private_ip(&vip.value.id, Some("stale"))
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(412));
    c.delete_private_ip(&vip.value.id, vip.etag.as_deref())
        .await
        .unwrap();
    c.terminate_instance(&a.value.id, false, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn session_token_client() {
    let (sim, seeded) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (session_key, _) = vipsetup::simulator::pki::generate_rsa().unwrap();
    let spki = vipsetup::simulator::pki::public_spki_pem(&session_key).unwrap();
    let token = sim.issue_user_session(&seeded.user_id, &spki).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let mut s2 = seeded.clone();
    s2.private_key_pem = session_key;
    let cfg = write_profile(
        dir.path(),
        &s2,
        &format!("security_token_file={}\n", token_file.display()),
    );
    let c = Client::from_options(&AuthOptions {
        config_file: Some(cfg),
        auth: Some(AuthMethod::SecurityToken),
        endpoint: Some(sim.base_url()),
        ..AuthOptions::default()
    })
    .await
    .unwrap();
    c.get_subnet(&seeded.subnet_id).await.unwrap();
    assert!(sim.log().last().unwrap().principal.starts_with("user:"));
}

#[tokio::test]
async fn instance_principal_client_moves_the_vip() {
    let (sim, seeded) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let admin = api_key_client(&sim, &seeded, dir.path()).await;
    let n1 = admin
        .launch_instance(&launch_details(&seeded, "n1", "10.0.1.10"), None)
        .await
        .unwrap()
        .value;
    let n2 = admin
        .launch_instance(&launch_details(&seeded, "n2", "10.0.1.11"), None)
        .await
        .unwrap()
        .value;
    let vnic = |id: String| {
        let admin = admin.clone();
        let comp = seeded.compartment_id.clone();
        async move {
            admin.list_vnic_attachments(&comp, Some(&id)).await.unwrap()[0]
                .vnic_id
                .clone()
                .unwrap()
        }
    };
    let (v1, v2) = (vnic(n1.id.clone()).await, vnic(n2.id.clone()).await);
    let vip = admin
        .create_private_ip(
            &serde_json::from_value(serde_json::json!({"vnicId": v1, "ipAddress": "10.0.1.50"}))
                .unwrap(),
            None,
        )
        .await
        .unwrap()
        .value;
    sim.set_imds_alias("127.0.0.1", &n2.id);
    let ip = Client::from_options(&AuthOptions {
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some(sim.base_url()),
        metadata_base_url: Some(sim.metadata_base_url()),
        federation_endpoint: Some(sim.federation_endpoint()),
        ..AuthOptions::default()
    })
    .await
    .unwrap();
    let err = ip.get_private_ip(&vip.id).await.unwrap_err();
    assert_eq!(status(&err), Some(404));
    let dg = admin
        .create_dynamic_group(
            &serde_json::from_value(serde_json::json!({
                "compartmentId": seeded.tenancy_id, "name": "vip", "description": "d",
                "matchingRule": format!("ANY {{instance.id = '{}', instance.id = '{}'}}", n1.id, n2.id)}))
            .unwrap(),
            None,
        )
        .await
        .unwrap();
    sim.set_iam_propagation_delay(Duration::from_secs(60));
    let c = &seeded.compartment_id;
    admin
        .create_policy(
            &serde_json::from_value(serde_json::json!({
                "compartmentId": seeded.tenancy_id, "name": "vip", "description": "d",
                "statements": [format!("Allow dynamic-group vip to use private-ips in compartment id {c}"),
                               format!("Allow dynamic-group vip to use vnics in compartment id {c}")]}))
            .unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        status(&ip.get_private_ip(&vip.id).await.unwrap_err()),
        Some(404)
    );
    sim.advance_clock(Duration::from_secs(61));
    let moved = ip
        .update_private_ip(
            &vip.id,
            &serde_json::from_value(serde_json::json!({"vnicId": v2})).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(moved.value.vnic_id.as_deref(), Some(v2.as_str()));
    assert_eq!(dg.value.name, "vip");
    assert!(sim
        .log()
        .iter()
        .any(|e| e.operation == "UpdatePrivateIp" && e.principal == format!("instance:{}", n2.id)));
}

/// The power actions as the first-boot twin plays OCI's hypervisor: with long delays the states
/// hold until `POST /_sim/instances/power` reports the VM's exit or start; SOFTRESET and RESET
/// are reboots (STARTING until started); the last action is kept for the hypervisor to read.
#[tokio::test]
async fn power_actions_wait_for_the_hypervisors_reports() {
    let (sim, seeded) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let c = api_key_client(&sim, &seeded, dir.path()).await;
    let id = c
        .launch_instance(&launch_details(&seeded, "p1", "10.0.1.30"), None)
        .await
        .unwrap()
        .value
        .id;
    sim.set_provisioning_delay(Duration::from_secs(900));
    sim.set_terminating_delay(Duration::from_secs(900));
    let http = reqwest::Client::new();
    let report = |event: &'static str| {
        let (http, url, id) = (http.clone(), sim.base_url(), id.clone());
        async move {
            let r = http
                .post(format!("{url}/_sim/instances/power"))
                .json(&serde_json::json!({"instanceId": id, "event": event}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<serde_json::Value>().await.unwrap()["lifecycleState"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let state = || async {
        format!(
            "{:?}",
            c.get_instance(&id).await.unwrap().value.lifecycle_state
        )
    };
    let last = |sim: &SimHandle| {
        sim.inspect(|w| {
            w.get("instance", &id)
                .and_then(|d| d.get("_lastAction").cloned())
                .unwrap_or_default()
        })
    };
    // Launched before the delays were set: RUNNING already.
    assert_eq!(state().await.to_uppercase(), "RUNNING");
    c.instance_action(&id, "SOFTSTOP").await.unwrap();
    assert_eq!(state().await.to_uppercase(), "STOPPING");
    assert_eq!(last(&sim), "SOFTSTOP");
    assert_eq!(report("exited").await, "STOPPED");
    assert_eq!(state().await.to_uppercase(), "STOPPED");
    c.instance_action(&id, "START").await.unwrap();
    assert_eq!(state().await.to_uppercase(), "STARTING");
    assert_eq!(report("started").await, "RUNNING");
    for action in ["SOFTRESET", "RESET"] {
        c.instance_action(&id, action).await.unwrap();
        assert_eq!(state().await.to_uppercase(), "STARTING", "{action}");
        assert_eq!(last(&sim), action);
        assert_eq!(report("started").await, "RUNNING", "{action}");
    }
    c.instance_action(&id, "STOP").await.unwrap();
    assert_eq!(report("exited").await, "STOPPED");
    // An exit report for an instance in no transition changes nothing.
    assert_eq!(report("exited").await, "STOPPED");
}
