//! The core compute service: images, instances (launch with their primary VNIC and private IP,
//! lifecycle, termination) and VNIC attachments.

use serde_json::{json, Map, Value};

use super::super::world::{self, rfc3339, Doc};
use super::super::{ApiErr, Resp};
use super::context::{instance_state, obj, s, Ctx};

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20160918", "images"]) => "ListImages",
        ("GET", ["20160918", "images", _]) => "GetImage",
        ("POST", ["20160918", "instances"]) => "LaunchInstance",
        ("GET", ["20160918", "instances"]) => "ListInstances",
        ("GET", ["20160918", "instances", _]) => "GetInstance",
        ("DELETE", ["20160918", "instances", _]) => "TerminateInstance",
        ("GET", ["20160918", "vnicAttachments"]) => "ListVnicAttachments",
        _ => return None,
    })
}

impl Ctx<'_> {
    /// Runs the operation when this service owns it.
    pub(super) fn run_core_compute(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "ListImages" => self.list_images(),
            "GetImage" => self.get_one(world::IMAGE),
            "LaunchInstance" => self.launch(),
            "ListInstances" => self.list_instances(),
            "GetInstance" => self.get_one(world::INSTANCE),
            "TerminateInstance" => self.terminate_instance(),
            "ListVnicAttachments" => self.list_vnic_attachments(),
            _ => return None,
        })
    }

    fn list_instances(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let now = self.now;
        let items: Vec<Value> = self
            .w
            .all(world::INSTANCE)
            .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "availabilityDomain", "availabilityDomain")
                    && self.filter_eq(d, "displayName", "displayName")
            })
            .filter(|d| {
                self.req
                    .q("lifecycleState")
                    .is_none_or(|st| st == instance_state(d, now))
            })
            .map(|d| self.render(world::INSTANCE, d))
            .collect();
        self.page(items)
    }

    fn terminate_instance(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::INSTANCE, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        if d.get("_terminatedAtMs").is_none() {
            let at = self.now + self.cfg.terminating_delay_ms as i64;
            let now = self.now;
            self.touch(world::INSTANCE, &id, |d| {
                d.insert("_terminatingAtMs".into(), json!(now));
                d.insert("_terminatedAtMs".into(), json!(at));
            });
        }
        let wr = self.w.new_id("workrequest", Some(&self.req.region.clone()));
        Ok(Resp::empty(204).header("opc-work-request-id", wr))
    }

    fn list_vnic_attachments(&self) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let items: Vec<Value> = self
            .w
            .all(world::VNIC_ATTACHMENT)
            .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "instanceId", "instanceId")
                    && self.filter_eq(d, "vnicId", "vnicId")
                    && self.filter_eq(d, "availabilityDomain", "availabilityDomain")
            })
            .map(|d| self.render(world::VNIC_ATTACHMENT, d))
            .collect();
        self.page(items)
    }

    fn list_images(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        let sort_by = self.req.q("sortBy").unwrap_or("TIMECREATED");
        if !matches!(sort_by, "TIMECREATED" | "DISPLAYNAME") {
            return Err(ApiErr::invalid("sortBy must be TIMECREATED or DISPLAYNAME"));
        }
        let desc = match self.req.q("sortOrder") {
            Some("ASC") => false,
            Some("DESC") => true,
            Some(_) => return Err(ApiErr::invalid("sortOrder must be ASC or DESC")),
            None => sort_by == "TIMECREATED",
        };
        let mut imgs: Vec<&Doc> = self
            .w
            .all(world::IMAGE)
            .filter(|d| s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "operatingSystem", "operatingSystem")
                    && self.filter_eq(d, "operatingSystemVersion", "operatingSystemVersion")
                    && self.filter_eq(d, "displayName", "displayName")
                    && self.filter_eq(d, "lifecycleState", "lifecycleState")
            })
            .filter(|d| match self.req.q("shape") {
                Some(shape) => d
                    .get("_shapes")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(shape))),
                None => true,
            })
            .collect();
        let key = if sort_by == "TIMECREATED" {
            "timeCreated"
        } else {
            "displayName"
        };
        imgs.sort_by(|a, b| s(a, key).cmp(s(b, key)));
        if desc {
            imgs.reverse();
        }
        let items = imgs
            .into_iter()
            .map(|d| self.render(world::IMAGE, d))
            .collect();
        self.page(items)
    }

    fn launch(&mut self) -> Result<Resp, ApiErr> {
        let b = self.body()?;
        let comp = Self::required_str(&b, "compartmentId")?;
        if !self.compartment_exists(&comp) {
            return Err(ApiErr::not_found());
        }
        self.authorize(&comp)?;
        let ad = Self::required_str(&b, "availabilityDomain")?;
        let region = self.req.region.clone();
        if !self.w.availability_domains(&region).contains(&ad) {
            return Err(ApiErr::invalid(format!("Invalid availabilityDomain {ad}")));
        }
        let shape = Self::required_str(&b, "shape")?;
        let vnic_details = b
            .get("createVnicDetails")
            .cloned()
            .map(obj)
            .unwrap_or_default();
        let image_id = b
            .get("sourceDetails")
            .and_then(|sd| sd.get("imageId"))
            .or_else(|| b.get("imageId"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiErr::missing("sourceDetails.imageId"))?
            .to_string();
        let image = self.doc(world::IMAGE, &image_id)?;
        let compatible = image
            .get("_shapes")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(shape.as_str())));
        if !compatible {
            return Err(ApiErr::invalid(format!(
                "Shape {shape} is not compatible with image {image_id}"
            )));
        }
        self.check_shape_offered(&ad, &shape)?;
        let ocpus_asked = b
            .get("shapeConfig")
            .and_then(|c| c.get("ocpus"))
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        self.check_core_limit(&ad, &shape, ocpus_asked)?;
        let subnet_id = vnic_details
            .get("subnetId")
            .or_else(|| b.get("subnetId"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiErr::missing("createVnicDetails.subnetId"))?
            .to_string();
        let subnet = self.doc(world::SUBNET, &subnet_id)?;
        if let Some(sad) = subnet.get("availabilityDomain").and_then(Value::as_str) {
            if sad != ad {
                return Err(ApiErr::invalid(format!(
                    "Subnet {subnet_id} is in {sad}, not in {ad}"
                )));
            }
        }
        let prohibited = subnet
            .get("prohibitPublicIpOnVnic")
            .and_then(Value::as_bool)
            == Some(true);
        // "Whether the VNIC should be assigned a public IP address. Defaults to whether the
        // subnet is public or private" (oci-python-sdk CreateVnicDetails.assign_public_ip).
        let assign_public_ip = vnic_details
            .get("assignPublicIp")
            .and_then(Value::as_bool)
            .unwrap_or(!prohibited);
        if vnic_details.get("assignPublicIp").and_then(Value::as_bool) == Some(true) && prohibited {
            return Err(ApiErr::invalid(
                "Public IP addresses are prohibited on this subnet (prohibitPublicIpOnVnic)",
            ));
        }
        let nsg_ids: Vec<String> = vnic_details
            .get("nsgIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if nsg_ids.len() > 5 {
            return Err(ApiErr::invalid(
                "A VNIC can be in at most 5 network security groups",
            ));
        }
        for n in &nsg_ids {
            let nsg = self
                .doc(world::NSG, n)
                .map_err(|_| ApiErr::invalid(format!("Network security group {n} not found")))?;
            // LaunchInstance "also need[s] use network-security-groups" when the VNIC joins
            // groups (core policy reference, subnets table; Roving Edge networking table):
            // NETWORK_SECURITY_GROUP_UPDATE_MEMBERS in each group's compartment.
            self.authorize_with(
                s(&nsg, "compartmentId"),
                &["NETWORK_SECURITY_GROUP_UPDATE_MEMBERS"],
            )?;
            if s(&nsg, "vcnId") != s(&subnet, "vcnId") {
                return Err(ApiErr::invalid(format!(
                    "Network security group {n} is not in the subnet's VCN"
                )));
            }
        }
        check_metadata_size(
            ["metadata", "extendedMetadata"]
                .iter()
                .filter_map(|k| b.get(*k).and_then(Value::as_object)),
        )?;
        let ip = self.pick_ip(
            &subnet,
            vnic_details.get("privateIp").and_then(Value::as_str),
        )?;
        let now = self.now;
        let display = b
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("instance{}", rfc3339(now).replace([':', '-', '.'], "")));
        // LaunchInstanceDetails.hostnameLabel is deprecated for createVnicDetails.hostnameLabel;
        // "If you provide both, the values must match" (SDK docstring).
        let label = |v: &Doc| {
            v.get("hostnameLabel")
                .and_then(Value::as_str)
                .map(String::from)
        };
        let hostname = match (label(&vnic_details), label(&b)) {
            (Some(a), Some(t)) if a != t => {
                return Err(ApiErr::invalid(format!(
                    "hostnameLabel {t} and createVnicDetails.hostnameLabel {a} must match"
                )))
            }
            (a, t) => a.or(t),
        };
        if let Some(h) = &hostname {
            self.check_hostname_label(&subnet, h, None)?;
        }
        let inst_id = self.w.new_id(world::INSTANCE, Some(&region));
        let vnic_id = self.w.new_id(world::VNIC, Some(&region));
        let att_id = self.w.new_id("vnicattachment", Some(&region));
        let pip_id = self.w.new_id("privateip", Some(&region));
        let shape_config = b.get("shapeConfig").cloned().unwrap_or(json!({}));
        let ocpus = shape_config
            .get("ocpus")
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        let mem = shape_config
            .get("memoryInGBs")
            .and_then(Value::as_f64)
            .unwrap_or(ocpus * 16.0);
        let short_region = match region.as_str() {
            "us-ashburn-1" => "iad".to_string(),
            "us-phoenix-1" => "phx".to_string(),
            r => r.to_string(),
        };
        let mut source = b
            .get("sourceDetails")
            .cloned()
            .unwrap_or(json!({"sourceType": "image"}));
        if let Some(m) = source.as_object_mut() {
            m.insert("imageId".into(), json!(image_id));
            m.entry("sourceType").or_insert(json!("image"));
        }
        let tags = |k: &str| b.get(k).cloned().unwrap_or(json!({}));
        self.w.insert(
            world::INSTANCE,
            json!({"id": inst_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": display,
                "faultDomain": b.get("faultDomain").cloned().unwrap_or(json!("FAULT-DOMAIN-1")),
                "imageId": image_id, "launchMode": "PARAVIRTUALIZED", "region": short_region, "shape": shape,
                "shapeConfig": {"ocpus": ocpus, "memoryInGBs": mem, "vcpus": (ocpus * 2.0) as i64,
                                "processorDescription": "simulated", "networkingBandwidthInGbps": 1.0,
                                "maxVnicAttachments": 2, "gpus": 0, "localDisks": 0},
                "sourceDetails": source, "metadata": tags("metadata"), "extendedMetadata": tags("extendedMetadata"),
                "freeformTags": tags("freeformTags"), "definedTags": tags("definedTags"), "systemTags": {},
                "timeCreated": rfc3339(now), "lifecycleState": "PROVISIONING",
                "_region": region, "_runningAtMs": now + self.cfg.provisioning_delay_ms as i64}),
        );
        let mac = {
            let h = ring::digest::digest(&ring::digest::SHA256, vnic_id.as_bytes());
            let b = h.as_ref();
            format!("02:00:17:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
        };
        // "The VNIC and subnet always exist together in the same compartment" and the VNIC
        // attachment "is in the instance's compartment" (docs, Network/Tasks/managingVNICs.htm);
        // a secondary or primary private IP lives with its VNIC (PrivateIp.compartmentId: "the
        // compartment containing the private IP", the VNIC's in every SDK example).
        let net_comp = s(&subnet, "compartmentId").to_string();
        self.w.insert(
            world::VNIC,
            json!({"id": vnic_id, "compartmentId": net_comp, "availabilityDomain": ad, "displayName": display,
                "hostnameLabel": hostname, "isPrimary": true, "macAddress": mac, "nsgIds": nsg_ids,
                "privateIp": ip, "publicIp": null, "skipSourceDestCheck": vnic_details.get("skipSourceDestCheck").and_then(Value::as_bool).unwrap_or(false),
                "subnetId": subnet_id, "timeCreated": rfc3339(now), "lifecycleState": "PROVISIONING",
                "freeformTags": {}, "definedTags": {}, "_region": region, "_instanceId": inst_id}),
        );
        self.w.insert(
            world::VNIC_ATTACHMENT,
            json!({"id": att_id, "compartmentId": comp, "availabilityDomain": ad, "displayName": display,
                "instanceId": inst_id, "vnicId": vnic_id, "subnetId": subnet_id, "nicIndex": 0,
                "lifecycleState": "ATTACHING", "timeCreated": rfc3339(now), "_region": region}),
        );
        self.w.insert(
            world::PRIVATE_IP,
            json!({"id": pip_id, "compartmentId": net_comp, "availabilityDomain": ad, "displayName": ip,
                "hostnameLabel": hostname, "ipAddress": ip, "isPrimary": true, "subnetId": subnet_id,
                "vnicId": vnic_id, "timeCreated": rfc3339(now), "ipState": "ASSIGNED", "lifetime": "EPHEMERAL",
                "freeformTags": {}, "definedTags": {}, "_region": region}),
        );
        if assign_public_ip {
            let pip = self
                .w
                .get(world::PRIVATE_IP, &pip_id)
                .cloned()
                .unwrap_or_default();
            self.new_ephemeral_public_ip(&pip, None)?;
        }
        self.mutated = true;
        let d = self
            .w
            .get(world::INSTANCE, &inst_id)
            .cloned()
            .unwrap_or_default();
        let wr = self.w.new_id("workrequest", Some(&region));
        Ok(self
            .one(world::INSTANCE, &d, 200)
            .header("opc-work-request-id", wr))
    }
}

/// OCI's limit on an instance's metadata and extendedMetadata together, 32,000 bytes (keys and
/// values), checked by LaunchInstance and UpdateInstance alike (the source is named at the
/// callers).
pub(super) fn check_metadata_size<'a>(
    maps: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Result<(), ApiErr> {
    let size: usize = maps
        .into_iter()
        .flat_map(|m| m.iter())
        .map(|(k, v)| {
            k.len()
                + v.as_str()
                    .map(str::len)
                    .unwrap_or_else(|| v.to_string().len())
        })
        .sum();
    if size > 32_000 {
        return Err(ApiErr::invalid(format!(
            "The combined size of metadata and extendedMetadata is {size} bytes; the limit is 32000 bytes"
        )));
    }
    Ok(())
}
