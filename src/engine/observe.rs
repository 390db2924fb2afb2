//! Reading the live cloud for a pair: each resource by its recorded OCID, or, when state has none
//! (first run, killed run, lost state file), by the pair's tags or unique name. Found resources
//! are adopted into state; read-only, so a converged re-apply makes no mutating call.

use super::cloud::{Cloud, CloudError};
use std::net::{IpAddr, Ipv4Addr};

use super::model::{
    Desired, DesiredPublicIp, LiveAddress, LiveDynamicGroup, LiveInstance, LiveNsg, LivePolicy,
    LivePrivateIp, LivePublicIp, Observed, ObservedExtraVip, Resource, TAG_PAIR,
};
use super::state::State;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(
        "a {kind} named {name:?} ({id}) already exists and does not belong to pair {pair:?} \
         (its freeform tag {TAG_PAIR} differs); choose another name in the blueprint or delete it"
    )]
    NameTaken {
        kind: &'static str,
        name: String,
        id: String,
        pair: String,
    },
}

/// Where to look for a pair's resources: known before node addresses and user data are.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub pair: String,
    pub tenancy_id: String,
    pub compartment_id: String,
    pub vcn_id: String,
    pub subnet_id: String,
    pub vip: Ipv4Addr,
    /// The VIPs after the first (`Desired::extra_vips`).
    pub extra_vips: Vec<IpAddr>,
    /// The blueprint's public IP, if any.
    pub public_ip: Option<DesiredPublicIp>,
    pub dynamic_group: String,
    pub policy: String,
    /// The subnet's compartment, where the policy is attached.
    pub policy_compartment_id: String,
}

impl Desired {
    pub fn scope(&self) -> Scope {
        Scope {
            pair: self.pair.clone(),
            tenancy_id: self.tenancy_id.clone(),
            compartment_id: self.compartment_id.clone(),
            vcn_id: self.vcn_id.clone(),
            subnet_id: self.subnet_id.clone(),
            vip: self.vip,
            extra_vips: self.extra_vips.clone(),
            public_ip: self.public_ip.clone(),
            dynamic_group: self.dynamic_group.name.clone(),
            policy: self.policy.name.clone(),
            policy_compartment_id: self.policy.compartment_id.clone(),
        }
    }
}

fn ours(tags: &std::collections::BTreeMap<String, String>, pair: &str) -> bool {
    tags.get(TAG_PAIR).is_some_and(|p| p == pair)
}

fn not_deleted(state: &str) -> bool {
    !matches!(state, "DELETED" | "DELETING" | "TERMINATED" | "TERMINATING")
}

async fn observe_nsg(
    cloud: &dyn Cloud,
    d: &Scope,
    id: Option<String>,
) -> Result<Option<LiveNsg>, ObserveError> {
    let by_id = match id {
        Some(id) => cloud
            .get_nsg(&id)
            .await?
            .filter(|n| not_deleted(&n.lifecycle_state)),
        None => None,
    };
    match by_id {
        Some(n) => Ok(Some(n)),
        None => Ok(cloud
            .find_nsg(&d.compartment_id, &d.vcn_id, &d.pair)
            .await?),
    }
}

async fn observe_node(
    cloud: &dyn Cloud,
    d: &Scope,
    r: Resource,
    id: Option<String>,
) -> Result<Option<LiveInstance>, ObserveError> {
    let mut inst = match id {
        Some(id) => cloud.get_instance(&id).await?,
        None => None,
    };
    // Gone (or never recorded): a run killed before recording may have made it; find it by tags.
    if inst.as_ref().is_none_or(|x| x.is_gone()) {
        if let Some(found) = cloud
            .find_instance(&d.compartment_id, &d.pair, r.key())
            .await?
        {
            inst = Some(found);
        }
    }
    if let Some(x) = inst.as_mut().filter(|x| !x.is_gone()) {
        x.vnic = cloud.primary_vnic(&d.compartment_id, &x.id).await?;
    }
    Ok(inst)
}

async fn observe_dynamic_group(
    cloud: &dyn Cloud,
    d: &Scope,
    id: Option<String>,
) -> Result<Option<LiveDynamicGroup>, ObserveError> {
    let by_id = match id {
        Some(id) => cloud
            .get_dynamic_group(&id)
            .await?
            .filter(|g| not_deleted(&g.lifecycle_state)),
        None => None,
    };
    if by_id.is_some() {
        return Ok(by_id);
    }
    // Names are unique in the tenancy: one with ours that is not tagged as ours is someone else's.
    let found = cloud
        .find_dynamic_group(&d.tenancy_id, &d.dynamic_group)
        .await?
        .filter(|g| not_deleted(&g.lifecycle_state));
    match found {
        Some(g) if !ours(&g.tags, &d.pair) => Err(ObserveError::NameTaken {
            kind: "dynamic group",
            name: g.name,
            id: g.id,
            pair: d.pair.clone(),
        }),
        other => Ok(other),
    }
}

