//! Public IPs: CreatePublicIp, GetPublicIpByIpAddress, DeletePublicIp, and the ephemeral public
//! IP a launch with `assignPublicIp` gives the primary private IP. The VNIC's `publicIp` field
//! follows them.

use serde_json::{json, Value};

use super::context::{s, Ctx};
use crate::simulator::world::{self, rfc3339, Doc};
use crate::simulator::{ApiErr, Resp};

/// The operation a method and path name, when this file owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("POST", ["20160918", "publicIps"]) => "CreatePublicIp",
        ("POST", ["20160918", "publicIps", "actions", "getByIpAddress"]) => {
            "GetPublicIpByIpAddress"
        }
        ("DELETE", ["20160918", "publicIps", _]) => "DeletePublicIp",
        _ => return None,
    })
}

/// Simulated public addresses come from TEST-NET-2 (RFC 5737), never routable.
const POOL: [u8; 3] = [198, 51, 100];

impl Ctx<'_> {
    pub(super) fn run_public_ips(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "CreatePublicIp" => self.create_public_ip(),
            "GetPublicIpByIpAddress" => self.get_public_ip_by_ip_address(),
            "DeletePublicIp" => self.delete_public_ip(),
            _ => return None,
        })
    }

    fn live_public_ips(&self) -> impl Iterator<Item = &Doc> {
        self.w
            .all(world::PUBLIC_IP)
            .filter(|d| d.get("_deleted").is_none())
    }

    /// Assigns an ephemeral public IP to a primary private IP (its doc). The caller checked it.
    pub(super) fn new_ephemeral_public_ip(
        &mut self,
        private_ip: &Doc,
        b: Option<&Doc>,
    ) -> Result<Doc, ApiErr> {
        let taken: Vec<String> = self
            .live_public_ips()
            .map(|d| s(d, "ipAddress").to_string())
            .collect();
        let address = (1..=254u8)
            .map(|n| format!("{}.{}.{}.{n}", POOL[0], POOL[1], POOL[2]))
            .find(|a| !taken.contains(a))
            .ok_or_else(|| ApiErr::new(400, "LimitExceeded", "The public IP pool is exhausted"))?;
        let region = self.req.region.clone();
        let id = self.w.new_id("publicip", Some(&region));
        let tags = |k: &str| b.and_then(|b| b.get(k)).cloned().unwrap_or(json!({}));
        let display = b
            .and_then(|b| b.get("displayName"))
            .and_then(Value::as_str)
            .unwrap_or(&address)
            .to_string();
        // "For an ephemeral public IP, this is the same compartment as the private IP's" and
        // "The public IP is created in the same availability domain as the private IP"
        // (oci-python-sdk PublicIp.compartment_id, VirtualNetworkClient.create_public_ip).
        self.w.insert(
            world::PUBLIC_IP,
            json!({"id": id, "compartmentId": s(private_ip, "compartmentId"),
                "availabilityDomain": s(private_ip, "availabilityDomain"), "displayName": display,
                "ipAddress": address, "lifecycleState": "ASSIGNED", "lifetime": "EPHEMERAL",
                "privateIpId": s(private_ip, "id"), "assignedEntityId": s(private_ip, "id"),
                "assignedEntityType": "PRIVATE_IP", "scope": "AVAILABILITY_DOMAIN",
                "timeCreated": rfc3339(self.now), "freeformTags": tags("freeformTags"),
                "definedTags": tags("definedTags"), "_region": region}),
        );
        let vnic = s(private_ip, "vnicId").to_string();
        if self.w.get(world::VNIC, &vnic).is_some() {
            self.touch(world::VNIC, &vnic, |v| {
                v.insert("publicIp".into(), json!(address));
            });
        }
        self.mutated = true;
        Ok(self
            .w
            .get(world::PUBLIC_IP, &id)
            .cloned()
            .unwrap_or_default())
    }

    fn create_public_ip(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        let lifetime = Self::required_str(&b, "lifetime")?;
        match lifetime.as_str() {
            "EPHEMERAL" => {}
            "RESERVED" => {
                return Err(ApiErr::invalid(
                    "the simulator does not model reserved public IPs",
                ))
            }
            other => {
                return Err(ApiErr::invalid(format!(
                    "Invalid lifetime {other}; allowed values are EPHEMERAL, RESERVED"
                )))
            }
        }
        // "An ephemeral public IP must always be assigned to a private IP, and only to the
        // *primary* private IP on a VNIC" (oci-python-sdk VirtualNetworkClient.create_public_ip).
        let pip_id = b
            .get("privateIpId")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiErr::missing("privateIpId"))?
            .to_string();
        let pip = self.doc(world::PRIVATE_IP, &pip_id)?;
        self.authorize(s(&pip, "compartmentId"))?;
        if pip.get("isPrimary").and_then(Value::as_bool) != Some(true) {
            return Err(ApiErr::invalid(
                "An ephemeral public IP can be assigned only to the primary private IP of a VNIC",
            ));
        }
        if comp != s(&pip, "compartmentId") {
            return Err(ApiErr::invalid(
                "An ephemeral public IP must be in the same compartment as its private IP",
            ));
        }
        // "the private IP must not already have a public IP with lifecycleState = ASSIGNING or
        // ASSIGNED. If it does, an error is returned" (same docstring); the code is a guess.
        if self
            .live_public_ips()
            .any(|d| s(d, "privateIpId") == pip_id)
        {
            return Err(ApiErr::new(
                409,
                "Conflict",
                format!("Private IP {pip_id} already has a public IP assigned"),
            ));
        }
        let subnet = self.doc(world::SUBNET, s(&pip, "subnetId"))?;
        if subnet
            .get("prohibitPublicIpOnVnic")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(ApiErr::invalid(
                "Public IP addresses are prohibited on this subnet (prohibitPublicIpOnVnic)",
            ));
        }
        let d = self.new_ephemeral_public_ip(&pip, Some(&b))?;
        Ok(self.one(world::PUBLIC_IP, &d, 200))
    }

    fn get_public_ip_by_ip_address(&self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let address = Self::required_str(&b, "ipAddress")?;
        let d = self
            .live_public_ips()
            .find(|d| s(d, "ipAddress") == address && s(d, "_region") == self.req.region)
            .cloned()
            .ok_or_else(ApiErr::not_found)?;
        self.authorize(s(&d, "compartmentId"))?;
        Ok(self.one(world::PUBLIC_IP, &d, 200))
    }

    fn delete_public_ip(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::PUBLIC_IP, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let pip = s(&d, "privateIpId").to_string();
        let vnic = self
            .w
            .get(world::PRIVATE_IP, &pip)
            .map(|p| s(p, "vnicId").to_string());
        self.w.remove(world::PUBLIC_IP, &id);
        if let Some(v) = vnic.filter(|v| self.w.get(world::VNIC, v).is_some()) {
            self.touch(world::VNIC, &v, |v| {
                v.insert("publicIp".into(), Value::Null);
            });
        }
        self.mutated = true;
        Ok(Resp::empty(204))
    }
}
