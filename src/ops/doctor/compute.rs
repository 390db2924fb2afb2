//! The compute checks: availability and fault domains, the shape, its service limits and the image.

use crate::engine::resolve::ImageChoice;
use crate::oci::models::limits::{core_limit_for_shape, COMPUTE_SERVICE};

use super::report::{ok, problem, unknown, Check};
use super::{Doctor, SubnetFacts};

impl Doctor<'_> {
    /// The availability domain and fault domains; returns the AD the nodes would go to.
    pub(super) async fn check_placement(
        &self,
        checks: &mut Vec<Check>,
        subnet: Option<&SubnetFacts>,
    ) -> Option<String> {
        let ads = match self.cloud().availability_domains(&self.t.tenancy_id).await {
            Ok(a) => a,
            Err(e) => {
                checks.push(unknown(
                    "availability_domain",
                    format!("could not list the availability domains: {e}"),
                    "check the region and that your group may `inspect` the tenancy",
                ));
                return self.spec.availability_domain.clone();
            }
        };
        let subnet_ad = subnet.and_then(|s| s.subnet.availability_domain.clone());
        let ad = self
            .spec
            .availability_domain
            .clone()
            .or(subnet_ad.clone())
            .or_else(|| ads.first().cloned());
        let Some(ad) = ad else {
            checks.push(problem(
                "availability_domain",
                "no availability domain is visible in this region",
                "check the region and your policies",
            ));
            return None;
        };
        if !ads.contains(&ad) {
            checks.push(problem(
                "availability_domain",
                format!("{ad} is not an availability domain of this region"),
                format!(
                    "set `instance.availability_domain` to one of: {}",
                    ads.join(", ")
                ),
            ));
            return None;
        }
        if let Some(sad) = subnet_ad.filter(|s| *s != ad) {
            checks.push(problem(
                "availability_domain",
                format!("the subnet is in {sad}, the blueprint asks for {ad}"),
                "remove `instance.availability_domain`, or use a regional subnet",
            ));
            return None;
        }
        let fds = match self
            .cloud()
            .fault_domains(&self.spec.compartment_id, &ad)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                checks.push(unknown(
                    "availability_domain",
                    format!("{ad}; could not list its fault domains: {e}"),
                    "check your policies (ListFaultDomains)",
                ));
                return Some(ad);
            }
        };
        let wrong: Vec<String> = self
            .spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.fault_domain
                    .clone()
                    .unwrap_or_else(|| format!("FAULT-DOMAIN-{}", i + 1))
            })
            .filter(|fd| !fds.contains(fd))
            .collect();
        checks.push(if wrong.is_empty() {
            ok(
                "availability_domain",
                format!("{ad}, fault domains {}", fds.join(", ")),
            )
        } else {
            problem(
                "availability_domain",
                format!("{ad} has no fault domain {}", wrong.join(", ")),
                format!("use one of {} in `nodes[].fault_domain`", fds.join(", ")),
            )
        });
        Some(ad)
    }

    pub(super) async fn check_shape_limits_image(&self, checks: &mut Vec<Check>, ad: Option<&str>) {
        let shape = &self.spec.shape;
        let Some(ad) = ad else {
            for id in ["shape", "limits", "image"] {
                checks.push(unknown(
                    id,
                    "not checked: no usable availability domain",
                    "fix the availability domain first",
                ));
            }
            return;
        };
        let comp = &self.spec.compartment_id;
        let offered = match self.client().list_shapes(comp, Some(ad), None).await {
            Ok(s) => s,
            Err(e) => {
                checks.push(unknown(
                    "shape",
                    format!("could not list the shapes of {ad}: {e}"),
                    "let your group `inspect instance-family` (ListShapes)",
                ));
                Vec::new()
            }
        };
        let this = offered.iter().find(|s| &s.shape == shape);
        if !offered.is_empty() {
            checks.push(match this {
                Some(_) => ok("shape", format!("{shape} is offered in {ad}")),
                None => {
                    let mut names: Vec<&str> = offered.iter().map(|s| s.shape.as_str()).collect();
                    names.sort();
                    names.dedup();
                    problem(
                        "shape",
                        format!("{shape} is not offered in {ad}"),
                        format!(
                            "set `instance.shape` to one offered there ({}), or another \
                             `instance.availability_domain`",
                            names.join(", ")
                        ),
                    )
                }
            });
        }
        checks.push(self.check_limits(ad, this.and_then(|s| s.ocpus)).await);
        checks.push(self.check_image(ad).await);
    }

    pub(super) async fn check_limits(&self, ad: &str, shape_ocpus: Option<f64>) -> Check {
        let shape = &self.spec.shape;
        let Some(limit) = core_limit_for_shape(shape) else {
            return unknown(
                "limits",
                format!("vipsetup does not know which service limit {shape}'s cores count against"),
                "check it in the console (Governance & Administration > Limits, Quotas and Usage)",
            );
        };
        let per_node = self
            .spec
            .ocpus
            .map(f64::from)
            .or(shape_ocpus)
            .unwrap_or(1.0);
        let mut new_nodes = 0;
        for i in 0..2 {
            if self.own_vnic(i).await.is_none() {
                new_nodes += 1;
            }
        }
        let needed = per_node * new_nodes as f64;
        match self
            .client()
            .get_resource_availability(COMPUTE_SERVICE, limit, &self.spec.compartment_id, Some(ad))
            .await
        {
            Err(e) => unknown(
                "limits",
                format!("could not read the availability of limit {limit} in {ad}: {e}"),
                "let your group `inspect resource-availability in tenancy`, or check the limit \
                 in the console",
            ),
            Ok(a) => {
                let available = a
                    .fractional_availability
                    .or(a.available.map(|v| v as f64))
                    .unwrap_or(0.0);
                if available >= needed {
                    ok(
                        "limits",
                        format!("{limit} in {ad}: {available} OCPUs available, {needed} needed"),
                    )
                } else {
                    problem(
                        "limits",
                        format!(
                            "{limit} in {ad}: {available} OCPUs available, {needed} needed for \
                             {new_nodes} node(s) of {per_node} OCPU(s)"
                        ),
                        "free cores of that shape family, request a limit increase (console: \
                         Governance & Administration > Limits, Quotas and Usage), or choose \
                         another shape or availability domain",
                    )
                }
            }
        }
    }

    pub(super) async fn check_image(&self, ad: &str) -> Check {
        let comp = &self.spec.compartment_id;
        let shape = &self.spec.shape;
        match &self.spec.image {
            ImageChoice::Lookup { os, version } => {
                match self.cloud().newest_image(comp, os, version, shape).await {
                    Ok(Some(id)) => ok(
                        "image",
                        format!("newest {os} {version} image for {shape}: {id}"),
                    ),
                    Ok(None) => problem(
                        "image",
                        format!("no AVAILABLE {os} {version} platform image runs on {shape}"),
                        "choose another `instance.image` version (or os), or another shape",
                    ),
                    Err(e) => unknown(
                        "image",
                        format!("could not list images: {e}"),
                        "let your group `inspect instance-family` (ListImages)",
                    ),
                }
            }
            ImageChoice::Ocid(id) => match self.cloud().get_image(id).await {
                Err(e) => unknown(
                    "image",
                    format!("could not read image {id}: {e}"),
                    "let your group `read instance-images`",
                ),
                Ok(None) => problem(
                    "image",
                    format!("image {id} was not found, or you may not read it"),
                    "check `instance.image` and the region",
                ),
                Ok(Some(state)) if state != "AVAILABLE" => problem(
                    "image",
                    format!("image {id} is {state}"),
                    "use an AVAILABLE image in `instance.image`",
                ),
                Ok(Some(_)) => match self.cloud().shapes(comp, ad, Some(id)).await {
                    Ok(s) if s.contains(shape) => {
                        ok("image", format!("image {id} runs on {shape}"))
                    }
                    Ok(s) => problem(
                        "image",
                        format!("image {id} can't run on {shape}"),
                        format!("use one of its shapes: {}", s.join(", ")),
                    ),
                    Err(e) => unknown(
                        "image",
                        format!("could not list image {id}'s shapes: {e}"),
                        "let your group `inspect instance-family`",
                    ),
                },
            },
        }
    }
}
