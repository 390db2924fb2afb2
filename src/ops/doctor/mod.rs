//! `vipsetup doctor BLUEPRINT`: everything that would stop a pair from working in this tenancy,
//! found with read-only calls and reported in one go, each check as ok / problem / could not
//! tell, with the fix. It never creates, changes or deletes anything (its tests count the
//! simulator's mutating requests): OCI has no dry run, so what only a write could prove (that
//! the operator may create a dynamic group, say) is stated as the policy it needs instead.
//!
//! Where apply has a check of its own, doctor uses the same code: the egress advice
//! (`engine::egress`), the address rules (`engine::addresses`), the lookups of the `Cloud` trait.

mod compute;
mod iam;
mod network;
mod policy;
mod report;
mod state_bucket;

pub use policy::operator_policy;
pub use report::{exit, Check, DoctorReport, Status};

use crate::blueprint::Blueprint;
use crate::engine::addresses::Cidr;
use crate::engine::resolve::PairSpec;
use crate::engine::{Cloud, Resource};
use crate::oci::models::Subnet;
use crate::oci::{Client, OciError};

use super::error::{OpenError, OpsError};
use super::target::{open, Target, TargetOptions};
use report::{ok, problem, unknown};

/// Every check after `credentials`, in report order (those not run are "could not tell").
const LATER: &[&str] = &[
    "region",
    "subnet",
    "routing",
    "egress_443",
    "vrrp",
    "addresses",
    "availability_domain",
    "shape",
    "limits",
    "image",
    "iam_read",
    "state_bucket",
];

/// Runs every check. Errors only for what stops doctor before any check (a blueprint that does
/// not load, a simulator that does not start); everything about the tenancy is a check.
pub async fn doctor(opts: &TargetOptions) -> Result<DoctorReport, OpsError> {
    // Read and parsed once, by the command (TargetOptions carries it).
    let bp = opts.parsed.clone();
    let target = match open(opts).await {
        Ok(t) => t,
        Err(e @ (OpenError::Auth(_) | OpenError::Oci(_) | OpenError::Key(_))) => {
            let mut checks = vec![problem(
                "credentials",
                format!("the OCI config does not give working credentials: {e}"),
                "fix the profile in ~/.oci/config (or --config-file/--profile/--auth): user, \
                 tenancy, fingerprint, key_file and region, as `oci setup config` writes them",
            )];
            checks.extend(LATER.iter().map(|id| not_checked(id)));
            return Ok(DoctorReport {
                pair: bp.name.clone(),
                region: bp.oci.region.clone(),
                home_region: None,
                checks,
                operator_policy: operator_policy(&bp, "", &bp.oci.compartment.to_string()),
            });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(doctor_on(&bp, &target).await)
}

/// The checks against an opened target (tests open one on an in-process simulator).
pub async fn doctor_on(bp: &Blueprint, target: &Target) -> DoctorReport {
    Doctor {
        bp,
        spec: &target.spec,
        t: target,
    }
    .run()
    .await
}

fn not_checked(id: &'static str) -> Check {
    unknown(
        id,
        "not checked: no working credentials",
        "fix the credentials first, then run doctor again",
    )
}

struct Doctor<'a> {
    bp: &'a Blueprint,
    spec: &'a PairSpec,
    t: &'a Target,
}

/// What the subnet check found, for the checks that depend on it.
struct SubnetFacts {
    subnet: Subnet,
    cidr: Cidr,
}

fn api_status(e: &OciError) -> Option<u16> {
    e.status()
}

impl Doctor<'_> {
    fn client(&self) -> &Client {
        &self.t.client
    }

    fn cloud(&self) -> &dyn Cloud {
        self.t.cloud.as_ref()
    }

    async fn run(&self) -> DoctorReport {
        let mut checks = Vec::new();
        let region = self.client().region().to_string();
        // Credentials: ListRegionSubscriptions is the first signed call (every user may make
        // it); a 401 is the key, fingerprint, user or tenancy, a 5xx or no answer "could not
        // tell", any other answer proves the signature was accepted.
        let subs = self
            .client()
            .list_region_subscriptions(&self.t.tenancy_id)
            .await;
        let mut home_region = None;
        match &subs {
            Err(e) if api_status(e) == Some(401) => {
                checks.push(problem(
                    "credentials",
                    format!("OCI refused the request signature: {e}"),
                    "check that the API key's public half is uploaded to this user, that the \
                     fingerprint, user and tenancy in the profile are that key's, and the clock",
                ));
            }
            Err(e) if api_status(e).is_none_or(|s| s >= 500) => {
                checks.push(unknown(
                    "credentials",
                    format!("could not reach OCI to try the credentials: {e}"),
                    "check the network, the proxy and the region, then run doctor again",
                ));
            }
            _ => checks.push(ok(
                "credentials",
                format!(
                    "OCI accepted the signed request (tenancy {})",
                    self.t.tenancy_id
                ),
            )),
        }
        if checks[0].status != Status::Ok {
            checks.extend(LATER.iter().map(|id| not_checked(id)));
            return self.report(checks, Some(region), None, None);
        }
        match subs {
            Ok(subs) => {
                let home = subs
                    .iter()
                    .find(|s| s.is_home_region)
                    .map(|s| s.region_name.clone());
                home_region = home.clone();
                let subscribed = subs.iter().any(|s| s.region_name == region);
                checks.push(if subscribed {
                    ok(
                        "region",
                        format!(
                            "region {region}; home region {} (where the dynamic group and the \
                             policy are made)",
                            home.as_deref().unwrap_or("unknown")
                        ),
                    )
                } else {
                    problem(
                        "region",
                        format!("the tenancy does not subscribe to region {region}"),
                        "set `oci.region` (or the profile's region) to a region the tenancy \
                         subscribes to, or subscribe to it in the console",
                    )
                });
            }
            Err(e) => checks.push(unknown(
                "region",
                format!("could not list the tenancy's region subscriptions: {e}"),
                "let your group `inspect tenancies` (ListRegionSubscriptions)",
            )),
        }

        let subnet = self.check_subnet(&mut checks).await;
        let network_compartment = subnet
            .as_ref()
            .map(|s| s.subnet.compartment_id.clone())
            .unwrap_or_else(|| self.spec.compartment_id.clone());
        match &subnet {
            Some(_) => {
                checks.push(self.check_routing().await);
            }
            None => checks.push(unknown(
                "routing",
                "not checked: the subnet could not be read",
                "fix the subnet first",
            )),
        }
        checks.push(self.check_egress_443(subnet.as_ref()).await);
        // Nothing to read: apply makes the NSG, and OCI security rules only ever allow.
        checks.push(ok(
            "vrrp",
            "apply's network security group lets VRRP (IP protocol 112) pass between the nodes \
             (security rules only allow, so nothing in the subnet can block it)",
        ));
        checks.push(self.check_addresses(subnet.as_ref()).await);
        let ad = self.check_placement(&mut checks, subnet.as_ref()).await;
        self.check_shape_limits_image(&mut checks, ad.as_deref())
            .await;
        checks.push(
            self.check_iam_read(home_region.as_deref(), &network_compartment)
                .await,
        );
        checks.push(self.check_state_bucket().await);
        self.report(checks, Some(region), home_region, Some(network_compartment))
    }

    fn report(
        &self,
        checks: Vec<Check>,
        region: Option<String>,
        home_region: Option<String>,
        network_compartment: Option<String>,
    ) -> DoctorReport {
        let net = network_compartment.unwrap_or_else(|| self.spec.compartment_id.clone());
        DoctorReport {
            pair: self.bp.name.clone(),
            region,
            home_region,
            checks,
            operator_policy: operator_policy(self.bp, &self.t.tenancy_id, &net),
        }
    }

    /// The VNIC of this pair's live node `i`, if it has one.
    pub(super) async fn own_vnic(&self, i: usize) -> Option<String> {
        let inst = self
            .cloud()
            .find_instance(
                &self.spec.compartment_id,
                &self.spec.pair,
                Resource::node(i).key(),
            )
            .await
            .ok()??;
        self.cloud()
            .primary_vnic(&self.spec.compartment_id, &inst.id)
            .await
            .ok()?
            .map(|v| v.id)
    }
}

