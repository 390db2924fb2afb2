//! `--simulate`: the built-in OCI simulator, in process, seeded with what the blueprint names
//! (region, compartment, subnet and its IPv6 prefix, the alerts' topic, the user's reserved
//! public IP) and kept in `<blueprint>.sim-world.json`, so plan, apply,
//! status and destroy run one after another see the same cloud. The simulated user's API key
//! lives in `<blueprint>.sim-user.json` (mode 0600).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::blueprint::Blueprint;
use crate::simulator::object_storage;
use crate::simulator::{
    SeedSpec, Seeded, SimConfig, SimError, SimHandle, Simulator, World, WorldError,
};

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    World(#[from] WorldError),
    #[error(transparent)]
    Start(#[from] SimError),
    #[error("cannot read or write the simulator's user file {path}: {source}; check the directory's permissions")]
    UserFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a simulator user file ({source}); delete it and the world file next to it to start over")]
    UserFileParse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Where the simulated world of a blueprint is kept.
pub fn world_path(blueprint: &Path) -> PathBuf {
    sibling(blueprint, ".sim-world.json")
}

/// The state of a simulated pair: apart from a real pair's `<blueprint>.state.json`, so a
/// `--simulate` run never reads or overwrites it.
pub fn state_path(blueprint: &Path) -> PathBuf {
    sibling(blueprint, ".sim-state.json")
}

/// The seeded user (API key) of a blueprint's simulated world.
pub fn user_path(blueprint: &Path) -> PathBuf {
    sibling(blueprint, ".sim-user.json")
}

fn sibling(blueprint: &Path, suffix: &str) -> PathBuf {
    let mut name = blueprint.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    blueprint.with_file_name(name)
}

/// Lifecycle delays: a few seconds so a newcomer sees the progress display; tests and the
/// benchmark scale them with `VIPSETUP_SIM_PROVISIONING_MS` / `VIPSETUP_SIM_TERMINATING_MS`.
fn delay_ms(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts the simulator for this blueprint, seeding its world on first use.
pub async fn start(
    bp: &Blueprint,
    blueprint_path: &Path,
) -> Result<(SimHandle, Seeded), SimulateError> {
    let wpath = world_path(blueprint_path);
    let upath = user_path(blueprint_path);
    let (world, seeded) = if wpath.exists() && upath.exists() {
        let world = World::load(&wpath)?;
        let text = fs::read_to_string(&upath).map_err(|source| SimulateError::UserFile {
            path: upath.clone(),
            source,
        })?;
        let seeded: Seeded =
            serde_json::from_str(&text).map_err(|source| SimulateError::UserFileParse {
                path: upath.clone(),
                source,
            })?;
        (world, seeded)
    } else {
        let (world, seeded) = seed_for(bp)?;
        world.save(&wpath)?;
        let text = serde_json::to_string_pretty(&seeded).expect("seeded serializes");
        write_private(&upath, &text).map_err(|source| SimulateError::UserFile {
            path: upath.clone(),
            source,
        })?;
        (world, seeded)
    };
    let (world, seeded) = with_state_bucket(world, seeded, bp, &wpath)?;
    let config = SimConfig {
        provisioning_delay_ms: delay_ms("VIPSETUP_SIM_PROVISIONING_MS", 4000),
        terminating_delay_ms: delay_ms("VIPSETUP_SIM_TERMINATING_MS", 2000),
        world_file: Some(wpath),
        ..SimConfig::default()
    };
    let handle = Simulator::start(config, world).await?;
    Ok((handle, seeded))
}

/// A blueprint with a `state:` key finds its bucket (in the pair's compartment and home region)
/// and namespace in the simulated world, as it would in a tenancy set up for it. Only the first
/// bucket a blueprint names is made: once the world has one, a `state.bucket` naming another
/// (a typo, a rename) finds none, as in a real tenancy, and fails with Object Storage's 404
/// BucketNotFound (issue 20: a made-up bucket hid the typo until apply).
fn with_state_bucket(
    mut world: World,
    seeded: Seeded,
    bp: &Blueprint,
    wpath: &Path,
) -> Result<(World, Seeded), SimulateError> {
    let Some(st) = &bp.state else {
        return Ok((world, seeded));
    };
    let mut changed = false;
    if let Some(ns) = &st.namespace {
        if world.object_storage_namespace.is_empty() {
            world.object_storage_namespace = ns.clone();
            changed = true;
        }
    }
    let home = world.home_region.clone();
    let has_bucket = world.all(object_storage::BUCKET).next().is_some();
    changed |= !has_bucket
        && object_storage::ensure_bucket(
            &mut world,
            &st.bucket,
            &bp.oci.compartment.to_string(),
            &home,
        );
    if changed {
        world.save(wpath)?;
    }
    Ok((world, seeded))
}

/// A world whose home region, compartment and subnet are the ones the blueprint names, with the
/// subnet sized from the VIP's prefix (default /24).
pub fn seed_for(bp: &Blueprint) -> Result<(World, Seeded), WorldError> {
    let prefix = bp.network.vip_prefix.unwrap_or(24).clamp(16, 30);
    let vip = u32::from(bp.network.vip);
    let mask = u32::MAX << (32 - prefix);
    let subnet = std::net::Ipv4Addr::from(vip & mask);
    let vcn = std::net::Ipv4Addr::from(vip & (u32::MAX << 16));
    let home = bp
        .oci
        .region
        .clone()
        .unwrap_or_else(|| "ap-tokyo-1".to_string());
    let spec = SeedSpec {
        home_region: home.clone(),
        other_regions: vec![if home == "us-phoenix-1" {
            "us-ashburn-1"
        } else {
            "us-phoenix-1"
        }
        .to_string()],
        vcn_cidr: format!("{vcn}/16"),
        subnet_cidr: format!("{subnet}/{prefix}"),
        // IPv6 VIPs: the subnet gets the /64 holding the first of them (OCI gives subnets a
        // /64 of the VCN's /56), so every IPv6 VIP of that /64 is valid.
        ipv6: match bp.network.vip6.first() {
            Some(v6) => {
                let bits = u128::from(*v6);
                let net = |len: u32| {
                    let mask = u128::MAX << (128 - len);
                    format!("{}/{len}", std::net::Ipv6Addr::from(bits & mask))
                };
                Some((net(56), net(64)))
            }
            None => SeedSpec::default().ipv6,
        },
        ..SeedSpec::default()
    };
    let (mut world, mut seeded) = World::seed(&spec)?;
    // A public IP needs a subnet that allows them; the user's reserved one exists under its OCID.
    if let Some(p) = &bp.network.public_ip {
        if let Some(d) = world.get_mut(crate::simulator::world::SUBNET, &seeded.subnet_id) {
            d.insert("prohibitPublicIpOnVnic".into(), Value::Bool(false));
            d.insert("prohibitInternetIngress".into(), Value::Bool(false));
        }
        if let crate::blueprint::PublicIpSpec::Existing(id) = p {
            let (made, _) =
                world.add_reserved_public_ip(&seeded.compartment_id, &format!("{}-ip", bp.name));
            rename_id(&mut world, &made, id.as_str());
        }
    }
    // The alerts' topic, under the OCID the blueprint names.
    if let Some(topic) = &bp.failover.notify_topic {
        let made = world.add_topic(&seeded.compartment_id, &format!("{}-alerts", bp.name));
        rename_id(&mut world, &made, topic.as_str());
    }
    let comp = bp.oci.compartment.to_string();
    let sub = bp.network.subnet.to_string();
    rename_id(&mut world, &seeded.compartment_id, &comp);
    rename_id(&mut world, &seeded.subnet_id, &sub);
    seeded.compartment_id = comp;
    seeded.subnet_id = sub;
    // The blueprint's availability domain names the home region's ADs (`Uocm:AP-TOKYO-1-AD-1`:
    // stem `Uocm:AP-TOKYO-1`), so a blueprint written for a real tenancy applies as shipped.
    if let Some(stem) = bp.instance.availability_domain.as_deref().and_then(ad_stem) {
        world.home_ad_stem = Some(stem.to_string());
        seeded.availability_domains = world.availability_domains(&world.home_region);
        if let Some(s) = world.seeded.as_mut() {
            s.availability_domains = seeded.availability_domains.clone();
        }
    }
    Ok((world, seeded))
}

/// `PREFIX:NAME` of an AD name `PREFIX:NAME-AD-N` (N a number no larger than the simulated
/// world's three), else `None`.
fn ad_stem(ad: &str) -> Option<&str> {
    let (stem, n) = ad.rsplit_once("-AD-")?;
    let n: u8 = n.parse().ok()?;
    (stem.contains(':') && (1..=3).contains(&n)).then_some(stem)
}

/// Gives a seeded resource the OCID the blueprint uses, everywhere it is referenced.
fn rename_id(world: &mut World, old: &str, new: &str) {
    fn replace(v: &mut Value, old: &str, new: &str) {
        match v {
            Value::String(s) if s == old => *s = new.to_string(),
            Value::Array(a) => a.iter_mut().for_each(|x| replace(x, old, new)),
            Value::Object(m) => m.values_mut().for_each(|x| replace(x, old, new)),
            _ => {}
        }
    }
    for docs in world.resources.values_mut() {
        if let Some(mut doc) = docs.remove(old) {
            doc.insert("id".into(), Value::String(new.to_string()));
            docs.insert(new.to_string(), doc);
        }
        for doc in docs.values_mut() {
            doc.values_mut().for_each(|x| replace(x, old, new));
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
