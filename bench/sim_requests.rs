//! Benchmark: what the OCI simulator itself costs per request on the agent's path, in the shape
//! of the failover harness (`bench/failover.sh`): a pair applied with 4 IPv4 + 1 IPv6 VIPs, the
//! world kept in a file with a 50 ms write-behind, an instance principal calling. Each round is
//! a takeover (the VIPs' `UpdatePrivateIp` / `UpdateIpv6` sent at once, as the agent sends them)
//! then a recheck (`GetPrivateIp`, `ListPrivateIps` by VNIC, `ListIpv6s` by VNIC). Prints, per
//! operation, the time the simulator held its one lock (p50 / p95, from its own timings, so the
//! client's cost is not counted) and the takeover's wall time as the client saw it.
//! Run with `bench/sim-requests.sh` (`ROUNDS`, default 200; `VIPS`, default `4+1`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use vipsetup::engine::plan::Plan;
use vipsetup::engine::progress::Silent;
use vipsetup::oci::models::{UpdateIpv6Details, UpdatePrivateIpDetails};
use vipsetup::oci::{
    AuthMethod, AuthOptions, Client, ListIpv6sRequest, ListPrivateIpsRequest, RetryPolicy,
};
use vipsetup::ops::{blueprint_view, simulate, target};
use vipsetup::simulator::{world, SimConfig, Simulator};

fn yes(_: &Plan) -> bool {
    true
}

