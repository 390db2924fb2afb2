//! Identity (IAM) models: tenancy, region subscriptions, availability domains, compartments,
//! dynamic groups, policies.

use serde::{Deserialize, Serialize};

use super::{lifecycle_enum, DefinedTags, FreeformTags};

lifecycle_enum!(
    /// Lifecycle of compartments, dynamic groups and policies.
    IamLifecycleState {
        Creating => "CREATING",
        Active => "ACTIVE",
        Inactive => "INACTIVE",
        Deleting => "DELETING",
        Deleted => "DELETED",
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenancy {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Region key of the home region, e.g. `IAD`.
    pub home_region_key: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionSubscription {
    pub region_key: String,
    pub region_name: String,
    /// READY or IN_PROGRESS.
    pub status: String,
    pub is_home_region: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityDomain {
    pub name: String,
    pub id: Option<String>,
    pub compartment_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compartment {
    pub id: String,
    pub compartment_id: String,
    pub name: String,
    pub description: Option<String>,
    pub time_created: Option<String>,
    pub lifecycle_state: IamLifecycleState,
    pub inactive_status: Option<i64>,
    pub is_accessible: Option<bool>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicGroup {
    pub id: String,
    pub compartment_id: String,
    pub name: String,
    pub description: Option<String>,
    pub matching_rule: String,
    pub time_created: Option<String>,
    pub lifecycle_state: IamLifecycleState,
    pub inactive_status: Option<i64>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDynamicGroupDetails {
    /// Must be the tenancy OCID.
    pub compartment_id: String,
    pub name: String,
    pub matching_rule: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDynamicGroupDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching_rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub id: String,
    pub compartment_id: String,
    pub name: String,
    pub statements: Vec<String>,
    pub description: Option<String>,
    pub time_created: Option<String>,
    pub lifecycle_state: IamLifecycleState,
    pub inactive_status: Option<i64>,
    pub version_date: Option<String>,
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePolicyDetails {
    pub compartment_id: String,
    pub name: String,
    pub statements: Vec<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePolicyDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}
