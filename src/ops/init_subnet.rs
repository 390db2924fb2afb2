//! `vipsetup init --subnet OCID`: a working blueprint written from the user's own subnet, with
//! read-only calls: region and compartment from the subnet, a free VIP and two free node
//! addresses in it, an availability domain and two fault domains, a shape offered there with
//! the service limits to run two nodes, the newest Oracle Linux platform image for it, and the
//! user's ssh public key when one is found. Every field keeps the starter's comments.
//!
//! "Free" is what apply means by it (`engine::addresses`): not one of the three addresses OCI
//! reserves in every subnet (the first two and the last; docs Network/Concepts/overview.htm,
//! "Reserved IPs"), and held by no private IP of the subnet (ListPrivateIps by subnet). The
//! lowest free address becomes the VIP, the next two the nodes'.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::engine::addresses::{choose_node_ips, Cidr};
use crate::engine::oci_cloud::OciCloud;
use crate::engine::Cloud;
use crate::oci::endpoint::canonical_region;
use crate::oci::models::limits::{core_limit_for_shape, COMPUTE_SERVICE};
use crate::oci::{AuthOptions, Client, OciError};

/// How to reach OCI, as for the other commands.
#[derive(Clone, Debug, Default)]
pub struct InitSubnetOptions {
    pub subnet_id: String,
    pub name: String,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    pub auth: Option<String>,
    pub endpoint: Option<String>,
    /// Where to look for `.ssh/id_*.pub` (the user's home).
    pub home: Option<PathBuf>,
}

