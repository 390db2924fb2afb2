//! Placement lookups: the fault domains of an availability domain (Identity ListFaultDomains)
//! and the shapes offered there, optionally only those an image runs on (Core ListShapes).

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::{FaultDomain, Shape};
use crate::oci::request::ApiRequest;

pub fn list_fault_domains_request(compartment_id: &str, availability_domain: &str) -> ApiRequest {
    ApiRequest::get(
        "ListFaultDomains",
        Service::Identity,
        "/faultDomains".into(),
    )
    .query("compartmentId", compartment_id)
    .query("availabilityDomain", availability_domain)
}

pub fn list_shapes_request(
    compartment_id: &str,
    availability_domain: Option<&str>,
    image_id: Option<&str>,
) -> ApiRequest {
    ApiRequest::get("ListShapes", Service::Core, "/shapes".into())
        .query("compartmentId", compartment_id)
        .query_opt("availabilityDomain", availability_domain)
        .query_opt("imageId", image_id)
}

impl Client {
    pub async fn list_fault_domains(
        &self,
        compartment_id: &str,
        availability_domain: &str,
    ) -> Result<Vec<FaultDomain>, OciError> {
        self.list_all(list_fault_domains_request(
            compartment_id,
            availability_domain,
        ))
        .await
    }

    pub async fn list_shapes(
        &self,
        compartment_id: &str,
        availability_domain: Option<&str>,
        image_id: Option<&str>,
    ) -> Result<Vec<Shape>, OciError> {
        self.list_all(list_shapes_request(
            compartment_id,
            availability_domain,
            image_id,
        ))
        .await
    }
}
