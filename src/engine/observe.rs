//! Reading the live cloud for a pair: each resource by its recorded OCID, or, when state has none
//! (first run, killed run, lost state file), by the pair's tags or unique name. Found resources
//! are adopted into state; read-only, so a converged re-apply makes no mutating call.

use super::cloud::{Cloud, CloudError};
use std::net::Ipv4Addr;

use super::model::{Desired, Observed, Resource, TAG_PAIR};
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
    pub dynamic_group: String,
    pub policy: String,
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
            dynamic_group: self.dynamic_group.name.clone(),
            policy: self.policy.name.clone(),
        }
    }
}

fn ours(tags: &std::collections::BTreeMap<String, String>, pair: &str) -> bool {
    tags.get(TAG_PAIR).is_some_and(|p| p == pair)
}

/// Observes the pair and adopts what it finds into `state` (the caller saves it).
pub async fn observe(
    cloud: &dyn Cloud,
    d: &Scope,
    state: &mut State,
) -> Result<Observed, ObserveError> {
    let mut o = Observed::default();

    // NSG
    let mut nsg = match state.id(Resource::Nsg) {
        Some(id) => cloud
            .get_nsg(id)
            .await?
            .filter(|n| n.lifecycle_state != "TERMINATED" && n.lifecycle_state != "TERMINATING"),
        None => None,
    };
    if nsg.is_none() {
        nsg = cloud
            .find_nsg(&d.compartment_id, &d.vcn_id, &d.pair)
            .await?;
    }
    if let Some(n) = &nsg {
        state.entry(Resource::Nsg).id = Some(n.id.clone());
    }
    o.nsg = nsg;

    // Nodes
    for i in 0..2 {
        let r = Resource::node(i);
        let mut inst = match state.id(r) {
            Some(id) => cloud.get_instance(id).await?,
            None => None,
        };
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
            let e = state.entry(r);
            e.id = Some(x.id.clone());
            e.name = Some(x.display_name.clone());
            e.vnic_id = x.vnic.as_ref().map(|v| v.id.clone());
        }
        o.nodes[i] = inst;
    }

    // Dynamic group (unique name in the tenancy)
    let mut dg = match state.id(Resource::DynamicGroup) {
        Some(id) => cloud.get_dynamic_group(id).await?,
        None => None,
    }
    .filter(|g| !matches!(g.lifecycle_state.as_str(), "DELETED" | "DELETING"));
    if dg.is_none() {
        dg = cloud
            .find_dynamic_group(&d.tenancy_id, &d.dynamic_group)
            .await?
            .filter(|g| !matches!(g.lifecycle_state.as_str(), "DELETED" | "DELETING"));
        if let Some(g) = &dg {
            if !ours(&g.tags, &d.pair) {
                return Err(ObserveError::NameTaken {
                    kind: "dynamic group",
                    name: g.name.clone(),
                    id: g.id.clone(),
                    pair: d.pair.clone(),
                });
            }
        }
    }
    if let Some(g) = &dg {
        let e = state.entry(Resource::DynamicGroup);
        e.id = Some(g.id.clone());
        e.name = Some(g.name.clone());
    }
    o.dynamic_group = dg;

    // Policy
    let mut pol = match state.id(Resource::Policy) {
        Some(id) => cloud.get_policy(id).await?,
        None => None,
    }
    .filter(|p| !matches!(p.lifecycle_state.as_str(), "DELETED" | "DELETING"));
    if pol.is_none() {
        pol = cloud
            .find_policy(&d.compartment_id, &d.policy)
            .await?
            .filter(|p| !matches!(p.lifecycle_state.as_str(), "DELETED" | "DELETING"));
        if let Some(p) = &pol {
            if !ours(&p.tags, &d.pair) {
                return Err(ObserveError::NameTaken {
                    kind: "policy",
                    name: p.name.clone(),
                    id: p.id.clone(),
                    pair: d.pair.clone(),
                });
            }
        }
    }
    if let Some(p) = &pol {
        let e = state.entry(Resource::Policy);
        e.id = Some(p.id.clone());
        e.name = Some(p.name.clone());
    }
    o.policy = pol;

    // VIP: by OCID, else by address in the subnet (at most one private IP holds an address).
    let mut vip = match state.id(Resource::Vip) {
        Some(id) => cloud.get_private_ip(id).await?,
        None => None,
    };
    if vip.is_none() {
        vip = cloud.find_private_ip(&d.subnet_id, d.vip).await?;
    }
    if let Some(v) = &vip {
        o.vip_is_ours = !v.is_primary
            && (state.id(Resource::Vip) == Some(v.id.as_str()) || ours(&v.tags, &d.pair));
        if o.vip_is_ours {
            state.entry(Resource::Vip).id = Some(v.id.clone());
        }
    }
    o.vip = vip;
    Ok(o)
}
