//! GetSecurityList: the rules a subnet's security lists hold (`GET /securityLists/{id}`,
//! py core/virtual_network_client.py `get_security_list`).

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::SecurityList;
use crate::oci::request::{encode, ApiRequest};

impl Client {
    pub async fn get_security_list(&self, id: &str) -> Result<SecurityList, OciError> {
        let path = format!("/securityLists/{}", encode(id));
        self.call(ApiRequest::get("GetSecurityList", Service::Core, path))
            .await
    }
}