async fn observe_policy(
    cloud: &dyn Cloud,
    d: &Scope,
    id: Option<String>,
) -> Result<Option<LivePolicy>, ObserveError> {
    let by_id = match id {
        Some(id) => cloud
            .get_policy(&id)
            .await?
            .filter(|p| not_deleted(&p.lifecycle_state)),
        None => None,
    };
    if by_id.is_some() {
        return Ok(by_id);
    }
    let found = cloud
        .find_policy(&d.policy_compartment_id, &d.policy)
        .await?
        .filter(|p| not_deleted(&p.lifecycle_state));
    match found {
        Some(p) if !ours(&p.tags, &d.pair) => Err(ObserveError::NameTaken {
            kind: "policy",
            name: p.name,
            id: p.id,
            pair: d.pair.clone(),
        }),
        other => Ok(other),
    }
}

/// The private IP holding the VIP address, by OCID or by address (at most one holds it), and
/// whether it is this pair's.
async fn observe_vip(
    cloud: &dyn Cloud,
    d: &Scope,
    id: Option<String>,
) -> Result<(Option<LivePrivateIp>, bool, Option<LivePrivateIp>), ObserveError> {
    let by_id = match &id {
        Some(id) => cloud.get_private_ip(id).await?,
        None => None,
    };
    // The recorded VIP at another address: the blueprint's `vip` changed.
    let (mut vip, stale) = match by_id {
        Some(v) if v.ip_address != d.vip => (None, Some(v)),
        other => (other, None),
    };
    if vip.is_none() {
        vip = cloud.find_private_ip(&d.subnet_id, d.vip).await?;
    }
    let is_ours = vip.as_ref().is_some_and(|v| {
        !v.is_primary && (id.as_deref() == Some(v.id.as_str()) || ours(&v.tags, &d.pair))
    });
    Ok((vip, is_ours, stale))
}

/// The object holding `address` in the subnet: a private IP (IPv4) or an Ipv6.
pub async fn find_address(
    cloud: &dyn Cloud,
    subnet_id: &str,
    address: IpAddr,
) -> Result<Option<LiveAddress>, CloudError> {
    Ok(match address {
        IpAddr::V4(v4) => cloud
            .find_private_ip(subnet_id, v4)
            .await?
            .map(LiveAddress::from),
        IpAddr::V6(v6) => cloud.find_ipv6(subnet_id, v6).await?,
    })
}

/// The extra VIPs the blueprint names, and those recorded in state it no longer names (found
/// at their address with their recorded OCID).
async fn observe_extra_vips(
    cloud: &dyn Cloud,
    d: &Scope,
    recorded: &[(String, String)],
) -> Result<(Vec<(IpAddr, Option<LiveAddress>)>, Vec<LiveAddress>), ObserveError> {
    let wanted = futures_util::future::try_join_all(d.extra_vips.iter().map(|a| async move {
        Ok::<_, CloudError>((*a, find_address(cloud, &d.subnet_id, *a).await?))
    }))
    .await?;
    let mut stale = Vec::new();
    for (address, id) in recorded {
        let Ok(ip) = address.parse::<IpAddr>() else {
            continue;
        };
        if d.extra_vips.contains(&ip) {
            continue;
        }
        if let Some(live) = find_address(cloud, &d.subnet_id, ip)
            .await?
            .filter(|l| &l.id == id)
        {
            stale.push(live);
        }
    }
    Ok((wanted, stale))
}

