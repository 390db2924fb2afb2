//! A subnet's security lists as GetSecurityList returns them (field names from the Python SDK's
//! `oci/core/models/security_list.py`, `egress_security_rule.py`, `ingress_security_rule.py`,
//! `tcp_options.py` and `port_range.py` `attribute_map`s).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpOptions {
    pub destination_port_range: Option<PortRange>,
    pub source_port_range: Option<PortRange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressSecurityRule {
    pub destination: String,
    /// `CIDR_BLOCK` (the default) or `SERVICE_CIDR_BLOCK`.
    pub destination_type: Option<String>,
    /// `all` or an IANA protocol number as text (`6` is TCP).
    pub protocol: String,
    pub is_stateless: Option<bool>,
    pub tcp_options: Option<TcpOptions>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSecurityRule {
    pub source: String,
    pub source_type: Option<String>,
    pub protocol: String,
    pub is_stateless: Option<bool>,
    pub tcp_options: Option<TcpOptions>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityList {
    pub id: String,
    pub compartment_id: Option<String>,
    pub vcn_id: Option<String>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub egress_security_rules: Vec<EgressSecurityRule>,
    #[serde(default)]
    pub ingress_security_rules: Vec<IngressSecurityRule>,
    pub lifecycle_state: Option<String>,
}

impl EgressSecurityRule {
    /// Whether this rule lets TCP to `port` out.
    pub fn allows_tcp(&self, port: u16) -> bool {
        match self.protocol.as_str() {
            "all" => true,
            "6" => self
                .tcp_options
                .as_ref()
                .and_then(|t| t.destination_port_range.as_ref())
                .is_none_or(|r| r.min <= port && port <= r.max),
            _ => false,
        }
    }
}
