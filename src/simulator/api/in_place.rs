//! Changes in place: UpdateInstance (tags, a flex shape's size, the shape, the fault domain,
//! custom metadata), InstanceAction (power
//! actions), UpdateVnic (NSG membership, tags) and UpdateNetworkSecurityGroup (name, tags).

use serde_json::{json, Map, Value};

use super::context::instance_state;
use super::context::{s, Ctx};
use crate::simulator::world;
use crate::simulator::{ApiErr, Resp};

/// The operation a method and path name, when this file owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("PUT", ["20160918", "instances", _]) => "UpdateInstance",
        ("POST", ["20160918", "instances", _]) => "InstanceAction",
        ("PUT", ["20160918", "vnics", _]) => "UpdateVnic",
        ("PUT", ["20160918", "networkSecurityGroups", _]) => "UpdateNetworkSecurityGroup",
        _ => return None,
    })
}

/// "A VNIC can be in at most 5 network security groups" (same limit as at launch).
const MAX_NSGS_PER_VNIC: usize = 5;

fn incorrect_state(id: &str, state: &str) -> ApiErr {
    ApiErr::new(
        409,
        "IncorrectState",
        format!("Instance {id} is {state}; the operation is not allowed in this state"),
    )
}

/// Copies the fields of `b` an update may change (null means "leave it").
fn take(b: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| {
            b.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| (k.to_string(), v.clone()))
        })
        .collect()
}

