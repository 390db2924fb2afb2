//! IPv6 addresses on VNICs: CreateIpv6, GetIpv6, ListIpv6s, UpdateIpv6 (`vnicId` moves one to
//! another VNIC in the same subnet, which is how an IPv6 VIP fails over) and DeleteIpv6, under
//! `/20160918/ipv6` as in Oracle's SDKs (oci-python-sdk core/virtual_network_client.py:
//! `resource_path = "/ipv6"`, `"/ipv6/{ipv6Id}"`).
//!
//! OCI's Ipv6 has a lifecycleState (PROVISIONING, AVAILABLE, TERMINATING, TERMINATED:
//! core/models/ipv6.py); the simulator answers with AVAILABLE at once and removes a deleted one.

use serde_json::{json, Map, Value};
use std::net::Ipv6Addr;

use super::context::{s, Ctx};
use crate::simulator::world::{self, rfc3339, Cidr6, Doc};
use crate::simulator::{ApiErr, Resp};

/// The operation a method and path name, when this file owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("POST", ["20160918", "ipv6"]) => "CreateIpv6",
        ("GET", ["20160918", "ipv6"]) => "ListIpv6s",
        ("GET", ["20160918", "ipv6", _]) => "GetIpv6",
        ("PUT", ["20160918", "ipv6", _]) => "UpdateIpv6",
        ("DELETE", ["20160918", "ipv6", _]) => "DeleteIpv6",
        _ => return None,
    })
}

/// "You can assign up to 32 IPv6 addresses to a VNIC" (docs Network/Concepts/ipv6.htm,
/// "IPv6 addresses per VNIC"; the same count as private IPv4 addresses). The code is a guess
/// by analogy with the private IP limit.
const MAX_IPV6_PER_VNIC: usize = 32;

