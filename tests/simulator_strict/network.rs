//! The strict simulator's network: VNICs and hostnames, the seeded routing, IPv6 addresses.

use super::*;

/// VNICs and private IPs live in the subnet's compartment, the VNIC attachment in the
/// instance's (docs, Network/Tasks/managingVNICs.htm); a hostname label needs a subnet with a
/// DNS label and is unique in the subnet (SDK docstrings, terraform-provider-oci#460, #1348).
#[tokio::test]
async fn vnics_live_with_their_subnet_and_hostnames_follow_the_dns_rules() {
    use vipsetup::simulator::world;
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let (net, bare) = sim.with_world(|w| {
        let net = w.add_compartment("network", &seeded.tenancy_id);
        w.get_mut(world::SUBNET, &seeded.subnet_id)
            .unwrap()
            .insert("compartmentId".into(), json!(net));
        // add_subnet makes a subnet without a DNS label
        let bare = w.add_subnet(&seeded.vcn_id, "10.0.2.0/24", "bare").unwrap();
        (net, bare)
    });
    let launch = |name: &str, ip: &str, subnet: &str, label: Option<&str>| {
        let mut b = launch_body(&seeded, name, ip, subnet);
        if let Some(l) = label {
            b["createVnicDetails"]["hostnameLabel"] = json!(l);
        }
        Call::new("POST", "/20160918/instances").body(b)
    };
    let (st, a, _) = s
        .send(
            &base,
            launch("a", "10.0.1.10", &seeded.subnet_id, Some("web1")),
        )
        .await;
    assert_eq!(st, 200, "{a}");
    let va = primary_vnic(&s, &base, &seeded, a["id"].as_str().unwrap()).await;
    assert_eq!(va["compartmentId"], json!(net), "{va}");
    assert_eq!(va["hostnameLabel"], json!("web1"));
    let w = sim.world();
    let att = w
        .all(world::VNIC_ATTACHMENT)
        .find(|d| d["instanceId"] == a["id"])
        .unwrap();
    assert_eq!(att["compartmentId"], json!(seeded.compartment_id));
    assert!(w
        .all(world::PRIVATE_IP)
        .filter(|p| p["vnicId"] == va["id"])
        .all(|p| p["compartmentId"] == json!(net)));

    // a label taken in the subnet (any case), an invalid label, a subnet without a DNS label
    for (label, why) in [
        ("web1", "taken"),
        ("WEB1", "taken, other case"),
        ("-x", "invalid"),
    ] {
        let (st, e, _) = s
            .send(
                &base,
                launch("b", "10.0.1.11", &seeded.subnet_id, Some(label)),
            )
            .await;
        assert_eq!(
            (st, e["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{why}: {e}"
        );
    }
    let (st, e, _) = s
        .send(&base, launch("c", "10.0.2.10", &bare, Some("web3")))
        .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("DNS label"), "{e}");
    // without a label the DNS-less subnet is fine
    assert_eq!(
        s.send(&base, launch("c", "10.0.2.10", &bare, None)).await.0,
        200
    );
    // the deprecated top-level label must match the VNIC's
    let mut both = launch_body(&seeded, "d", "10.0.1.12", &seeded.subnet_id);
    both["createVnicDetails"]["hostnameLabel"] = json!("web4");
    both["hostnameLabel"] = json!("web5");
    let (st, _, _) = s
        .send(&base, Call::new("POST", "/20160918/instances").body(both))
        .await;
    assert_eq!(st, 400);
    // secondary private IPs: the same rules
    let create = |label: &str| {
        Call::new("POST", "/20160918/privateIps")
            .body(json!({"vnicId": va["id"], "ipAddress": "10.0.1.50", "hostnameLabel": label}))
    };
    assert_eq!(s.send(&base, create("web1")).await.0, 400);
    let (st, vip, _) = s.send(&base, create("vip")).await;
    assert_eq!((st, &vip["compartmentId"]), (200, &json!(net)));
    // relabelling to its own label is fine, to another's is not
    let path = format!("/20160918/privateIps/{}", vip["id"].as_str().unwrap());
    let relabel = |l: &str| Call::new("PUT", path.clone()).body(json!({"hostnameLabel": l}));
    assert_eq!(s.send(&base, relabel("vip")).await.0, 200);
    assert_eq!(s.send(&base, relabel("web1")).await.0, 400);
    // a terminated instance's hostname is free again once it is gone
    let del = format!("/20160918/instances/{}", a["id"].as_str().unwrap());
    assert_eq!(s.send(&base, Call::new("DELETE", del)).await.0, 204);
    let (st, e, _) = s
        .send(
            &base,
            launch("b", "10.0.1.11", &seeded.subnet_id, Some("web1")),
        )
        .await;
    assert_eq!(st, 200, "{e}");
}

/// Routing is read as OCI serves it: the subnet's route table and gateways exist, lists need
/// their compartment, and unknown ids are 404.
#[tokio::test]
async fn route_tables_and_gateways_are_served_from_the_seed() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let (_, subnet, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/subnets/{}", seeded.subnet_id)),
        )
        .await;
    let rt_path = format!(
        "/20160918/routeTables/{}",
        subnet["routeTableId"].as_str().unwrap()
    );
    let (st, rt, _) = s.send(&base, Call::new("GET", rt_path)).await;
    assert_eq!(st, 200, "{rt}");
    for rule in rt["routeRules"].as_array().unwrap() {
        let entity = rule["networkEntityId"].as_str().unwrap();
        let kind = if entity.starts_with("ocid1.natgateway.") {
            "natGateways"
        } else {
            "serviceGateways"
        };
        let (st, g, _) = s
            .send(
                &base,
                Call::new("GET", format!("/20160918/{kind}/{entity}")),
            )
            .await;
        assert_eq!((st, g["lifecycleState"].as_str()), (200, Some("AVAILABLE")));
    }
    let (st, e, _) = s
        .send(&base, Call::new("GET", "/20160918/routeTables"))
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("MissingParameter")));
    let (st, _, _) = s
        .send(
            &base,
            Call::new("GET", "/20160918/natGateways/ocid1.natgateway.oc1..none"),
        )
        .await;
    assert_eq!(st, 404);
    let (st, list, _) = s
        .send(
            &base,
            Call::new(
                "GET",
                format!(
                    "/20160918/dhcps?compartmentId={}&vcnId={}",
                    seeded.compartment_id, seeded.vcn_id
                ),
            ),
        )
        .await;
    assert_eq!((st, list.as_array().map(Vec::len)), (200, Some(1)));
}

