//! The core virtual network service: VCNs, subnets, VNICs, private IPs (the VIP moves between
//! VNICs with UpdatePrivateIp) and network security groups with their rules.

use serde_json::{json, Map, Value};
use std::net::Ipv4Addr;

use super::super::world::{self, rfc3339, Cidr, Doc};
use super::super::{ApiErr, Resp};
use super::context::{obj, s, Ctx};

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20160918", "vcns", _]) => "GetVcn",
        ("GET", ["20160918", "subnets", _]) => "GetSubnet",
        ("GET", ["20160918", "vnics", _]) => "GetVnic",
        ("POST", ["20160918", "privateIps"]) => "CreatePrivateIp",
        ("GET", ["20160918", "privateIps"]) => "ListPrivateIps",
        ("GET", ["20160918", "privateIps", _]) => "GetPrivateIp",
        ("PUT", ["20160918", "privateIps", _]) => "UpdatePrivateIp",
        ("DELETE", ["20160918", "privateIps", _]) => "DeletePrivateIp",
        ("POST", ["20160918", "networkSecurityGroups"]) => "CreateNetworkSecurityGroup",
        ("GET", ["20160918", "networkSecurityGroups"]) => "ListNetworkSecurityGroups",
        ("GET", ["20160918", "networkSecurityGroups", _]) => "GetNetworkSecurityGroup",
        ("DELETE", ["20160918", "networkSecurityGroups", _]) => "DeleteNetworkSecurityGroup",
        ("POST", ["20160918", "networkSecurityGroups", _, "actions", "addSecurityRules"]) => {
            "AddNetworkSecurityGroupSecurityRules"
        }
        ("GET", ["20160918", "networkSecurityGroups", _, "securityRules"]) => {
            "ListNetworkSecurityGroupSecurityRules"
        }
        ("POST", ["20160918", "networkSecurityGroups", _, "actions", "removeSecurityRules"]) => {
            "RemoveNetworkSecurityGroupSecurityRules"
        }
        _ => return None,
    })
}