/// What was chosen, for the message and `--output json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Chosen {
    pub region: String,
    pub compartment: String,
    pub subnet: String,
    pub vip: String,
    pub node_ips: [Ipv4Addr; 2],
    pub availability_domain: String,
    /// Written as `instance.availability_domain`: the subnet is AD-specific, or the AD is not
    /// the region's first (apply's default, left commented then).
    pub availability_domain_set: bool,
    pub fault_domains: Vec<String>,
    pub shape: String,
    pub image: String,
    /// The ssh public key file found, or `None` (the blueprint then says to add one).
    pub ssh_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitSubnetError {
    #[error("cannot connect to OCI: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "subnet {id} was not found (or you may not read it); check the OCID, the profile's \
         region and that your group may `use virtual-network-family` in its compartment"
    )]
    SubnetNotFound { id: String },
    #[error("subnet {id} has CIDR {cidr:?}, which is not IPv4; vipsetup needs an IPv4 subnet")]
    BadCidr { id: String, cidr: String },
    #[error(
        "subnet {id} ({cidr}) has fewer than three free addresses (a VIP and two nodes); free \
         some or use a bigger subnet"
    )]
    SubnetFull { id: String, cidr: String },
    #[error(
        "no availability domain of this subnet's region offers a shape vipsetup can use with \
         room for two nodes and an Oracle Linux image ({tried}); run `vipsetup init` offline \
         and fill in the shape yourself, or request a limit increase"
    )]
    NoShape { tried: String },
    #[error("reading the cloud failed: {0}")]
    Cloud(#[from] crate::engine::cloud::CloudError),
    #[error(transparent)]
    Oci(#[from] OciError),
}

/// Shapes tried in order: (name, OCPUs, memory in GB; `None` for a fixed shape).
const SHAPES: &[(&str, Option<(u32, u32)>)] = &[
    ("VM.Standard.E4.Flex", Some((1, 8))),
    ("VM.Standard.E5.Flex", Some((1, 8))),
    ("VM.Standard3.Flex", Some((1, 8))),
    ("VM.Standard.A1.Flex", Some((1, 6))),
    ("VM.Standard.E2.1.Micro", None),
];

/// Oracle Linux versions tried, newest first (those the agent's installer supports).
const OL_VERSIONS: &[&str] = &["9", "8"];

/// The region an OCID names (`ocid1.subnet.oc1.ap-tokyo-1.…` or `….nrt.…`), if any.
fn region_of(ocid: &str) -> Option<String> {
    let r = ocid.split('.').nth(3).filter(|r| !r.is_empty())?;
    Some(canonical_region(r))
}

/// The first ssh public key found in `~/.ssh`, as the blueprint writes it (`~/.ssh/NAME`).
pub fn find_ssh_key(home: Option<&Path>) -> Option<String> {
    let home = home?;
    ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"]
        .iter()
        .find(|n| home.join(".ssh").join(n).is_file())
        .map(|n| format!("~/.ssh/{n}"))
}

/// Reads the subnet and chooses everything; returns the blueprint text and what was chosen.
pub async fn init_from_subnet(
    opts: &InitSubnetOptions,
) -> Result<(String, Chosen), InitSubnetError> {
    let connect = |e: Box<dyn std::error::Error + Send + Sync>| InitSubnetError::Connect(e);
    let auth = AuthOptions {
        config_file: opts.config_file.clone(),
        profile: opts.profile.clone(),
        auth: opts
            .auth
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| connect(Box::new(e)))?,
        region: region_of(&opts.subnet_id),
        endpoint: opts.endpoint.clone(),
        ..AuthOptions::default()
    }
    .with_process_env()
    .map_err(|e| connect(Box::new(e)))?;
    let client = Client::from_options(&auth)
        .await
        .map_err(|e| connect(Box::new(e)))?;
    for w in client.warnings() {
        eprintln!("warning: {w}");
    }
    let cloud = OciCloud {
        client: client.clone(),
    };
    let id = &opts.subnet_id;
    let subnet = match client.get_subnet(id).await {
        Ok(s) => s.value,
        Err(e) if e.is_not_found() => {
            return Err(InitSubnetError::SubnetNotFound { id: id.clone() })
        }
        Err(e) => return Err(e.into()),
    };
    let cidr = Cidr::parse(&subnet.cidr_block).ok_or_else(|| InitSubnetError::BadCidr {
        id: id.clone(),
        cidr: subnet.cidr_block.clone(),
    })?;
    let comp = subnet.compartment_id.clone();

    // Addresses: the lowest free one is the VIP, then the nodes' by apply's own rule.
    let used = cloud.subnet_ips(id).await?;
    let full = || InitSubnetError::SubnetFull {
        id: id.clone(),
        cidr: cidr.to_string(),
    };
    let size = 1u64 << (32 - u32::from(cidr.prefix));
    let vip = (0..size)
        .map(|i| Ipv4Addr::from(u32::from(cidr.network).wrapping_add(i as u32)))
        .find(|ip| !cidr.is_reserved(*ip) && !used.contains(ip))
        .ok_or_else(full)?;
    let node_ips = choose_node_ips(cidr, vip, [None, None], &used).map_err(|_| full())?;

    // Placement: the subnet's AD, or each of the region's in turn, until a shape fits.
    let ads = match &subnet.availability_domain {
        Some(ad) => vec![ad.clone()],
        None => cloud.availability_domains(client.tenancy_id()).await?,
    };
    let mut tried = Vec::new();
    let mut found = None;
    'ads: for ad in &ads {
        let offered = client.list_shapes(&comp, Some(ad), None).await?;
        for (shape, size) in SHAPES {
            if !offered.iter().any(|s| s.shape == *shape) {
                continue;
            }
            let need = f64::from(size.map(|(o, _)| o).unwrap_or(1) * 2);
            if let Some(limit) = core_limit_for_shape(shape) {
                // A limit vipsetup can't read is left to `doctor`, which says so.
                if let Ok(a) = client
                    .get_resource_availability(COMPUTE_SERVICE, limit, &comp, Some(ad))
                    .await
                {
                    let available = a
                        .fractional_availability
                        .or(a.available.map(|v| v as f64))
                        .unwrap_or(0.0);
                    if available < need {
                        tried.push(format!(
                            "{shape} in {ad}: limit {limit} has {available} OCPUs left"
                        ));
                        continue;
                    }
                }
            }
            for v in OL_VERSIONS {
                if cloud
                    .newest_image(&comp, "Oracle Linux", v, shape)
                    .await?
                    .is_some()
                {
                    found = Some((ad.clone(), *shape, *size, *v));
                    break 'ads;
                }
            }
            tried.push(format!("{shape} in {ad}: no Oracle Linux 8 or 9 image"));
        }
    }
    let Some((ad, shape, size, version)) = found else {
        return Err(InitSubnetError::NoShape {
            tried: if tried.is_empty() {
                "none of VM.Standard.E4.Flex, E5.Flex, Standard3.Flex, A1.Flex, E2.1.Micro is offered".into()
            } else {
                tried.join("; ")
            },
        });
    };
    let fds: Vec<String> = cloud
        .fault_domains(&comp, &ad)
        .await?
        .into_iter()
        .take(2)
        .collect();
    let region = region_of(id).unwrap_or_else(|| client.region().to_string());
    let availability_domain_set = subnet.availability_domain.is_some() || ads.first() != Some(&ad);
    let chosen = Chosen {
        region,
        compartment: comp,
        subnet: id.clone(),
        vip: format!("{vip}/{}", cidr.prefix),
        node_ips,
        availability_domain: ad,
        availability_domain_set,
        fault_domains: fds,
        shape: shape.to_string(),
        image: format!("Oracle Linux {version}"),
        ssh_key: find_ssh_key(opts.home.as_deref()),
    };
    let text = blueprint_text(&opts.name, &chosen, size, version);
    Ok((text, chosen))
}

