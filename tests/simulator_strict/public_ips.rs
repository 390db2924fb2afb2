//! The strict simulator's instances in place and public IPs: power actions, in-place updates,
//! ephemeral and reserved public IPs following their private IPs.

use super::*;

#[tokio::test]
async fn power_actions_updates_in_place_and_public_ips_follow_oci_rules() {
    let (sim, seeded) = start(SimConfig {
        provisioning_delay_ms: 3_600_000,
        terminating_delay_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await;
    let s = Signer::new(&seeded);
    let base = sim.base_url();
    let hours = || sim.advance_clock(Duration::from_secs(7200));
    let (st, inst) = launch(&s, &base, &seeded, "n", "10.0.1.10", &seeded.subnet_id).await;
    assert_eq!(st, 200);
    let id = inst["id"].as_str().unwrap().to_string();
    let path = format!("/20160918/instances/{id}");
    let state = |v: &Value| v["lifecycleState"].as_str().unwrap_or_default().to_string();
    let action = |a: &str| Call::new("POST", format!("{path}?action={a}"));

    // Power actions only from the states OCI allows them in.
    assert_eq!(
        s.send(&base, action("SOFTSTOP")).await.0,
        409,
        "PROVISIONING"
    );
    hours();
    assert_eq!(s.send(&base, action("FLY")).await.0, 400);
    assert_eq!(
        s.send(&base, action("DIAGNOSTICREBOOT")).await.0,
        400,
        "not simulated"
    );
    // RESET reboots: STARTING, then RUNNING again.
    let (st, got, _) = s.send(&base, action("RESET")).await;
    assert_eq!((st, state(&got).as_str()), (200, "STARTING"));
    hours();
    assert_eq!(
        state(&s.send(&base, Call::new("GET", &path)).await.1),
        "RUNNING"
    );
    let (st, got, _) = s.send(&base, action("SOFTSTOP")).await;
    assert_eq!((st, state(&got).as_str()), (200, "STOPPING"));
    let (st, got, _) = s.send(&base, action("SOFTSTOP")).await;
    assert_eq!(
        (st, state(&got).as_str()),
        (200, "STOPPING"),
        "repeat is a no-op"
    );
    hours();
    assert_eq!(
        state(&s.send(&base, Call::new("GET", &path)).await.1),
        "STOPPED"
    );
    let vnic = primary_vnic(&s, &base, &seeded, &id).await;
    assert_eq!(
        vnic["lifecycleState"], "AVAILABLE",
        "a stopped instance keeps its vnic"
    );
    let (_, got, _) = s.send(&base, action("START")).await;
    assert_eq!(state(&got), "STARTING");
    hours();

    // A flex shape's size changes in place and reboots a running instance.
    let resize = |ocpus: f64| {
        Call::new("PUT", &path).body(json!({"shapeConfig": {"ocpus": ocpus, "memoryInGBs": 16}}))
    };
    assert_eq!(s.send(&base, resize(-1.0)).await.0, 400);
    let (st, got, _) = s.send(&base, resize(2.0)).await;
    assert_eq!(st, 200);
    assert_eq!(got["shapeConfig"]["ocpus"], 2.0);
    assert_eq!(state(&got), "STARTING", "rebooted for the new size");
    hours();
    let (_, got, _) = s
        .send(
            &base,
            Call::new("PUT", &path).body(json!({"freeformTags": {"a": "b"}})),
        )
        .await;
    assert_eq!(
        (state(&got).as_str(), &got["freeformTags"]),
        ("RUNNING", &json!({"a": "b"}))
    );

    // NSG membership: at most five, each an NSG that exists.
    let vnic_path = format!("/20160918/vnics/{}", vnic["id"].as_str().unwrap());
    let nsgs = |ids: Vec<&str>| Call::new("PUT", &vnic_path).body(json!({ "nsgIds": ids }));
    assert_eq!(
        s.send(&base, nsgs(vec!["ocid1.networksecuritygroup.oc1..nope"]))
            .await
            .0,
        400
    );
    let (_, nsg, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/networkSecurityGroups").body(json!({
                "compartmentId": seeded.compartment_id, "vcnId": seeded.vcn_id})),
        )
        .await;
    let nsg_id = nsg["id"].as_str().unwrap();
    assert_eq!(s.send(&base, nsgs(vec![nsg_id; 6])).await.0, 400);
    let (st, got, _) = s.send(&base, nsgs(vec![nsg_id])).await;
    assert_eq!((st, &got["nsgIds"]), (200, &json!([nsg_id])));

    // Ephemeral public IPs: primary private IPs only, one each, not in a private subnet.
    let private_ips = |vnic: &Value| {
        Call::new(
            "GET",
            format!(
                "/20160918/privateIps?vnicId={}",
                vnic["id"].as_str().unwrap()
            ),
        )
    };
    let public = |pip: &str, lifetime: &str| {
        Call::new("POST", "/20160918/publicIps").body(json!({
            "compartmentId": seeded.compartment_id, "lifetime": lifetime, "privateIpId": pip}))
    };
    let (_, ips, _) = s.send(&base, private_ips(&vnic)).await;
    let private_primary = ips[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.send(&base, public(&private_primary, "EPHEMERAL")).await.0,
        400,
        "prohibitPublicIpOnVnic"
    );
    let public_subnet = sim.with_world(|w| {
        let id = w
            .add_subnet(&seeded.vcn_id, "10.0.7.0/24", "public")
            .unwrap();
        w.get_mut(vipsetup::simulator::world::SUBNET, &id)
            .unwrap()
            .insert("prohibitPublicIpOnVnic".into(), json!(false));
        id
    });
    let (_, p) = launch(&s, &base, &seeded, "p", "10.0.7.10", &public_subnet).await;
    hours();
    let p_vnic = primary_vnic(&s, &base, &seeded, p["id"].as_str().unwrap()).await;
    assert!(
        p_vnic["publicIp"].is_null(),
        "launched with assignPublicIp false"
    );
    let (_, ips, _) = s.send(&base, private_ips(&p_vnic)).await;
    let primary = ips[0]["id"].as_str().unwrap().to_string();
    let (_, secondary, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/privateIps")
                .body(json!({"vnicId": p_vnic["id"], "ipAddress": "10.0.7.11"})),
        )
        .await;
    assert_eq!(
        s.send(
            &base,
            public(secondary["id"].as_str().unwrap(), "EPHEMERAL")
        )
        .await
        .0,
        400
    );
    assert_eq!(s.send(&base, public(&primary, "FOREVER")).await.0, 400);
    let (st, pub_ip, _) = s.send(&base, public(&primary, "EPHEMERAL")).await;
    assert_eq!(st, 200, "{pub_ip}");
    assert_eq!(s.send(&base, public(&primary, "EPHEMERAL")).await.0, 409);
    let address = pub_ip["ipAddress"].as_str().unwrap().to_string();
    let p_vnic_path = format!("/20160918/vnics/{}", p_vnic["id"].as_str().unwrap());
    assert_eq!(
        s.send(&base, Call::new("GET", &p_vnic_path)).await.1["publicIp"],
        address.as_str()
    );
    let by_address = || {
        Call::new("POST", "/20160918/publicIps/actions/getByIpAddress")
            .body(json!({"ipAddress": address}))
    };
    assert_eq!(s.send(&base, by_address()).await.0, 200);
    // It goes away with its instance.
    let p_path = format!("/20160918/instances/{}", p["id"].as_str().unwrap());
    assert_eq!(s.send(&base, Call::new("DELETE", &p_path)).await.0, 204);
    assert_eq!(s.send(&base, Call::new("DELETE", &path)).await.0, 204);
    assert_eq!(s.send(&base, action("START")).await.0, 409, "TERMINATING");
    assert_eq!(s.send(&base, resize(1.0)).await.0, 409, "TERMINATING");
    hours();
    assert_eq!(s.send(&base, by_address()).await.0, 404);

    // Without `assignPublicIp`, a launch in a subnet that allows public IPs gets one.
    let mut body = launch_body(&seeded, "m", "10.0.7.12", &public_subnet);
    body["createVnicDetails"]
        .as_object_mut()
        .unwrap()
        .remove("assignPublicIp");
    let (_, m, _) = s
        .send(&base, Call::new("POST", "/20160918/instances").body(body))
        .await;
    hours();
    let v = primary_vnic(&s, &base, &seeded, m["id"].as_str().unwrap()).await;
    assert!(v["publicIp"].is_string(), "{v}");
}

