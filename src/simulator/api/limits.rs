//! The Limits service (API version 20190729): ListLimitValues and GetResourceAvailability for the
//! compute core limits, and LaunchInstance's refusal when a launch would go over one. Paths,
//! query names and fields from the Python SDK's `oci/limits/limits_client.py` and
//! `oci/limits/models/{limit_value_summary,resource_availability}.py`.
//!
//! A limit is a `limit` document `{serviceName, name, scopeType, availabilityDomain, value}` per
//! region. Usage is derived from the instances that exist (not TERMINATED) in the region and AD
//! whose shape counts against the limit ([`core_limit_for_shape`]), one unit per OCPU. Limits are
//! per tenancy, so usage counts every compartment; that GetResourceAvailability's `used` also
//! does (its docstring says "the usage in the selected compartment") is a simplification.

use serde_json::{json, Value};

use super::super::world::{self, Doc, World};
use super::super::{ApiErr, Resp};
use super::context::instance_state;
use super::context::{s, Ctx};
use crate::oci::models::limits::{core_limit_for_shape, COMPUTE_SERVICE};

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20190729", "limitValues"]) => "ListLimitValues",
        ("GET", ["20190729", "services", _, "limits", _, "resourceAvailability"]) => {
            "GetResourceAvailability"
        }
        _ => return None,
    })
}

/// Seeded AD-scoped core limits. The values are guesses (OCI's defaults differ by account type
/// and change; an Always Free tenancy has 4 A1 OCPUs and 2 E2.1.Micro instances).
const SEEDED: &[(&str, i64)] = &[
    ("standard-e4-core-count", 100),
    ("standard-e5-core-count", 100),
    ("standard3-core-count", 100),
    ("standard2-core-count", 100),
    ("standard-a1-core-count", 4),
    ("standard-e2-micro-core-count", 2),
];

/// Adds the seeded compute limits to every AD of `region`.
pub(crate) fn seed(w: &mut World, region: &str) {
    for ad in w.availability_domains(region) {
        for (name, value) in SEEDED {
            set_limit(w, region, &ad, name, *value);
        }
    }
}

/// Sets (or adds) an AD-scoped compute limit; tests use it to exhaust one.
pub fn set_limit(w: &mut World, region: &str, ad: &str, name: &str, value: i64) {
    let found = w
        .resources
        .get_mut(world::LIMIT)
        .and_then(|docs| {
            docs.values_mut().find(|d| {
                s(d, "name") == name
                    && s(d, "availabilityDomain") == ad
                    && s(d, "_region") == region
            })
        })
        .map(|d| d.insert("value".into(), json!(value)))
        .is_some();
    if !found {
        let id = w.new_id(world::LIMIT, Some(region));
        w.insert(
            world::LIMIT,
            json!({"id": id, "serviceName": COMPUTE_SERVICE, "name": name, "scopeType": "AD",
                   "availabilityDomain": ad, "value": value, "_region": region}),
        );
    }
}

/// OCPUs in use against `limit` in `ad` of `region`.
fn used(w: &World, region: &str, ad: &str, limit: &str, now: i64) -> f64 {
    w.all(world::INSTANCE)
        .filter(|d| s(d, "_region") == region && s(d, "availabilityDomain") == ad)
        .filter(|d| core_limit_for_shape(s(d, "shape")) == Some(limit))
        .filter(|d| instance_state(d, now) != "TERMINATED")
        .map(|d| {
            d.get("shapeConfig")
                .and_then(|c| c.get("ocpus"))
                .and_then(Value::as_f64)
                .unwrap_or(1.0)
        })
        .sum()
}

