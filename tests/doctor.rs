//! `vipsetup doctor` (issue 22): a simulated tenancy missing one prerequisite at a time, each
//! reported as a problem on its own check and nowhere else, and never a write: the simulator's
//! log holds no mutating request after any run.

mod engine_support;

use serde_json::{json, Value};
use vipsetup::ops::blueprint_view;
use vipsetup::ops::doctor::{doctor_on, DoctorReport, Status};
use vipsetup::simulator::{world, SimConfig, World};

use engine_support::*;

/// Runs doctor on a quickstart pair whose world `tweak` changed (and its blueprint `edit`);
/// asserts it wrote nothing.
async fn doctor_with(
    edit: impl FnOnce(String) -> String,
    tweak: impl FnOnce(&mut World, &mut SimConfig),
) -> DoctorReport {
    let pair = pair_setup(edit, fast_retries(), tweak).await;
    let bp = blueprint_view::load(&pair.blueprint).unwrap();
    let before = pair.world();
    let report = doctor_on(&bp, &pair.target).await;
    assert!(
        pair.mutations().is_empty(),
        "doctor wrote: {:?}",
        pair.mutations()
    );
    assert!(!pair.sim.log().is_empty(), "doctor made no call at all");
    assert_eq!(
        serde_json::to_value(&before.resources).unwrap(),
        serde_json::to_value(&pair.world().resources).unwrap(),
        "the world changed"
    );
    report
}

fn statuses(r: &DoctorReport) -> Vec<(&'static str, Status)> {
    r.checks.iter().map(|c| (c.id, c.status)).collect()
}

/// Exactly `id` is a problem, its detail says `says`, and it has a fix.
fn only_problem(r: &DoctorReport, id: &str, says: &str) {
    let problems: Vec<&str> = r.problems().iter().map(|c| c.id).collect();
    assert_eq!(problems, [id], "{}", r.render_text());
    let c = r.checks.iter().find(|c| c.id == id).unwrap();
    assert!(c.detail.contains(says), "{id}: {}", c.detail);
    assert!(
        c.fix.as_ref().is_some_and(|f| !f.is_empty()),
        "{id} has no fix"
    );
    assert_eq!(r.exit_code(), 1);
}

/// The quickstart blueprint's OCIDs (the seeded world is renamed to them).
const SUBNET: &str = "ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaquickstartsubnet";
const COMPARTMENT: &str = "ocid1.compartment.oc1..aaaaaaaaquickstartcompartment";

fn seeded(w: &World) -> vipsetup::simulator::Seeded {
    w.seeded.clone().unwrap()
}

#[tokio::test]
async fn a_ready_tenancy_passes_every_check_without_a_single_write() {
    let r = doctor_with(|t| t, |_, _| {}).await;
    assert!(
        r.checks.iter().all(|c| c.status == Status::Ok),
        "{}",
        r.render_text()
    );
    assert_eq!(r.exit_code(), 0);
    let ids: Vec<&str> = statuses(&r).into_iter().map(|(i, _)| i).collect();
    for id in [
        "credentials",
        "region",
        "subnet",
        "routing",
        "egress_443",
        "vrrp",
        "addresses",
        "availability_domain",
        "shape",
        "limits",
        "image",
        "iam_read",
        "state_bucket",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(r
        .operator_policy
        .iter()
        .any(|s| s == "Allow group <your-group> to manage dynamic-groups in tenancy"));
}

#[tokio::test]
async fn no_route_to_the_oci_services() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            for rt in w
                .resources
                .get_mut(world::ROUTE_TABLE)
                .unwrap()
                .values_mut()
            {
                rt.insert("routeRules".into(), json!([]));
            }
        },
    )
    .await;
    only_problem(&r, "routing", "can't reach the OCI API");
}

#[tokio::test]
async fn no_egress_on_443() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            for sl in w
                .resources
                .get_mut(world::SECURITY_LIST)
                .unwrap()
                .values_mut()
            {
                sl.insert(
                    "egressSecurityRules".into(),
                    json!([{"destination": "0.0.0.0/0", "destinationType": "CIDR_BLOCK",
                            "protocol": "6", "isStateless": false,
                            "tcpOptions": {"destinationPortRange": {"min": 22, "max": 22}}}]),
                );
            }
        },
    )
    .await;
    only_problem(&r, "egress_443", "allows egress TCP 443");
}

