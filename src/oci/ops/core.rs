//! Core operations: VCN, subnet, images, instances, VNIC attachments, VNICs, private IPs,
//! network security groups and their rules.

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::*;
use crate::oci::request::{encode, ApiRequest, Versioned};

const CORE: Service = Service::Core;

/// Filters of ListImages (`compartment_id` is required by OCI).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListImagesRequest {
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub operating_system: Option<String>,
    pub operating_system_version: Option<String>,
    pub shape: Option<String>,
    pub lifecycle_state: Option<String>,
    /// TIMECREATED or DISPLAYNAME.
    pub sort_by: Option<String>,
    /// ASC or DESC.
    pub sort_order: Option<String>,
}

/// Filters of ListInstances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListInstancesRequest {
    pub compartment_id: String,
    pub availability_domain: Option<String>,
    pub display_name: Option<String>,
    pub lifecycle_state: Option<String>,
}

/// Filters of ListPrivateIps: `ip_address` + `subnet_id`, or `vnic_id`, or `subnet_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPrivateIpsRequest {
    pub ip_address: Option<String>,
    pub subnet_id: Option<String>,
    pub vnic_id: Option<String>,
}

pub fn list_images_request(q: &ListImagesRequest) -> ApiRequest {
    ApiRequest::get("ListImages", CORE, "/images".into())
        .query("compartmentId", &q.compartment_id)
        .query_opt("displayName", q.display_name.as_ref())
        .query_opt("operatingSystem", q.operating_system.as_ref())
        .query_opt(
            "operatingSystemVersion",
            q.operating_system_version.as_ref(),
        )
        .query_opt("shape", q.shape.as_ref())
        .query_opt("lifecycleState", q.lifecycle_state.as_ref())
        .query_opt("sortBy", q.sort_by.as_ref())
        .query_opt("sortOrder", q.sort_order.as_ref())
}

pub fn terminate_instance_request(
    id: &str,
    preserve_boot_volume: bool,
    if_match: Option<&str>,
) -> ApiRequest {
    ApiRequest::delete(
        "TerminateInstance",
        CORE,
        format!("/instances/{}", encode(id)),
    )
    .query("preserveBootVolume", preserve_boot_volume)
    .if_match(if_match)
}

pub fn update_private_ip_request(
    id: &str,
    details: &UpdatePrivateIpDetails,
    if_match: Option<&str>,
) -> ApiRequest {
    ApiRequest::put(
        "UpdatePrivateIp",
        CORE,
        format!("/privateIps/{}", encode(id)),
        details,
    )
    .if_match(if_match)
}

pub fn list_private_ips_request(q: &ListPrivateIpsRequest) -> ApiRequest {
    ApiRequest::get("ListPrivateIps", CORE, "/privateIps".into())
        .query_opt("ipAddress", q.ip_address.as_ref())
        .query_opt("subnetId", q.subnet_id.as_ref())
        .query_opt("vnicId", q.vnic_id.as_ref())
}

/// Filters of ListIpv6s: a VNIC, a subnet, or a subnet and an address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListIpv6sRequest {
    pub ip_address: Option<String>,
    pub subnet_id: Option<String>,
    pub vnic_id: Option<String>,
}

impl Client {
    /// CreateIpv6 (`POST /ipv6`, py virtual_network_client.create_ipv6).
    pub async fn create_ipv6(
        &self,
        details: &CreateIpv6Details,
        retry_token: Option<&str>,
    ) -> Result<Versioned<Ipv6>, OciError> {
        let req =
            ApiRequest::post("CreateIpv6", CORE, "/ipv6".into(), details).retry_token(retry_token);
        self.call_versioned(req).await
    }

    pub async fn list_ipv6s(&self, q: &ListIpv6sRequest) -> Result<Vec<Ipv6>, OciError> {
        let req = ApiRequest::get("ListIpv6s", CORE, "/ipv6".into())
            .query_opt("ipAddress", q.ip_address.as_ref())
            .query_opt("subnetId", q.subnet_id.as_ref())
            .query_opt("vnicId", q.vnic_id.as_ref());
        self.list_all(req).await
    }

    pub async fn update_ipv6(
        &self,
        id: &str,
        details: &UpdateIpv6Details,
    ) -> Result<Versioned<Ipv6>, OciError> {
        let path = format!("/ipv6/{}", encode(id));
        self.call_versioned(ApiRequest::put("UpdateIpv6", CORE, path, details))
            .await
    }

