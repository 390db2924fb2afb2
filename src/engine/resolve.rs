//! From what the user wrote (`PairSpec`, the blueprint as the engine needs it) to what apply
//! wants (`Desired`): the live lookups (subnet CIDR and VCN, availability domain, image), the node
//! addresses (fixed, kept from state or the live nodes, or picked free), names and policy text.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::addresses::{choose_node_ips, AddressError, Cidr};
use super::cloud::{Cloud, CloudError};
use super::iam;
use super::model::{
    Desired, DesiredDynamicGroup, DesiredNode, DesiredPolicy, DesiredPublicIp, LiveSubnet,
    NodeBoot, Observed,
};
use super::observe::Scope;
use super::state::State;

#[derive(Clone, Debug, PartialEq)]
pub enum ImageChoice {
    Ocid(String),
    Lookup { os: String, version: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub private_ip: Option<Ipv4Addr>,
    pub fault_domain: Option<String>,
}

/// The blueprint, as far as the engine is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSpec {
    pub pair: String,
    pub compartment_id: String,
    pub subnet_id: String,
    pub vip: Ipv4Addr,
    /// The VIPs after the first: more IPv4 ones, then the IPv6 ones.
    pub extra_vips: Vec<IpAddr>,
    /// The alerts' Notifications topic, if any.
    pub notify_topic: Option<String>,
    /// A public IP that follows the first VIP.
    pub public_ip: Option<DesiredPublicIp>,
    pub preferred: usize,
    pub nodes: [NodeSpec; 2],
    pub shape: String,
    pub ocpus: Option<f32>,
    pub memory_in_gbs: Option<f32>,
    pub availability_domain: Option<String>,
    pub image: ImageChoice,
    pub ssh_authorized_keys: String,
    pub assign_public_ip: bool,
    pub dynamic_group: String,
    pub policy: String,
    pub extra_statements: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "subnet {id} was not found (or this user may not read it); check `network.subnet` in the \
         blueprint, the region, and that a policy lets you `use subnets` in its compartment"
    )]
    SubnetNotFound { id: String },
    #[error("subnet {id} is {state}, not AVAILABLE; wait for it or pick another subnet")]
    SubnetNotAvailable { id: String, state: String },
    #[error(
        "subnet {id} has a CIDR vipsetup can't read ({cidr:?}); only IPv4 subnets are supported"
    )]
    BadCidr { id: String, cidr: String },
    #[error("no availability domain is visible in tenancy {tenancy}; check the region and your policies")]
    NoAvailabilityDomain { tenancy: String },
    #[error(
        "no AVAILABLE image for {os} {version} on shape {shape}; set `instance.image` to an image \
         OCID or another operating system version"
    )]
    ImageNotFound {
        os: String,
        version: String,
        shape: String,
    },
    #[error(
        "the IPv6 VIP {vip} is not in subnet {subnet}'s IPv6 prefix ({prefixes}); use an address \
         of that prefix in `network.vip6`, or enable IPv6 on the subnet first"
    )]
    Vip6OutsidePrefix {
        vip: std::net::Ipv6Addr,
        subnet: String,
        prefixes: String,
    },
    #[error(
        "the notification topic {id} was not found (or this user may not read it); check \
         `failover.notify_topic`, the region, and that a policy lets you `read ons-topics` in its \
         compartment"
    )]
    TopicNotFound { id: String },
    #[error(
        "subnet {subnet} prohibits public IPs on its VNICs (prohibitPublicIpOnVnic), so \
         `network.public_ip` can't be assigned there; use a public subnet or leave public_ip out"
    )]
    PublicIpOnPrivateSubnet { subnet: String },
    #[error(
        "public IP {id} from `network.public_ip` was not found (or this user may not read it); \
         check the OCID and the region, or write `reserved` to have vipsetup make one"
    )]
    PublicIpNotFound { id: String },
    #[error(
        "public IP {id} from `network.public_ip` is {lifetime}, not RESERVED: only a reserved \
         public IP can follow the VIP; reserve one in the console or write `reserved`"
    )]
    PublicIpNotReserved { id: String, lifetime: String },
    #[error(
        "compartment {id} from `oci.compartment` was not found (or this user may not read it): \
         {operation} there answered HTTP 404 NotAuthorizedOrNotFound{}; check `oci.compartment` \
         in the blueprint (and the region), and that a policy lets you use instances in it",
        .request_id.as_ref().map(|r| format!(" (opc-request-id {r})")).unwrap_or_default()
    )]
    CompartmentNotFound {
        id: String,
        operation: String,
        request_id: Option<String>,
    },
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