/// The quickstart blueprint with `v4` IPv4 and `v6` IPv6 VIPs (the harness's addresses).
fn blueprint(dir: &Path, v4: u8, v6: u8) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(
        root.join("keys/quickstart.pub"),
        dir.join("keys/quickstart.pub"),
    )
    .unwrap();
    let text = std::fs::read_to_string(root.join("quickstart.yaml")).unwrap();
    let vips: Vec<String> = std::iter::once("172.16.2.10/24".to_string())
        .chain((1..v4).map(|k| format!("172.16.2.{}/24", 20 + k)))
        .collect();
    let mut net = format!("  vip: [{}]\n", vips.join(", "));
    if v6 > 0 {
        let six: Vec<String> = (0..v6)
            .map(|k| format!("2603:c020:1:1::{:x}", 0x10 + k))
            .collect();
        net.push_str(&format!("  vip6: [{}]\n", six.join(", ")));
    }
    let text = text.replace("  vip: 172.16.2.10/24\n", &net);
    let path = dir.join("bench.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    std::env::set_var("VIPSETUP_SIM_TIMINGS", "1");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (v4, v6) = std::env::var("VIPS")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once('+')?;
            Some((a.parse::<u8>().ok()?, b.parse::<u8>().ok()?))
        })
        .unwrap_or((4, 1));
    let dir = tempfile::tempdir()?;
    let bp_path = blueprint(dir.path(), v4.max(1), v6);
    let bp = blueprint_view::load(&bp_path)?;
    let (world, seeded) = simulate::seed_for(&bp)?;
    let config = SimConfig {
        world_file: Some(dir.path().join("world.json")),
        write_behind_ms: 50,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, world).await?;
    let spec = blueprint_view::pair_spec(&bp);
    let t = target::simulated(bp, spec, &sim.base_url(), &seeded, RetryPolicy::default())?;
    let sess = t.session(dir.path().join("bench.yaml.state.json"));
    sess.apply(&[], &yes, &Silent, &dir.path().join("rendered"))
        .await?;

    // The pair as the world holds it: the instances' VNICs, the VIPs' objects.
    let (vnics, vips4, vips6) = sim.inspect(|w| {
        let vnics: Vec<(String, String)> = w
            .all(world::VNIC)
            .map(|v| {
                (
                    v["_instanceId"].as_str().unwrap_or_default().to_string(),
                    v["id"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let vips4: Vec<String> = w
            .all(world::PRIVATE_IP)
            .filter(|p| p.get("isPrimary").and_then(Value::as_bool) != Some(true))
            .map(|p| p["id"].as_str().unwrap_or_default().to_string())
            .collect();
        let vips6: Vec<String> = w
            .all(world::IPV6)
            .map(|p| p["id"].as_str().unwrap_or_default().to_string())
            .collect();
        (vnics, vips4, vips6)
    });
    assert_eq!(vnics.len(), 2, "two VNICs");
    sim.set_imds_alias("127.0.0.1", &vnics[1].0);
    let ip = Client::from_options(&AuthOptions {
        auth: Some(AuthMethod::InstancePrincipal),
        endpoint: Some(sim.base_url()),
        metadata_base_url: Some(sim.metadata_base_url()),
        federation_endpoint: Some(sim.federation_endpoint()),
        ..AuthOptions::default()
    })
    .await?;
    // one warm-up call (federation)
    ip.get_private_ip(&vips4[0]).await?;

    let mut takeover_ms = Vec::new();
    let _ = sim.timings();
    let started = sim.timings().len();
    for r in 0..rounds {
        let to = &vnics[(r + 1) % 2].1;
        let t0 = Instant::now();
        let moves4 = vips4.iter().map(|id| {
            let ip = ip.clone();
            let d = UpdatePrivateIpDetails {
                vnic_id: Some(to.clone()),
                ..Default::default()
            };
            async move { ip.update_private_ip(id, &d, None).await.map(|_| ()) }
        });
        let moves6 = vips6.iter().map(|id| {
            let ip = ip.clone();
            let d = UpdateIpv6Details {
                vnic_id: Some(to.clone()),
                ..Default::default()
            };
            async move { ip.update_ipv6(id, &d).await.map(|_| ()) }
        });
        let (a, b) = futures_util::future::join(
            futures_util::future::join_all(moves4),
            futures_util::future::join_all(moves6),
        )
        .await;
        for x in a.into_iter().chain(b) {
            x?;
        }
        takeover_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        ip.get_private_ip(&vips4[0]).await?;
        ip.list_private_ips(&ListPrivateIpsRequest {
            vnic_id: Some(to.clone()),
            ..Default::default()
        })
        .await?;
        ip.list_ipv6s(&ListIpv6sRequest {
            vnic_id: Some(to.clone()),
            ..Default::default()
        })
        .await?;
        // the agent's rechecks are seconds apart; leave the write-behind its time now and then
        if r % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
    let timings = sim.timings();
    let mut held: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for t in &timings[started..] {
        held.entry(t.operation.clone())
            .or_default()
            .push(t.held_us as f64 / 1000.0);
    }
    println!(
        "sim-requests: {rounds} rounds, {} IPv4 + {} IPv6 VIPs, world file {} KB",
        vips4.len(),
        vips6.len(),
        std::fs::metadata(dir.path().join("world.json"))
            .map(|m| m.len() / 1024)
            .unwrap_or(0)
    );
    for (op, v) in held.iter_mut() {
        let n = v.len();
        println!(
            "sim-requests: {op:<16} n {n:>5}  held in lock p50 {:>7.3} ms  p95 {:>7.3} ms",
            pct(v, 50.0),
            pct(v, 95.0)
        );
    }
    let sum_updates: f64 = ["UpdatePrivateIp", "UpdateIpv6"]
        .iter()
        .filter_map(|o| held.get(*o))
        .map(|v| pct(&mut v.clone(), 50.0) * v.len() as f64 / rounds as f64)
        .sum();
    println!(
        "sim-requests: takeover of {} VIPs: lock held {sum_updates:.1} ms (sum of p50s), client wall p50 {:.1} ms p95 {:.1} ms",
        vips4.len() + vips6.len(),
        pct(&mut takeover_ms.clone(), 50.0),
        pct(&mut takeover_ms, 95.0)
    );
    Ok(())
}