/// Whether an error is one `vipsetup doctor` checks for, so the message can name it.
pub fn would_have_caught(err: &anyhow::Error) -> bool {
    use crate::engine::executor::ExecError;
    use crate::engine::preflight::PreflightError;
    use crate::engine::resolve::ResolveError;
    // A node on its way out is not a prerequisite doctor checks: waiting is the fix.
    let preflight = |p: &PreflightError| {
        !matches!(
            p,
            PreflightError::Cloud(_) | PreflightError::AddressTerminating { .. }
        )
    };
    let resolve = |r: &ResolveError| {
        matches!(
            r,
            ResolveError::SubnetNotFound { .. }
                | ResolveError::SubnetNotAvailable { .. }
                | ResolveError::ImageNotFound { .. }
                | ResolveError::PublicIpOnPrivateSubnet { .. }
                | ResolveError::Address(_)
        )
    };
    let exec = |x: &ExecError| {
        let s = x.to_string();
        s.contains("LimitExceeded")
            || (s.contains("NotAuthorizedOrNotFound")
                && (s.contains("CreateDynamicGroup") || s.contains("CreatePolicy")))
    };
    // `#[error(transparent)]` wrappers hide the inner error from the chain: look inside.
    err.chain().any(|e| {
        if let Some(o) = e.downcast_ref::<OpsError>() {
            return match o {
                OpsError::Preflight(p) => preflight(p),
                OpsError::Resolve(r) => resolve(r),
                OpsError::Exec(x) => exec(x),
                _ => false,
            };
        }
        e.downcast_ref::<PreflightError>().is_some_and(preflight)
            || e.downcast_ref::<ResolveError>().is_some_and(resolve)
            || e.downcast_ref::<ExecError>().is_some_and(exec)
    })
}