/// Observes the pair (each resource concurrently) and adopts what it finds into `state` (the
/// caller saves it). Read-only.
pub async fn observe(
    cloud: &dyn Cloud,
    d: &Scope,
    state: &mut State,
) -> Result<Observed, ObserveError> {
    let id = |r: Resource| state.id(r).map(str::to_string);
    let recorded_extras: Vec<(String, String)> = state
        .addresses
        .iter()
        .filter_map(|(a, r)| Some((a.clone(), r.id.clone()?)))
        .collect();
    let (nsg, node1, node2, dynamic_group, policy, (vip, vip_is_ours, stale_vip), extras) = tokio::try_join!(
        observe_nsg(cloud, d, id(Resource::Nsg)),
        observe_node(cloud, d, Resource::Node1, id(Resource::Node1)),
        observe_node(cloud, d, Resource::Node2, id(Resource::Node2)),
        observe_dynamic_group(cloud, d, id(Resource::DynamicGroup)),
        observe_policy(cloud, d, id(Resource::Policy)),
        observe_vip(cloud, d, id(Resource::Vip)),
        observe_extra_vips(cloud, d, &recorded_extras),
    )?;
    let (extras, stale_extra_vips) = extras;
    // A secondary IP with the VIP's address on one of the pair's own VNICs is the pair's VIP even
    // when untagged: the agent re-creates it when it finds none (e.g. after the node holding it
    // was replaced), and vipsetup must adopt that one, not call the address taken.
    let on_our_vnic = vip.as_ref().is_some_and(|v| {
        !v.is_primary
            && v.vnic_id.as_ref().is_some_and(|vn| {
                [&node1, &node2].iter().any(|n| {
                    n.as_ref()
                        .filter(|n| !n.is_gone())
                        .and_then(|n| n.vnic.as_ref())
                        .is_some_and(|x| &x.id == vn)
                })
            })
    });
    let vip_is_ours = vip_is_ours || on_our_vnic;
    let pair_vnic = |vn: &Option<String>| {
        vn.as_ref().is_some_and(|vn| {
            [&node1, &node2].iter().any(|n| {
                n.as_ref()
                    .filter(|n| !n.is_gone())
                    .and_then(|n| n.vnic.as_ref())
                    .is_some_and(|x| &x.id == vn)
            })
        })
    };
    // The same rule for the extra VIPs: recorded, tagged with the pair, or a secondary address
    // on one of the pair's VNICs (the agent may have re-created it).
    let extra_vips: Vec<ObservedExtraVip> = extras
        .into_iter()
        .map(|(address, live)| {
            let ours = live.as_ref().is_some_and(|l| {
                !l.is_primary
                    && (state.address_id(&address.to_string()) == Some(l.id.as_str())
                        || ours(&l.tags, &d.pair)
                        || pair_vnic(&l.vnic_id))
            });
            ObservedExtraVip {
                address,
                live,
                ours,
            }
        })
        .collect();
    // Adopt what was found. What is gone stays recorded: the next create must use a new retry
    // token (`State::retire`), which needs to know there was one.
    // A live one found under another OCID is not the one vipsetup was deleting.
    if let Some(n) = &nsg {
        let e = state.entry(Resource::Nsg);
        e.deleting &= e.id.as_deref() == Some(n.id.as_str());
        e.id = Some(n.id.clone());
    }
    for (r, inst) in [(Resource::Node1, &node1), (Resource::Node2, &node2)] {
        if let Some(x) = inst.as_ref().filter(|x| !x.is_gone()) {
            let e = state.entry(r);
            e.deleting &= e.id.as_deref() == Some(x.id.as_str());
            e.id = Some(x.id.clone());
            e.name = Some(x.display_name.clone());
            e.vnic_id = x.vnic.as_ref().map(|v| v.id.clone());
        }
    }
    if let Some(g) = &dynamic_group {
        let e = state.entry(Resource::DynamicGroup);
        e.id = Some(g.id.clone());
        e.name = Some(g.name.clone());
    }
    if let Some(p) = &policy {
        let e = state.entry(Resource::Policy);
        e.id = Some(p.id.clone());
        e.name = Some(p.name.clone());
    }
    if let Some(v) = vip.as_ref().filter(|_| vip_is_ours) {
        let e = state.entry(Resource::Vip);
        e.id = Some(v.id.clone());
        e.deleting = false;
    }
    let (public_ip, public_ip_adopted) =
        observe_public_ip(cloud, d, state, vip.as_ref().filter(|_| vip_is_ours)).await?;
    match &public_ip {
        Some(p) => {
            let e = state.public_ip.get_or_insert_with(Default::default);
            e.id = Some(p.id.clone());
            if public_ip_adopted {
                e.name = Some(super::state::ADOPTED.to_string());
            }
        }
        None => {
            if let Some(e) = state.public_ip.as_mut() {
                e.id = None;
            }
        }
    }
    for x in extra_vips.iter().filter(|x| x.ours) {
        if let Some(l) = &x.live {
            state.addresses.entry(x.address.to_string()).or_default().id = Some(l.id.clone());
        }
    }
    Ok(Observed {
        nsg,
        nodes: [node1, node2],
        dynamic_group,
        policy,
        vip,
        vip_is_ours,
        stale_vip,
        extra_vips,
        stale_extra_vips,
        public_ip,
        public_ip_adopted,
        image_names: Default::default(),
    })
}

/// The pair's public IP: the recorded one, else the blueprint's OCID, else a reserved one
/// tagged with the pair on the first VIP (a run killed after creating it). Whether it is the
/// user's (adopted) comes from state or from the blueprint naming it.
async fn observe_public_ip(
    cloud: &dyn Cloud,
    d: &Scope,
    state: &State,
    vip: Option<&LivePrivateIp>,
) -> Result<(Option<LivePublicIp>, bool), ObserveError> {
    let recorded = state.public_ip.as_ref();
    let mut adopted = recorded.and_then(|r| r.name.as_deref()) == Some(super::state::ADOPTED);
    let mut found = match recorded.and_then(|r| r.id.as_deref()) {
        Some(id) => cloud.get_public_ip(id).await?,
        None => None,
    };
    if found.is_none() {
        if let Some(DesiredPublicIp::Existing(id)) = &d.public_ip {
            found = cloud.get_public_ip(id).await?;
            adopted = true;
        }
    }
    if found.is_none() && d.public_ip == Some(DesiredPublicIp::Reserved) {
        if let Some(v) = vip {
            found = cloud
                .public_ip_of(&v.id)
                .await?
                .filter(|p| p.lifetime == "RESERVED" && ours(&p.tags, &d.pair));
        }
    }
    Ok((found, adopted))
}
