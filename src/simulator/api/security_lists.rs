//! Security lists: GetSecurityList and ListSecurityLists, read-only (vipsetup's doctor reads a
//! subnet's egress rules), and the VCN's default security list as OCI makes it. Paths from the
//! Python SDK's `oci/core/virtual_network_client.py` (`get_security_list`:
//! `/securityLists/{securityListId}`, `list_security_lists`: `/securityLists`, `compartmentId`
//! required, `vcnId`/`displayName`/`lifecycleState` filters); fields from
//! `oci/core/models/security_list.py` and `egress_security_rule.py`/`ingress_security_rule.py`.

use serde_json::{json, Value};

use super::super::world::{self, rfc3339, World};
use super::super::{ApiErr, Resp};
use super::context::{s, Ctx};

pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20160918", "securityLists"]) => "ListSecurityLists",
        ("GET", ["20160918", "securityLists", _]) => "GetSecurityList",
        _ => return None,
    })
}

/// The VCN's default security list (its `defaultSecurityListId`), with the rules OCI puts in
/// every default security list (docs, Network/Concepts/securitylists.htm, "Default Security
/// List"): stateful ingress TCP 22 from 0.0.0.0/0, ICMP type 3 code 4 from 0.0.0.0/0, ICMP type
/// 3 from the VCN's CIDR; stateful egress of all traffic to 0.0.0.0/0.
pub(crate) fn seed_default(w: &mut World, vcn_id: &str) {
    let Some(vcn) = w.get(world::VCN, vcn_id).cloned() else {
        return;
    };
    let id = s(&vcn, "defaultSecurityListId").to_string();
    if id.is_empty() || w.get(world::SECURITY_LIST, &id).is_some() {
        return;
    }
    let name = format!("Default Security List for {}", s(&vcn, "displayName"));
    let cidr = s(&vcn, "cidrBlock");
    w.insert(
        world::SECURITY_LIST,
        json!({"id": id, "compartmentId": s(&vcn, "compartmentId"), "vcnId": vcn_id,
               "displayName": name, "lifecycleState": "AVAILABLE",
               "timeCreated": rfc3339(world::wall_ms()), "freeformTags": {}, "definedTags": {},
               "egressSecurityRules": [
                   {"destination": "0.0.0.0/0", "destinationType": "CIDR_BLOCK", "protocol": "all",
                    "isStateless": false, "tcpOptions": null, "udpOptions": null, "icmpOptions": null,
                    "description": null}],
               "ingressSecurityRules": [
                   {"source": "0.0.0.0/0", "sourceType": "CIDR_BLOCK", "protocol": "6", "isStateless": false,
                    "tcpOptions": {"destinationPortRange": {"min": 22, "max": 22}, "sourcePortRange": null},
                    "udpOptions": null, "icmpOptions": null, "description": null},
                   {"source": "0.0.0.0/0", "sourceType": "CIDR_BLOCK", "protocol": "1", "isStateless": false,
                    "tcpOptions": null, "udpOptions": null, "icmpOptions": {"type": 3, "code": 4},
                    "description": null},
                   {"source": cidr, "sourceType": "CIDR_BLOCK", "protocol": "1", "isStateless": false,
                    "tcpOptions": null, "udpOptions": null, "icmpOptions": {"type": 3, "code": null},
                    "description": null}],
               "_region": vcn.get("_region").cloned().unwrap_or(Value::Null)}),
    );
}

impl Ctx<'_> {
    pub(super) fn run_security_lists(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "GetSecurityList" => self.get_one(world::SECURITY_LIST),
            "ListSecurityLists" => self.list_security_lists(),
            _ => return None,
        })
    }

    fn list_security_lists(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let items: Vec<Value> = self
            .w
            .all(world::SECURITY_LIST)
            .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "vcnId", "vcnId")
                    && self.filter_eq(d, "displayName", "displayName")
                    && self.filter_eq(d, "lifecycleState", "lifecycleState")
            })
            .map(|d| self.render(world::SECURITY_LIST, d))
            .collect();
        self.page(items)
    }
}
