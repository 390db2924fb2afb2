//! Issue 20, items 4, 5 and 9, through the real binary and the built-in simulator: the plan
//! shows each changed attribute (text and JSON), a newer platform image is shown as available
//! and is no drift, and `blueprints/reference.yaml` applies under `--simulate` as shipped.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{bin, text};

fn run(dir: &Path, args: &[&str]) -> Output {
    bin(dir).args(args).output().unwrap()
}

/// The repository's blueprints (and the demo key they name) copied into `dir`.
fn shipped_blueprints(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for f in ["reference.yaml", "quickstart.yaml"] {
        std::fs::copy(root.join(f), dir.join(f)).unwrap();
    }
    for e in std::fs::read_dir(root.join("keys")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("keys").join(e.file_name())).unwrap();
    }
}

/// Issue 20 item 9: the reference blueprint applies as shipped (its AD name, its `read
/// metrics` statement), then plans no change; with its commented `vip6` example switched on
/// it applies too (the example address lies in the simulated subnet's IPv6 prefix).
#[test]
fn reference_blueprint_applies_under_simulate_as_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shipped_blueprints(d);
    let o = run(
        d,
        &["apply", "reference.yaml", "--simulate", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        d,
        &[
            "plan",
            "reference.yaml",
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let shipped = std::fs::read_to_string(d.join("reference.yaml")).unwrap();
    let with_v6 = shipped.replacen("  # vip6: [", "  vip6: [", 1);
    assert_ne!(with_v6, shipped, "the reference names a vip6 example");
    std::fs::write(d.join("reference.yaml"), with_v6).unwrap();
    // Today a VIP change reaches the nodes in their user data, so both are replaced (issue 20
    // items 1-3 move it to an in-place update); the flags confirm that.
    let o = run(
        d,
        &[
            "apply",
            "reference.yaml",
            "--simulate",
            "--auto-approve",
            "--replace",
            "web1",
            "--replace",
            "web2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        d,
        &["--output", "json", "status", "reference.yaml", "--simulate"],
    );
    let status: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let vips = status["vips"].to_string();
    assert!(vips.contains("2603:c020:1:1::10"), "{}", text(&o));
}

/// The changes of one resource in a `plan --output json` document.
fn changes(plan: &Value, resource: &str) -> Vec<Value> {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["resource"] == resource)
        .and_then(|s| s["changes"].as_array().cloned())
        .unwrap_or_default()
}

fn plan_json(dir: &Path, blueprint: &str, extra: &[&str]) -> (Value, String) {
    let mut args = vec!["--output", "json", "plan", blueprint, "--simulate"];
    args.extend(extra);
    let o = run(dir, &args);
    let out = text(&o);
    (
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        out,
    )
}

/// Issue 20 items 3 and 4: a settings change shows each attribute with old and new value, in
/// text and JSON, as an update in place (the settings key; nothing forces a replacement); a new
/// ssh key is a warning that says how to replace, and `--replace` shows it as a fingerprint; the
/// health check command (it may carry a secret) and the ssh keys' text are never printed.
#[test]
fn plan_shows_each_changed_attribute_with_old_and_new_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shipped_blueprints(d);
    let o = run(
        d,
        &["apply", "quickstart.yaml", "--simulate", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let second_key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8yY0wqKzRrN6Y9RkYxq0dXxj1o9u3mBn3yQv3m6Qp bob@desk";
    let shipped = std::fs::read_to_string(d.join("quickstart.yaml")).unwrap();
    let edited = shipped
        .replacen("  preempt: false", "  preempt: true\n  advert_interval: 2\n  health_check:\n    command: \"curl -fsS -H 'Authorization: Bearer s3cret-t0ken' http://127.0.0.1/\"", 1)
        .replacen("  vip: 172.16.2.10/24", "  vip: [172.16.2.10/24, 172.16.2.21/24]", 1)
        .replacen(
            "  ssh_keys:\n",
            &format!("  ssh_keys:\n    - key: {second_key}\n"),
            1,
        )
        .replacen("  ocpus: 1", "  ocpus: 2", 1);
    assert_ne!(edited, shipped);
    std::fs::write(d.join("quickstart.yaml"), &edited).unwrap();

    let o = run(d, &["plan", "quickstart.yaml", "--simulate"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for want in [
        "~ instance1 (node1) update in place",
        "preempt: false -> true\n",
        "advert_interval: 1 -> 2\n",
        "vips: + 172.16.2.21/24\n",
        "health_check: + enabled\n",
        "health_check.command: + (sensitive)\n",
        "ocpus: 1 -> 2",
        "settings: v1 -> v2\n",
        "warning: instance1: the ssh keys differ from the blueprint's",
        "run apply --replace instance1 to replace the node with the new keys",
        "0 to replace",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    assert!(!out.contains("forces replacement"), "{out}");
    assert!(!out.contains("s3cret"), "a secret was printed:\n{out}");
    assert!(
        !out.contains("AAAAC3Nza"),
        "an ssh key's text was printed:\n{out}"
    );

    // Asked for, the replacement shows the new key by its fingerprint.
    let o = run(
        d,
        &[
            "plan",
            "quickstart.yaml",
            "--simulate",
            "--replace",
            "instance1",
        ],
    );
    let out = text(&o);
    for want in [
        "-/+ instance1 (node1) replace",
        "ssh_authorized_keys: + ssh-ed25519 SHA256:",
        "replacement requested with --replace",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    assert!(
        !out.contains("AAAAC3Nza") && !out.contains("s3cret"),
        "{out}"
    );

    let (plan, out) = plan_json(d, "quickstart.yaml", &[]);
    assert!(!out.contains("s3cret"), "a secret was printed:\n{out}");
    let node1 = changes(&plan, "node1");
    let find = |path: &str| {
        node1
            .iter()
            .find(|c| c["path"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("no {path} in {node1:?}"))
    };
    let preempt = find("preempt");
    assert_eq!(preempt["old"], "false");
    assert_eq!(preempt["new"], "true");
    assert_eq!(preempt["forces_replacement"], false);
    let vips = find("vips");
    assert_eq!(vips["old"], Value::Null);
    assert_eq!(vips["new"], "172.16.2.21/24");
    // Everything here changes in place: the size, each setting and the settings version.
    let node2 = changes(&plan, "node2");
    for path in ["ocpus", "preempt", "settings"] {
        assert!(
            node2
                .iter()
                .any(|c| c["path"] == path && c["forces_replacement"] == false),
            "{path}: {node2:?}"
        );
    }
    assert!(
        node2.iter().all(|c| c["forces_replacement"] == false),
        "{node2:?}"
    );
    for c in &node1 {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        for k in ["path", "old", "new", "forces_replacement"] {
            assert!(c.get(k).is_some(), "{k} missing in {c}: {keys:?}");
        }
    }
}

/// Oracle publishes a newer "Oracle Linux" "9" image in the simulated world of `blueprint`.
fn publish_newer_image(dir: &Path, blueprint: &str, name: &str) {
    use vipsetup::simulator::{world, World};
    let wpath = vipsetup::ops::simulate::world_path(&dir.join(blueprint));
    let mut w = World::load(&wpath).unwrap();
    let home = w.home_region.clone();
    let id = w.new_id(world::IMAGE, Some(&home));
    w.insert(
        world::IMAGE,
        serde_json::json!({"id": id, "compartmentId": null, "displayName": name,
            "operatingSystem": "Oracle Linux", "operatingSystemVersion": "9",
            "lifecycleState": "AVAILABLE", "createImageAllowed": true,
            "launchMode": "PARAVIRTUALIZED", "listingType": "NONE", "sizeInMBs": 47694,
            "billableSizeInGBs": 3, "timeCreated": "2099-01-01T00:00:00.000Z",
            "freeformTags": {}, "definedTags": {}, "_region": home,
            "_shapes": ["VM.Standard.E4.Flex", "VM.Standard.E5.Flex"]}),
    );
    w.save(&wpath).unwrap();
}

/// Issue 20 item 5: a newer platform image of the blueprint's os + version is shown as
/// available, not drift (`--detailed-exitcode` 0); `--upgrade-image` plans the move as a
/// replacement with both image names; the image a node was launched from is in state.
#[test]
fn a_newer_platform_image_alone_is_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shipped_blueprints(d);
    let o = run(
        d,
        &["apply", "quickstart.yaml", "--simulate", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("quickstart.yaml.sim-state.json")).unwrap(),
    )
    .unwrap();
    let recorded = &state["resources"]["node1"]["image"];
    assert!(
        recorded["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("ocid1.image.")),
        "{state}"
    );
    assert_eq!(recorded["line"]["os"], "Oracle Linux", "{state}");

    publish_newer_image(d, "quickstart.yaml", "Oracle-Linux-9.6-2099.01.01-0");
    let o = run(
        d,
        &[
            "plan",
            "quickstart.yaml",
            "--simulate",
            "--detailed-exitcode",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("note: instance1: a newer Oracle Linux 9 image is available: Oracle-Linux-9.6-2099.01.01-0 (ocid1.image."),
        "{out}"
    );
    assert!(
        out.contains("(it runs Oracle-Linux-9.5-2025.01.31-0 (ocid1.image."),
        "{out}"
    );
    let (plan, _) = plan_json(d, "quickstart.yaml", &[]);
    assert_eq!(plan["notes"].as_array().map(Vec::len), Some(2), "{plan}");

    let o = run(
        d,
        &[
            "plan",
            "quickstart.yaml",
            "--simulate",
            "--detailed-exitcode",
            "--upgrade-image",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("-/+ instance1 (node1) replace"), "{out}");
    assert!(
        out.contains("(Oracle-Linux-9.5-2025.01.31-0) -> ocid1.image.")
            && out.contains("(Oracle-Linux-9.6-2099.01.01-0)  # forces replacement"),
        "{out}"
    );
    let (plan, _) = plan_json(d, "quickstart.yaml", &["--upgrade-image"]);
    let image = changes(&plan, "node2")
        .into_iter()
        .find(|c| c["path"] == "image")
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(image["new_name"], "Oracle-Linux-9.6-2099.01.01-0");
    assert_eq!(image["forces_replacement"], true);
}
