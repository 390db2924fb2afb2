//! Public IPs: CreatePublicIp (ephemeral and reserved), GetPublicIp, GetPublicIpByIpAddress,
//! GetPublicIpByPrivateIpId, UpdatePublicIp (assign, move, unassign a reserved one),
//! DeletePublicIp, and the ephemeral public IP a launch with `assignPublicIp` gives the primary
//! private IP. The VNIC's `publicIp` field follows the public IP of its primary private IP. A
//! public IP names its private IP, so it follows that private IP when UpdatePrivateIp moves it
//! ("If a public IP is assigned to a secondary private IP, and you move that secondary private IP
//! to another VNIC, the public IP moves with it", oci-python-sdk update_public_ip docstring).
//! Assigning is asynchronous in OCI (ASSIGNING, then ASSIGNED); the simulator answers with the
//! final state at once.

use serde_json::{json, Map, Value};

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
        ("POST", ["20160918", "publicIps", "actions", "getByPrivateIpId"]) => {
            "GetPublicIpByPrivateIpId"
        }
        ("GET", ["20160918", "publicIps", _]) => "GetPublicIp",
        ("PUT", ["20160918", "publicIps", _]) => "UpdatePublicIp",
        ("DELETE", ["20160918", "publicIps", _]) => "DeletePublicIp",
        _ => return None,
    })
}

fn pool_exhausted() -> ApiErr {
    ApiErr::new(400, "LimitExceeded", "The public IP pool is exhausted")
}

