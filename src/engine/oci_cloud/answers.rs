//! OCI's answers as the engine sees them: errors kept with their request ids, "not found" turned
//! into `None` (gets) or success (deletes), and OCI's models turned into the engine's `Live*`.

use crate::oci::models::{DynamicGroup, Instance, Policy, PrivateIp};
use crate::oci::OciError;

use super::super::cloud::CloudError;
use super::super::model::{
    LiveDynamicGroup, LiveInstance, LivePolicy, LivePrivateIp, LivePublicIp, TAG_PAIR, TAG_ROLE,
};

pub(super) fn cloud_err(operation: &str, e: OciError) -> CloudError {
    match e.api() {
        Some(a) => CloudError {
            operation: a.operation.clone(),
            status: Some(a.status),
            code: Some(a.code.clone()).filter(|c| !c.is_empty()),
            message: match &a.hint {
                Some(h) => format!("{}; {h}", a.message),
                None => a.message.clone(),
            },
            request_id: a.opc_request_id.clone(),
        },
        None => {
            // Transport errors start with the operation too: say it once.
            let message = e.to_string();
            let message = message
                .strip_prefix(operation)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&message);
            CloudError::other(operation, message)
        }
    }
}

/// `None` for 404 (gone, or never visible to us).
pub(super) fn found<T>(operation: &str, r: Result<T, OciError>) -> Result<Option<T>, CloudError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(cloud_err(operation, e)),
    }
}

/// 404 on delete: already gone, which is what we wanted.
pub(super) fn gone(operation: &str, r: Result<(), OciError>) -> Result<(), CloudError> {
    match r {
        Err(e) if e.status() != Some(404) => Err(cloud_err(operation, e)),
        _ => Ok(()),
    }
}

pub(super) fn ok<T>(operation: &str, r: Result<T, OciError>) -> Result<T, CloudError> {
    r.map_err(|e| cloud_err(operation, e))
}

pub(super) fn ours(
    tags: &std::collections::BTreeMap<String, String>,
    pair: &str,
    role: &str,
) -> bool {
    tags.get(TAG_PAIR).is_some_and(|p| p == pair) && tags.get(TAG_ROLE).is_some_and(|r| r == role)
}

pub(super) fn live_instance(i: Instance) -> LiveInstance {
    let shape = i.shape_config.clone().unwrap_or_default();
    LiveInstance {
        display_name: i.display_name.clone().unwrap_or_default(),
        lifecycle_state: i.lifecycle_state.as_str().to_string(),
        availability_domain: i.availability_domain.clone(),
        fault_domain: i.fault_domain.clone(),
        shape: i.shape.clone(),
        ocpus: shape.ocpus.map(|v| v as f32),
        memory_in_gbs: shape.memory_in_gbs.map(|v| v as f32),
        image_id: i.image_id.clone(),
        user_data: i.metadata.get("user_data").cloned(),
        ssh_authorized_keys: i.metadata.get("ssh_authorized_keys").cloned(),
        metadata: i.metadata.clone(),
        tags: i.freeform_tags.clone(),
        vnic: None,
        id: i.id,
    }
}

pub(super) fn live_dg(g: DynamicGroup) -> LiveDynamicGroup {
    LiveDynamicGroup {
        id: g.id,
        name: g.name,
        description: g.description.unwrap_or_default(),
        matching_rule: g.matching_rule,
        lifecycle_state: g.lifecycle_state.as_str().to_string(),
        tags: g.freeform_tags,
    }
}

pub(super) fn live_policy(p: Policy) -> LivePolicy {
    LivePolicy {
        id: p.id,
        compartment_id: p.compartment_id,
        name: p.name,
        description: p.description.unwrap_or_default(),
        statements: p.statements,
        lifecycle_state: p.lifecycle_state.as_str().to_string(),
        tags: p.freeform_tags,
    }
}

pub(super) fn live_ip(p: PrivateIp) -> Option<LivePrivateIp> {
    Some(LivePrivateIp {
        ip_address: p.ip_address.parse().ok()?,
        id: p.id,
        vnic_id: p.vnic_id,
        is_primary: p.is_primary.unwrap_or(false),
        tags: p.freeform_tags,
    })
}

pub(super) fn live_public_ip(p: crate::oci::models::PublicIp) -> LivePublicIp {
    LivePublicIp {
        id: p.id,
        ip_address: p.ip_address,
        lifetime: p.lifetime.unwrap_or_default(),
        private_ip_id: p.private_ip_id.filter(|x| !x.is_empty()),
        lifecycle_state: p.lifecycle_state.unwrap_or_default(),
        tags: p.freeform_tags,
    }
}