#[tokio::test]
async fn a_reserved_public_ip_follows_its_private_ip_and_survives_it() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let s = Signer::new(&seeded);
    let base = sim.base_url();
    let public_subnet = sim.with_world(|w| {
        let id = w
            .add_subnet(&seeded.vcn_id, "10.0.7.0/24", "public")
            .unwrap();
        w.get_mut(vipsetup::simulator::world::SUBNET, &id)
            .unwrap()
            .insert("prohibitPublicIpOnVnic".into(), json!(false));
        id
    });
    let mut vnics = Vec::new();
    for (name, ip) in [("a", "10.0.7.10"), ("b", "10.0.7.11")] {
        let mut body = launch_body(&seeded, name, ip, &public_subnet);
        body["createVnicDetails"]["assignPublicIp"] = json!(false);
        let (_, inst, _) = s
            .send(&base, Call::new("POST", "/20160918/instances").body(body))
            .await;
        let v = primary_vnic(&s, &base, &seeded, inst["id"].as_str().unwrap()).await;
        vnics.push(v["id"].as_str().unwrap().to_string());
    }
    let (_, vip, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/privateIps")
                .body(json!({"vnicId": vnics[0], "ipAddress": "10.0.7.20"})),
        )
        .await;
    let vip_id = vip["id"].as_str().unwrap().to_string();
    let (st, reserved, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/publicIps").body(json!({
                "compartmentId": seeded.compartment_id, "lifetime": "RESERVED",
                "displayName": "vip-public"})),
        )
        .await;
    assert_eq!(st, 200, "{reserved}");
    assert_eq!(
        (
            &reserved["lifecycleState"],
            &reserved["scope"],
            &reserved["privateIpId"]
        ),
        (&json!("AVAILABLE"), &json!("REGION"), &Value::Null)
    );
    let path = format!("/20160918/publicIps/{}", reserved["id"].as_str().unwrap());
    let assign = |pip: &str| Call::new("PUT", &path).body(json!({ "privateIpId": pip }));
    let (st, got, _) = s.send(&base, assign(&vip_id)).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(
        (&got["lifecycleState"], &got["privateIpId"]),
        (&json!("ASSIGNED"), &json!(vip_id))
    );
    // One public IP per private IP.
    let (_, second, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/publicIps").body(json!({
                "compartmentId": seeded.compartment_id, "lifetime": "RESERVED",
                "privateIpId": vip_id})),
        )
        .await;
    assert_eq!(second["code"], "Conflict", "{second}");

    // The VIP moves to the other VNIC: the public IP still names it, so it followed.
    let (st, _, _) = s
        .send(
            &base,
            Call::new("PUT", format!("/20160918/privateIps/{vip_id}"))
                .body(json!({"vnicId": vnics[1]})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, by_private, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/publicIps/actions/getByPrivateIpId")
                .body(json!({ "privateIpId": vip_id })),
        )
        .await;
    assert_eq!((st, &by_private["id"]), (200, &reserved["id"]));
    let (_, moved_vip, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/privateIps/{vip_id}")),
        )
        .await;
    assert_eq!(moved_vip["vnicId"], vnics[1].as_str());

    // Unassigning returns it to the pool; deleting its private IP does the same.
    let (_, got, _) = s.send(&base, assign("")).await;
    assert_eq!(
        (&got["lifecycleState"], &got["privateIpId"]),
        (&json!("AVAILABLE"), &Value::Null)
    );
    s.send(&base, assign(&vip_id)).await;
    assert_eq!(
        s.send(
            &base,
            Call::new("DELETE", format!("/20160918/privateIps/{vip_id}"))
        )
        .await
        .0,
        204
    );
    let (st, got, _) = s.send(&base, Call::new("GET", &path)).await;
    assert_eq!((st, &got["lifecycleState"]), (200, &json!("AVAILABLE")));

    // An ephemeral one cannot be moved; a private subnet takes no public IP.
    let (_, ips, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/privateIps?vnicId={}", vnics[0])),
        )
        .await;
    let primary = ips[0]["id"].as_str().unwrap().to_string();
    let (st, eph, _) = s
        .send(
            &base,
            Call::new("POST", "/20160918/publicIps").body(json!({
                "compartmentId": seeded.compartment_id, "lifetime": "EPHEMERAL",
                "privateIpId": primary})),
        )
        .await;
    assert_eq!(st, 200, "{eph}");
    let (_, ips_b, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/privateIps?vnicId={}", vnics[1])),
        )
        .await;
    let eph_path = format!("/20160918/publicIps/{}", eph["id"].as_str().unwrap());
    assert_eq!(
        s.send(
            &base,
            Call::new("PUT", &eph_path).body(json!({"privateIpId": ips_b[0]["id"]}))
        )
        .await
        .0,
        400
    );
    let (_, inst) = launch(
        &s,
        &base,
        &seeded,
        "private",
        "10.0.1.30",
        &seeded.subnet_id,
    )
    .await;
    let pv = primary_vnic(&s, &base, &seeded, inst["id"].as_str().unwrap()).await;
    let (_, pips, _) = s
        .send(
            &base,
            Call::new(
                "GET",
                format!("/20160918/privateIps?vnicId={}", pv["id"].as_str().unwrap()),
            ),
        )
        .await;
    let (st, _, _) = s.send(&base, assign(pips[0]["id"].as_str().unwrap())).await;
    assert_eq!(st, 400, "prohibitPublicIpOnVnic");
    assert_eq!(s.send(&base, Call::new("DELETE", &path)).await.0, 204);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 404);
}