/// Facts read from the cloud before anything is planned.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookups {
    pub tenancy_id: String,
    pub subnet: LiveSubnet,
    pub cidr: Cidr,
    pub availability_domain: String,
    pub image_id: String,
    /// The compartment of `PairSpec::notify_topic` (its policy statement grants there).
    pub topic_compartment: Option<String>,
}

pub async fn look_up(
    cloud: &dyn Cloud,
    tenancy_id: &str,
    spec: &PairSpec,
) -> Result<Lookups, ResolveError> {
    let subnet =
        cloud
            .get_subnet(&spec.subnet_id)
            .await?
            .ok_or_else(|| ResolveError::SubnetNotFound {
                id: spec.subnet_id.clone(),
            })?;
    if subnet.lifecycle_state != "AVAILABLE" {
        return Err(ResolveError::SubnetNotAvailable {
            id: subnet.id,
            state: subnet.lifecycle_state,
        });
    }
    let cidr = Cidr::parse(&subnet.cidr_block).ok_or_else(|| ResolveError::BadCidr {
        id: subnet.id.clone(),
        cidr: subnet.cidr_block.clone(),
    })?;
    // Checked here, before any lookup that costs more, so a typo fails fast.
    for vip in std::iter::once(IpAddr::V4(spec.vip)).chain(spec.extra_vips.iter().copied()) {
        match vip {
            IpAddr::V4(v4) if !cidr.contains(v4) => {
                return Err(AddressError::VipOutsideSubnet {
                    vip: v4,
                    cidr: cidr.to_string(),
                }
                .into());
            }
            IpAddr::V4(v4) if cidr.is_reserved(v4) => {
                return Err(AddressError::Reserved {
                    ip: v4,
                    cidr: cidr.to_string(),
                }
                .into());
            }
            IpAddr::V6(v6) if !in_ipv6_prefix(v6, &subnet.ipv6_prefixes) => {
                return Err(ResolveError::Vip6OutsidePrefix {
                    vip: v6,
                    subnet: subnet.id.clone(),
                    prefixes: if subnet.ipv6_prefixes.is_empty() {
                        "it has none".to_string()
                    } else {
                        subnet.ipv6_prefixes.join(", ")
                    },
                });
            }
            _ => {}
        }
    }
    if spec.public_ip.is_some() && subnet.prohibit_public_ip {
        return Err(ResolveError::PublicIpOnPrivateSubnet {
            subnet: subnet.id.clone(),
        });
    }
    if let Some(DesiredPublicIp::Existing(id)) = &spec.public_ip {
        let p = cloud
            .get_public_ip(id)
            .await?
            .ok_or_else(|| ResolveError::PublicIpNotFound { id: id.clone() })?;
        if p.lifetime != "RESERVED" {
            return Err(ResolveError::PublicIpNotReserved {
                id: id.clone(),
                lifetime: p.lifetime,
            });
        }
    }
    let topic_compartment = match &spec.notify_topic {
        Some(t) => Some(
            cloud
                .topic_compartment(t)
                .await?
                .ok_or_else(|| ResolveError::TopicNotFound { id: t.clone() })?,
        ),
        None => None,
    };
    let availability_domain = match (&spec.availability_domain, &subnet.availability_domain) {
        (Some(ad), _) => ad.clone(),
        (None, Some(ad)) => ad.clone(),
        (None, None) => cloud
            .availability_domains(tenancy_id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ResolveError::NoAvailabilityDomain {
                tenancy: tenancy_id.to_string(),
            })?,
    };
    let image_id = match &spec.image {
        ImageChoice::Ocid(id) => id.clone(),
        // ListImages lists in `oci.compartment`: a 404 there is the compartment (a wrong or
        // unreadable OCID), not an image; OCI answers both alike (docs, API errors:
        // NotAuthorizedOrNotFound).
        ImageChoice::Lookup { os, version } => cloud
            .newest_image(&spec.compartment_id, os, version, &spec.shape)
            .await
            .map_err(|e| match e.status {
                Some(404) => ResolveError::CompartmentNotFound {
                    id: spec.compartment_id.clone(),
                    operation: e.operation.clone(),
                    request_id: e.request_id.clone(),
                },
                _ => ResolveError::Cloud(e),
            })?
            .ok_or_else(|| ResolveError::ImageNotFound {
                os: os.clone(),
                version: version.clone(),
                shape: spec.shape.clone(),
            })?,
    };
    Ok(Lookups {
        tenancy_id: tenancy_id.to_string(),
        subnet,
        cidr,
        availability_domain,
        image_id,
        topic_compartment,
    })
}