    pub async fn delete_ipv6(&self, id: &str) -> Result<(), OciError> {
        let path = format!("/ipv6/{}", encode(id));
        self.send(ApiRequest::delete("DeleteIpv6", CORE, path))
            .await
            .map(|_| ())
    }

    /// GetTopic (Notifications control plane, `/20181201/topics/{topicId}`).
    pub async fn get_topic(&self, id: &str) -> Result<Versioned<NotificationTopic>, OciError> {
        let path = format!("/20181201/topics/{}", encode(id));
        self.call_versioned(ApiRequest::unversioned(
            "GetTopic",
            Service::Notification,
            "GET",
            path,
        ))
        .await
    }

    pub async fn get_vcn(&self, id: &str) -> Result<Versioned<Vcn>, OciError> {
        let path = format!("/vcns/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetVcn", CORE, path))
            .await
    }

    pub async fn get_subnet(&self, id: &str) -> Result<Versioned<Subnet>, OciError> {
        let path = format!("/subnets/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetSubnet", CORE, path))
            .await
    }

    pub async fn list_images(&self, q: &ListImagesRequest) -> Result<Vec<Image>, OciError> {
        self.list_all(list_images_request(q)).await
    }

    pub async fn get_image(&self, id: &str) -> Result<Versioned<Image>, OciError> {
        let path = format!("/images/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetImage", CORE, path))
            .await
    }

    pub async fn launch_instance(
        &self,
        details: &LaunchInstanceDetails,
        retry_token: Option<&str>,
    ) -> Result<Versioned<Instance>, OciError> {
        let req = ApiRequest::post("LaunchInstance", CORE, "/instances".into(), details)
            .retry_token(retry_token);
        self.call_versioned(req).await
    }

    pub async fn get_instance(&self, id: &str) -> Result<Versioned<Instance>, OciError> {
        let path = format!("/instances/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetInstance", CORE, path))
            .await
    }

    pub async fn list_instances(
        &self,
        q: &ListInstancesRequest,
    ) -> Result<Vec<Instance>, OciError> {
        let req = ApiRequest::get("ListInstances", CORE, "/instances".into())
            .query("compartmentId", &q.compartment_id)
            .query_opt("availabilityDomain", q.availability_domain.as_ref())
            .query_opt("displayName", q.display_name.as_ref())
            .query_opt("lifecycleState", q.lifecycle_state.as_ref());
        self.list_all(req).await
    }

    /// Starts termination (TERMINATING -> TERMINATED); use `wait_for_instance` to see it end.
    pub async fn terminate_instance(
        &self,
        id: &str,
        preserve_boot_volume: bool,
        if_match: Option<&str>,
    ) -> Result<(), OciError> {
        self.send(terminate_instance_request(
            id,
            preserve_boot_volume,
            if_match,
        ))
        .await
        .map(|_| ())
    }

    pub async fn list_vnic_attachments(
        &self,
        compartment_id: &str,
        instance_id: Option<&str>,
    ) -> Result<Vec<VnicAttachment>, OciError> {
        let req = ApiRequest::get("ListVnicAttachments", CORE, "/vnicAttachments".into())
            .query("compartmentId", compartment_id)
            .query_opt("instanceId", instance_id);
        self.list_all(req).await
    }

    pub async fn get_vnic(&self, id: &str) -> Result<Versioned<Vnic>, OciError> {
        let path = format!("/vnics/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetVnic", CORE, path))
            .await
    }

    pub async fn create_private_ip(
        &self,
        details: &CreatePrivateIpDetails,
        retry_token: Option<&str>,
    ) -> Result<Versioned<PrivateIp>, OciError> {
        let req = ApiRequest::post("CreatePrivateIp", CORE, "/privateIps".into(), details)
            .retry_token(retry_token);
        self.call_versioned(req).await
    }

    pub async fn get_private_ip(&self, id: &str) -> Result<Versioned<PrivateIp>, OciError> {
        let path = format!("/privateIps/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetPrivateIp", CORE, path))
            .await
    }

    pub async fn list_private_ips(
        &self,
        q: &ListPrivateIpsRequest,
    ) -> Result<Vec<PrivateIp>, OciError> {
        self.list_all(list_private_ips_request(q)).await
    }

    /// Moves a secondary private IP to `details.vnic_id` (same subnet) or renames it.
    pub async fn update_private_ip(
        &self,
        id: &str,
        details: &UpdatePrivateIpDetails,
        if_match: Option<&str>,
    ) -> Result<Versioned<PrivateIp>, OciError> {
        self.call_versioned(update_private_ip_request(id, details, if_match))
            .await
    }

    pub async fn delete_private_ip(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), OciError> {
        let path = format!("/privateIps/{}", encode(id));
        let req = ApiRequest::delete("DeletePrivateIp", CORE, path).if_match(if_match);
        self.send(req).await.map(|_| ())
    }

    pub async fn create_network_security_group(
        &self,
        details: &CreateNetworkSecurityGroupDetails,
        retry_token: Option<&str>,
    ) -> Result<Versioned<NetworkSecurityGroup>, OciError> {
        let req = ApiRequest::post(
            "CreateNetworkSecurityGroup",
            CORE,
            "/networkSecurityGroups".into(),
            details,
        )
        .retry_token(retry_token);
        self.call_versioned(req).await
    }

    pub async fn get_network_security_group(
        &self,
        id: &str,
    ) -> Result<Versioned<NetworkSecurityGroup>, OciError> {
        let path = format!("/networkSecurityGroups/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetNetworkSecurityGroup", CORE, path))
            .await
    }

    pub async fn list_network_security_groups(
        &self,
        compartment_id: &str,
        vcn_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<Vec<NetworkSecurityGroup>, OciError> {
        let req = ApiRequest::get(
            "ListNetworkSecurityGroups",
            CORE,
            "/networkSecurityGroups".into(),
        )
        .query("compartmentId", compartment_id)
        .query_opt("vcnId", vcn_id)
        .query_opt("displayName", display_name);
        self.list_all(req).await
    }

    pub async fn delete_network_security_group(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), OciError> {
        let path = format!("/networkSecurityGroups/{}", encode(id));
        let req = ApiRequest::delete("DeleteNetworkSecurityGroup", CORE, path).if_match(if_match);
        self.send(req).await.map(|_| ())
    }

    /// At most 25 rules per call (OCI's limit).
    pub async fn add_network_security_group_security_rules(
        &self,
        nsg_id: &str,
        details: &AddNetworkSecurityGroupSecurityRulesDetails,
    ) -> Result<AddedNetworkSecurityGroupSecurityRules, OciError> {
        let path = format!(
            "/networkSecurityGroups/{}/actions/addSecurityRules",
            encode(nsg_id)
        );
        let req = ApiRequest::post("AddNetworkSecurityGroupSecurityRules", CORE, path, details);
        self.call(req).await
    }

    /// Removes rules by id (`RemoveNetworkSecurityGroupSecurityRules`, oci-python-sdk
    /// `VirtualNetworkClient.remove_network_security_group_security_rules`).
    pub async fn remove_network_security_group_security_rules(
        &self,
        nsg_id: &str,
        rule_ids: &[String],
    ) -> Result<(), OciError> {
        let path = format!(
            "/networkSecurityGroups/{}/actions/removeSecurityRules",
            encode(nsg_id)
        );
        let body = serde_json::json!({ "securityRuleIds": rule_ids });
        let req = ApiRequest::post("RemoveNetworkSecurityGroupSecurityRules", CORE, path, &body);
        self.send(req).await.map(|_| ())
    }

    pub async fn list_network_security_group_security_rules(
        &self,
        nsg_id: &str,
        direction: Option<SecurityRuleDirection>,
    ) -> Result<Vec<SecurityRule>, OciError> {
        let path = format!("/networkSecurityGroups/{}/securityRules", encode(nsg_id));
        let req = ApiRequest::get("ListNetworkSecurityGroupSecurityRules", CORE, path)
            .query_opt("direction", direction.map(|d| d.as_str()));
        self.list_all(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_images_query_in_order_with_rfc3986_spaces() {
        let r = list_images_request(&ListImagesRequest {
            compartment_id: "c".into(),
            operating_system: Some("Oracle Linux".into()),
            operating_system_version: Some("9".into()),
            shape: Some("VM.Standard.E4.Flex".into()),
            lifecycle_state: Some("AVAILABLE".into()),
            sort_by: Some("TIMECREATED".into()),
            sort_order: Some("DESC".into()),
            ..Default::default()
        });
        let u = r.url("https://iaas.x").unwrap();
        assert_eq!(
            u.query().unwrap(),
            "compartmentId=c&operatingSystem=Oracle%20Linux&operatingSystemVersion=9&shape=VM.Standard.E4.Flex&lifecycleState=AVAILABLE&sortBy=TIMECREATED&sortOrder=DESC"
        );
    }

    #[test]
    fn private_ip_move_is_a_put_with_if_match_and_only_vnic_id() {
        let r = update_private_ip_request(
            "ocid1.privateip.oc1..p",
            &UpdatePrivateIpDetails {
                vnic_id: Some("ocid1.vnic.oc1..b".into()),
                ..Default::default()
            },
            Some("etag-1"),
        );
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/20160918/privateIps/ocid1.privateip.oc1..p");
        assert_eq!(r.if_match.as_deref(), Some("etag-1"));
        assert_eq!(
            r.body.as_deref(),
            Some(br#"{"vnicId":"ocid1.vnic.oc1..b"}"#.as_slice())
        );
        assert!(!r.home_region);
    }

    #[test]
    fn terminate_sends_preserve_boot_volume() {
        let r = terminate_instance_request("i", false, None);
        assert_eq!(r.method, "DELETE");
        assert_eq!(
            r.query,
            vec![("preserveBootVolume".to_string(), "false".to_string())]
        );
    }

    #[test]
    fn launch_details_serialize_with_oci_field_names() {
        let d = LaunchInstanceDetails {
            availability_domain: "Uocm:PHX-AD-1".into(),
            compartment_id: "c".into(),
            shape: "VM.Standard.E4.Flex".into(),
            shape_config: Some(LaunchInstanceShapeConfigDetails {
                ocpus: Some(1.0),
                memory_in_gbs: Some(8.0),
            }),
            display_name: Some("node1".into()),
            source_details: InstanceSourceViaImageDetails {
                boot_volume_size_in_gbs: Some(50),
                ..InstanceSourceViaImageDetails::new("img")
            },
            create_vnic_details: CreateVnicDetails {
                subnet_id: "s".into(),
                assign_public_ip: Some(false),
                private_ip: Some("10.0.1.10".into()),
                nsg_ids: Some(vec!["n".into()]),
                hostname_label: Some("node1".into()),
                ..Default::default()
            },
            metadata: [("user_data".to_string(), "b64".to_string())].into(),
            fault_domain: None,
            freeform_tags: None,
            defined_tags: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"availabilityDomain":"Uocm:PHX-AD-1","compartmentId":"c",
                "shape":"VM.Standard.E4.Flex","shapeConfig":{"ocpus":1.0,"memoryInGBs":8.0},
                "displayName":"node1",
                "sourceDetails":{"sourceType":"image","imageId":"img","bootVolumeSizeInGBs":50},
                "createVnicDetails":{"subnetId":"s","assignPublicIp":false,"privateIp":"10.0.1.10",
                    "nsgIds":["n"],"hostnameLabel":"node1"},
                "metadata":{"user_data":"b64"}})
        );
    }

    #[test]
    fn core_models_parse_with_lifecycle_states() {
        let i: Instance = serde_json::from_str(
            r#"{"id":"i","compartmentId":"c","availabilityDomain":"AD-1","shape":"s","region":"iad",
            "lifecycleState":"PROVISIONING","shapeConfig":{"ocpus":1,"memoryInGBs":8},"metadata":{}}"#,
        )
        .unwrap();
        assert_eq!(i.lifecycle_state, InstanceLifecycleState::Provisioning);
        assert_eq!(i.shape_config.unwrap().memory_in_gbs, Some(8.0));
        let p: PrivateIp = serde_json::from_str(
            r#"{"id":"p","compartmentId":"c","ipAddress":"10.0.0.5","isPrimary":false,"subnetId":"s",
            "vnicId":"v","ipState":"ASSIGNED","lifetime":"EPHEMERAL"}"#,
        )
        .unwrap();
        assert_eq!(p.vnic_id.as_deref(), Some("v"));
        let a: VnicAttachment = serde_json::from_str(
            r#"{"id":"a","instanceId":"i","availabilityDomain":"AD","compartmentId":"c","lifecycleState":"ATTACHED","vnicId":"v","nicIndex":0}"#,
        )
        .unwrap();
        assert_eq!(a.lifecycle_state, VnicAttachmentLifecycleState::Attached);
        let r: SecurityRule = serde_json::from_str(
            r#"{"id":"r","direction":"INGRESS","protocol":"112","source":"n","sourceType":"NETWORK_SECURITY_GROUP","isValid":true}"#,
        )
        .unwrap();
        assert_eq!(r.direction, SecurityRuleDirection::Ingress);
    }
}
