//! The VIP steps: the VIP's private IP (created, adopted or moved), the extra IPv4 and IPv6
//! VIPs, and the public IP in front of the first VIP.

use super::*;

impl Executor<'_> {
    pub(super) async fn create_vip(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let holder = Resource::node(d.preferred);
        let vnic_id = self
            .read(|s| s.get(holder).and_then(|e| e.vnic_id.clone()))
            .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {holder}")))?;
        // The agent may have made it already (it re-creates the VIP when it takes over and
        // finds none): adopt that one rather than fail on an address in use.
        if let Some(found) = self.adoptable_vip().await? {
            self.record(|s| s.entry(r).id = Some(found)).await?;
            return Ok(());
        }
        self.record(|s| s.retire(r)).await?;
        let spec = PrivateIpSpec {
            vnic_id,
            ip_address: d.vip,
            display_name: format!("{}-vip", d.pair),
            tags: d.tags_for(r),
        };
        self.progress
            .status(r, &format!("assigning {} to {holder}", d.vip));
        let spec = &spec;
        let id = self
            .with_token(r, |token| async move {
                self.cloud.create_private_ip(spec, &token).await
            })
            .await?;
        self.record(|s| s.entry(r).id = Some(id)).await?;
        Ok(())
    }

    /// The VIP's private IP if one exists on one of the pair's VNICs (as recorded now).
    pub(super) async fn adoptable_vip(&self) -> Result<Option<String>, StepError> {
        let d = self.desired();
        let Some(found) = self.cloud.find_private_ip(&d.subnet_id, d.vip).await? else {
            return Ok(None);
        };
        let ours = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .any(|n| s.get(*n).and_then(|e| e.vnic_id.as_ref()) == found.vnic_id.as_ref())
        });
        if ours && !found.is_primary {
            Ok(Some(found.id))
        } else {
            Err(StepError::Failed(format!(
                "the vip {} is already in use in the subnet (private ip {} on vnic {}); choose a free address for `vip` in the blueprint",
                d.vip,
                found.id,
                found.vnic_id.as_deref().unwrap_or("none")
            )))
        }
    }

    /// Moves the VIP from a VNIC outside the pair back onto the preferred node, and sets the
    /// tags the blueprint names (keeping the others: the agent's takeover record). Both are
    /// decided on what the VIP looks like now, not at plan time: the agent may have moved it.
    pub(super) async fn update_vip(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let id = self.id_of(r)?;
        let live =
            self.cloud.get_private_ip(&id).await?.ok_or_else(|| {
                StepError::Failed(format!("the vip's private ip {id} disappeared"))
            })?;
        let on_pair = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .any(|n| s.get(*n).and_then(|e| e.vnic_id.as_ref()) == live.vnic_id.as_ref())
        });
        if !on_pair {
            let node = Resource::node(d.preferred);
            let vnic_id = self
                .read(|s| s.get(node).and_then(|e| e.vnic_id.clone()))
                .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {node}")))?;
            self.progress.status(r, &format!("moving to {node}"));
            self.cloud.move_private_ip(&id, &vnic_id).await?;
        }
        let want = d.tags_for(r);
        if !drift::tag_changes(&live.tags, &want, true).is_empty() {
            self.progress.status(r, "updating tags");
            let tags = drift::merged_tags(&live.tags, &want, true);
            self.cloud.update_private_ip_tags(&id, &tags).await?;
        }
        Ok(())
    }

    /// The VIPs after the first, made on the VNIC that holds the first one now (the agent moves
    /// them together), adopted when the pair already has them, and those the blueprint no
    /// longer names deleted. Each is recorded before its create (crash safety: the retry token
    /// comes from its recorded generation) and after.
    pub(super) async fn ensure_extra_vips(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let pair_vnics: Vec<String> = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .filter_map(|n| s.get(*n).and_then(|e| e.vnic_id.clone()))
                .collect()
        });
        let first = self.id_of(r)?;
        let holder_vnic = match self.cloud.get_private_ip(&first).await? {
            Some(p) => p.vnic_id,
            None => None,
        }
        .filter(|v| pair_vnics.contains(v));
        let holder_vnic = match holder_vnic {
            Some(v) => v,
            None => {
                let node = Resource::node(d.preferred);
                self.read(|s| s.get(node).and_then(|e| e.vnic_id.clone()))
                    .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {node}")))?
            }
        };
        for address in &d.extra_vips {
            let key = address.to_string();
            if let Some(found) =
                crate::engine::observe::find_address(self.cloud, &d.subnet_id, *address).await?
            {
                let recorded = self.read(|s| s.address_id(&key) == Some(found.id.as_str()));
                let tagged = found.tags.get(crate::engine::model::TAG_PAIR) == Some(&d.pair);
                let on_pair = found
                    .vnic_id
                    .as_ref()
                    .is_some_and(|v| pair_vnics.contains(v));
                if found.is_primary || !(recorded || tagged || on_pair) {
                    return Err(StepError::Failed(format!(
                        "the vip {address} is already in use in the subnet ({} on vnic {}); choose a free address in the blueprint",
                        found.id,
                        found.vnic_id.as_deref().unwrap_or("none")
                    )));
                }
                self.record(|s| {
                    s.addresses.entry(key.clone()).or_default().id = Some(found.id.clone())
                })
                .await?;
                self.settle_extra_vip(&found, &pair_vnics, &holder_vnic)
                    .await?;
                continue;
            }
            self.record(|s| s.retire_address(&key, false)).await?;
            self.progress
                .status(r, &format!("assigning {address} with the first vip"));
            let id = self.create_extra_vip(*address, &holder_vnic).await;
            let id = match id {
                Err(e) if is_invalidated_token(&e) => {
                    self.record(|s| {
                        s.addresses.entry(key.clone()).or_default().generation += 1;
                    })
                    .await?;
                    self.create_extra_vip(*address, &holder_vnic).await?
                }
                other => other?,
            };
            self.record(|s| s.addresses.entry(key.clone()).or_default().id = Some(id))
                .await?;
        }
        let stale: Vec<(String, String)> = self.read(|s| {
            s.addresses
                .iter()
                .filter(|(a, _)| {
                    a.parse::<std::net::IpAddr>()
                        .map_or(true, |ip| !d.extra_vips.contains(&ip))
                })
                .map(|(a, e)| (a.clone(), e.id.clone().unwrap_or_default()))
                .collect()
        });
        for (address, id) in stale {
            if !id.is_empty() {
                self.progress.status(r, &format!("deleting vip {address}"));
                self.delete_extra_vip(&address, &id).await?;
            }
            self.record(|s| s.retire_address(&address, true)).await?;
        }
        self.ensure_public_ip(&first).await
    }

    /// The public IP on the first VIP's private IP (`first`): the user's assigned there, or a
    /// reserved one made there (recorded before its create, for its retry token); one the
    /// blueprint no longer names is let go (the user's unassigned, vipsetup's deleted).
    pub(super) async fn ensure_public_ip(&self, first: &str) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let recorded = self.read(|s| {
            s.public_ip
                .as_ref()
                .and_then(|p| Some((p.id.clone()?, p.name.as_deref() == Some(ADOPTED))))
        });
        let want = match &d.public_ip {
            None => {
                self.release_public_ip(false).await?;
                return Ok(());
            }
            Some(w) => w,
        };
        // The blueprint now names another public IP than the recorded one: let the old one go
        // first (the user's unassigned, vipsetup's deleted), so none is left untracked.
        let switching = match (want, &recorded) {
            (DesiredPublicIp::Existing(id), Some((old, _))) => old != id,
            (DesiredPublicIp::Reserved, Some((_, adopted))) => *adopted,
            _ => false,
        };
        let recorded = if switching {
            self.release_public_ip(true).await?;
            None
        } else {
            recorded
        };
        let current = match (want, &recorded) {
            (DesiredPublicIp::Existing(id), _) => {
                self.record(|s| {
                    let e = s.public_ip.get_or_insert_with(Default::default);
                    e.id = Some(id.clone());
                    e.name = Some(ADOPTED.to_string());
                })
                .await?;
                self.cloud.get_public_ip(id).await?
            }
            (DesiredPublicIp::Reserved, Some((id, false))) => self.cloud.get_public_ip(id).await?,
            (DesiredPublicIp::Reserved, _) => None,
        };
        match current {
            Some(p) if p.private_ip_id.as_deref() == Some(first) => Ok(()),
            Some(p) => {
                self.progress.status(
                    r,
                    &format!(
                        "assigning public ip {} to {}",
                        p.ip_address.as_deref().unwrap_or(&p.id),
                        d.vip
                    ),
                );
                Ok(self.cloud.set_public_ip_target(&p.id, first).await?)
            }
            None => {
                self.record(|s| {
                    let e = s.public_ip.get_or_insert_with(Default::default);
                    if e.id.take().is_some() {
                        e.generation += 1;
                    }
                    e.name = None;
                })
                .await?;
                let spec = ReservedIpSpec {
                    compartment_id: d.compartment_id.clone(),
                    display_name: format!("{}-public", d.pair),
                    private_ip_id: first.to_string(),
                    tags: d.tags_for(r),
                };
                self.progress
                    .status(r, &format!("creating a reserved public ip on {}", d.vip));
                let token = self.read(public_ip_token);
                let id = self.cloud.create_reserved_public_ip(&spec, &token).await?;
                self.record(|s| {
                    s.public_ip.get_or_insert_with(Default::default).id = Some(id);
                })
                .await?;
                Ok(())
            }
        }
    }

    /// Lets the recorded public IP go: the user's is unassigned (never deleted), vipsetup's is
    /// deleted; then state forgets it (`keep_generation`: its generation stays, bumped, so a
    /// later reserved create gets a new retry token).
    pub(super) async fn release_public_ip(&self, keep_generation: bool) -> Result<(), StepError> {
        let recorded = self.read(|s| {
            s.public_ip
                .as_ref()
                .and_then(|p| Some((p.id.clone()?, p.name.as_deref() == Some(ADOPTED))))
        });
        if let Some((id, adopted)) = recorded {
            if adopted {
                self.progress
                    .status(Resource::Vip, &format!("unassigning public ip {id} (kept)"));
                self.cloud.set_public_ip_target(&id, "").await?;
            } else {
                self.progress
                    .status(Resource::Vip, &format!("deleting public ip {id}"));
                self.cloud.delete_public_ip(&id).await?;
            }
        }
        self.record(|s| {
            s.public_ip = match s.public_ip.take() {
                Some(mut e) if keep_generation => {
                    e.generation += 1;
                    e.id = None;
                    e.name = None;
                    Some(e)
                }
                _ => None,
            }
        })
        .await?;
        Ok(())
    }

    /// An extra VIP the pair already has: moved to the first VIP's VNIC when it is on a VNIC
    /// outside the pair, and given the tags the blueprint names (keeping the agent's).
    pub(super) async fn settle_extra_vip(
        &self,
        found: &crate::engine::model::LiveAddress,
        pair_vnics: &[String],
        holder_vnic: &str,
    ) -> Result<(), StepError> {
        let r = Resource::Vip;
        let want = self.desired().tags_for(r);
        let off_pair = found
            .vnic_id
            .as_ref()
            .is_none_or(|v| !pair_vnics.contains(v));
        let retag = !drift::tag_changes(&found.tags, &want, true).is_empty();
        if !off_pair && !retag {
            return Ok(());
        }
        let tags = drift::merged_tags(&found.tags, &want, true);
        self.progress
            .status(r, &format!("updating vip {}", found.address));
        let vnic = off_pair.then_some(holder_vnic);
        match found.address {
            std::net::IpAddr::V4(_) => {
                if let Some(v) = vnic {
                    self.cloud.move_private_ip(&found.id, v).await?;
                }
                if retag {
                    self.cloud.update_private_ip_tags(&found.id, &tags).await?;
                }
            }
            std::net::IpAddr::V6(_) => {
                self.cloud
                    .update_ipv6(&found.id, vnic, retag.then_some(&tags))
                    .await?
            }
        }
        Ok(())
    }

    /// CreatePrivateIp or CreateIpv6 for an extra VIP, with its retry token as recorded.
    pub(super) async fn create_extra_vip(
        &self,
        address: std::net::IpAddr,
        vnic_id: &str,
    ) -> Result<String, CloudError> {
        let d = self.desired();
        let token = self.read(|s| address_token(s, &address.to_string()));
        let tags = d.tags_for(Resource::Vip);
        let display_name = format!("{}-vip", d.pair);
        match address {
            std::net::IpAddr::V4(ip) => {
                let spec = PrivateIpSpec {
                    vnic_id: vnic_id.to_string(),
                    ip_address: ip,
                    display_name,
                    tags,
                };
                self.cloud.create_private_ip(&spec, &token).await
            }
            std::net::IpAddr::V6(ip) => {
                let spec = Ipv6Spec {
                    vnic_id: vnic_id.to_string(),
                    ip_address: ip,
                    display_name,
                    tags,
                };
                self.cloud.create_ipv6(&spec, &token).await
            }
        }
    }

    /// Deletes an extra VIP's object (a private IP or an Ipv6, by its address's family).
    pub(super) async fn delete_extra_vip(&self, address: &str, id: &str) -> Result<(), CloudError> {
        if address.contains(':') {
            self.cloud.delete_ipv6(id).await
        } else {
            self.cloud.delete_private_ip(id).await
        }
    }
}
