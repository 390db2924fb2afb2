//! What vipsetup reads of a subnet's routing to tell whether its nodes reach the OCI API:
//! RouteTable and its RouteRules, and the gateways they point at (field names from the Python
//! SDK's `attribute_map`s).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    pub destination: Option<String>,
    /// `CIDR_BLOCK` or `SERVICE_CIDR_BLOCK`.
    pub destination_type: Option<String>,
    pub network_entity_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTable {
    pub id: String,
    #[serde(default)]
    pub route_rules: Vec<RouteRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceIdResponseDetails {
    pub service_id: String,
    pub service_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceGateway {
    pub id: String,
    pub block_traffic: Option<bool>,
    #[serde(default)]
    pub services: Vec<ServiceIdResponseDetails>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatGateway {
    pub id: String,
    pub block_traffic: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternetGateway {
    pub id: String,
    pub is_enabled: Option<bool>,
}
