//! The node steps: launch (after checking the hostname is free), wait until running, update in
//! place, terminate and wait until gone.

use super::*;
use crate::render::settings::{self, NodeSettings, SETTINGS_KEY};

impl Executor<'_> {
    /// Tags, the shape, a flex shape's size and the fault domain (OCI reboots a running instance
    /// for them), the settings key (the next version), NSG membership and the ephemeral public
    /// IP, each changed in place as the plan's changes say.
    pub(super) async fn update_node(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        let want = &d.nodes[i];
        let id = self.id_of(r)?;
        let changes = &self
            .plan
            .step(r)
            .expect("an update step is in its plan")
            .changes;
        let changed = |a: &str| changes.iter().any(|c| c.attribute == a);
        let tags = changes
            .iter()
            .any(|c| c.attribute.starts_with("freeform_tags."));
        let resize = changed("ocpus") || changed("memory_gb");
        let moves = changed("shape") || changed("fault_domain");
        // The settings key: the next version, with every other metadata key sent back as the
        // instance has it now (UpdateInstance replaces the whole set and refuses a changed
        // user_data or ssh_authorized_keys).
        let metadata = if changed("settings") {
            let live = self
                .cloud
                .get_instance(&id)
                .await?
                .ok_or_else(|| StepError::Failed(format!("{r} is gone")))?;
            let next = live
                .metadata
                .get(SETTINGS_KEY)
                .and_then(|v| settings::parse_header(v))
                .map_or(2, |h| h.version + 1);
            let value = NodeSettings {
                payload: want.boot.settings_payload.clone(),
                digest: want.boot.settings_digest.clone(),
            }
            .metadata_value(next);
            let mut m = live.metadata.clone();
            m.insert(SETTINGS_KEY.to_string(), value);
            Some(m)
        } else {
            None
        };
        if tags || resize || moves || metadata.is_some() {
            let u = InstanceUpdate {
                tags: tags.then(|| d.tags_for(r)),
                ocpus: want.ocpus.filter(|_| resize || moves),
                memory_in_gbs: want.memory_in_gbs.filter(|_| resize || moves),
                shape: changed("shape").then(|| want.shape.clone()),
                fault_domain: changed("fault_domain").then(|| want.fault_domain.clone()),
                metadata,
            };
            self.progress.status(r, "updating");
            self.cloud.update_instance(&id, &u).await?;
        }
        if changed("nsg_ids") || changed("assign_public_ip") {
            let vnic = self
                .cloud
                .primary_vnic(&d.compartment_id, &id)
                .await?
                .ok_or_else(|| StepError::Failed(format!("{r} has no primary vnic")))?;
            let nsg = self.id_of(Resource::Nsg)?;
            if !vnic.nsg_ids.contains(&nsg) {
                let mut ids = vnic.nsg_ids.clone();
                ids.push(nsg);
                self.progress
                    .status(r, "adding its vnic to the network security group");
                self.cloud.update_vnic_nsgs(&vnic.id, &ids).await?;
            }
            match (&vnic.public_ip, want.assign_public_ip) {
                (None, true) => {
                    self.progress.status(r, "assigning a public ip");
                    self.cloud.assign_public_ip(&vnic.id).await?;
                }
                (Some(address), false) => {
                    self.progress.status(r, "removing its public ip");
                    self.cloud.unassign_public_ip(address).await?;
                }
                _ => {}
            }
        }
        if resize || moves {
            self.await_node(r, &id).await?;
        }
        Ok(())
    }

    pub(super) async fn terminate_node(&self, r: Resource) -> Result<(), StepError> {
        let Some(id) = self.read(|s| s.id(r).map(str::to_string)) else {
            return Ok(());
        };
        self.progress.status(r, "terminating the old instance");
        self.cloud.terminate_instance(&id).await?;
        // The VIP's private IP may go with this node's VNIC (until the peer's agent re-creates
        // it): vipsetup's doing, not "deleted outside vipsetup".
        self.record(|s| {
            s.mark_deleting(r);
            s.mark_deleting(Resource::Vip);
        })
        .await?;
        self.wait_terminated(r, &id).await?;
        self.record(|s| s.retire(r)).await?;
        Ok(())
    }

    pub(super) async fn wait_terminated(&self, r: Resource, id: &str) -> Result<(), StepError> {
        self.poll(r, "TERMINATED", || async {
            match self.cloud.get_instance(id).await? {
                None => Ok(Some(())),
                Some(i) if i.lifecycle_state == "TERMINATED" => Ok(Some(())),
                Some(i) => {
                    self.progress.status(r, &i.lifecycle_state);
                    Ok(None)
                }
            }
        })
        .await
    }

    /// OCI wants a node's hostname label unique in its subnet (SDK docstrings: "Must be unique
    /// across all VNICs in the subnet") and fails the launch otherwise: checked first, so the
    /// error says what to change.
    pub(super) async fn check_hostname_free(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        let Some(label) = &d.nodes[i].hostname_label else {
            return Ok(());
        };
        match self.cloud.hostname_holder(&d.subnet_id, label).await? {
            Some(holder) => Err(StepError::Failed(format!(
                "hostname {label} is already used in subnet {} (by private IP {holder}); rename \
                 node {} in the blueprint or free that hostname, then run the command again",
                d.subnet_id, d.nodes[i].name
            ))),
            None => Ok(()),
        }
    }

    pub(super) async fn launch_node(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        // A recorded instance that is gone gets a fresh token; an unrecorded one (killed right
        // after the launch request) re-sends the same token and OCI replays that launch.
        self.record(|s| s.retire(r)).await?;
        let spec = InstanceSpec {
            compartment_id: d.compartment_id.clone(),
            subnet_id: d.subnet_id.clone(),
            nsg_ids: vec![self.id_of(Resource::Nsg)?],
            node: d.nodes[i].clone(),
            tags: d.tags_for(r),
        };
        self.check_hostname_free(r).await?;
        self.progress.status(r, "launching");
        let spec = &spec;
        let id = self
            .with_token(r, |token| async move {
                self.cloud.launch_instance(spec, &token).await
            })
            .await?;
        self.record(|s| {
            let e = s.entry(r);
            e.id = Some(id.clone());
            e.name = Some(d.nodes[i].name.clone());
            e.image = Some(crate::engine::state::RecordedImage {
                id: d.nodes[i].image_id.clone(),
                line: d.image_line.clone(),
            });
        })
        .await?;
        self.reach(r, Milestone::Launched);
        // A replacement's successor is launched and recorded: from here a stop request may
        // cut the wait (the next run waits for it).
        self.set_finishing(r, false);
        self.await_node(r, &id).await
    }

    /// Polls a launched node until its primary VNIC is known (milestone `VnicReady`, which
    /// the VIP waits for) and it is RUNNING.
    pub(super) async fn await_node(&self, r: Resource, id: &str) -> Result<(), StepError> {
        let d = self.desired();
        self.reach(r, Milestone::Launched);
        let id = id.to_string();
        let vnic_known = AtomicBool::new(false);
        self.poll(r, "RUNNING", || {
            let (id, vnic_known) = (id.clone(), &vnic_known);
            async move {
                if !vnic_known.load(Ordering::SeqCst) {
                    if let Some(v) = self.cloud.primary_vnic(&d.compartment_id, &id).await? {
                        self.record(|s| s.entry(r).vnic_id = Some(v.id.clone())).await?;
                        self.reach(r, Milestone::VnicReady);
                        vnic_known.store(true, Ordering::SeqCst);
                    }
                }
                let vnic_known = vnic_known.load(Ordering::SeqCst);
                let inst = self.cloud.get_instance(&id).await?.ok_or_else(|| {
                    StepError::Failed(format!("instance {id} disappeared while launching"))
                })?;
                match inst.lifecycle_state.as_str() {
                    "RUNNING" if vnic_known => Ok(Some(())),
                    "TERMINATING" | "TERMINATED" => Err(StepError::Failed(format!(
                        "instance {id} was terminated while launching (often \"out of host capacity\"); \
                         try another fault domain or availability domain, then run apply again"
                    ))),
                    other => {
                        self.progress.status(r, other);
                        Ok(None)
                    }
                }
            }
        })
        .await
    }
}
