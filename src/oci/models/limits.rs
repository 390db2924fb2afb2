//! Service limits as the Limits service returns them (field names from the Python SDK's
//! `oci/limits/models/resource_availability.py` and `limit_value_summary.py` `attribute_map`s),
//! and which compute limit a shape's cores count against.

use serde::{Deserialize, Serialize};

/// GetResourceAvailability's answer: how much of a limit is used and still available (quotas
/// included: `effectiveQuotaValue`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAvailability {
    pub used: Option<i64>,
    pub available: Option<i64>,
    pub fractional_usage: Option<f64>,
    pub fractional_availability: Option<f64>,
    pub effective_quota_value: Option<f64>,
}

/// One entry of ListLimitValues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitValueSummary {
    pub name: String,
    /// `GLOBAL`, `REGION` or `AD`.
    pub scope_type: Option<String>,
    pub availability_domain: Option<String>,
    pub value: Option<i64>,
}

/// The Limits service's name for compute (`oci limits value list --service-name compute`).
pub const COMPUTE_SERVICE: &str = "compute";

/// The AD-scoped compute limit counting a VM shape's OCPUs, from Oracle's "Compute Quotas" page
/// (docs.oracle.com/en-us/iaas/Content/Quotas/Concepts/resourcequotas_topic-Compute_Quotas.htm,
/// family `compute-core`: "standard-e4-core-count: Total number of OCPUs for VM.Standard.E4 and
/// BM.Standard.E4 series shapes", and likewise for the others below). `None`: a shape vipsetup
/// has no limit name for (doctor then says it could not tell).
pub fn core_limit_for_shape(shape: &str) -> Option<&'static str> {
    let family = shape
        .strip_prefix("VM.")
        .or_else(|| shape.strip_prefix("BM."))?;
    // Longest prefixes first: E2.1.Micro before E2.
    const TABLE: &[(&str, &str)] = &[
        ("Standard.E2.1.Micro", "standard-e2-micro-core-count"),
        ("Standard.E2.", "standard-e2-core-count"),
        ("Standard.E3.", "standard-e3-core-ad-count"),
        ("Standard.E4.", "standard-e4-core-count"),
        ("Standard.E5.", "standard-e5-core-count"),
        ("Standard.A1.", "standard-a1-core-count"),
        ("Standard.B1.", "standard-b1-core-count"),
        ("Standard1.", "standard1-core-count"),
        ("Standard2.", "standard2-core-count"),
        ("Standard3.", "standard3-core-count"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| family.starts_with(prefix))
        .map(|(_, limit)| *limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_to_their_core_limits() {
        for (shape, want) in [
            ("VM.Standard.E4.Flex", Some("standard-e4-core-count")),
            ("VM.Standard.E5.Flex", Some("standard-e5-core-count")),
            (
                "VM.Standard.E2.1.Micro",
                Some("standard-e2-micro-core-count"),
            ),
            ("VM.Standard.E2.2", Some("standard-e2-core-count")),
            ("VM.Standard.A1.Flex", Some("standard-a1-core-count")),
            ("VM.Standard3.Flex", Some("standard3-core-count")),
            ("VM.Standard2.1", Some("standard2-core-count")),
            ("VM.GPU.A10.1", None),
            ("nonsense", None),
        ] {
            assert_eq!(core_limit_for_shape(shape), want, "{shape}");
        }
    }
}