fn prefixes(subnet: &Doc) -> Vec<Cidr6> {
    let mut out: Vec<Cidr6> = subnet
        .get("ipv6CidrBlocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(Cidr6::parse))
        .collect();
    if let Some(c) = subnet
        .get("ipv6CidrBlock")
        .and_then(Value::as_str)
        .and_then(Cidr6::parse)
    {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

impl Ctx<'_> {
    pub(super) fn run_ipv6s(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "CreateIpv6" => self.create_ipv6(),
            "ListIpv6s" => self.list_ipv6s(),
            "GetIpv6" => self.get_one(world::IPV6),
            "UpdateIpv6" => self.update_ipv6(),
            "DeleteIpv6" => self.delete_ipv6(),
            _ => return None,
        })
    }

    fn ipv6_in_use(&self, subnet: &str, ip: Ipv6Addr) -> bool {
        self.w.all(world::IPV6).any(|d| {
            s(d, "subnetId") == subnet && s(d, "ipAddress").parse::<Ipv6Addr>().ok() == Some(ip)
        })
    }

    fn ipv6_count(&self, vnic: &str) -> usize {
        self.w
            .all(world::IPV6)
            .filter(|d| s(d, "vnicId") == vnic)
            .count()
    }

    /// The address to give: the requested one (in one of the subnet's IPv6 prefixes, free, not
    /// the prefix's subnet-router anycast `::0` nor the virtual router) or the first free one.
    /// "Must be an available IP address within the subnet's CIDR" (CreateIpv6Details.ip_address);
    /// the reserved addresses and the error codes are guesses modelled on the IPv4 rules.
    fn pick_ipv6(&self, subnet: &Doc, wanted: Option<&str>) -> Result<String, ApiErr> {
        let sid = s(subnet, "id");
        let nets = prefixes(subnet);
        if nets.is_empty() {
            return Err(ApiErr::invalid(format!(
                "Subnet {sid} has no IPv6 prefix; an IPv6 address needs an IPv6-enabled subnet"
            )));
        }
        let router = s(subnet, "ipv6VirtualRouterIp").parse::<Ipv6Addr>().ok();
        let usable = |ip: Ipv6Addr| {
            nets.iter()
                .any(|n| n.contains(ip) && u128::from(ip) != n.addr)
                && Some(ip) != router
        };
        match wanted {
            Some(text) => {
                let ip: Ipv6Addr = text
                    .parse()
                    .map_err(|_| ApiErr::invalid(format!("{text} is not a valid IPv6 address")))?;
                if !usable(ip) {
                    let list: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
                    return Err(ApiErr::invalid(format!(
                        "IPv6 address {text} is not within the usable range of subnet {sid} ({})",
                        list.join(", ")
                    )));
                }
                if self.ipv6_in_use(sid, ip) {
                    return Err(ApiErr::new(
                        409,
                        "Conflict",
                        format!("IPv6 address {text} is already assigned in subnet {sid}"),
                    ));
                }
                Ok(ip.to_string())
            }
            None => nets
                .iter()
                .flat_map(|n| (2..1024u128).map(move |k| Ipv6Addr::from(n.addr + k)))
                .find(|ip| usable(*ip) && !self.ipv6_in_use(sid, *ip))
                .map(|ip| ip.to_string())
                .ok_or_else(|| {
                    ApiErr::new(
                        400,
                        "LimitExceeded",
                        format!("Subnet {sid} has no free IPv6 addresses"),
                    )
                }),
        }
    }

    /// CreateIpv6 with `vnicId` ("The OCID of the VNIC to assign the IPv6 to. The IPv6 will be
    /// in the VNIC's subnet", CreateIpv6Details.vnic_id). Newer SDKs also allow a reserved IPv6
    /// made from `subnetId` alone; the simulator does not model those and says so.
    fn create_ipv6(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let Some(vnic_id) = b.get("vnicId").and_then(Value::as_str).map(String::from) else {
            if b.get("subnetId").is_some() {
                return Err(ApiErr::invalid(
                    "the simulator does not model reserved IPv6 addresses without a vnicId",
                ));
            }
            return Err(ApiErr::missing("vnicId"));
        };
        let vnic = self.doc(world::VNIC, &vnic_id)?;
        self.authorize(s(&vnic, "compartmentId"))?;
        let subnet = self.doc(world::SUBNET, s(&vnic, "subnetId"))?;
        if self.ipv6_count(&vnic_id) >= MAX_IPV6_PER_VNIC {
            return Err(ApiErr::new(
                400,
                "LimitExceeded",
                format!("A VNIC can have at most {MAX_IPV6_PER_VNIC} IPv6 addresses"),
            ));
        }
        let ip = self.pick_ipv6(&subnet, b.get("ipAddress").and_then(Value::as_str))?;
        let region = self.req.region.clone();
        let id = self.w.new_id(world::IPV6, Some(&region));
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        let name = b
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(&ip)
            .to_string();
        self.w.insert(
            world::IPV6,
            json!({"id": id, "compartmentId": s(&vnic, "compartmentId"), "displayName": name,
                "ipAddress": ip, "lifecycleState": "AVAILABLE", "subnetId": s(&vnic, "subnetId"),
                "vnicId": vnic_id, "timeCreated": rfc3339(self.now), "ipState": "ASSIGNED",
                "lifetime": "EPHEMERAL", "routeTableId": null,
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"),
                "_region": region}),
        );
        self.mutated = true;
        let d = self.doc(world::IPV6, &id)?;
        Ok(self.one(world::IPV6, &d, 200))
    }

    /// ListIpv6s by subnet, by VNIC, or by address and subnet ("Lists the Ipv6 objects based on
    /// one of these filters", list_ipv6s docstring). No filter at all is refused as for private
    /// IPs (a guess: the docstring offers no unfiltered form).
    fn list_ipv6s(&self) -> Result<Resp, ApiErr> {
        let ip = self.req.q("ipAddress");
        let subnet = self.req.q("subnetId");
        let vnic = self.req.q("vnicId");
        let comp = match (ip, subnet, vnic) {
            (_, _, Some(v)) => s(&self.doc(world::VNIC, v)?, "compartmentId").to_string(),
            (_, Some(sn), None) => s(&self.doc(world::SUBNET, sn)?, "compartmentId").to_string(),
            _ => {
                return Err(ApiErr::invalid(
                    "Specify ipAddress and subnetId, subnetId alone, or vnicId",
                ))
            }
        };
        self.authorize(&comp)?;
        let wanted = ip.and_then(|v| v.parse::<Ipv6Addr>().ok());
        if ip.is_some() && wanted.is_none() {
            return Err(ApiErr::invalid("ipAddress is not a valid IPv6 address"));
        }
        let items: Vec<Value> = self
            .w
            .all(world::IPV6)
            .filter(|d| s(d, "_region") == self.req.region)
            .filter(|d| vnic.is_none_or(|v| s(d, "vnicId") == v))
            .filter(|d| subnet.is_none_or(|v| s(d, "subnetId") == v))
            .filter(|d| wanted.is_none_or(|w| s(d, "ipAddress").parse().ok() == Some(w)))
            .map(|d| self.render(world::IPV6, d))
            .collect();
        self.page(items)
    }

    /// UpdateIpv6: "Move an IPv6 to a different VNIC in the same subnet" and change its name or
    /// tags (update_ipv6 docstring). The target VNIC's compartment is authorized too, as for
    /// UpdatePrivateIp.
    fn update_ipv6(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::IPV6, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let b = self.body()?;
        let mut changes = Map::new();
        if let Some(target) = b.get("vnicId").and_then(Value::as_str) {
            let vnic = self.doc(world::VNIC, target)?;
            self.authorize(s(&vnic, "compartmentId"))?;
            if s(&vnic, "subnetId") != s(&d, "subnetId") {
                return Err(ApiErr::invalid(format!(
                    "VNIC {target} is in subnet {}, but IPv6 {id} belongs to subnet {}; an IPv6 can move only between VNICs in the same subnet",
                    s(&vnic, "subnetId"),
                    s(&d, "subnetId")
                )));
            }
            if s(&d, "vnicId") != target && self.ipv6_count(target) >= MAX_IPV6_PER_VNIC {
                return Err(ApiErr::new(
                    400,
                    "LimitExceeded",
                    format!("A VNIC can have at most {MAX_IPV6_PER_VNIC} IPv6 addresses"),
                ));
            }
            changes.insert("vnicId".into(), json!(target));
            changes.insert("ipState".into(), json!("ASSIGNED"));
        }
        for k in ["displayName", "freeformTags", "definedTags"] {
            if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                changes.insert(k.into(), v.clone());
            }
        }
        let d = self.touch(world::IPV6, &id, |d| d.extend(changes));
        Ok(self.one(world::IPV6, &d, 200))
    }

    fn delete_ipv6(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::IPV6, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        self.w.remove(world::IPV6, &id);
        self.mutated = true;
        Ok(Resp::empty(204))
    }
}
