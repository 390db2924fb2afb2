//! Core (compute and networking) models: VCN, subnet, image, instance, VNIC attachment, VNIC,
//! private IP, network security group and its rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{lifecycle_enum, DefinedTags, FreeformTags};

lifecycle_enum!(
    /// VCNs and subnets.
    NetworkLifecycleState {
        Provisioning => "PROVISIONING",
        Available => "AVAILABLE",
        Terminating => "TERMINATING",
        Terminated => "TERMINATED",
        Updating => "UPDATING",
    }
);

lifecycle_enum!(
    ImageLifecycleState {
        Provisioning => "PROVISIONING",
        Importing => "IMPORTING",
        Available => "AVAILABLE",
        Exporting => "EXPORTING",
        Disabled => "DISABLED",
        Deleted => "DELETED",
    }
);

lifecycle_enum!(
    InstanceLifecycleState {
        Moving => "MOVING",
        Provisioning => "PROVISIONING",
        Running => "RUNNING",
        Starting => "STARTING",
        Stopping => "STOPPING",
        Stopped => "STOPPED",
        CreatingImage => "CREATING_IMAGE",
        Terminating => "TERMINATING",
        Terminated => "TERMINATED",
    }
);

lifecycle_enum!(
    VnicAttachmentLifecycleState {
        Attaching => "ATTACHING",
        Attached => "ATTACHED",
        Detaching => "DETACHING",
        Detached => "DETACHED",
    }
);

lifecycle_enum!(
    /// VNICs and network security groups.
    ResourceLifecycleState {
        Provisioning => "PROVISIONING",
        Available => "AVAILABLE",
        Terminating => "TERMINATING",
        Terminated => "TERMINATED",
    }
);

lifecycle_enum!(
    SecurityRuleDirection {
        Ingress => "INGRESS",
        Egress => "EGRESS",
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vcn {
    pub id: String,
    pub compartment_id: String,
    pub cidr_block: Option<String>,
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
    pub display_name: Option<String>,
    pub dns_label: Option<String>,
    pub vcn_domain_name: Option<String>,
    pub default_route_table_id: Option<String>,
    pub default_security_list_id: Option<String>,
    pub default_dhcp_options_id: Option<String>,
    pub lifecycle_state: NetworkLifecycleState,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub id: String,
    pub compartment_id: String,
    pub vcn_id: String,
    pub cidr_block: String,
    /// `None` for a regional subnet.
    pub availability_domain: Option<String>,
    pub display_name: Option<String>,
    pub dns_label: Option<String>,
    pub subnet_domain_name: Option<String>,
    pub prohibit_public_ip_on_vnic: Option<bool>,
    pub prohibit_internet_ingress: Option<bool>,
    pub route_table_id: Option<String>,
    #[serde(default)]
    pub security_list_ids: Vec<String>,
    pub dhcp_options_id: Option<String>,
    pub virtual_router_ip: Option<String>,
    pub virtual_router_mac: Option<String>,
    /// The subnet's IPv6 prefixes (`ipv6CidrBlock` is the first, kept by older APIs).
    pub ipv6_cidr_block: Option<String>,
    #[serde(default)]
    pub ipv6_cidr_blocks: Vec<String>,
    pub lifecycle_state: NetworkLifecycleState,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub id: String,
    pub compartment_id: Option<String>,
    pub display_name: Option<String>,
    pub operating_system: String,
    pub operating_system_version: String,
    pub lifecycle_state: ImageLifecycleState,
    pub base_image_id: Option<String>,
    pub create_image_allowed: Option<bool>,
    pub launch_mode: Option<String>,
    #[serde(rename = "sizeInMBs")]
    pub size_in_mbs: Option<i64>,
    #[serde(rename = "billableSizeInGBs")]
    pub billable_size_in_gbs: Option<i64>,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceShapeConfig {
    pub ocpus: Option<f64>,
    #[serde(rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
    pub vcpus: Option<i64>,
    pub processor_description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub compartment_id: String,
    pub availability_domain: String,
    pub fault_domain: Option<String>,
    pub display_name: Option<String>,
    pub shape: String,
    pub shape_config: Option<InstanceShapeConfig>,
    pub image_id: Option<String>,
    pub region: String,
    pub lifecycle_state: InstanceLifecycleState,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub source_details: Option<serde_json::Value>,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchInstanceShapeConfigDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<f64>,
    #[serde(rename = "memoryInGBs", skip_serializing_if = "Option::is_none")]
    pub memory_in_gbs: Option<f64>,
}

/// `sourceDetails` of a launch from an image (`sourceType: "image"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSourceViaImageDetails {
    pub source_type: String,
    pub image_id: String,
    #[serde(
        rename = "bootVolumeSizeInGBs",
        skip_serializing_if = "Option::is_none"
    )]
    pub boot_volume_size_in_gbs: Option<i64>,
}