impl Ctx<'_> {
    pub(super) fn run_public_ips(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "CreatePublicIp" => self.create_public_ip(),
            "GetPublicIpByIpAddress" => self.get_public_ip_by_ip_address(),
            "DeletePublicIp" => self.delete_public_ip(),
            "GetPublicIp" => self.get_one(world::PUBLIC_IP),
            "GetPublicIpByPrivateIpId" => self.get_public_ip_by_private_ip_id(),
            "UpdatePublicIp" => self.update_public_ip(),
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
        let address = self.w.free_public_address().ok_or_else(pool_exhausted)?;
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
            "RESERVED" => return self.create_reserved_public_ip(&b, &comp),
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

    /// A reserved public IP, assigned at once when `privateIpId` is given ("For a reserved
    /// public IP: You may also optionally assign the public IP to a private IP by specifying
    /// `privateIpId`", oci-python-sdk create_public_ip docstring).
    fn create_reserved_public_ip(&mut self, b: &Doc, comp: &str) -> Result<Resp, ApiErr> {
        if !self.compartment_exists(comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(comp)?;
        let target = match b.get("privateIpId").and_then(Value::as_str) {
            Some(pip) => Some(self.assignable_private_ip(pip, None)?),
            None => None,
        };
        let address = self.w.free_public_address().ok_or_else(pool_exhausted)?;
        let region = self.req.region.clone();
        let id = self.w.new_id("publicip", Some(&region));
        let name = b
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(&address)
            .to_string();
        let mut doc = world::reserved_public_ip_doc(&id, comp, &name, &address, &region, self.now);
        for k in ["freeformTags", "definedTags"] {
            if let Some(v) = b.get(k).filter(|v| v.is_object()) {
                doc[k] = v.clone();
            }
        }
        self.w.insert(world::PUBLIC_IP, doc);
        self.mutated = true;
        if let Some(pip) = target {
            self.assign_public_ip(&id, &pip);
        }
        let d = self.doc(world::PUBLIC_IP, &id)?;
        Ok(self.one(world::PUBLIC_IP, &d, 200))
    }

    /// The private IP `pip_id` when a public IP may be assigned to it: it exists, the caller may
    /// assign it, and "the private IP must not already have a public IP with lifecycleState =
    /// ASSIGNING or ASSIGNED. If it does, an error is returned" (oci-python-sdk
    /// update_public_ip docstring; the 409 Conflict code is a guess). `own` is the public IP
    /// being moved (assigning it to where it already is is a no-op). Subnets that prohibit
    /// public IPs refuse them (Subnet.prohibitPublicIpOnVnic: "If true, ... VNICs created in
    /// this subnet cannot have public IP addresses").
    fn assignable_private_ip(&self, pip_id: &str, own: Option<&str>) -> Result<Doc, ApiErr> {
        let pip = self.doc(world::PRIVATE_IP, pip_id)?;
        self.authorize(s(&pip, "compartmentId"))?;
        if self
            .live_public_ips()
            .any(|d| s(d, "privateIpId") == pip_id && Some(s(d, "id")) != own)
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
            return Err(ApiErr::invalid(format!(
                "Public IP addresses are prohibited on subnet {} (prohibitPublicIpOnVnic)",
                s(&subnet, "id")
            )));
        }
        Ok(pip)
    }

    /// Points public IP `id` at `pip` (checked) and keeps the VNICs' `publicIp` right.
    fn assign_public_ip(&mut self, id: &str, pip: &Doc) {
        self.unassign_public_ip(id);
        let pip_id = s(pip, "id").to_string();
        let d = self.touch(world::PUBLIC_IP, id, |d| {
            d.insert("privateIpId".into(), json!(pip_id));
            d.insert("assignedEntityId".into(), json!(pip_id));
            d.insert("assignedEntityType".into(), json!("PRIVATE_IP"));
            d.insert("lifecycleState".into(), json!("ASSIGNED"));
        });
        if pip.get("isPrimary").and_then(Value::as_bool) == Some(true) {
            let vnic = s(pip, "vnicId").to_string();
            let address = s(&d, "ipAddress").to_string();
            if self.w.get(world::VNIC, &vnic).is_some() {
                self.touch(world::VNIC, &vnic, |v| {
                    v.insert("publicIp".into(), json!(address));
                });
            }
        }
    }

    /// Unassigns public IP `id` from its private IP (if any), clearing that VNIC's `publicIp`.
    fn unassign_public_ip(&mut self, id: &str) {
        let Some(d) = self.w.get(world::PUBLIC_IP, id).cloned() else {
            return;
        };
        let old = s(&d, "privateIpId").to_string();
        if old.is_empty() {
            return;
        }
        let primary_vnic = self
            .w
            .get(world::PRIVATE_IP, &old)
            .filter(|p| p.get("isPrimary").and_then(Value::as_bool) == Some(true))
            .map(|p| s(p, "vnicId").to_string());
        if let Some(v) = primary_vnic.filter(|v| self.w.get(world::VNIC, v).is_some()) {
            self.touch(world::VNIC, &v, |v| {
                v.insert("publicIp".into(), Value::Null);
            });
        }
        self.touch(world::PUBLIC_IP, id, |d| {
            for k in ["privateIpId", "assignedEntityId", "assignedEntityType"] {
                d.insert(k.into(), Value::Null);
            }
            d.insert("lifecycleState".into(), json!("AVAILABLE"));
        });
    }

    /// UpdatePublicIp: `privateIpId` assigns or moves a reserved public IP, `""` unassigns it
    /// ("To unassign ... specify an empty string", UpdatePublicIpDetails.private_ip_id in the
    /// older SDKs' docstring; "You can't move an ephemeral public IP to a different private IP",
    /// update_public_ip docstring); display name and tags change in place.
    fn update_public_ip(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::PUBLIC_IP, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let b = self.body()?;
        match b.get("privateIpId") {
            None | Some(Value::Null) => {}
            Some(Value::String(target)) => {
                if s(&d, "lifetime") != "RESERVED" && target != s(&d, "privateIpId") {
                    return Err(ApiErr::invalid(
                        "An ephemeral public IP cannot be moved or unassigned; delete it with DeletePublicIp",
                    ));
                }
                if target.is_empty() {
                    self.unassign_public_ip(&id);
                } else if target != s(&d, "privateIpId") {
                    let pip = self.assignable_private_ip(target, Some(&id))?;
                    self.assign_public_ip(&id, &pip);
                }
            }
            Some(_) => return Err(ApiErr::invalid("privateIpId must be a string")),
        }
        let mut changes = Map::new();
        for k in ["displayName", "freeformTags", "definedTags"] {
            if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
                changes.insert(k.into(), v.clone());
            }
        }
        let d = self.touch(world::PUBLIC_IP, &id, |d| d.extend(changes));
        Ok(self.one(world::PUBLIC_IP, &d, 200))
    }

    fn get_public_ip_by_private_ip_id(&self) -> Result<Resp, ApiErr> {
        self.get_public_ip_by("privateIpId")
    }

    fn get_public_ip_by_ip_address(&self) -> Result<Resp, ApiErr> {
        self.get_public_ip_by("ipAddress")
    }

    /// The GetPublicIpBy* actions: the body names one field (required), and the live public IP
    /// of this region whose field has that value is the answer, if the caller may read it.
    fn get_public_ip_by(&self, field: &str) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let want = Self::required_str(&b, field)?;
        let d = self
            .live_public_ips()
            .find(|d| s(d, field) == want && s(d, "_region") == self.req.region)
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
        self.unassign_public_ip(&id);
        self.w.remove(world::PUBLIC_IP, &id);
        self.mutated = true;
        Ok(Resp::empty(204))
    }
}