#[tokio::test]
async fn addresses_already_taken() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            let region = w.home_region.clone();
            for ip in ["172.16.2.10", "172.16.2.12"] {
                let id = w.new_id(world::PRIVATE_IP, Some(&region));
                w.insert(
                    world::PRIVATE_IP,
                    json!({"id": id, "ipAddress": ip, "subnetId": SUBNET,
                           "vnicId": "ocid1.vnic.oc1..someoneelse", "isPrimary": false,
                           "compartmentId": COMPARTMENT, "freeformTags": {},
                           "_region": region}),
                );
            }
        },
    )
    .await;
    only_problem(&r, "addresses", "VIP 172.16.2.10 is held by private IP");
    let c = r.checks.iter().find(|c| c.id == "addresses").unwrap();
    assert!(c.detail.contains("instance2's 172.16.2.12"), "{}", c.detail);
    assert!(!c.detail.contains("172.16.2.11"), "{}", c.detail);
}

#[tokio::test]
async fn shape_not_offered_in_the_availability_domain() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            let ad = w.availability_domains(&w.home_region.clone())[0].clone();
            vipsetup::simulator::withdraw_shape(w, &ad, "VM.Standard.E4.Flex");
        },
    )
    .await;
    only_problem(&r, "shape", "VM.Standard.E4.Flex is not offered in");
    let c = r.checks.iter().find(|c| c.id == "shape").unwrap();
    assert!(
        c.fix.as_ref().unwrap().contains("VM.Standard.E5.Flex"),
        "{c:?}"
    );
}

#[tokio::test]
async fn service_limit_exhausted() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            let region = w.home_region.clone();
            let ad = w.availability_domains(&region)[0].clone();
            vipsetup::simulator::set_limit(w, &region, &ad, "standard-e4-core-count", 1);
        },
    )
    .await;
    only_problem(&r, "limits", "standard-e4-core-count in");
    let c = r.checks.iter().find(|c| c.id == "limits").unwrap();
    assert!(
        c.detail.contains("1 OCPUs available, 2 needed"),
        "{}",
        c.detail
    );
}

#[tokio::test]
async fn no_read_access_to_iam() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            let user = seeded(w).user_id;
            w.users.get_mut(&user).unwrap().denied_operations = vec!["ListDynamicGroups".into()];
        },
    )
    .await;
    only_problem(
        &r,
        "iam_read",
        "you may not read the tenancy's dynamic groups",
    );
    let c = r.checks.iter().find(|c| c.id == "iam_read").unwrap();
    assert!(
        c.fix
            .as_ref()
            .unwrap()
            .contains("inspect dynamic-groups in tenancy"),
        "{c:?}"
    );
}

#[tokio::test]
async fn state_bucket_missing() {
    let r = doctor_with(
        |t| format!("{t}\nstate:\n  bucket: no-such-bucket\n"),
        |_, _| {},
    )
    .await;
    only_problem(&r, "state_bucket", "bucket no-such-bucket was not found");
}

#[tokio::test]
async fn wrong_credentials_stop_the_other_checks_as_could_not_tell() {
    // A key the simulator does not know: every call is refused with 401.
    let r = doctor_with(
        |t| t,
        |w, _| {
            let user = seeded(w).user_id;
            w.users.get_mut(&user).unwrap().api_keys.clear();
        },
    )
    .await;
    let st = statuses(&r);
    assert_eq!(
        st[0],
        ("credentials", Status::Problem),
        "{}",
        r.render_text()
    );
    assert!(st[1..].iter().all(|(_, s)| *s == Status::Unknown));
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn a_shape_without_a_known_limit_could_not_tell_and_exits_2() {
    let r = doctor_with(
        |t| t,
        |w, _| {
            let region = w.home_region.clone();
            // No e4 limit value known in this region: GetResourceAvailability says 404.
            w.resources
                .get_mut(world::LIMIT)
                .unwrap()
                .retain(|_, d| d.get("name") != Some(&Value::from("standard-e4-core-count")));
            let _ = region;
        },
    )
    .await;
    let limits = r.checks.iter().find(|c| c.id == "limits").unwrap();
    assert_eq!(limits.status, Status::Unknown, "{}", r.render_text());
    assert!(r.problems().is_empty(), "{}", r.render_text());
    assert_eq!(r.exit_code(), 2);
}
