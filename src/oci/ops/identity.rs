//! Identity operations: tenancy, region subscriptions, availability domains, compartments,
//! dynamic groups and policies (writes go to the home region).

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::*;
use crate::oci::request::{encode, ApiRequest, Versioned};

const ID: Service = Service::Identity;

pub fn get_tenancy_request(tenancy_id: &str) -> ApiRequest {
    ApiRequest::get(
        "GetTenancy",
        ID,
        format!("/tenancies/{}", encode(tenancy_id)),
    )
}

pub fn create_dynamic_group_request(
    details: &CreateDynamicGroupDetails,
    retry_token: Option<&str>,
) -> ApiRequest {
    ApiRequest::post("CreateDynamicGroup", ID, "/dynamicGroups".into(), details)
        .retry_token(retry_token)
        .home_region()
}

pub fn list_dynamic_groups_request(compartment_id: &str, name: Option<&str>) -> ApiRequest {
    ApiRequest::get("ListDynamicGroups", ID, "/dynamicGroups".into())
        .query("compartmentId", compartment_id)
        .query_opt("name", name)
}

impl Client {
    pub async fn get_tenancy(&self, tenancy_id: &str) -> Result<Tenancy, OciError> {
        self.call(get_tenancy_request(tenancy_id)).await
    }

    pub async fn list_region_subscriptions(
        &self,
        tenancy_id: &str,
    ) -> Result<Vec<RegionSubscription>, OciError> {
        let path = format!("/tenancies/{}/regionSubscriptions", encode(tenancy_id));
        self.list_all(ApiRequest::get("ListRegionSubscriptions", ID, path))
            .await
    }

    pub async fn list_availability_domains(
        &self,
        compartment_id: &str,
    ) -> Result<Vec<AvailabilityDomain>, OciError> {
        let req = ApiRequest::get("ListAvailabilityDomains", ID, "/availabilityDomains".into())
            .query("compartmentId", compartment_id);
        self.list_all(req).await
    }

    /// Direct children of `compartment_id` (optionally by name).
    pub async fn list_compartments(
        &self,
        compartment_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<Compartment>, OciError> {
        let req = ApiRequest::get("ListCompartments", ID, "/compartments".into())
            .query("compartmentId", compartment_id)
            .query_opt("name", name);
        self.list_all(req).await
    }

    pub async fn create_dynamic_group(
        &self,
        details: &CreateDynamicGroupDetails,
        retry_token: Option<&str>,
    ) -> Result<Versioned<DynamicGroup>, OciError> {
        self.call_versioned(create_dynamic_group_request(details, retry_token))
            .await
    }

    pub async fn get_dynamic_group(&self, id: &str) -> Result<Versioned<DynamicGroup>, OciError> {
        let path = format!("/dynamicGroups/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetDynamicGroup", ID, path))
            .await
    }