/// Whether `ip` is a host of one of `prefixes` (IPv6 CIDR text) other than its subnet-router
/// anycast address (`::0`, RFC 4291 2.6.1).
fn in_ipv6_prefix(ip: std::net::Ipv6Addr, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        p.parse::<ipnet::Ipv6Net>()
            .is_ok_and(|n| n.contains(&ip) && n.network() != ip)
    })
}

pub fn scope(spec: &PairSpec, l: &Lookups) -> Scope {
    Scope {
        pair: spec.pair.clone(),
        tenancy_id: l.tenancy_id.clone(),
        compartment_id: spec.compartment_id.clone(),
        vcn_id: l.subnet.vcn_id.clone(),
        subnet_id: spec.subnet_id.clone(),
        vip: spec.vip,
        extra_vips: spec.extra_vips.clone(),
        public_ip: spec.public_ip.clone(),
        dynamic_group: spec.dynamic_group.clone(),
        policy: spec.policy.clone(),
        policy_compartment_id: l.subnet.compartment_id.clone(),
    }
}

/// Each node's address: fixed in the blueprint; else the one state remembers; else the live
/// node's; else the lowest free one. A picked address is kept in state so it never moves.
pub async fn node_ips(
    cloud: &dyn Cloud,
    spec: &PairSpec,
    l: &Lookups,
    state: &State,
    observed: &Observed,
) -> Result<[Ipv4Addr; 2], ResolveError> {
    let known: [Option<Ipv4Addr>; 2] = [0, 1].map(|i| {
        spec.nodes[i]
            .private_ip
            .or_else(|| state.node_ips.map(|ips| ips[i]))
            .or_else(|| {
                observed
                    .live_node(i)
                    .and_then(|n| n.vnic.as_ref())
                    .and_then(|v| v.private_ip)
            })
    });
    let used = if known.iter().all(Option::is_some) {
        Vec::new()
    } else {
        // The other IPv4 VIPs may not exist yet: keep a picked node address off them too.
        let mut used = cloud.subnet_ips(&spec.subnet_id).await?;
        used.extend(spec.extra_vips.iter().filter_map(|v| match v {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        }));
        used
    };
    Ok(choose_node_ips(l.cidr, spec.vip, known, &used)?)
}

