//! Bad input gives a clear error and leaves nothing untracked: a wrong subnet OCID, a VIP outside
//! the subnet or already taken, a missing key file (ssh or API), IAM writes outside the home region.

mod engine_support;

use std::collections::BTreeMap;
use std::process::Command;

use engine_support::*;
use vipsetup::engine::cloud::InstanceSpec;
use vipsetup::engine::model::{DesiredNode, TAG_PAIR, TAG_ROLE};
use vipsetup::engine::plan::Plan;
use vipsetup::engine::progress::Silent;
use vipsetup::engine::Resource;
use vipsetup::simulator::Region;

fn yes(_: &Plan) -> bool {
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_subnet_ocid_fails_before_any_change() {
    let mut p = pair().await;
    p.target.spec.subnet_id = "ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaanosuchsubnet".into();
    let e = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("subnet ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaanosuchsubnet was not found"),
        "{msg}"
    );
    assert!(
        msg.contains("check `network.subnet` in the blueprint"),
        "{msg}"
    );
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
    assert!(!p.state_path().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vip_outside_the_subnet_fails_before_any_change() {
    let mut p = pair().await;
    p.target.spec.vip = "10.9.9.9".parse().unwrap();
    let e = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("the vip 10.9.9.9 is outside the subnet 172.16.2.0/24; use an address inside the subnet"),
        "{e}"
    );
    assert!(p.mutations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vip_already_taken_fails_before_any_change() {
    let p = pair().await;
    // Someone else's instance already uses the VIP's address.
    let sess = p.session();
    let prep = sess.prepare(&[]).await.unwrap();
    let other = DesiredNode {
        name: "squatter".into(),
        hostname_label: Some("squatter".into()),
        private_ip: "172.16.2.10".parse().unwrap(),
        ..prep.desired.nodes[0].clone()
    };
    let tags = BTreeMap::from([
        (TAG_PAIR.to_string(), "other".to_string()),
        (TAG_ROLE.to_string(), "node1".to_string()),
    ]);
    let spec = InstanceSpec {
        compartment_id: prep.desired.compartment_id.clone(),
        subnet_id: prep.desired.subnet_id.clone(),
        nsg_ids: vec![],
        node: other,
        tags,
    };
    p.target
        .cloud
        .launch_instance(&spec, "squatter-token")
        .await
        .unwrap();
    p.sim.clear_log();

    let e = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("the vip 172.16.2.10 is already in use in the subnet"),
        "{msg}"
    );
    assert!(msg.contains("choose a free address for `vip`"), "{msg}");
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
}

#[test]
fn a_missing_ssh_key_file_is_a_blueprint_error_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| {
        t.replace("keys/quickstart.pub", "keys/missing.pub")
    });
    let out = Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .args(["apply"])
        .arg(&bp)
        .args(["--simulate", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.pub"), "{err}");
    assert!(
        err.contains("quickstart.yaml:"),
        "names the file and line: {err}"
    );
    assert!(!vipsetup::ops::simulate::world_path(&bp).exists());
    assert!(!vipsetup::engine::state::default_path(&bp).exists());
}

#[test]
fn a_missing_api_key_file_says_which_file() {
    let dir = tempfile::tempdir().unwrap();
    let bp = quickstart_in(dir.path(), |t| t);
    let config = dir.path().join("oci-config");
    let key = dir.path().join("no-such-key.pem");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nuser=ocid1.user.oc1..aaaa\nfingerprint=11:22:33:44:55:66:77:88:99:00:aa:bb:cc:dd:ee:ff\n\
             tenancy=ocid1.tenancy.oc1..aaaa\nregion=ap-tokyo-1\nkey_file={}\n",
            key.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vipsetup"))
        .arg("plan")
        .arg(&bp)
        .arg("--config-file")
        .arg(&config)
        // Never reached (the key is read first), and loopback only in any case.
        .args(["--endpoint", "http://127.0.0.1:9"])
        .env_remove("OCI_CLI_PROFILE")
        .env_remove("OCI_CLI_AUTH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-key.pem"), "{err}");
    assert!(!vipsetup::engine::state::default_path(&bp).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_outside_the_home_region_is_a_clear_error_and_nothing_is_untracked() {
    // The tenancy's home is Ashburn; every request here lands in Tokyo (one endpoint override).
    let p = pair_setup(
        |t| t,
        fast_retries(),
        |w, c| {
            w.home_region = "us-ashburn-1".into();
            if !w.regions.iter().any(|r| r.name == "us-ashburn-1") {
                w.regions.push(Region {
                    name: "us-ashburn-1".into(),
                    key: "IAD".into(),
                });
            }
            c.region = Some("ap-tokyo-1".into());
        },
    )
    .await;
    let sess = p.session();
    let e = sess
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("dynamic-group: CreateDynamicGroup failed with HTTP 403 NotAllowed"),
        "{msg}"
    );
    assert!(msg.contains("home region"), "{msg}");
    assert!(
        msg.contains("policy: not started: dynamic-group failed"),
        "{msg}"
    );

    // Everything that was made is in state, so destroy finds and removes all of it.
    let state = vipsetup::engine::State::load(&p.state_path(), "quickstart")
        .unwrap()
        .unwrap();
    for r in [
        Resource::Nsg,
        Resource::Node1,
        Resource::Node2,
        Resource::Vip,
    ] {
        assert!(state.id(r).is_some(), "{r} is tracked");
    }
    assert_eq!(counts(&p.world(), "172.16.2.10"), (2, 1, 0, 0, 1));
    sess.destroy(&yes, &Silent).await.unwrap();
    assert_eq!(counts(&p.world(), "172.16.2.10"), (0, 0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_group_name_taken_by_someone_else_fails_before_any_change() {
    let p = pair().await;
    let spec = vipsetup::engine::cloud::DynamicGroupSpec {
        tenancy_id: p.target.tenancy_id.clone(),
        name: "quickstart-dg".into(),
        description: "not vipsetup's".into(),
        matching_rule: "ANY {instance.compartment.id = 'ocid1.compartment.oc1..x'}".into(),
        tags: BTreeMap::new(),
    };
    p.target
        .cloud
        .create_dynamic_group(&spec, "other-token")
        .await
        .unwrap();
    p.sim.clear_log();
    let e = p
        .session()
        .apply(&[], &yes, &Silent, &p.rendered_dir())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("a dynamic group named \"quickstart-dg\""),
        "{msg}"
    );
    assert!(
        msg.contains("does not belong to pair \"quickstart\""),
        "{msg}"
    );
    assert!(
        msg.contains("choose another name in the blueprint"),
        "{msg}"
    );
    assert!(p.mutations().is_empty(), "{:?}", p.mutations());
}