impl InstanceSourceViaImageDetails {
    pub fn new(image_id: &str) -> Self {
        InstanceSourceViaImageDetails {
            source_type: "image".into(),
            image_id: image_id.into(),
            boot_volume_size_in_gbs: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVnicDetails {
    pub subnet_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsg_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_source_dest_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchInstanceDetails {
    pub availability_domain: String,
    pub compartment_id: String,
    pub shape: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape_config: Option<LaunchInstanceShapeConfigDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub source_details: InstanceSourceViaImageDetails,
    pub create_vnic_details: CreateVnicDetails,
    /// `ssh_authorized_keys`, `user_data` (base64); at most 32,000 bytes in all.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnicAttachment {
    pub id: String,
    pub instance_id: String,
    /// Absent while attaching.
    pub vnic_id: Option<String>,
    pub subnet_id: Option<String>,
    pub nic_index: Option<i64>,
    pub availability_domain: String,
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub vlan_tag: Option<i64>,
    pub lifecycle_state: VnicAttachmentLifecycleState,
    pub time_created: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vnic {
    pub id: String,
    pub availability_domain: String,
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub hostname_label: Option<String>,
    pub is_primary: Option<bool>,
    pub lifecycle_state: ResourceLifecycleState,
    pub mac_address: Option<String>,
    #[serde(default)]
    pub nsg_ids: Vec<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub skip_source_dest_check: Option<bool>,
    pub subnet_id: String,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A private IP. It has no lifecycleState: `ipState` (ASSIGNED, AVAILABLE) and `lifetime`
/// (EPHEMERAL, RESERVED) describe it instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateIp {
    pub id: String,
    pub availability_domain: Option<String>,
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub hostname_label: Option<String>,
    pub ip_address: String,
    pub is_primary: Option<bool>,
    pub subnet_id: String,
    pub vnic_id: Option<String>,
    pub ip_state: Option<String>,
    pub lifetime: Option<String>,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// An IPv6 address on a VNIC (py core/models/ipv6.py).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipv6 {
    pub id: String,
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub ip_address: String,
    pub subnet_id: String,
    pub vnic_id: Option<String>,
    pub lifecycle_state: Option<String>,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// CreateIpv6 (py core/models/create_ipv6_details.py).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIpv6Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
}

/// UpdateIpv6 (py core/models/update_ipv6_details.py): `vnicId` moves it within its subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateIpv6Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
}

/// A Notifications topic (py ons/models/notification_topic.py): it has `topicId`, not `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationTopic {
    pub topic_id: String,
    pub name: Option<String>,
    pub compartment_id: String,
    pub lifecycle_state: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePrivateIpDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePrivateIpDetails {
    /// Moves the (secondary) private IP to this VNIC, in the same subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSecurityGroup {
    pub id: String,
    pub compartment_id: String,
    pub vcn_id: String,
    pub display_name: Option<String>,
    pub lifecycle_state: ResourceLifecycleState,
    pub time_created: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateNetworkSecurityGroupDetails {
    pub compartment_id: String,
    pub vcn_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

/// A rule to add. `protocol` is `"all"` or an IANA number as a string (`"112"` for VRRP).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddSecurityRuleDetails {
    pub direction: SecurityRuleDirection,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// CIDR_BLOCK, SERVICE_CIDR_BLOCK or NETWORK_SECURITY_GROUP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_stateless: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_options: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_options: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_options: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddNetworkSecurityGroupSecurityRulesDetails {
    /// At most 25 per call.
    pub security_rules: Vec<AddSecurityRuleDetails>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityRule {
    pub id: Option<String>,
    pub direction: SecurityRuleDirection,
    pub protocol: String,
    pub source: Option<String>,
    pub source_type: Option<String>,
    pub destination: Option<String>,
    pub destination_type: Option<String>,
    pub is_stateless: Option<bool>,
    pub is_valid: Option<bool>,
    pub description: Option<String>,
    pub tcp_options: Option<serde_json::Value>,
    pub udp_options: Option<serde_json::Value>,
    pub icmp_options: Option<serde_json::Value>,
    pub time_created: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedNetworkSecurityGroupSecurityRules {
    #[serde(default)]
    pub security_rules: Vec<SecurityRule>,
}