/// The full desired state, once addresses are fixed and user data rendered for them.
pub fn desired(
    spec: &PairSpec,
    l: &Lookups,
    ips: [Ipv4Addr; 2],
    user_data: [(String, NodeBoot); 2],
) -> Desired {
    let [ud0, ud1] = user_data;
    let node = |i: usize, (user_data, boot): (String, NodeBoot)| DesiredNode {
        name: spec.nodes[i].name.clone(),
        availability_domain: l.availability_domain.clone(),
        // Different fault domains unless told otherwise: one hardware fault must not take both.
        fault_domain: spec.nodes[i]
            .fault_domain
            .clone()
            .unwrap_or_else(|| format!("FAULT-DOMAIN-{}", i + 1)),
        shape: spec.shape.clone(),
        ocpus: spec.ocpus,
        memory_in_gbs: spec.memory_in_gbs,
        image_id: l.image_id.clone(),
        private_ip: ips[i],
        ssh_authorized_keys: spec.ssh_authorized_keys.clone(),
        user_data,
        boot,
        assign_public_ip: spec.assign_public_ip,
        hostname_label: l
            .subnet
            .dns_label
            .as_ref()
            .map(|_| spec.nodes[i].name.clone()),
    };
    // No address in it: a changed VIP must not ripple into IAM updates.
    let description = format!(
        "vipsetup pair {}: lets its two nodes move the VIP",
        spec.pair
    );
    Desired {
        pair: spec.pair.clone(),
        tenancy_id: l.tenancy_id.clone(),
        compartment_id: spec.compartment_id.clone(),
        vcn_id: l.subnet.vcn_id.clone(),
        subnet_id: spec.subnet_id.clone(),
        vip: spec.vip,
        extra_vips: spec.extra_vips.clone(),
        public_ip: spec.public_ip.clone(),
        preferred: spec.preferred,
        nodes: [node(0, ud0), node(1, ud1)],
        nsg_name: format!("{}-vrrp", spec.pair),
        dynamic_group: DesiredDynamicGroup {
            name: spec.dynamic_group.clone(),
            description: description.clone(),
        },
        // The agent's calls all touch the subnet's compartment (VNICs, private IPs, the
        // subnet), wherever the instances are: the policy grants there and only there.
        policy: DesiredPolicy {
            compartment_id: l.subnet.compartment_id.clone(),
            name: spec.policy.clone(),
            description,
            statements: iam::policy_statements_with(
                &spec.dynamic_group,
                &l.subnet.compartment_id,
                &iam::AgentNeeds {
                    ipv6: spec.extra_vips.iter().any(IpAddr::is_ipv6),
                    topic_compartment: l.topic_compartment.clone(),
                },
                &spec.extra_statements,
            ),
        },
        tags: spec.tags.clone(),
        image_line: match &spec.image {
            ImageChoice::Lookup { os, version } => Some(super::model::ImageLine {
                os: os.clone(),
                version: version.clone(),
            }),
            ImageChoice::Ocid(_) => None,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::executor::tests::FakeCloud;

    pub(crate) fn spec() -> PairSpec {
        PairSpec {
            pair: "quickstart".into(),
            compartment_id: "ocid1.compartment.oc1..c".into(),
            subnet_id: "ocid1.subnet.oc1..s".into(),
            vip: "172.16.2.10".parse().unwrap(),
            extra_vips: vec![],
            notify_topic: None,
            public_ip: None,
            preferred: 0,
            nodes: [
                NodeSpec {
                    name: "instance1".into(),
                    private_ip: Some("172.16.2.11".parse().unwrap()),
                    fault_domain: None,
                },
                NodeSpec {
                    name: "instance2".into(),
                    private_ip: None,
                    fault_domain: Some("FAULT-DOMAIN-3".into()),
                },
            ],
            shape: "VM.Standard.E4.Flex".into(),
            ocpus: Some(1.0),
            memory_in_gbs: Some(8.0),
            availability_domain: None,
            image: ImageChoice::Lookup {
                os: "Oracle Linux".into(),
                version: "9".into(),
            },
            ssh_authorized_keys: "ssh-ed25519 AAAA me".into(),
            assign_public_ip: false,
            dynamic_group: "quickstart-dg".into(),
            policy: "quickstart-policy".into(),
            extra_statements: vec![],
            tags: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn lookups_fill_vcn_ad_image_and_free_addresses() {
        let cloud = FakeCloud::default();
        let s = spec();
        let l = look_up(&cloud, "ocid1.tenancy.oc1..t", &s).await.unwrap();
        assert_eq!(l.image_id, "ocid1.image.oc1..img");
        assert_eq!(l.availability_domain, "Uocm:AP-TOKYO-1-AD-1");
        let ips = node_ips(
            &cloud,
            &s,
            &l,
            &State::new("quickstart"),
            &Observed::default(),
        )
        .await
        .unwrap();
        // .0/.1 reserved, .10 is the VIP, .11 fixed for node1: node2 gets .2.
        assert_eq!(
            ips,
            [
                "172.16.2.11".parse::<Ipv4Addr>().unwrap(),
                "172.16.2.2".parse::<Ipv4Addr>().unwrap()
            ]
        );
        let d = desired(
            &s,
            &l,
            ips,
            [
                ("a".into(), NodeBoot::default()),
                ("b".into(), NodeBoot::default()),
            ],
        );
        assert_eq!(d.nodes[0].fault_domain, "FAULT-DOMAIN-1");
        assert_eq!(d.nodes[1].fault_domain, "FAULT-DOMAIN-3");
        assert_eq!(d.vcn_id, "ocid1.vcn.oc1..v");
        assert_eq!(d.policy.statements.len(), 3);
    }

    #[tokio::test]
    async fn a_picked_address_is_kept_from_state() {
        let cloud = FakeCloud::default();
        let s = spec();
        let l = look_up(&cloud, "t", &s).await.unwrap();
        let mut st = State::new("quickstart");
        st.node_ips = Some([
            "172.16.2.11".parse().unwrap(),
            "172.16.2.99".parse().unwrap(),
        ]);
        let ips = node_ips(&cloud, &s, &l, &st, &Observed::default())
            .await
            .unwrap();
        assert_eq!(ips[1], "172.16.2.99".parse::<Ipv4Addr>().unwrap());
    }

    #[tokio::test]
    async fn vip_outside_the_subnet_fails_before_anything_else() {
        let cloud = FakeCloud::default();
        let mut s = spec();
        s.vip = "10.9.9.9".parse().unwrap();
        let e = look_up(&cloud, "t", &s).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("the vip 10.9.9.9 is outside the subnet 172.16.2.0/24"),
            "{e}"
        );
    }
}
