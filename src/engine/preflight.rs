//! Pre-flight: every input a launch needs (availability domain, fault domains, shape, image and
//! its compatibility with the shape, the node addresses), checked with read-only calls before
//! apply changes anything. A replacement terminates its old instance first, so a launch that
//! would fail must be found here: a typo must never leave the pair with one node.
//!
//! Names already taken (dynamic group, policy, VIP) are refused earlier, by `observe` and `diff`.
//! OCI has no "may I?" call (no dry run, no permission query), so the caller's permissions are
//! learned from the first refused write; see `executor`.

use std::net::Ipv4Addr;

use super::cloud::{Cloud, CloudError};
use super::model::{Desired, LiveSubnet, Observed, Resource};
use super::plan::{Action, Plan};

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "`instance.availability_domain` {given:?} is not an availability domain of this region; \
         use one of: {}", .known.join(", ")
    )]
    AvailabilityDomain { given: String, known: Vec<String> },
    #[error(
        "the subnet {subnet} is in availability domain {subnet_ad}, so the nodes must be too \
         (`instance.availability_domain` is {given:?}); remove the field or use a regional subnet"
    )]
    SubnetInOtherAd {
        subnet: String,
        subnet_ad: String,
        given: String,
    },
    #[error(
        "node {node}: fault domain {given:?} is not one of {ad}'s; use one of: {}",
        .known.join(", ")
    )]
    FaultDomain {
        node: String,
        given: String,
        ad: String,
        known: Vec<String>,
    },
    #[error(
        "image {id} was not found (or this user may not read it); check `instance.image` and the region"
    )]
    ImageNotFound { id: String },
    #[error("image {id} is {state}, not AVAILABLE; use another image in `instance.image`")]
    ImageNotAvailable { id: String, state: String },
    #[error(
        "shape {shape} is not offered in {ad}; use one of: {}", .known.join(", ")
    )]
    ShapeNotOffered {
        shape: String,
        ad: String,
        known: Vec<String>,
    },
    #[error(
        "image {image} can't run on shape {shape}; change `instance.shape` or `instance.image` \
         (shapes this image runs on here: {})", .compatible.join(", ")
    )]
    ShapeImage {
        shape: String,
        image: String,
        compatible: Vec<String>,
    },
    #[error(
        "node {node}: address {ip} is already in use in the subnet (private ip {holder} on vnic {vnic}); \
         choose a free `private_ip` for it"
    )]
    AddressTaken {
        node: String,
        ip: Ipv4Addr,
        holder: String,
        vnic: String,
    },
    #[error(
        "node {node}: address {ip} is still held by instance {instance} ({role}'s previous \
         instance), which is {state}: an earlier run replacing it was interrupted; wait for it to \
         finish terminating (usually a minute or two, `vipsetup status BLUEPRINT` shows it) and \
         run the command again. Keep `private_ip` as it is: another address would change the \
         peer's configuration and replace it too"
    )]
    AddressTerminating {
        node: String,
        ip: Ipv4Addr,
        instance: String,
        role: Resource,
        state: String,
    },
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

/// The availability domain must be one the tenancy sees here, and the subnet's if it has one.
/// Checked on every plan, so a typo shows as an error rather than as a proposed replacement.
pub async fn check_availability_domain(
    cloud: &dyn Cloud,
    desired: &Desired,
    subnet: &LiveSubnet,
) -> Result<(), PreflightError> {
    let ad = &desired.nodes[0].availability_domain;
    // The subnet's own AD was read with the subnet, so this costs no call when it differs.
    if let Some(subnet_ad) = &subnet.availability_domain {
        if subnet_ad != ad {
            return Err(PreflightError::SubnetInOtherAd {
                subnet: subnet.id.clone(),
                subnet_ad: subnet_ad.clone(),
                given: ad.clone(),
            });
        }
    }
    let known = cloud.availability_domains(&desired.tenancy_id).await?;
    if !known.contains(ad) {
        return Err(PreflightError::AvailabilityDomain {
            given: ad.clone(),
            known,
        });
    }
    Ok(())
}

