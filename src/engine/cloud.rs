//! What the engine needs from a cloud, in its own terms: find, create, change and delete the
//! pair's six resources. `engine::oci_cloud` implements it over `oci::Client`; unit tests use an
//! in-memory fake. Deletes count "not found" as done; gets return `None` for "not found".

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use super::egress::Egress;
use super::model::{
    DesiredNode, LiveAddress, LiveDynamicGroup, LiveInstance, LiveNsg, LivePolicy, LivePrivateIp,
    LivePublicIp, LiveSubnet, LiveVnic, NsgRule,
};

pub type CloudFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CloudError>> + Send + 'a>>;

/// What the plan shows and compares of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDetails {
    pub id: String,
    pub name: Option<String>,
    pub os: String,
    pub version: String,
}

/// A failed cloud call, with what a user needs to follow it up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed{}{}: {message}{}",
    .status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(),
    .code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
    .request_id.as_ref().map(|r| format!(" (opc-request-id {r})")).unwrap_or_default())]
pub struct CloudError {
    pub operation: String,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl CloudError {
    pub fn other(operation: &str, message: impl Into<String>) -> CloudError {
        CloudError {
            operation: operation.to_string(),
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
        }
    }
}

pub type Tags = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq)]
pub struct NsgSpec {
    pub compartment_id: String,
    pub vcn_id: String,
    pub display_name: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSpec {
    pub compartment_id: String,
    pub subnet_id: String,
    pub nsg_ids: Vec<String>,
    pub node: DesiredNode,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DynamicGroupSpec {
    pub tenancy_id: String,
    pub name: String,
    pub description: String,
    pub matching_rule: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PolicySpec {
    pub compartment_id: String,
    pub name: String,
    pub description: String,
    pub statements: Vec<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrivateIpSpec {
    pub vnic_id: String,
    pub ip_address: Ipv4Addr,
    pub display_name: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ipv6Spec {
    pub vnic_id: String,
    pub ip_address: Ipv6Addr,
    pub display_name: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReservedIpSpec {
    pub compartment_id: String,
    pub display_name: String,
    /// Assigned at once to this private IP.
    pub private_ip_id: String,
    pub tags: Tags,
}

/// What UpdateInstance changes in place; `None` fields are left as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceUpdate {
    pub tags: Option<Tags>,
    pub ocpus: Option<f32>,
    pub memory_in_gbs: Option<f32>,
    pub shape: Option<String>,
    pub fault_domain: Option<String>,
    /// Every custom metadata key (UpdateInstance replaces the whole set): `user_data` and
    /// `ssh_authorized_keys` exactly as the instance has them, and the settings key.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The operations the engine uses. Creates take the `opc-retry-token`.
pub trait Cloud: Send + Sync {
    // Lookups apply needs before it can say what it wants.
    fn get_subnet<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveSubnet>>;
    fn availability_domains<'a>(&'a self, tenancy_id: &'a str) -> CloudFuture<'a, Vec<String>>;
    /// The newest AVAILABLE image for the OS, version and shape.
    fn newest_image<'a>(
        &'a self,
        compartment_id: &'a str,
        os: &'a str,
        version: &'a str,
        shape: &'a str,
    ) -> CloudFuture<'a, Option<String>>;
    /// Every address in use in the subnet.
    fn subnet_ips<'a>(&'a self, subnet_id: &'a str) -> CloudFuture<'a, Vec<Ipv4Addr>>;
    /// The fault domains' names in an availability domain (ListFaultDomains).
    fn fault_domains<'a>(
        &'a self,
        compartment_id: &'a str,
        availability_domain: &'a str,
    ) -> CloudFuture<'a, Vec<String>>;
    /// The shapes offered in an availability domain; with `image_id`, only those that image
    /// runs on (ListShapes).
    fn shapes<'a>(
        &'a self,
        compartment_id: &'a str,
        availability_domain: &'a str,
        image_id: Option<&'a str>,
    ) -> CloudFuture<'a, Vec<String>>;
    /// An image's lifecycle state, `None` if not found (GetImage).
    fn get_image<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>>;
    /// An image's name, operating system and version, `None` if not found (GetImage). Clouds
    /// that can't tell (test fakes) answer `None`: the plan then shows OCIDs alone.
    fn image_details<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<ImageDetails>> {
        let _ = id;
        Box::pin(async { Ok(None) })
    }
    /// The subnet's route rules and where they lead (GetSubnet, GetRouteTable, Get*Gateway).
    fn egress<'a>(&'a self, subnet_id: &'a str) -> CloudFuture<'a, Egress>;
    /// The private IP (OCID) in the subnet already using `hostname` as its hostname label.
    fn hostname_holder<'a>(
        &'a self,
        subnet_id: &'a str,
        hostname: &'a str,
    ) -> CloudFuture<'a, Option<String>>;

    fn get_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveNsg>>;
    /// The pair's NSG found by its tags (lost state).
    fn find_nsg<'a>(
        &'a self,
        compartment_id: &'a str,
        vcn_id: &'a str,
        pair: &'a str,
    ) -> CloudFuture<'a, Option<LiveNsg>>;
    fn create_nsg<'a>(&'a self, spec: &'a NsgSpec, token: &'a str) -> CloudFuture<'a, String>;
    fn add_nsg_rules<'a>(&'a self, nsg_id: &'a str, rules: &'a [NsgRule]) -> CloudFuture<'a, ()>;
    /// Removes the group's rules with these ids.
    fn remove_nsg_rules<'a>(&'a self, nsg_id: &'a str, ids: &'a [String]) -> CloudFuture<'a, ()>;
    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;
    /// Sets the NSG's freeform tags (UpdateNetworkSecurityGroup).
    fn update_nsg_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()>;

    /// The instance without its VNIC (`vnic` is `None`); see `primary_vnic`.
    fn get_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveInstance>>;
    /// The pair's non-terminated instance with this role, found by its tags.
    fn find_instance<'a>(
        &'a self,
        compartment_id: &'a str,
        pair: &'a str,
        role: &'a str,
    ) -> CloudFuture<'a, Option<LiveInstance>>;
    fn primary_vnic<'a>(
        &'a self,
        compartment_id: &'a str,
        instance_id: &'a str,
    ) -> CloudFuture<'a, Option<LiveVnic>>;
    fn launch_instance<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn terminate_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;
    /// UpdateInstance: tags and a flex shape's size.
    fn update_instance<'a>(&'a self, id: &'a str, u: &'a InstanceUpdate) -> CloudFuture<'a, ()>;
    /// InstanceAction (`SOFTSTOP`, `STOP`, `START`, ...).
    fn instance_action<'a>(&'a self, id: &'a str, action: &'a str) -> CloudFuture<'a, ()>;
    /// Sets the NSGs a VNIC is in (UpdateVnic `nsgIds`).
    fn update_vnic_nsgs<'a>(
        &'a self,
        vnic_id: &'a str,
        nsg_ids: &'a [String],
    ) -> CloudFuture<'a, ()>;
    /// Gives the VNIC's primary private IP an ephemeral public IP (CreatePublicIp).
    fn assign_public_ip<'a>(&'a self, vnic_id: &'a str) -> CloudFuture<'a, ()>;
    /// Deletes the ephemeral public IP with this address; a reserved one is an error (it is
    /// the user's, and deleting it would lose the address for good).
    fn unassign_public_ip<'a>(&'a self, address: &'a str) -> CloudFuture<'a, ()>;

    fn get_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveDynamicGroup>>;
    fn find_dynamic_group<'a>(
        &'a self,
        tenancy_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LiveDynamicGroup>>;
    fn create_dynamic_group<'a>(
        &'a self,
        spec: &'a DynamicGroupSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn update_dynamic_group<'a>(
        &'a self,
        id: &'a str,
        spec: &'a DynamicGroupSpec,
    ) -> CloudFuture<'a, ()>;
    fn delete_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    fn get_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePolicy>>;
    fn find_policy<'a>(
        &'a self,
        compartment_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LivePolicy>>;
    fn create_policy<'a>(&'a self, spec: &'a PolicySpec, token: &'a str)
        -> CloudFuture<'a, String>;
    fn update_policy<'a>(&'a self, id: &'a str, spec: &'a PolicySpec) -> CloudFuture<'a, ()>;
    fn delete_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    fn get_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePrivateIp>>;
    fn find_private_ip<'a>(
        &'a self,
        subnet_id: &'a str,
        ip: Ipv4Addr,
    ) -> CloudFuture<'a, Option<LivePrivateIp>>;
    fn create_private_ip<'a>(
        &'a self,
        spec: &'a PrivateIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn move_private_ip<'a>(&'a self, id: &'a str, vnic_id: &'a str) -> CloudFuture<'a, ()>;
    /// Sets a private IP's freeform tags (UpdatePrivateIp).
    fn update_private_ip_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()>;
    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    /// The Ipv6 object holding `ip` in the subnet (ListIpv6s by subnet and address).
    fn find_ipv6<'a>(
        &'a self,
        subnet_id: &'a str,
        ip: Ipv6Addr,
    ) -> CloudFuture<'a, Option<LiveAddress>>;
    fn create_ipv6<'a>(&'a self, spec: &'a Ipv6Spec, token: &'a str) -> CloudFuture<'a, String>;
    /// UpdateIpv6: moves it to `vnic_id` and/or sets its freeform tags.
    fn update_ipv6<'a>(
        &'a self,
        id: &'a str,
        vnic_id: Option<&'a str>,
        tags: Option<&'a Tags>,
    ) -> CloudFuture<'a, ()>;
    fn delete_ipv6<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;
    fn get_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>>;
    /// The public IP assigned to a private IP (GetPublicIpByPrivateIpId).
    fn public_ip_of<'a>(&'a self, private_ip_id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>>;
    fn create_reserved_public_ip<'a>(
        &'a self,
        spec: &'a ReservedIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    /// UpdatePublicIp `privateIpId`: assigns a reserved public IP there, `""` unassigns it.
    fn set_public_ip_target<'a>(
        &'a self,
        id: &'a str,
        private_ip_id: &'a str,
    ) -> CloudFuture<'a, ()>;
    fn delete_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;
    /// The compartment of a Notifications topic (GetTopic), `None` if not found.
    fn topic_compartment<'a>(&'a self, topic_id: &'a str) -> CloudFuture<'a, Option<String>>;
}
