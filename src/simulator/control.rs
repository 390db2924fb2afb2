//! The unsigned test-control API under `/_sim/`: request log, faults, latency, timing, clock,
//! IMDS aliases, world dump, seeding extras (subnets with an IPv6 prefix, topics, reserved
//! public IPs) and the messages published to topics — for harnesses that cannot reach the
//! in-process handle.

use serde_json::{json, Value};

use super::{lock, Inner, RandomFaults, Resp, ScriptedFault, Shared, SimConfig};

fn bad(msg: &str) -> Resp {
    Resp::json(400, &json!({"code": "InvalidParameter", "message": msg}))
}

/// The seeding routes' `compartmentId`, or the seeded compartment when the body names none.
fn compartment_or_seeded(parsed: &Value, world: &super::world::World) -> Option<String> {
    parsed
        .get("compartmentId")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| world.seeded.as_ref().map(|s| s.compartment_id.clone()))
}

pub(crate) fn handle(shared: &Shared, method: &str, path: &str, body: &[u8]) -> Resp {
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return bad(&format!("body is not JSON: {e}")),
        }
    };
    let queued = std::time::Instant::now();
    let mut g = lock(shared);
    let locked = std::time::Instant::now();
    // The two big reads (a harness polls them while the agent's calls wait for the same lock)
    // copy under the lock and serialise after it: serialising the log or the world in place
    // held the lock 4-15 ms and 10-30 ms (debug build, failover harness, `VIPSETUP_SIM_TIMINGS`).
    let answer = match (method, path.trim_end_matches('/')) {
        ("GET", "/_sim/log") => Answer::Log(g.log.clone()),
        ("GET", "/_sim/world") => {
            g.reload_if_changed();
            Answer::World(Box::new(g.world.clone()))
        }
        _ => Answer::Ready(route(&mut g, method, path, parsed)),
    };
    // control requests hold the same lock as the API's, so they are timed too
    if !path.starts_with("/_sim/timings") {
        g.record_timing(format!("{method} {path}"), queued, locked);
    }
    drop(g);
    match answer {
        Answer::Ready(r) => r,
        Answer::Log(log) => json_body(serde_json::to_vec(&log)),
        Answer::World(w) => json_body(serde_json::to_vec(&w)),
    }
}

/// A control answer, or what a big read copied under the lock to serialise after it.
enum Answer {
    Ready(Resp),
    Log(Vec<super::LogEntry>),
    World(Box<super::World>),
}

fn json_body(bytes: serde_json::Result<Vec<u8>>) -> Resp {
    let mut r = Resp::empty(200);
    r.body = bytes.unwrap_or_else(|_| b"null".to_vec());
    r
}

