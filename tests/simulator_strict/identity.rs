//! The strict simulator's IAM and notifications: policies' visibility, retry tokens of deleted
//! resources, topics' messages.

use super::*;

/// Policies: a group IAM can't see yet is refused as OCI refuses it (400 InvalidParameter,
/// "... does not exist under current compartment hierarchy"), and a statement may only grant in
/// the policy's compartment subtree.
#[tokio::test]
async fn policies_name_only_visible_groups_and_their_own_subtree() {
    let (sim, seeded) = start(SimConfig {
        iam_propagation_delay_ms: 60_000,
        ..SimConfig::default()
    })
    .await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let dg = json!({"compartmentId": seeded.tenancy_id, "name": "lagging", "description": "d",
                    "matchingRule": "instance.id = 'ocid1.instance.oc1..a'"});
    let (st, _, _) = s
        .send(&base, Call::new("POST", "/20160918/dynamicGroups").body(dg))
        .await;
    assert_eq!(st, 200);
    let policy = |comp: &str, name: &str, statement: String| {
        Call::new("POST", "/20160918/policies").body(json!({"compartmentId": comp, "name": name,
            "description": "d", "statements": [statement]}))
    };
    let st_in =
        |c: &str| format!("Allow dynamic-group lagging to use private-ips in compartment id {c}");
    let (st, e, _) = s
        .send(
            &base,
            policy(&seeded.compartment_id, "p1", st_in(&seeded.compartment_id)),
        )
        .await;
    assert_eq!((st, e["code"].as_str()), (400, Some("InvalidParameter")));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("does not exist under current compartment hierarchy"),
        "{e}"
    );
    sim.advance_clock(Duration::from_secs(61));
    // a sibling compartment is outside the policy's subtree; its own is fine
    let sibling = sim.with_world(|w| w.add_compartment("sibling", &seeded.tenancy_id));
    let (st, e, _) = s
        .send(&base, policy(&seeded.compartment_id, "p2", st_in(&sibling)))
        .await;
    assert_eq!(
        (st, e["code"].as_str()),
        (400, Some("InvalidParameter")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("subtree"), "{e}");
    let by_name = "Allow dynamic-group lagging to use vnics in compartment sibling".to_string();
    assert_eq!(
        s.send(&base, policy(&seeded.compartment_id, "p3", by_name.clone()))
            .await
            .0,
        400
    );
    assert_eq!(
        s.send(&base, policy(&seeded.tenancy_id, "p4", by_name))
            .await
            .0,
        200
    );
    let (st, e, _) = s
        .send(
            &base,
            policy(&seeded.compartment_id, "p5", st_in(&seeded.compartment_id)),
        )
        .await;
    assert_eq!(st, 200, "{e}");
}

/// A retry token whose resource was deleted since is invalidated: 409 InvalidatedRetryToken
/// (docs, apierrors.htm), not a replay of a resource that no longer exists.
#[tokio::test]
async fn a_retry_token_is_invalidated_when_its_resource_is_deleted() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let base = sim.base_url();
    let s = Signer::new(&seeded);
    let nsg = |token: &str| {
        Call::new("POST", "/20160918/networkSecurityGroups")
            .body(
                json!({"compartmentId": seeded.compartment_id, "vcnId": seeded.vcn_id,
                         "displayName": "n"}),
            )
            .header("opc-retry-token", token)
    };
    let (st, first, _) = s.send(&base, nsg("tok-nsg")).await;
    assert_eq!(st, 200);
    let (st, again, _) = s.send(&base, nsg("tok-nsg")).await;
    assert_eq!(
        (st, &again["id"]),
        (200, &first["id"]),
        "replayed while it exists"
    );
    let path = format!(
        "/20160918/networkSecurityGroups/{}",
        first["id"].as_str().unwrap()
    );
    assert_eq!(s.send(&base, Call::new("DELETE", path)).await.0, 204);
    let (st, e, _) = s.send(&base, nsg("tok-nsg")).await;
    assert_eq!(
        (st, e["code"].as_str()),
        (409, Some("InvalidatedRetryToken")),
        "{e}"
    );
    let (st, _, _) = s.send(&base, nsg("tok-new")).await;
    assert_eq!(st, 200, "a fresh token works");
    let _ = sim;
}

#[tokio::test]
async fn topics_keep_every_published_message() {
    let (sim, seeded) = start(SimConfig::default()).await;
    let s = Signer::new(&seeded);
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let made: Value = http
        .post(format!("{base}/_sim/topics"))
        .json(&json!({"name": "alerts"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let topic = made["id"].as_str().unwrap().to_string();
    let (st, got, h) = s
        .send(&base, Call::new("GET", format!("/20181201/topics/{topic}")))
        .await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(
        (&got["topicId"], &got["name"], &got["lifecycleState"]),
        (&json!(topic), &json!("alerts"), &json!("ACTIVE"))
    );
    assert!(got.get("id").is_none(), "a topic has topicId, not id");
    assert_eq!(got["etag"].as_str(), h["etag"].to_str().ok());
    let publish =
        |v: Value| Call::new("POST", format!("/20181201/topics/{topic}/messages")).body(v);
    let (st, err, _) = s.send(&base, publish(json!({"title": "no body"}))).await;
    assert_eq!((st, &err["code"]), (400, &json!("MissingParameter")));
    let big = "x".repeat(64 * 1024 + 1);
    assert_eq!(s.send(&base, publish(json!({ "body": big }))).await.0, 400);
    for n in 1..=2 {
        let (st, res, _) = s
            .send(
                &base,
                publish(
                    json!({"title": format!("takeover {n}"), "body": format!("node{n} is MASTER")}),
                ),
            )
            .await;
        assert_eq!(st, 200, "{res}");
        assert!(res["messageId"].is_string() && res["timeStamp"].is_string());
    }
    assert_eq!(
        s.send(
            &base,
            Call::new("GET", "/20181201/topics/ocid1.onstopic.oc1..nope")
        )
        .await
        .0,
        404
    );
    let kept: Value = http
        .get(format!("{base}/_sim/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["node1 is MASTER", "node2 is MASTER"]);
    assert_eq!(kept[0]["topicId"], topic.as_str());
    assert!(kept[0]["publishedBy"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
}