/// The starter blueprint (`templates/init.yaml`, every field commented) with the chosen values
/// in place of its examples. Each replaced line must be in the starter: a test holds them
/// together.
pub fn blueprint_text(name: &str, c: &Chosen, size: Option<(u32, u32)>, version: &str) -> String {
    let mut text = super::starter::starter(name);
    let mut put = |old: &str, new: &str| {
        debug_assert!(text.contains(old), "the starter has no line {old:?}");
        text = text.replacen(old, new, 1);
    };
    put(
        "# Written by `vipsetup init`. Fill in your OCIDs, check it with `vipsetup validate FILE`, preview",
        &format!(
            "# Written by `vipsetup init --subnet` from subnet {}.\n\
             # Check the tenancy with `vipsetup doctor FILE` before `vipsetup apply FILE`; preview",
            c.subnet
        ),
    );
    put("  region: ap-tokyo-1", &format!("  region: {}", c.region));
    put(
        "  compartment: ocid1.compartment.oc1..aaaaaaaaREPLACEME",
        &format!("  compartment: {}", c.compartment),
    );
    put(
        "  subnet: ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaaREPLACEME",
        &format!("  subnet: {}", c.subnet),
    );
    put("  vip: 172.16.2.10/24", &format!("  vip: {}", c.vip));
    // The installer finds the interface holding the node's address; a fixed name differs
    // between shapes.
    put(
        "  interface: ens3",
        "  # interface: ens3   (left out: the interface holding the node's address)",
    );
    put(
        "    private_ip: 172.16.2.11",
        &format!("    private_ip: {}", c.node_ips[0]),
    );
    put(
        "    private_ip: 172.16.2.12",
        &format!("    private_ip: {}", c.node_ips[1]),
    );
    for (i, fd) in ["FAULT-DOMAIN-1", "FAULT-DOMAIN-2"].iter().enumerate() {
        let line = format!("    fault_domain: {fd}");
        match c.fault_domains.get(i) {
            Some(got) => put(&line, &format!("    fault_domain: {got}")),
            None => put(&line, &format!("    # fault_domain: {fd}")),
        }
    }
    let sizing = match size {
        Some((o, m)) => format!("  shape: {}\n  ocpus: {o}\n  memory_gb: {m}", c.shape),
        None => format!("  shape: {}", c.shape),
    };
    put(
        "  shape: VM.Standard.E4.Flex\n  ocpus: 1\n  memory_gb: 8",
        &sizing,
    );
    put(
        "  # availability_domain: \"Uocm:AP-TOKYO-1-AD-1\"",
        &if c.availability_domain_set {
            format!("  availability_domain: \"{}\"", c.availability_domain)
        } else {
            format!(
                "  # availability_domain: \"{}\"   (the default)",
                c.availability_domain
            )
        },
    );
    put("    version: \"9\"", &format!("    version: \"{version}\""));
    match &c.ssh_key {
        Some(k) => put("    - ~/.ssh/id_ed25519.pub", &format!("    - {k}")),
        None => put(
            "    - ~/.ssh/id_ed25519.pub",
            "    # no public key was found in ~/.ssh: make one (ssh-keygen -t ed25519) or name yours\n    - ~/.ssh/id_ed25519.pub",
        ),
    }
    // A health check must check the user's own service: the starter's example would put both
    // nodes in FAULT where nothing listens on port 80, so it is left commented.
    let mut out = String::new();
    let mut in_check = false;
    for line in text.lines() {
        if line.starts_with("  health_check:") {
            in_check = true;
        } else if in_check && !line.starts_with("    ") {
            in_check = false;
        }
        if in_check {
            out.push_str("  # ");
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen() -> Chosen {
        Chosen {
            region: "us-ashburn-1".into(),
            compartment: "ocid1.compartment.oc1..aaaaaaaamine".into(),
            subnet: "ocid1.subnet.oc1.iad.aaaaaaaamine".into(),
            vip: "10.0.1.2/24".into(),
            node_ips: ["10.0.1.3".parse().unwrap(), "10.0.1.4".parse().unwrap()],
            availability_domain: "Abcd:US-ASHBURN-AD-2".into(),
            availability_domain_set: true,
            fault_domains: vec!["FAULT-DOMAIN-1".into(), "FAULT-DOMAIN-3".into()],
            shape: "VM.Standard.E2.1.Micro".into(),
            image: "Oracle Linux 8".into(),
            ssh_key: Some("~/.ssh/id_rsa.pub".into()),
        }
    }

    #[test]
    fn every_example_value_is_replaced_and_the_health_check_commented() {
        let t = blueprint_text("my-vip", &chosen(), None, "8");
        for want in [
            "name: my-vip\n",
            "  region: us-ashburn-1\n",
            "  compartment: ocid1.compartment.oc1..aaaaaaaamine\n",
            "  subnet: ocid1.subnet.oc1.iad.aaaaaaaamine\n",
            "  vip: 10.0.1.2/24\n",
            "    private_ip: 10.0.1.3\n",
            "    private_ip: 10.0.1.4\n",
            "    fault_domain: FAULT-DOMAIN-3\n",
            "  shape: VM.Standard.E2.1.Micro\n",
            "  availability_domain: \"Abcd:US-ASHBURN-AD-2\"\n",
            "    version: \"8\"\n",
            "    - ~/.ssh/id_rsa.pub\n",
            "  # health_check:\n",
            "  # rise: 2       # default 2\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        for gone in [
            "REPLACEME",
            "Fill in your OCIDs",
            ": 172.16.2.",
            "ocpus:",
            "\n  health_check:",
            "\n  interface: ens3",
        ] {
            assert!(!t.contains(gone), "{gone:?} still in\n{t}");
        }
    }
}
