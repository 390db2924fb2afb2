//! Changes in place: UpdateInstance, InstanceAction (power actions such as SOFTSTOP), UpdateVnic,
//! UpdateNetworkSecurityGroup; and ephemeral public IPs (CreatePublicIp, GetPublicIpByIpAddress,
//! DeletePublicIp). Paths and methods as in oci-python-sdk's ComputeClient and
//! VirtualNetworkClient.

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::*;
use crate::oci::request::{encode, ApiRequest, Versioned};

const CORE: Service = Service::Core;

pub fn instance_action_request(id: &str, action: &str) -> ApiRequest {
    ApiRequest::post_empty("InstanceAction", CORE, format!("/instances/{}", encode(id)))
        .query("action", action)
}

impl Client {
    pub async fn update_instance(
        &self,
        id: &str,
        details: &UpdateInstanceDetails,
    ) -> Result<Versioned<Instance>, OciError> {
        let path = format!("/instances/{}", encode(id));
        self.call_versioned(ApiRequest::put("UpdateInstance", CORE, path, details))
            .await
    }

    /// One power action; the instance's lifecycle then moves (SOFTSTOP: STOPPING -> STOPPED).
    pub async fn instance_action(&self, id: &str, action: &str) -> Result<Instance, OciError> {
        self.call(instance_action_request(id, action)).await
    }

    pub async fn update_vnic(
        &self,
        id: &str,
        details: &UpdateVnicDetails,
    ) -> Result<Versioned<Vnic>, OciError> {
        let path = format!("/vnics/{}", encode(id));
        self.call_versioned(ApiRequest::put("UpdateVnic", CORE, path, details))
            .await
    }

    pub async fn update_network_security_group(
        &self,
        id: &str,
        details: &UpdateNetworkSecurityGroupDetails,
    ) -> Result<Versioned<NetworkSecurityGroup>, OciError> {
        let path = format!("/networkSecurityGroups/{}", encode(id));
        self.call_versioned(ApiRequest::put(
            "UpdateNetworkSecurityGroup",
            CORE,
            path,
            details,
        ))
        .await
    }

    pub async fn create_public_ip(
        &self,
        details: &CreatePublicIpDetails,
        retry_token: Option<&str>,
    ) -> Result<PublicIp, OciError> {
        let req = ApiRequest::post("CreatePublicIp", CORE, "/publicIps".into(), details)
            .retry_token(retry_token);
        self.call(req).await
    }

    pub async fn get_public_ip_by_ip_address(&self, address: &str) -> Result<PublicIp, OciError> {
        let details = GetPublicIpByIpAddressDetails {
            ip_address: address.to_string(),
        };
        let req = ApiRequest::post(
            "GetPublicIpByIpAddress",
            CORE,
            "/publicIps/actions/getByIpAddress".into(),
            &details,
        );
        self.call(req).await
    }

    pub async fn get_public_ip(&self, id: &str) -> Result<PublicIp, OciError> {
        let path = format!("/publicIps/{}", encode(id));
        self.call(ApiRequest::get("GetPublicIp", CORE, path)).await
    }

    /// The public IP assigned to a private IP (POST /publicIps/actions/getByPrivateIpId).
    pub async fn get_public_ip_by_private_ip_id(
        &self,
        private_ip_id: &str,
    ) -> Result<PublicIp, OciError> {
        let details = GetPublicIpByPrivateIpIdDetails {
            private_ip_id: private_ip_id.to_string(),
        };
        let req = ApiRequest::post(
            "GetPublicIpByPrivateIpId",
            CORE,
            "/publicIps/actions/getByPrivateIpId".into(),
            &details,
        );
        self.call(req).await
    }

    pub async fn update_public_ip(
        &self,
        id: &str,
        details: &UpdatePublicIpDetails,
    ) -> Result<PublicIp, OciError> {
        let path = format!("/publicIps/{}", encode(id));
        self.call(ApiRequest::put("UpdatePublicIp", CORE, path, details))
            .await
    }

    pub async fn delete_public_ip(&self, id: &str) -> Result<(), OciError> {
        let path = format!("/publicIps/{}", encode(id));
        self.send(ApiRequest::delete("DeletePublicIp", CORE, path))
            .await
            .map(|_| ())
    }
}