#[tokio::test]
async fn ipv6_addresses_move_between_vnics_of_their_subnet() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let s = Signer::new(&seeded);
    let base = sim.base_url();
    let (_, subnet, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/subnets/{}", seeded.subnet_id)),
        )
        .await;
    assert_eq!(subnet["ipv6CidrBlock"], "2603:c020:1:1::/64", "{subnet}");
    assert_eq!(subnet["ipv6CidrBlocks"], json!(["2603:c020:1:1::/64"]));
    let (_, vcn, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/vcns/{}", seeded.vcn_id)),
        )
        .await;
    assert_eq!(vcn["ipv6CidrBlocks"], json!(["2603:c020:1::/56"]));
    let mut vnics = Vec::new();
    for (name, ip) in [("a", "10.0.1.10"), ("b", "10.0.1.11")] {
        let (st, inst) = launch(&s, &base, &seeded, name, ip, &seeded.subnet_id).await;
        assert_eq!(st, 200, "{inst}");
        let v = primary_vnic(&s, &base, &seeded, inst["id"].as_str().unwrap()).await;
        vnics.push(v["id"].as_str().unwrap().to_string());
    }
    let create = |vnic: &str, ip: Option<&str>| {
        let mut b = json!({"vnicId": vnic, "freeformTags": {"vipsetup-pair": "p"}});
        if let Some(ip) = ip {
            b["ipAddress"] = json!(ip);
        }
        Call::new("POST", "/20160918/ipv6").body(b)
    };
    assert_eq!(
        s.send(&base, create(&vnics[0], Some("2603:c020:1:2::10")))
            .await
            .0,
        400,
        "outside the subnet's prefix"
    );
    assert_eq!(
        s.send(&base, create(&vnics[0], Some("10.0.1.50"))).await.0,
        400,
        "not IPv6"
    );
    assert_eq!(
        s.send(&base, create(&vnics[0], Some("2603:c020:1:1::")))
            .await
            .0,
        400,
        "the subnet-router anycast address"
    );
    let (st, v6, h) = s
        .send(&base, create(&vnics[0], Some("2603:c020:1:1:0:0:0:10")))
        .await;
    assert_eq!(st, 200, "{v6}");
    assert_eq!(v6["ipAddress"], "2603:c020:1:1::10", "canonical form");
    assert_eq!(v6["vnicId"], vnics[0].as_str());
    assert_eq!(v6["lifecycleState"], "AVAILABLE");
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(
        s.send(&base, create(&vnics[1], Some("2603:c020:1:1::10")))
            .await
            .0,
        409,
        "taken in the subnet"
    );
    let (st, auto, _) = s.send(&base, create(&vnics[1], None)).await;
    assert_eq!(st, 200);
    assert_ne!(auto["ipAddress"], v6["ipAddress"]);
    assert_eq!(
        s.send(&base, Call::new("GET", "/20160918/ipv6")).await.0,
        400,
        "a filter is required"
    );
    let (st, by_addr, _) = s
        .send(
            &base,
            Call::new(
                "GET",
                format!(
                    "/20160918/ipv6?subnetId={}&ipAddress=2603:c020:1:1:0::10",
                    seeded.subnet_id
                ),
            ),
        )
        .await;
    assert_eq!((st, by_addr.as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(by_addr[0]["id"], v6["id"]);

    // The move: UpdateIpv6 with the other VNIC, guarded by the etag.
    let path = format!("/20160918/ipv6/{}", v6["id"].as_str().unwrap());
    let move_to = |vnic: &str| Call::new("PUT", &path).body(json!({"vnicId": vnic}));
    assert_eq!(
        s.send(&base, move_to(&vnics[1]).header("if-match", "stale"))
            .await
            .0,
        412
    );
    let (st, moved, _) = s
        .send(&base, move_to(&vnics[1]).header("if-match", &etag))
        .await;
    assert_eq!(st, 200, "{moved}");
    assert_eq!(moved["vnicId"], vnics[1].as_str());
    assert_eq!(moved["freeformTags"], json!({"vipsetup-pair": "p"}), "kept");
    let (_, on_b, _) = s
        .send(
            &base,
            Call::new("GET", format!("/20160918/ipv6?vnicId={}", vnics[1])),
        )
        .await;
    assert_eq!(on_b.as_array().map(Vec::len), Some(2));

    // Not into another subnet, and not created where the subnet has no IPv6 prefix.
    let plain = sim.with_world(|w| {
        w.add_subnet(&seeded.vcn_id, "10.0.9.0/24", "v4only")
            .unwrap()
    });
    let (_, other) = launch(&s, &base, &seeded, "c", "10.0.9.10", &plain).await;
    let other_vnic = primary_vnic(&s, &base, &seeded, other["id"].as_str().unwrap()).await;
    let other_vnic = other_vnic["id"].as_str().unwrap();
    assert_eq!(s.send(&base, move_to(other_vnic)).await.0, 400);
    let (st, err, _) = s.send(&base, create(other_vnic, None)).await;
    assert_eq!(st, 400);
    assert!(
        err["message"].as_str().unwrap().contains("no IPv6 prefix"),
        "{err}"
    );

    assert_eq!(s.send(&base, Call::new("DELETE", &path)).await.0, 204);
    assert_eq!(s.send(&base, Call::new("GET", &path)).await.0, 404);
}
