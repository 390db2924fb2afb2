//! Placement lookups: ListFaultDomains (Identity) and ListShapes (Core), read-only and used by
//! apply's pre-flight before anything is launched.

use serde_json::{json, Value};

use super::context::{s, Ctx};
use crate::simulator::world;
use crate::simulator::{ApiErr, Resp};

/// The operation a method and path name, when this file owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20160918", "faultDomains"]) => "ListFaultDomains",
        ("GET", ["20160918", "shapes"]) => "ListShapes",
        _ => return None,
    })
}

/// "Each availability domain contains three fault domains" (docs.oracle.com, Regions and
/// Availability Domains, "Fault Domains").
const FAULT_DOMAINS: usize = 3;

impl Ctx<'_> {
    pub(super) fn run_placement(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "ListFaultDomains" => self.list_fault_domains(),
            "ListShapes" => self.list_shapes(),
            _ => return None,
        })
    }

    /// ListFaultDomains: `compartmentId` and `availabilityDomain` are both required
    /// (oci-python-sdk IdentityClient.list_fault_domains).
    fn list_fault_domains(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        let ad = self.required_q("availabilityDomain")?;
        // A guess: OCI's answer for an AD name it does not know is not documented; the
        // simulator refuses it the way LaunchInstance does.
        if !self.w.availability_domains(&self.req.region).contains(&ad) {
            return Err(ApiErr::invalid(format!("Invalid availabilityDomain {ad}")));
        }
        let t = self.w.tenancy_id.clone();
        let items: Vec<Value> = (1..=FAULT_DOMAINS)
            .map(|i| {
                let name = format!("FAULT-DOMAIN-{i}");
                let h = ring::digest::digest(
                    &ring::digest::SHA256,
                    format!("{t}{ad}{name}").as_bytes(),
                );
                let hex: String = h
                    .as_ref()
                    .iter()
                    .take(20)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                json!({"name": name, "id": format!("ocid1.faultdomain.oc1..{hex}"),
                       "compartmentId": t, "availabilityDomain": ad})
            })
            .collect();
        Ok(Resp::json(200, &Value::Array(items)))
    }

    /// ListShapes: the shapes of the region's images; with `imageId`, only those that image runs
    /// on ("imageId: The OCID of an image", oci-python-sdk ComputeClient.list_shapes); with
    /// `availabilityDomain`, only those offered there (OCI's offer differs per AD; every shape is
    /// offered in every AD unless a test withdraws one with [`withdraw_shape`]).
    fn list_shapes(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        if let Some(ad) = self.req.q("availabilityDomain") {
            if !self
                .w
                .availability_domains(&self.req.region)
                .contains(&ad.to_string())
            {
                return Err(ApiErr::invalid(format!("Invalid availabilityDomain {ad}")));
            }
        }
        let images: Vec<world::Doc> = match self.req.q("imageId") {
            Some(id) => vec![self.doc(world::IMAGE, id)?],
            None => self
                .w
                .all(world::IMAGE)
                .filter(|d| s(d, "_region") == self.req.region)
                .cloned()
                .collect(),
        };
        let mut names: Vec<String> = images
            .iter()
            .filter_map(|d| d.get("_shapes").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        names.sort();
        names.dedup();
        if let Some(ad) = self.req.q("availabilityDomain") {
            names.retain(|n| self.shape_offered(ad, n));
        }
        let items = names
            .into_iter()
            .map(|n| {
                let flex = n.ends_with(".Flex");
                json!({"shape": n, "isFlexible": flex, "processorDescription": "simulated",
                       "ocpus": if flex { Value::Null } else { json!(1.0) },
                       "memoryInGBs": if flex { Value::Null } else { json!(16.0) }})
            })
            .collect();
        self.page(items)
    }
}

/// Stops offering `shape` in availability domain `ad` (the tenancy's `_shapesNotOffered`): it
/// leaves ListShapes there, and LaunchInstance refuses it.
pub fn withdraw_shape(w: &mut world::World, ad: &str, shape: &str) {
    let t = w.tenancy_id.clone();
    if let Some(d) = w.get_mut(world::TENANCY, &t) {
        let map = d
            .entry("_shapesNotOffered")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object");
        let list = map.entry(ad).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!(shape));
        }
    }
}

impl Ctx<'_> {
    fn shape_offered(&self, ad: &str, shape: &str) -> bool {
        !self
            .w
            .get(world::TENANCY, &self.w.tenancy_id)
            .and_then(|d| d.get("_shapesNotOffered"))
            .and_then(|m| m.get(ad))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(shape)))
    }

    /// LaunchInstance of a shape the AD does not offer. The answer is a guess: OCI's exact code
    /// and text for it are not documented; 400 InvalidParameter is what it gives for other
    /// placement mistakes (an unknown availability domain).
    pub(super) fn check_shape_offered(&self, ad: &str, shape: &str) -> Result<(), ApiErr> {
        if self.shape_offered(ad, shape) {
            Ok(())
        } else {
            Err(ApiErr::invalid(format!(
                "Shape {shape} is not available in availability domain {ad}"
            )))
        }
    }
}
