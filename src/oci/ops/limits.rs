//! Service limits (the Limits service, API version 20190729): how much of a limit is left
//! (GetResourceAvailability) and the tenancy's limit values (ListLimitValues). Paths and query
//! names from the Python SDK's `oci/limits/limits_client.py`.

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::limits::{LimitValueSummary, ResourceAvailability};
use crate::oci::request::{encode, ApiRequest};

/// `GET /20190729/services/{serviceName}/limits/{limitName}/resourceAvailability
/// ?compartmentId=&availabilityDomain=` ("availabilityDomain: mandatory if the scopeType of the
/// target resource limit is AD", limits_client.get_resource_availability).
pub fn get_resource_availability_request(
    service_name: &str,
    limit_name: &str,
    compartment_id: &str,
    availability_domain: Option<&str>,
) -> ApiRequest {
    ApiRequest::unversioned(
        "GetResourceAvailability",
        Service::Limits,
        "GET",
        format!(
            "/20190729/services/{}/limits/{}/resourceAvailability",
            encode(service_name),
            encode(limit_name)
        ),
    )
    .query("compartmentId", compartment_id)
    .query_opt("availabilityDomain", availability_domain)
}

/// `GET /20190729/limitValues?compartmentId=<tenancy>&serviceName=&scopeType=&availabilityDomain=&name=`.
pub fn list_limit_values_request(
    tenancy_id: &str,
    service_name: &str,
    availability_domain: Option<&str>,
    name: Option<&str>,
) -> ApiRequest {
    ApiRequest::unversioned(
        "ListLimitValues",
        Service::Limits,
        "GET",
        "/20190729/limitValues".into(),
    )
    .query("compartmentId", tenancy_id)
    .query("serviceName", service_name)
    .query_opt("availabilityDomain", availability_domain)
    .query_opt("name", name)
}

impl Client {
    pub async fn get_resource_availability(
        &self,
        service_name: &str,
        limit_name: &str,
        compartment_id: &str,
        availability_domain: Option<&str>,
    ) -> Result<ResourceAvailability, OciError> {
        self.call(get_resource_availability_request(
            service_name,
            limit_name,
            compartment_id,
            availability_domain,
        ))
        .await
    }

    pub async fn list_limit_values(
        &self,
        tenancy_id: &str,
        service_name: &str,
        availability_domain: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<LimitValueSummary>, OciError> {
        self.list_all(list_limit_values_request(
            tenancy_id,
            service_name,
            availability_domain,
            name,
        ))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_carry_the_limits_api_version() {
        let r = get_resource_availability_request(
            "compute",
            "standard-e4-core-count",
            "ocid1.compartment.oc1..c",
            Some("Uocm:AP-TOKYO-1-AD-1"),
        );
        assert_eq!(
            r.path,
            "/20190729/services/compute/limits/standard-e4-core-count/resourceAvailability"
        );
        assert_eq!(r.query[1].1, "Uocm:AP-TOKYO-1-AD-1");
        let r = list_limit_values_request("ocid1.tenancy.oc1..t", "compute", None, None);
        assert_eq!(r.path, "/20190729/limitValues");
        assert_eq!(r.query.len(), 2);
    }
}
