//! Requests that change a pair's resources in place (UpdateInstance, UpdateVnic,
//! UpdateNetworkSecurityGroup) and public IPs (the PublicIp model, CreatePublicIp,
//! UpdatePublicIp, GetPublicIpByPrivateIpId, GetPublicIpByIpAddress), with the field names of
//! the Python SDK's `attribute_map`s.

use serde::{Deserialize, Serialize};

use super::{DefinedTags, FreeformTags};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstanceShapeConfigDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<f64>,
    #[serde(rename = "memoryInGBs", skip_serializing_if = "Option::is_none")]
    pub memory_in_gbs: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstanceDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape_config: Option<UpdateInstanceShapeConfigDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_domain: Option<String>,
    /// Replaces every custom metadata key; `user_data` and `ssh_authorized_keys` must be sent
    /// back unchanged (oci-python-sdk UpdateInstanceDetails.metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateVnicDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsg_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateNetworkSecurityGroupDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePublicIpDetails {
    pub compartment_id: String,
    /// `EPHEMERAL` or `RESERVED`.
    pub lifetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
}

/// UpdatePublicIp (py core/models/update_public_ip_details.py): `privateIpId` assigns or moves a
/// reserved public IP, `""` unassigns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePublicIpDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPublicIpByPrivateIpIdDetails {
    pub private_ip_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPublicIpByIpAddressDetails {
    pub ip_address: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicIp {
    pub id: String,
    pub compartment_id: Option<String>,
    pub ip_address: Option<String>,
    /// PROVISIONING, AVAILABLE, ASSIGNING, ASSIGNED, UNASSIGNING, UNASSIGNED, TERMINATING,
    /// TERMINATED.
    pub lifecycle_state: Option<String>,
    /// `EPHEMERAL` or `RESERVED`.
    pub lifetime: Option<String>,
    pub private_ip_id: Option<String>,
    pub scope: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
}