impl Ctx<'_> {
    pub(super) fn run_limits(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "ListLimitValues" => self.list_limit_values(),
            "GetResourceAvailability" => self.get_resource_availability(),
            _ => return None,
        })
    }

    fn limits_here(&self, service: &str) -> Vec<Doc> {
        self.w
            .all(world::LIMIT)
            .filter(|d| s(d, "serviceName") == service && s(d, "_region") == self.req.region)
            .cloned()
            .collect()
    }

    /// ListLimitValues: `compartmentId` (the tenancy) and `serviceName` required; `scopeType`,
    /// `availabilityDomain` and `name` filter.
    fn list_limit_values(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        let service = self.required_q("serviceName")?;
        let items: Vec<Value> = self
            .limits_here(&service)
            .iter()
            .filter(|d| {
                self.filter_eq(d, "scopeType", "scopeType")
                    && self.filter_eq(d, "availabilityDomain", "availabilityDomain")
                    && self.filter_eq(d, "name", "name")
            })
            .map(|d| {
                json!({"name": s(d, "name"), "scopeType": s(d, "scopeType"),
                       "availabilityDomain": d.get("availabilityDomain"), "value": d.get("value")})
            })
            .collect();
        self.page(items)
    }

    /// GetResourceAvailability: 404 for a limit it has no value for ("not all resource limits
    /// support this API. If the value is not available, the API returns a 404 response"), 400
    /// InvalidParameter without `availabilityDomain` for an AD-scoped limit (both from the
    /// get_resource_availability docstring).
    fn get_resource_availability(&self) -> Result<Resp, ApiErr> {
        self.list_compartment()?;
        let segs: Vec<&str> = self.req.path.split('/').collect();
        // "", "20190729", "services", service, "limits", name, "resourceAvailability"
        let (service, name) = (segs[3], segs[5]);
        let ad = self.req.q("availabilityDomain");
        let limits = self.limits_here(service);
        let scoped: Vec<&Doc> = limits.iter().filter(|d| s(d, "name") == name).collect();
        let Some(first) = scoped.first() else {
            return Err(ApiErr::new(
                404,
                "NotFound",
                format!("Resource availability is not available for limit {name}"),
            ));
        };
        let doc = match (s(first, "scopeType"), ad) {
            ("AD", None) => {
                return Err(ApiErr::invalid(
                    "availabilityDomain is mandatory for a limit whose scopeType is AD",
                ))
            }
            ("AD", Some(ad)) => scoped
                .iter()
                .find(|d| s(d, "availabilityDomain") == ad)
                .ok_or_else(|| ApiErr::invalid(format!("Invalid availabilityDomain {ad}")))?,
            (_, Some(_)) => {
                return Err(ApiErr::invalid(
                    "availabilityDomain must be omitted for a limit not scoped to an AD",
                ))
            }
            (_, None) => first,
        };
        let value = doc.get("value").and_then(Value::as_i64).unwrap_or(0);
        let used = used(
            self.w,
            &self.req.region,
            ad.unwrap_or_default(),
            name,
            self.now,
        );
        let available = (value as f64 - used).max(0.0);
        Ok(Resp::json(
            200,
            &json!({"used": used.ceil() as i64, "available": available.floor() as i64,
                    "fractionalUsage": used, "fractionalAvailability": available,
                    "effectiveQuotaValue": null}),
        ))
    }

    /// LaunchInstance over a core limit is refused as OCI does: 400 LimitExceeded (the error
    /// code apierrors.htm lists for "you have reached a service limit"); the message is a guess.
    pub(super) fn check_core_limit(&self, ad: &str, shape: &str, ocpus: f64) -> Result<(), ApiErr> {
        let Some(limit) = core_limit_for_shape(shape) else {
            return Ok(());
        };
        let region = &self.req.region;
        let Some(doc) = self.w.all(world::LIMIT).find(|d| {
            s(d, "name") == limit && s(d, "availabilityDomain") == ad && s(d, "_region") == region
        }) else {
            return Ok(());
        };
        let value = doc.get("value").and_then(Value::as_i64).unwrap_or(0) as f64;
        if used(self.w, region, ad, limit, self.now) + ocpus > value {
            return Err(ApiErr::new(
                400,
                "LimitExceeded",
                format!("The following service limits were exceeded: {limit}. Request a service limit increase from the service limits page in the console."),
            ));
        }
        Ok(())
    }
}