    pub async fn list_dynamic_groups(
        &self,
        compartment_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<DynamicGroup>, OciError> {
        self.list_all(list_dynamic_groups_request(compartment_id, name))
            .await
    }

    pub async fn update_dynamic_group(
        &self,
        id: &str,
        details: &UpdateDynamicGroupDetails,
        if_match: Option<&str>,
    ) -> Result<Versioned<DynamicGroup>, OciError> {
        let path = format!("/dynamicGroups/{}", encode(id));
        let req = ApiRequest::put("UpdateDynamicGroup", ID, path, details)
            .if_match(if_match)
            .home_region();
        self.call_versioned(req).await
    }

    pub async fn delete_dynamic_group(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), OciError> {
        let path = format!("/dynamicGroups/{}", encode(id));
        let req = ApiRequest::delete("DeleteDynamicGroup", ID, path)
            .if_match(if_match)
            .home_region();
        self.send(req).await.map(|_| ())
    }

    pub async fn create_policy(
        &self,
        details: &CreatePolicyDetails,
        retry_token: Option<&str>,
    ) -> Result<Versioned<Policy>, OciError> {
        let req = ApiRequest::post("CreatePolicy", ID, "/policies".into(), details)
            .retry_token(retry_token)
            .home_region();
        self.call_versioned(req).await
    }

    pub async fn get_policy(&self, id: &str) -> Result<Versioned<Policy>, OciError> {
        let path = format!("/policies/{}", encode(id));
        self.call_versioned(ApiRequest::get("GetPolicy", ID, path))
            .await
    }

    pub async fn list_policies(
        &self,
        compartment_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<Policy>, OciError> {
        let req = ApiRequest::get("ListPolicies", ID, "/policies".into())
            .query("compartmentId", compartment_id)
            .query_opt("name", name);
        self.list_all(req).await
    }

    pub async fn update_policy(
        &self,
        id: &str,
        details: &UpdatePolicyDetails,
        if_match: Option<&str>,
    ) -> Result<Versioned<Policy>, OciError> {
        let path = format!("/policies/{}", encode(id));
        let req = ApiRequest::put("UpdatePolicy", ID, path, details)
            .if_match(if_match)
            .home_region();
        self.call_versioned(req).await
    }

    pub async fn delete_policy(&self, id: &str, if_match: Option<&str>) -> Result<(), OciError> {
        let path = format!("/policies/{}", encode(id));
        let req = ApiRequest::delete("DeletePolicy", ID, path)
            .if_match(if_match)
            .home_region();
        self.send(req).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_group_create_is_a_home_region_post_with_retry_token() {
        let details = CreateDynamicGroupDetails {
            compartment_id: "ocid1.tenancy.oc1..t".into(),
            name: "vip-nodes".into(),
            matching_rule: "ANY {instance.id = 'a'}".into(),
            description: "d".into(),
            ..Default::default()
        };
        let r = create_dynamic_group_request(&details, Some("tok"));
        assert_eq!(
            (r.method, r.path.as_str()),
            ("POST", "/20160918/dynamicGroups")
        );
        assert!(r.home_region);
        assert_eq!(r.retry_token.as_deref(), Some("tok"));
        let body: serde_json::Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"compartmentId":"ocid1.tenancy.oc1..t","name":"vip-nodes",
                "matchingRule":"ANY {instance.id = 'a'}","description":"d"})
        );
    }

    #[test]
    fn list_by_name_encodes_the_query() {
        let r = list_dynamic_groups_request("ocid1.tenancy.oc1..t", Some("a b"));
        let u = r.url("https://identity.x").unwrap();
        assert_eq!(
            u.as_str(),
            "https://identity.x/20160918/dynamicGroups?compartmentId=ocid1.tenancy.oc1..t&name=a%20b"
        );
        assert!(!r.home_region, "reads may go to any region");
    }

    #[test]
    fn models_parse_sdk_shaped_json_and_ignore_unknown_fields() {
        let dg: DynamicGroup = serde_json::from_str(
            r#"{"id":"i","compartmentId":"c","name":"n","description":"d","matchingRule":"r",
            "timeCreated":"2026-01-01T00:00:00.000Z","lifecycleState":"ACTIVE","inactiveStatus":null,
            "freeformTags":{"vipsetup":"x"},"definedTags":{},"someNewField":1}"#,
        )
        .unwrap();
        assert_eq!(dg.lifecycle_state, IamLifecycleState::Active);
        assert_eq!(dg.freeform_tags["vipsetup"], "x");
        let p: Policy = serde_json::from_str(
            r#"{"id":"i","compartmentId":"c","name":"n","statements":["Allow x"],"lifecycleState":"BRAND_NEW"}"#,
        )
        .unwrap();
        assert_eq!(p.lifecycle_state, IamLifecycleState::UnknownValue);
        let t: Tenancy =
            serde_json::from_str(r#"{"id":"t","name":"n","homeRegionKey":"IAD"}"#).unwrap();
        assert_eq!(t.home_region_key.as_deref(), Some("IAD"));
        let s: RegionSubscription = serde_json::from_str(
            r#"{"regionKey":"IAD","regionName":"us-ashburn-1","status":"READY","isHomeRegion":true}"#,
        )
        .unwrap();
        assert!(s.is_home_region);
    }
}