fn route(g: &mut Inner, method: &str, path: &str, parsed: Value) -> Resp {
    match (method, path.trim_end_matches('/')) {
        ("GET", "/_sim/health") => Resp::text(200, "ok"),
        ("DELETE", "/_sim/log") => {
            g.log.clear();
            Resp::empty(204)
        }
        ("GET", "/_sim/timings") => Resp::json(
            200,
            &serde_json::to_value(g.timings.as_deref().unwrap_or_default()).unwrap_or_default(),
        ),
        ("DELETE", "/_sim/timings") => {
            if let Some(t) = g.timings.as_mut() {
                t.clear();
            }
            Resp::empty(204)
        }
        ("GET", "/_sim/seeded") => match &g.world.seeded {
            Some(s) => Resp::json(200, &serde_json::to_value(s).unwrap_or_default()),
            None => Resp::json(404, &json!({"code": "NotFound", "message": "this world was not made by seeding"})),
        },
        ("GET", "/_sim/config") => Resp::json(200, &serde_json::to_value(&g.config).unwrap_or_default()),
        ("PUT", "/_sim/config") | ("PATCH", "/_sim/config") => {
            // merge the given fields into the current config
            let mut cur = serde_json::to_value(&g.config).unwrap_or_default();
            if let (Some(c), Some(n)) = (cur.as_object_mut(), parsed.as_object()) {
                for (k, v) in n {
                    c.insert(k.clone(), v.clone());
                }
            }
            match serde_json::from_value::<SimConfig>(cur) {
                Ok(c) => {
                    g.config = c;
                    Resp::json(200, &serde_json::to_value(&g.config).unwrap_or_default())
                }
                Err(e) => bad(&format!("bad config: {e}")),
            }
        }
        ("GET", "/_sim/faults") => Resp::json(
            200,
            &json!({"scripted": g.faults, "random": g.random_faults}),
        ),
        ("POST", "/_sim/faults") => match serde_json::from_value::<ScriptedFault>(parsed) {
            Ok(f) => {
                g.faults.push(f);
                Resp::empty(204)
            }
            Err(e) => bad(&format!("expected {{\"operation\",\"count\",\"fault\":{{\"kind\":\"status\"|\"drop\",...}}}}: {e}")),
        },
        ("PUT", "/_sim/faults/random") => match serde_json::from_value::<RandomFaults>(parsed) {
            Ok(f) if (0.0..=1.0).contains(&f.rate) => {
                g.random_faults = Some(f);
                Resp::empty(204)
            }
            Ok(_) => bad("rate must be between 0 and 1"),
            Err(e) => bad(&format!("expected {{\"rate\",\"operations\",\"faults\"}}: {e}")),
        },
        ("DELETE", "/_sim/faults") => {
            g.faults.clear();
            g.random_faults = None;
            Resp::empty(204)
        }
        ("PUT", "/_sim/latency") => match serde_json::from_value::<std::collections::BTreeMap<String, u64>>(parsed) {
            Ok(m) => {
                g.latency = m;
                Resp::empty(204)
            }
            Err(e) => bad(&format!("expected {{\"<operation or *>\": milliseconds}}: {e}")),
        },
        ("POST", "/_sim/clock/advance") => match parsed.get("ms").and_then(Value::as_i64) {
            Some(ms) => {
                g.world.clock_offset_ms += ms;
                g.persist();
                Resp::json(200, &json!({"clockOffsetMs": g.world.clock_offset_ms}))
            }
            None => bad("expected {\"ms\": N}"),
        },
        ("POST", "/_sim/sessions") => {
            let user = parsed.get("userId").and_then(Value::as_str).map(String::from);
            let user = user.or_else(|| g.world.seeded.as_ref().map(|s| s.user_id.clone()));
            let key = parsed.get("publicKey").and_then(Value::as_str);
            match (user, key) {
                (Some(u), Some(k)) => match super::issue_user_session(g, &u, k) {
                    Ok(token) => Resp::json(200, &json!({"token": token})),
                    Err(e) => bad(&e),
                },
                _ => bad("expected {\"userId\" (default: the seeded user), \"publicKey\": SPKI PEM}"),
            }
        }
        ("POST", "/_sim/imds/aliases") => {
            let ip = parsed.get("ip").and_then(Value::as_str);
            let inst = parsed.get("instanceId").and_then(Value::as_str);
            match (ip, inst) {
                (Some(ip), Some(inst)) => {
                    g.world.imds_aliases.insert(ip.to_string(), inst.to_string());
                    g.persist();
                    Resp::empty(204)
                }
                _ => bad("expected {\"ip\", \"instanceId\"}"),
            }
        }
        // What the hypervisor reports (the first-boot twin plays it): the VM of `instanceId`
        // has exited (a STOPPING instance is STOPPED now, a TERMINATING one TERMINATED) or has
        // started (a PROVISIONING or STARTING one is RUNNING now). With the delays set long (OCI
        // forces a SOFTSTOP off after 15 minutes: oci-python-sdk ComputeClient.instance_action),
        // the states then last exactly as long as the VM takes.
        ("POST", "/_sim/instances/power") => {
            let inst = parsed.get("instanceId").and_then(Value::as_str).map(String::from);
            let event = parsed.get("event").and_then(Value::as_str).map(String::from);
            match (inst, event.as_deref()) {
                (Some(inst), Some(ev @ ("exited" | "started"))) => {
                    let now = g.world.now_ms();
                    let etag = g.world.new_etag();
                    let Some(d) = g.world.get_mut(super::world::INSTANCE, &inst) else {
                        return Resp::json(404, &json!({"code": "NotFound", "message": format!("no instance {inst}")}));
                    };
                    let keys: &[&str] = if ev == "exited" {
                        &["_terminatedAtMs", "_stoppedAtMs"]
                    } else {
                        &["_runningAtMs"]
                    };
                    let mut changed = false;
                    for k in keys {
                        if d.get(*k).and_then(Value::as_i64).is_some_and(|t| t > now) {
                            d.insert((*k).into(), json!(now));
                            changed = true;
                            break;
                        }
                    }
                    if changed {
                        d.insert("_etag".into(), json!(etag));
                        g.persist();
                    }
                    let state = g
                        .world
                        .get(super::world::INSTANCE, &inst)
                        .map(|d| super::instance_state(d, now))
                        .unwrap_or("TERMINATED");
                    Resp::json(200, &json!({"lifecycleState": state, "changed": changed}))
                }
                _ => bad("expected {\"instanceId\", \"event\": \"exited\"|\"started\"}"),
            }
        }
        ("POST", "/_sim/imds/not-found") => match parsed.get("ms").and_then(Value::as_i64) {
            Some(ms) if ms >= 0 => {
                g.imds_not_found_until_ms = super::world::wall_ms() + ms;
                Resp::json(200, &json!({"untilMs": g.imds_not_found_until_ms}))
            }
            _ => bad("expected {\"ms\": N} with N >= 0"),
        },
        ("POST", "/_sim/subnets") => {
            let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(String::from);
            let public = parsed.get("prohibitPublicIpOnVnic").and_then(Value::as_bool) == Some(false);
            match (field("vcnId"), field("cidr"), field("name")) {
                (Some(vcn), Some(cidr), Some(name)) => match g.world.add_subnet(&vcn, &cidr, &name) {
                    Ok(id) => {
                        if let Some(v6) = field("ipv6CidrBlock") {
                            let vcn_prefix = g
                                .world
                                .get(super::world::VCN, &vcn)
                                .and_then(|v| v.get("ipv6CidrBlocks"))
                                .and_then(|b| b.get(0))
                                .and_then(Value::as_str)
                                .map(String::from)
                                .or_else(|| {
                                    super::world::Cidr6::parse(&v6).map(|c| {
                                        super::world::Cidr6 { addr: c.addr & (u128::MAX << 72), prefix: 56 }.to_string()
                                    })
                                })
                                .unwrap_or_default();
                            if let Err(e) = g.world.enable_ipv6(&vcn, &vcn_prefix, &id, &v6) {
                                g.world.remove(super::world::SUBNET, &id);
                                return bad(&e.to_string());
                            }
                        }
                        if let Some(d) = g.world.get_mut(super::world::SUBNET, &id) {
                            d.insert("prohibitPublicIpOnVnic".into(), json!(!public));
                            d.insert("prohibitInternetIngress".into(), json!(!public));
                            if let Some(label) = parsed.get("dnsLabel").and_then(Value::as_str) {
                                d.insert("dnsLabel".into(), json!(label));
                            }
                        }
                        g.persist();
                        Resp::json(200, &json!({"id": id}))
                    }
                    Err(e) => bad(&e.to_string()),
                },
                _ => bad("expected {\"vcnId\", \"cidr\", \"name\", \"prohibitPublicIpOnVnic\" (default true), \"dnsLabel\" (default none), \"ipv6CidrBlock\" (a /64, default none)}"),
            }
        }
        ("POST", "/_sim/topics") => {
            let comp = compartment_or_seeded(&parsed, &g.world);
            match comp {
                Some(c) => {
                    let name = parsed.get("name").and_then(Value::as_str).unwrap_or("vipsetup-alerts");
                    let id = g.world.add_topic(&c, name);
                    g.persist();
                    Resp::json(200, &json!({"id": id}))
                }
                None => bad("expected {\"compartmentId\" (default: the seeded one), \"name\"}"),
            }
        }
        ("POST", "/_sim/publicIps") => {
            let comp = compartment_or_seeded(&parsed, &g.world);
            match comp {
                Some(c) => {
                    let name = parsed.get("displayName").and_then(Value::as_str).unwrap_or("reserved");
                    let (id, address) = g.world.add_reserved_public_ip(&c, name);
                    g.persist();
                    Resp::json(200, &json!({"id": id, "ipAddress": address}))
                }
                None => bad("expected {\"compartmentId\" (default: the seeded one), \"displayName\"}"),
            }
        }
        ("GET", "/_sim/messages") => {
            g.reload_if_changed();
            let mut all: Vec<Value> = g
                .world
                .all(super::world::MESSAGE)
                .map(|m| Value::Object(m.iter().filter(|(k, _)| !k.starts_with('_') || k.as_str() == "_seq").map(|(k, v)| (k.clone(), v.clone())).collect()))
                .collect();
            // in publishing order (`_seq` is the world's counter when the message was kept)
            all.sort_by_key(|m| m.get("_seq").and_then(Value::as_u64).unwrap_or(0));
            Resp::json(200, &Value::Array(all))
        }
        _ => Resp::json(404, &json!({"code": "NotFound", "message": format!("no control endpoint {method} {path}")})),
    }
}