/// Everything a launch in `plan` needs, when the plan launches anything. Read-only.
pub async fn check_launches(
    cloud: &dyn Cloud,
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
) -> Result<(), PreflightError> {
    let launched: Vec<usize> = (0..2)
        .filter(|&i| {
            matches!(
                plan.action(Resource::node(i)),
                Action::Create | Action::Replace
            )
        })
        .collect();
    let Some(&first) = launched.first() else {
        return Ok(());
    };
    let node = &desired.nodes[first];
    let ad = &node.availability_domain;

    let fds = cloud.fault_domains(&desired.compartment_id, ad).await?;
    for &i in &launched {
        let n = &desired.nodes[i];
        if !fds.contains(&n.fault_domain) {
            return Err(PreflightError::FaultDomain {
                node: n.name.clone(),
                given: n.fault_domain.clone(),
                ad: ad.clone(),
                known: fds,
            });
        }
    }

    match cloud.get_image(&node.image_id).await? {
        None => {
            return Err(PreflightError::ImageNotFound {
                id: node.image_id.clone(),
            })
        }
        Some(state) if state != "AVAILABLE" => {
            return Err(PreflightError::ImageNotAvailable {
                id: node.image_id.clone(),
                state,
            })
        }
        Some(_) => {}
    }
    // ListShapes with imageId lists the shapes that image runs on in the AD (oci-python-sdk
    // ComputeClient.list_shapes: "image_id: The OCID of an image"); asked without it only when
    // the shape is missing, to say which of the two is wrong.
    let compatible = cloud
        .shapes(&desired.compartment_id, ad, Some(&node.image_id))
        .await?;
    if !compatible.contains(&node.shape) {
        let offered = cloud.shapes(&desired.compartment_id, ad, None).await?;
        return Err(if offered.contains(&node.shape) {
            PreflightError::ShapeImage {
                shape: node.shape.clone(),
                image: node.image_id.clone(),
                compatible,
            }
        } else {
            PreflightError::ShapeNotOffered {
                shape: node.shape.clone(),
                ad: ad.clone(),
                known: offered,
            }
        });
    }

    // A launched node's address must be free, or held by the very instance it replaces (that
    // one is terminated first, which frees it).
    for &i in &launched {
        let n = &desired.nodes[i];
        let Some(p) = cloud
            .find_private_ip(&desired.subnet_id, n.private_ip)
            .await?
        else {
            continue;
        };
        let own_vnic = observed
            .live_node(i)
            .and_then(|x| x.vnic.as_ref())
            .map(|v| v.id.as_str());
        let replaced = plan.action(Resource::node(i)) == Action::Replace;
        if !(replaced && own_vnic.is_some() && p.vnic_id.as_deref() == own_vnic) {
            // The pair's own instance on its way out (a replacement or destroy stopped while
            // it terminated) still holds the address; it frees it when TERMINATED.
            if let Some((role, old)) =
                terminating_holder(cloud, desired, observed, p.vnic_id.as_deref()).await?
            {
                return Err(PreflightError::AddressTerminating {
                    node: n.name.clone(),
                    ip: n.private_ip,
                    instance: old.id.clone(),
                    role,
                    state: old.lifecycle_state.clone(),
                });
            }
            return Err(PreflightError::AddressTaken {
                node: n.name.clone(),
                ip: n.private_ip,
                holder: p.id,
                vnic: p.vnic_id.unwrap_or_else(|| "none".into()),
            });
        }
    }
    Ok(())
}

/// One of the pair's own instances that is TERMINATING and whose primary VNIC is `vnic` (or
/// whose VNIC is no longer listed: OCI detaches it while terminating, and the address is held
/// until then).
async fn terminating_holder<'a>(
    cloud: &dyn Cloud,
    desired: &Desired,
    observed: &'a Observed,
    vnic: Option<&str>,
) -> Result<Option<(Resource, &'a super::model::LiveInstance)>, CloudError> {
    for i in 0..2 {
        let Some(old) = observed.nodes[i]
            .as_ref()
            .filter(|n| n.lifecycle_state == "TERMINATING")
        else {
            continue;
        };
        let held = match cloud.primary_vnic(&desired.compartment_id, &old.id).await? {
            Some(v) => vnic == Some(v.id.as_str()),
            None => true,
        };
        if held {
            return Ok(Some((Resource::node(i), old)));
        }
    }
    Ok(None)
}
