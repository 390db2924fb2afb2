//! Where an instance can be placed: fault domains (Identity) and shapes (Core), as
//! ListFaultDomains and ListShapes return them (field names from the Python SDK's
//! `FaultDomain.attribute_map` and `Shape.attribute_map`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultDomain {
    /// `FAULT-DOMAIN-1`, `FAULT-DOMAIN-2`, ...
    pub name: String,
    pub id: Option<String>,
    pub compartment_id: Option<String>,
    pub availability_domain: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    /// The shape's name (`VM.Standard.E4.Flex`).
    pub shape: String,
    pub processor_description: Option<String>,
    pub ocpus: Option<f64>,
    #[serde(rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
    pub is_flexible: Option<bool>,
}