impl Ctx<'_> {
    pub(super) fn run_in_place(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "UpdateInstance" => self.update_instance(),
            "InstanceAction" => self.instance_action(),
            "UpdateVnic" => self.update_vnic(),
            "UpdateNetworkSecurityGroup" => self.update_nsg(),
            _ => return None,
        })
    }

    fn update_instance(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::INSTANCE, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let state = instance_state(&d, self.now);
        if matches!(state, "TERMINATING" | "TERMINATED") {
            return Err(incorrect_state(&id, state));
        }
        let b = self.body()?;
        let mut changes = take(&b, &["displayName", "freeformTags", "definedTags"]);
        let mut reboot = false;
        if let Some(m) = b.get("metadata").filter(|v| !v.is_null()) {
            changes.insert("metadata".into(), self.check_metadata(&d, &b, m)?);
        }
        if let Some(shape) = b.get("shape").and_then(Value::as_str) {
            if shape != s(&d, "shape") {
                // "If the instance is running when you change the shape, the instance is
                // rebooted" (UpdateInstanceDetails.shape).
                reboot = state == "RUNNING";
                changes.insert("shape".into(), json!(shape));
            }
        }
        if let Some(fd) = b.get("faultDomain").and_then(Value::as_str) {
            if !matches!(fd, "FAULT-DOMAIN-1" | "FAULT-DOMAIN-2" | "FAULT-DOMAIN-3") {
                // "Each availability domain contains three fault domains" (UpdateInstanceDetails
                // .faultDomain).
                return Err(ApiErr::invalid(format!("faultDomain {fd} does not exist")));
            }
            if fd != s(&d, "faultDomain") {
                // A guess: the SDK does not say; moving to another fault domain is taken to
                // stop and start the instance, as a shape change does.
                reboot = reboot || state == "RUNNING";
                changes.insert("faultDomain".into(), json!(fd));
            }
        }
        if let Some(sc) = b.get("shapeConfig").filter(|v| !v.is_null()) {
            // Only a flexible shape has a size to set (UpdateInstanceShapeConfigDetails:
            // "ocpus: The total number of OCPUs available to the instance", flex shapes).
            if !s(&d, "shape").ends_with(".Flex") {
                return Err(ApiErr::invalid(format!(
                    "shapeConfig can only be set for a flexible shape; {} is not one",
                    s(&d, "shape")
                )));
            }
            let mut cfg = d.get("shapeConfig").cloned().unwrap_or(json!({}));
            let old = cfg.clone();
            for (k, v) in [
                ("ocpus", sc.get("ocpus")),
                ("memoryInGBs", sc.get("memoryInGBs")),
            ] {
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    let n = v.as_f64().filter(|n| *n > 0.0).ok_or_else(|| {
                        ApiErr::invalid(format!("shapeConfig.{k} must be a positive number"))
                    })?;
                    cfg[k] = json!(n);
                }
            }
            if let Some(o) = cfg.get("ocpus").and_then(Value::as_f64) {
                cfg["vcpus"] = json!((o * 2.0) as i64);
            }
            // "If the instance is running when you change the shape, the instance is rebooted"
            // (UpdateInstanceDetails.shape; resizing a flex shape's size reboots it too, per
            // docs Compute/Tasks/resizinginstances.htm).
            reboot = cfg != old && state == "RUNNING";
            changes.insert("shapeConfig".into(), cfg);
        }
        let now = self.now;
        let back = now + self.cfg.provisioning_delay_ms as i64;
        let shown_at = now + self.cfg.metadata_delay_ms as i64;
        let d = self.touch(world::INSTANCE, &id, |d| {
            if changes.contains_key("metadata") {
                // The metadata service goes on showing the old set for a while (imds.rs).
                let old = d.get("metadata").cloned().unwrap_or(json!({}));
                d.insert("_imdsOldMetadata".into(), old);
                d.insert("_imdsMetadataAtMs".into(), json!(shown_at));
            }
            for (k, v) in changes {
                d.insert(k, v);
            }
            if reboot {
                // A guess at what the states read during the reboot: STARTING until it runs.
                d.insert("_startingAtMs".into(), json!(now));
                d.insert("_runningAtMs".into(), json!(back));
            }
        });
        Ok(self.one(world::INSTANCE, &d, 200))
    }

    /// UpdateInstanceDetails.metadata (oci-python-sdk): "Any set of key/value pairs provided here
    /// will completely replace the current set"; "The user_data field and the
    /// ssh_authorized_keys field cannot be changed after an instance has launched. Any request
    /// that updates, removes, or adds either of these fields will be rejected. You must provide
    /// the same values"; "The combined size of the metadata and extendedMetadata objects can be
    /// a maximum of 32,000 bytes". String values only (metadata is dict(str, str)). The error
    /// texts are guesses; the status and code are OCI's for a bad request.
    fn check_metadata(
        &self,
        d: &Map<String, Value>,
        b: &Map<String, Value>,
        m: &Value,
    ) -> Result<Value, ApiErr> {
        let m = m
            .as_object()
            .ok_or_else(|| ApiErr::invalid("metadata must be an object of strings".to_string()))?;
        if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
            return Err(ApiErr::invalid(format!("metadata.{k} must be a string")));
        }
        let old = d
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for k in ["user_data", "ssh_authorized_keys"] {
            if m.get(k) != old.get(k) {
                return Err(ApiErr::invalid(format!(
                    "metadata.{k} cannot be changed after the instance has launched; send the value it has"
                )));
            }
        }
        let extended = b
            .get("extendedMetadata")
            .or_else(|| d.get("extendedMetadata"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        super::core_compute::check_metadata_size([m, &extended])?;
        Ok(Value::Object(m.clone()))
    }

    /// InstanceAction: STOP and SOFTSTOP from RUNNING (STOPPING, then STOPPED), START from
    /// STOPPED (STARTING, then RUNNING), SOFTRESET and RESET from RUNNING (STARTING, then
    /// RUNNING: the same guess as a resize's reboot above); asking for the state it is already
    /// in, or heading to, changes nothing. The other power actions are valid on OCI but not
    /// simulated. The action and its time are kept on the instance (`_lastAction`,
    /// `_lastActionAtMs`, never rendered) so that whatever plays the hypervisor (the first-boot
    /// twin) can tell a SOFTSTOP (ACPI shutdown) from a STOP (power off), and a reboot from
    /// nothing; `POST /_sim/instances/power` is how it reports the VM's exit or start.
    fn instance_action(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::INSTANCE, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let action = self.required_q("action")?;
        // Allowed values: oci-python-sdk ComputeClient.instance_action.
        const ALLOWED: &[&str] = &[
            "STOP",
            "START",
            "SOFTRESET",
            "RESET",
            "SOFTSTOP",
            "SENDDIAGNOSTICINTERRUPT",
            "DIAGNOSTICREBOOT",
            "REBOOTMIGRATE",
        ];
        if !ALLOWED.contains(&action.as_str()) {
            return Err(ApiErr::invalid(format!(
                "Invalid action {action}; allowed values are {}",
                ALLOWED.join(", ")
            )));
        }
        let state = instance_state(&d, self.now);
        let now = self.now;
        let stopped_at = now + self.cfg.terminating_delay_ms as i64;
        let running_at = now + self.cfg.provisioning_delay_ms as i64;
        match (action.as_str(), state) {
            ("STOP" | "SOFTSTOP", "STOPPING" | "STOPPED") | ("START", "STARTING" | "RUNNING") => {}
            ("STOP" | "SOFTSTOP", "RUNNING") => {
                self.touch(world::INSTANCE, &id, |d| {
                    d.insert("_stoppingAtMs".into(), json!(now));
                    d.insert("_stoppedAtMs".into(), json!(stopped_at));
                    d.insert("_lastAction".into(), json!(action));
                    d.insert("_lastActionAtMs".into(), json!(now));
                });
            }
            ("START", "STOPPED") => {
                self.touch(world::INSTANCE, &id, |d| {
                    d.remove("_stoppingAtMs");
                    d.remove("_stoppedAtMs");
                    d.insert("_startingAtMs".into(), json!(now));
                    d.insert("_runningAtMs".into(), json!(running_at));
                    d.insert("_lastAction".into(), json!(action));
                    d.insert("_lastActionAtMs".into(), json!(now));
                });
            }
            ("SOFTRESET" | "RESET", "RUNNING") => {
                self.touch(world::INSTANCE, &id, |d| {
                    d.insert("_startingAtMs".into(), json!(now));
                    d.insert("_runningAtMs".into(), json!(running_at));
                    d.insert("_lastAction".into(), json!(action));
                    d.insert("_lastActionAtMs".into(), json!(now));
                });
            }
            ("STOP" | "SOFTSTOP" | "START" | "SOFTRESET" | "RESET", _) => {
                return Err(incorrect_state(&id, state))
            }
            (other, _) => {
                return Err(ApiErr::invalid(format!(
                    "the simulator does not model the {other} power action"
                )))
            }
        }
        let d = self.doc(world::INSTANCE, &id)?;
        Ok(self.one(world::INSTANCE, &d, 200))
    }

    /// UpdateVnic: `nsgIds` replaces the VNIC's NSG list (each NSG in the VNIC's VCN, at most
    /// five), plus names and tags.
    fn update_vnic(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::VNIC, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let b = self.body()?;
        let mut changes = take(
            &b,
            &[
                "displayName",
                "freeformTags",
                "definedTags",
                "hostnameLabel",
                "skipSourceDestCheck",
            ],
        );
        if let Some(ids) = b.get("nsgIds").filter(|v| !v.is_null()) {
            let ids: Vec<String> = ids
                .as_array()
                .ok_or_else(|| ApiErr::invalid("nsgIds must be a list of OCIDs"))?
                .iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| ApiErr::invalid("nsgIds must be a list of OCIDs"))?;
            if ids.len() > MAX_NSGS_PER_VNIC {
                return Err(ApiErr::invalid(
                    "A VNIC can be in at most 5 network security groups",
                ));
            }
            let subnet = self.doc(world::SUBNET, s(&d, "subnetId"))?;
            for n in &ids {
                let nsg = self.doc(world::NSG, n).map_err(|_| {
                    ApiErr::invalid(format!("Network security group {n} not found"))
                })?;
                if s(&nsg, "vcnId") != s(&subnet, "vcnId") {
                    return Err(ApiErr::invalid(format!(
                        "Network security group {n} is not in the VNIC's VCN"
                    )));
                }
            }
            changes.insert("nsgIds".into(), json!(ids));
        }
        let d = self.touch(world::VNIC, &id, |d| {
            for (k, v) in changes {
                d.insert(k, v);
            }
        });
        Ok(self.one(world::VNIC, &d, 200))
    }

    fn update_nsg(&mut self) -> Result<Resp, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::NSG, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        self.if_match(&d)?;
        let b = self.body()?;
        let changes = take(&b, &["displayName", "freeformTags", "definedTags"]);
        let d = self.touch(world::NSG, &id, |d| {
            for (k, v) in changes {
                d.insert(k, v);
            }
        });
        Ok(self.one(world::NSG, &d, 200))
    }
}