impl Ctx<'_> {
    /// Runs the operation when this service owns it.
    pub(super) fn run_core_network(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "GetVcn" => self.get_one(world::VCN),
            "GetSubnet" => self.get_one(world::SUBNET),
            "GetVnic" => self.get_one(world::VNIC),
            "CreatePrivateIp" => self.create_private_ip(),
            "ListPrivateIps" => self.list_private_ips(),
            "GetPrivateIp" => self.get_one(world::PRIVATE_IP),
            "UpdatePrivateIp" => self.update_private_ip(),
            "DeletePrivateIp" => self.delete_private_ip(),
            "CreateNetworkSecurityGroup" => self.create_nsg(),
            "ListNetworkSecurityGroups" => self.list_nsgs(),
            "GetNetworkSecurityGroup" => self.get_one(world::NSG),
            "DeleteNetworkSecurityGroup" => self.delete_nsg(),
            "AddNetworkSecurityGroupSecurityRules" => self.add_rules(),
            "ListNetworkSecurityGroupSecurityRules" => self.list_rules(),
            "RemoveNetworkSecurityGroupSecurityRules" => self.remove_rules(),
            _ => return None,
        })
    }

    fn delete_private_ip(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::PRIVATE_IP, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        if d.get("isPrimary").and_then(Value::as_bool) == Some(true) {
            return Err(ApiErr::invalid(
                "A primary private IP cannot be deleted; it goes away with its VNIC.",
            ));
        }
        self.w.remove(world::PRIVATE_IP, &id);
        let public: Vec<String> = self
            .w
            .all(world::PUBLIC_IP)
            .filter(|p| s(p, "privateIpId") == id)
            .map(|p| s(p, "id").to_string())
            .collect();
        for p in public {
            self.w.release_public_ip(&p);
        }
        self.mutated = true;
        Ok(Resp::empty(204))
    }

    fn list_nsgs(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let items: Vec<Value> = self
            .w
            .all(world::NSG)
            .filter(|d| {
                s(d, "compartmentId") == c
                    && s(d, "_region") == self.req.region
                    && d.get("_deleted").is_none()
            })
            .filter(|d| {
                self.filter_eq(d, "vcnId", "vcnId")
                    && self.filter_eq(d, "displayName", "displayName")
            })
            .map(|d| self.render(world::NSG, d))
            .collect();
        self.page(items)
    }

    fn delete_nsg(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::NSG, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let in_use = self.w.all(world::VNIC).any(|v| {
            v.get("nsgIds")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(id.as_str())))
        });
        if in_use {
            return Err(ApiErr::new(
                409,
                "Conflict",
                format!(
                    "Network security group {id} still has VNICs as members; remove them first."
                ),
            ));
        }
        self.touch(world::NSG, &id, |d| {
            d.insert("_deleted".into(), json!(true));
            d.insert("lifecycleState".into(), json!("TERMINATED"));
        });
        let rules: Vec<String> = self
            .w
            .all(world::SECURITY_RULE)
            .filter(|r| s(r, "_nsgId") == id)
            .map(|r| s(r, "_key").to_string())
            .collect();
        for r in rules {
            self.w.remove(world::SECURITY_RULE, &r);
        }
        Ok(Resp::empty(204))
    }

    fn list_rules(&self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::NSG, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        let mut rules: Vec<&Doc> = self
            .w
            .all(world::SECURITY_RULE)
            .filter(|r| s(r, "_nsgId") == id)
            .filter(|r| self.filter_eq(r, "direction", "direction"))
            .collect();
        rules.sort_by_key(|r| r.get("_order").and_then(Value::as_u64).unwrap_or(0));
        let items: Vec<Value> = rules
            .into_iter()
            .map(|r| self.render(world::SECURITY_RULE, r))
            .collect();
        self.page(items)
    }

    fn ip_in_use(&self, subnet: &str, ip: &str) -> bool {
        self.w
            .all(world::PRIVATE_IP)
            .any(|p| s(p, "subnetId") == subnet && s(p, "ipAddress") == ip)
    }

    /// Checks a requested address, or picks the lowest free one.
    pub(super) fn pick_ip(&self, subnet: &Doc, requested: Option<&str>) -> Result<String, ApiErr> {
        let cidr = Cidr::parse(s(subnet, "cidrBlock"))
            .ok_or_else(|| ApiErr::invalid("subnet has no CIDR"))?;
        let sid = s(subnet, "id");
        match requested {
            Some(ip) => {
                let addr: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| ApiErr::invalid(format!("{ip} is not a valid IPv4 address")))?;
                if !cidr.is_usable(addr) {
                    return Err(ApiErr::invalid(format!(
                        "Private IP address {ip} is not within the usable range of subnet {} ({})",
                        sid,
                        s(subnet, "cidrBlock")
                    )));
                }
                if self.ip_in_use(sid, ip) {
                    return Err(ApiErr::new(
                        409,
                        "Conflict",
                        format!("Private IP address {ip} is already assigned in subnet {sid}"),
                    ));
                }
                Ok(ip.to_string())
            }
            None => (cidr.network() + 2..cidr.broadcast())
                .map(|v| Ipv4Addr::from(v).to_string())
                .find(|ip| !self.ip_in_use(sid, ip))
                .ok_or_else(|| {
                    ApiErr::new(
                        400,
                        "LimitExceeded",
                        format!("Subnet {sid} has no free private IP addresses"),
                    )
                }),
        }
    }

    /// What OCI checks of a `hostnameLabel` for an address in `subnet`. Sources: the SDKs'
    /// docstrings (CreateVnicDetails, Vnic, PrivateIp: "Must be unique across all VNICs in the
    /// subnet and comply with RFC 952 and RFC 1123"); terraform-provider-oci#460 (a hostname
    /// label "can only be set if the subnet has a dns_label", else 400 "Invalid VNIC creation
    /// parameters"; the code InvalidParameter is a guess); terraform-provider-oci#1348 ("Hostname
    /// X is already used in subnet Y": real OCI fails the launch's work request with it, the
    /// simulator refuses the request at once, status and code a guess). Case-insensitive
    /// comparison is a guess (DNS names are). `own` is the private IP being relabelled.
    pub(super) fn check_hostname_label(
        &self,
        subnet: &Doc,
        label: &str,
        own: Option<&str>,
    ) -> Result<(), ApiErr> {
        let sid = s(subnet, "id");
        if s(subnet, "dnsLabel").is_empty() {
            return Err(ApiErr::invalid(format!(
                "Invalid VNIC creation parameters: hostnameLabel {label} needs a subnet with a DNS label, and subnet {sid} has none"
            )));
        }
        let valid = (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(ApiErr::invalid(format!(
                "hostnameLabel {label} must be 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen (RFC 952, RFC 1123)"
            )));
        }
        let taken = self.w.all(world::PRIVATE_IP).any(|p| {
            s(p, "subnetId") == sid
                && Some(s(p, "id")) != own
                && s(p, "hostnameLabel").eq_ignore_ascii_case(label)
        });
        if taken {
            return Err(ApiErr::invalid(format!(
                "Hostname {label} is already used in subnet {sid}"
            )));
        }
        Ok(())
    }

    fn live_vnic(&self, id: &str) -> Result<Doc, ApiErr> {
        self.doc(world::VNIC, id)
    }

    fn create_private_ip(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let vnic_id = Self::required_str(&b, "vnicId")?;
        let vnic = self.live_vnic(&vnic_id)?;
        self.authorize(s(&vnic, "compartmentId"))?;
        let subnet = self.doc(world::SUBNET, s(&vnic, "subnetId"))?;
        let count = self
            .w
            .all(world::PRIVATE_IP)
            .filter(|p| s(p, "vnicId") == vnic_id)
            .count();
        if count >= 32 {
            return Err(ApiErr::new(
                400,
                "LimitExceeded",
                "A VNIC can have at most 32 private IPs (31 secondary)",
            ));
        }
        if let Some(label) = b.get("hostnameLabel").and_then(Value::as_str) {
            self.check_hostname_label(&subnet, label, None)?;
        }
        let ip = self.pick_ip(&subnet, b.get("ipAddress").and_then(Value::as_str))?;
        let region = self.req.region.clone();
        let id = self.w.new_id("privateip", Some(&region));
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        self.w.insert(
            world::PRIVATE_IP,
            json!({"id": id, "compartmentId": s(&vnic, "compartmentId"), "availabilityDomain": s(&vnic, "availabilityDomain"),
                "displayName": b.get("displayName").and_then(Value::as_str).unwrap_or(&ip), "hostnameLabel": b.get("hostnameLabel"),
                "ipAddress": ip, "isPrimary": false, "subnetId": s(&vnic, "subnetId"), "vnicId": vnic_id,
                "timeCreated": rfc3339(self.now), "ipState": "ASSIGNED", "lifetime": "EPHEMERAL",
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "_region": region}),
        );
        self.mutated = true;
        let d = self
            .w
            .get(world::PRIVATE_IP, &id)
            .cloned()
            .unwrap_or_default();
        Ok(self.one(world::PRIVATE_IP, &d, 200))
    }

    /// ListPrivateIps (GET /20160918/privateIps) by VNIC (`vnicId`), by subnet (`subnetId`), or by
    /// address and subnet: "Lists the PrivateIp objects based on one of these filters: Subnet
    /// OCID. VNIC OCID. Both private IP address and subnet OCID", and "If you're listing all the
    /// private IPs associated with a given subnet or VNIC, the response includes both primary and
    /// secondary private IPs" (oci-python-sdk VirtualNetworkClient.list_private_ips docstring;
    /// query parameters limit, page, ipAddress, subnetId, vnicId, ipState, lifetime, vlanId). The
    /// agent's recheck of several VIPs is one of these by `vnicId`. Paginated like every list
    /// (`page`). No filter at all is refused (a guess: the docstring offers no unfiltered form).
    fn list_private_ips(&self) -> Result<Resp, ApiErr> {
        let ip = self.req.q("ipAddress");
        let subnet = self.req.q("subnetId");
        let vnic = self.req.q("vnicId");
        let comp = match (ip, subnet, vnic) {
            (_, _, Some(v)) => s(&self.live_vnic(v)?, "compartmentId").to_string(),
            (_, Some(sn), None) => s(&self.doc(world::SUBNET, sn)?, "compartmentId").to_string(),
            _ => {
                return Err(ApiErr::invalid(
                    "Specify ipAddress and subnetId, subnetId alone, or vnicId",
                ))
            }
        };
        self.authorize(&comp)?;
        let items: Vec<Value> = self
            .w
            .all(world::PRIVATE_IP)
            .filter(|p| s(p, "_region") == self.req.region)
            .filter(|p| vnic.is_none_or(|v| s(p, "vnicId") == v))
            .filter(|p| subnet.is_none_or(|v| s(p, "subnetId") == v))
            .filter(|p| ip.is_none_or(|v| s(p, "ipAddress") == v))
            .map(|p| self.render(world::PRIVATE_IP, p))
            .collect();
        self.page(items)
    }

    fn update_private_ip(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::PRIVATE_IP, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        if d.get("isPrimary").and_then(Value::as_bool) == Some(true) {
            return Err(ApiErr::invalid(
                "This operation cannot be used with primary private IPs; use UpdateVnic for a primary IP",
            ));
        }
        let b = self.body()?;
        let mut changes = Map::new();
        if let Some(target) = b.get("vnicId").and_then(Value::as_str) {
            let vnic = self.live_vnic(target)?;
            self.authorize(s(&vnic, "compartmentId"))?;
            if s(&vnic, "subnetId") != s(&d, "subnetId") {
                return Err(ApiErr::invalid(format!(
                    "VNIC {target} is in subnet {}, but private IP {id} belongs to subnet {}; a private IP can move only between VNICs in the same subnet",
                    s(&vnic, "subnetId"),
                    s(&d, "subnetId")
                )));
            }
            let count = self
                .w
                .all(world::PRIVATE_IP)
                .filter(|p| s(p, "vnicId") == target)
                .count();
            if s(&d, "vnicId") != target && count >= 32 {
                return Err(ApiErr::new(
                    400,
                    "LimitExceeded",
                    "A VNIC can have at most 32 private IPs (31 secondary)",
                ));
            }
            changes.insert("vnicId".into(), json!(target));
            changes.insert(
                "availabilityDomain".into(),
                json!(s(&vnic, "availabilityDomain")),
            );
        }
        if let Some(label) = b.get("hostnameLabel").and_then(Value::as_str) {
            let subnet = self.doc(world::SUBNET, s(&d, "subnetId"))?;
            self.check_hostname_label(&subnet, label, Some(&id))?;
        }
        for k in [
            "displayName",
            "hostnameLabel",
            "freeformTags",
            "definedTags",
        ] {
            if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                changes.insert(k.into(), v.clone());
            }
        }
        let d = self.touch(world::PRIVATE_IP, &id, |d| {
            for (k, v) in changes {
                d.insert(k, v);
            }
        });
        Ok(self.one(world::PRIVATE_IP, &d, 200))
    }

    fn create_nsg(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        let vcn_id = Self::required_str(&b, "vcnId")?;
        if !self.compartment_exists(&comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&comp)?;
        self.doc(world::VCN, &vcn_id)?;
        let region = self.req.region.clone();
        let id = self.w.new_id(world::NSG, Some(&region));
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        let display = b
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("nsg{}", rfc3339(self.now).replace([':', '-', '.'], "")));
        self.w.insert(
            world::NSG,
            json!({"id": id, "compartmentId": comp, "vcnId": vcn_id, "displayName": display,
                "lifecycleState": "AVAILABLE", "timeCreated": rfc3339(self.now),
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "systemTags": {},
                "_region": region}),
        );
        self.mutated = true;
        let d = self.w.get(world::NSG, &id).cloned().unwrap_or_default();
        Ok(self.one(world::NSG, &d, 200))
    }

    /// RemoveNetworkSecurityGroupSecurityRules: `{"securityRuleIds": [...]}` (oci-python-sdk
    /// `RemoveNetworkSecurityGroupSecurityRulesDetails`; the API reference answers 200 with no
    /// body). An id the group does not have is refused, as a guess at OCI's answer (400
    /// InvalidParameter): vipsetup only sends ids it just listed.
    fn remove_rules(&mut self) -> Result<Resp, ApiErr> {
        let nsg_id = self.id().to_string();
        let nsg = self.doc(world::NSG, &nsg_id)?;
        self.authorize(s(&nsg, "compartmentId"))?;
        let b = self.body()?;
        let ids: Vec<String> = b
            .get("securityRuleIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            return Err(ApiErr::missing("securityRuleIds"));
        }
        for id in &ids {
            if self
                .w
                .get(world::SECURITY_RULE, &format!("{nsg_id}/{id}"))
                .is_none()
            {
                return Err(ApiErr::invalid(format!(
                    "security rule {id} is not in network security group {nsg_id}"
                )));
            }
        }
        for id in &ids {
            self.w
                .remove(world::SECURITY_RULE, &format!("{nsg_id}/{id}"));
        }
        self.touch(world::NSG, &nsg_id, |_| {});
        self.mutated = true;
        Ok(Resp::empty(200))
    }

    fn add_rules(&mut self) -> Result<Resp, ApiErr> {
        let nsg_id = self.id().to_string();
        let nsg = self.doc(world::NSG, &nsg_id)?;
        self.authorize(s(&nsg, "compartmentId"))?;
        let b = self.body()?;
        let rules = b
            .get("securityRules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if rules.is_empty() {
            return Err(ApiErr::missing("securityRules"));
        }
        if rules.len() > 25 {
            return Err(ApiErr::invalid(
                "At most 25 security rules can be added per call",
            ));
        }
        for r in &rules {
            let dir = r
                .get("direction")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !matches!(dir, "INGRESS" | "EGRESS") {
                return Err(ApiErr::invalid("direction must be INGRESS or EGRESS"));
            }
            let proto = r
                .get("protocol")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiErr::missing("protocol"))?;
            if proto != "all" && proto.parse::<u8>().is_err() {
                return Err(ApiErr::invalid(format!(
                    "protocol {proto} must be \"all\" or an IANA protocol number"
                )));
            }
            let (addr_key, type_key) = if dir == "INGRESS" {
                ("source", "sourceType")
            } else {
                ("destination", "destinationType")
            };
            let addr = r
                .get(addr_key)
                .and_then(Value::as_str)
                .ok_or_else(|| ApiErr::missing(addr_key))?;
            let ty = r
                .get(type_key)
                .and_then(Value::as_str)
                .unwrap_or("CIDR_BLOCK");
            match ty {
                "CIDR_BLOCK" if Cidr::parse(addr).is_none() => {
                    return Err(ApiErr::invalid(format!(
                        "{addr_key} {addr} is not a CIDR block"
                    )))
                }
                "NETWORK_SECURITY_GROUP" if self.doc(world::NSG, addr).is_err() => {
                    return Err(ApiErr::invalid(format!(
                        "{addr_key} {addr} is not a network security group"
                    )))
                }
                "CIDR_BLOCK" | "NETWORK_SECURITY_GROUP" | "SERVICE_CIDR_BLOCK" => {}
                other => return Err(ApiErr::invalid(format!("{type_key} {other} is not valid"))),
            }
            for (opt, allowed) in [("tcpOptions", "6"), ("udpOptions", "17")] {
                if r.get(opt).is_some_and(|v| !v.is_null()) && proto != allowed {
                    return Err(ApiErr::invalid(format!(
                        "{opt} is only valid with protocol {allowed}"
                    )));
                }
            }
            if r.get("icmpOptions").is_some_and(|v| !v.is_null()) && proto != "1" && proto != "58" {
                return Err(ApiErr::invalid(
                    "icmpOptions is only valid with protocol 1 or 58",
                ));
            }
        }
        let mut out = Vec::new();
        let first = self
            .w
            .all(world::SECURITY_RULE)
            .filter(|r| s(r, "_nsgId") == nsg_id)
            .count() as u64;
        for (n, r) in rules.into_iter().enumerate() {
            let rid: String = world::random_suffix(6).to_uppercase();
            let mut doc = obj(r);
            if s(&doc, "direction") == "INGRESS" {
                doc.entry("sourceType").or_insert(json!("CIDR_BLOCK"));
            } else {
                doc.entry("destinationType").or_insert(json!("CIDR_BLOCK"));
            }
            doc.entry("isStateless").or_insert(json!(false));
            doc.insert("id".into(), json!(rid));
            doc.insert("isValid".into(), json!(true));
            doc.insert("timeCreated".into(), json!(rfc3339(self.now)));
            doc.insert("_nsgId".into(), json!(nsg_id));
            doc.insert("_order".into(), json!(first + n as u64));
            out.push(self.render(world::SECURITY_RULE, &doc));
            // stored under "<nsg>/<rule id>": rule ids are unique only within their group
            let key = format!("{nsg_id}/{rid}");
            let mut stored = doc;
            stored.insert("id".into(), json!(key));
            stored.insert("_key".into(), json!(key));
            self.w.insert(world::SECURITY_RULE, Value::Object(stored));
            if let Some(m) = self.w.get_mut(world::SECURITY_RULE, &key) {
                m.insert("id".into(), json!(rid));
            }
        }
        self.touch(world::NSG, &nsg_id, |_| {});
        Ok(Resp::json(200, &json!({"securityRules": out})))
    }
}
