//! `vipsetup doctor BLUEPRINT`: everything that would stop a pair from working in this tenancy,
//! found with read-only calls and reported in one go, each check as ok / problem / could not
//! tell, with the fix. It never creates, changes or deletes anything (its tests count the
//! simulator's mutating requests): OCI has no dry run, so what only a write could prove (that
//! the operator may create a dynamic group, say) is stated as the policy it needs instead.
//!
//! Where apply has a check of its own, doctor uses the same code: the egress advice
//! (`engine::egress`), the address rules (`engine::addresses`), the lookups of the `Cloud` trait.

use serde::Serialize;

use crate::blueprint::Blueprint;
use crate::engine::addresses::{choose_node_ips, Cidr};
use crate::engine::egress;
use crate::engine::resolve::{ImageChoice, PairSpec};
use crate::engine::{Cloud, Resource};
use crate::oci::models::limits::{core_limit_for_shape, COMPUTE_SERVICE};
use crate::oci::models::Subnet;
use crate::oci::{Client, OciError};

use super::error::{OpenError, OpsError};
use super::target::{open, Target, TargetOptions};

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Something that would stop the pair from working; `fix` says what to do.
    Problem,
    /// The check could not be made (no permission to read, an API error, a shape vipsetup
    /// knows no limit for); `fix` says how to make it possible or check by hand.
    Unknown,
}

/// One check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Stable name for scripts: `credentials`, `region`, `subnet`, `routing`, `egress_443`,
    /// `vrrp`, `addresses`, `availability_domain`, `shape`, `limits`, `image`, `iam_read`,
    /// `state_bucket`.
    pub id: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

/// The whole report (`--output json` prints it, with `ok` and `exit_code`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoctorReport {
    pub pair: String,
    pub region: Option<String>,
    pub home_region: Option<String>,
    pub checks: Vec<Check>,
    /// The policy statements the operator's own group needs for `apply` and `destroy`: OCI has
    /// no dry run, so these can't be checked before the first write.
    pub operator_policy: Vec<String>,
}

/// Exit codes of `vipsetup doctor` (the scripting contract, README "On your tenancy").
pub mod exit {
    /// Every check ok.
    pub const ALL_OK: i32 = 0;
    /// At least one problem (also: usage errors and errors before any check, as everywhere).
    pub const PROBLEM: i32 = 1;
    /// No problem found, but at least one check could not tell.
    pub const UNKNOWN: i32 = 2;
}

impl DoctorReport {
    pub fn problems(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Problem)
            .collect()
    }

    pub fn exit_code(&self) -> i32 {
        if self.checks.iter().any(|c| c.status == Status::Problem) {
            exit::PROBLEM
        } else if self.checks.iter().any(|c| c.status == Status::Unknown) {
            exit::UNKNOWN
        } else {
            exit::ALL_OK
        }
    }

    /// For people: one line per check, the fix under each one that is not ok, the policy.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "ok     ",
                Status::Problem => "PROBLEM",
                Status::Unknown => "unknown",
            };
            out.push_str(&format!("{mark} {:<20} {}\n", c.id, c.detail));
            if let (Some(fix), false) = (&c.fix, c.status == Status::Ok) {
                out.push_str(&format!("        {:<20} fix: {fix}\n", ""));
            }
        }
        out.push_str(
            "\nOCI has no dry run, so whether you may create these can't be read beforehand; \
             apply and destroy need your group to have:\n",
        );
        for s in &self.operator_policy {
            out.push_str(&format!("  {s}\n"));
        }
        let (p, u) = (
            self.problems().len(),
            self.checks
                .iter()
                .filter(|c| c.status == Status::Unknown)
                .count(),
        );
        out.push_str(&match (p, u) {
            (0, 0) => "\ndoctor: every check passed\n".to_string(),
            (0, u) => format!("\ndoctor: no problem found, {u} check(s) could not tell\n"),
            (p, u) => format!("\ndoctor: {p} problem(s), {u} check(s) could not tell\n"),
        });
        out
    }
}

fn check(
    id: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        id,
        status,
        detail: detail.into(),
        fix,
    }
}

fn ok(id: &'static str, detail: impl Into<String>) -> Check {
    check(id, Status::Ok, detail, None)
}

fn problem(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    check(id, Status::Problem, detail, Some(fix.into()))
}

fn unknown(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    check(id, Status::Unknown, detail, Some(fix.into()))
}

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

/// `in tenancy` or `in compartment id <ocid>`.
fn place(compartment: &str, tenancy: &str) -> String {
    if compartment == tenancy || compartment.starts_with("ocid1.tenancy.") {
        "in tenancy".to_string()
    } else {
        format!("in compartment id {compartment}")
    }
}

/// The operator's policy for this blueprint. Sources: docs.oracle.com
/// Identity/Reference/corepolicyreference.htm ("Details for Verb + Resource-Type Combinations":
/// VCN_ATTACH, which CreateNetworkSecurityGroup needs, comes only with `manage vcns`;
/// LaunchInstance needs `manage instance-family` plus `use` of subnets, VNICs and NSGs;
/// CreatePrivateIp needs `use private-ips`, `use vnics` and `use subnets`) and
/// iampolicyreference.htm (dynamic groups and policies).
pub fn operator_policy(bp: &Blueprint, tenancy: &str, network_compartment: &str) -> Vec<String> {
    let g = "<your-group>";
    let comp = place(&bp.oci.compartment.to_string(), tenancy);
    let net = place(network_compartment, tenancy);
    let mut out = vec![
        format!("Allow group {g} to manage dynamic-groups in tenancy"),
        format!("Allow group {g} to manage policies {net}"),
        format!("Allow group {g} to manage instance-family {comp}"),
        format!("Allow group {g} to manage network-security-groups {comp}"),
        format!("Allow group {g} to manage vcns {net}"),
        format!("Allow group {g} to use virtual-network-family {net}"),
    ];
    if bp.network.public_ip.is_some() {
        out.push(format!("Allow group {g} to manage public-ips {net}"));
    }
    if bp.failover.notify_topic.is_some() {
        out.push(format!("Allow group {g} to read ons-topics {comp}"));
    }
    if let Some(st) = &bp.state {
        out.push(format!(
            "Allow group {g} to manage objects in tenancy where target.bucket.name = '{}'",
            st.bucket
        ));
    }
    out
}

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

    async fn check_subnet(&self, checks: &mut Vec<Check>) -> Option<SubnetFacts> {
        let id = &self.spec.subnet_id;
        let subnet = match self.client().get_subnet(id).await {
            Ok(s) => s.value,
            Err(e) if e.is_not_found() => {
                checks.push(problem(
                    "subnet",
                    format!("subnet {id} was not found, or you may not read it"),
                    "check `network.subnet` and `oci.region`, and that your group may `use \
                     virtual-network-family` in the subnet's compartment",
                ));
                return None;
            }
            Err(e) => {
                checks.push(unknown(
                    "subnet",
                    format!("could not read subnet {id}: {e}"),
                    "run doctor again; if it persists, check the region and your policies",
                ));
                return None;
            }
        };
        let state = subnet.lifecycle_state.as_str();
        if state != "AVAILABLE" {
            checks.push(problem(
                "subnet",
                format!("subnet {id} is {state}, not AVAILABLE"),
                "wait for it, or use another subnet in `network.subnet`",
            ));
            return None;
        }
        let Some(cidr) = Cidr::parse(&subnet.cidr_block) else {
            checks.push(problem(
                "subnet",
                format!(
                    "subnet {id} has CIDR {:?}, which is not IPv4",
                    subnet.cidr_block
                ),
                "use an IPv4 subnet",
            ));
            return None;
        };
        let mut bad = Vec::new();
        for vip in &self.bp.network.vips {
            if !cidr.contains(*vip) {
                bad.push(format!("VIP {vip} is outside the subnet's {cidr}"));
            } else if cidr.is_reserved(*vip) {
                bad.push(format!(
                    "VIP {vip} is one of the addresses OCI reserves in {cidr} (the first two and the last)"
                ));
            }
        }
        if self.bp.network.public_ip.is_some() && subnet.prohibit_public_ip_on_vnic == Some(true) {
            bad.push("`network.public_ip` is set, but the subnet prohibits public IPs".into());
        }
        checks.push(if bad.is_empty() {
            ok(
                "subnet",
                format!(
                    "subnet {} ({cidr}, VCN {}, {})",
                    subnet.display_name.as_deref().unwrap_or(id),
                    subnet.vcn_id,
                    match &subnet.availability_domain {
                        Some(ad) => format!("in {ad}"),
                        None => "regional".to_string(),
                    }
                ),
            )
        } else {
            problem(
                "subnet",
                bad.join("; "),
                "use addresses inside the subnet for `network.vip` (not its first two or last), \
                 and a public subnet for `network.public_ip`",
            )
        });
        Some(SubnetFacts { subnet, cidr })
    }

    async fn check_routing(&self) -> Check {
        let oracle_linux = match &self.spec.image {
            ImageChoice::Lookup { os, .. } => Some(os == "Oracle Linux"),
            ImageChoice::Ocid(_) => None,
        };
        match self.cloud().egress(&self.spec.subnet_id).await {
            Err(e) => unknown(
                "routing",
                format!("could not read the subnet's route table: {e}"),
                "let your group `read virtual-network-family` in the network's compartment, or \
                 check by hand that the route table leads to a service gateway for all services \
                 or to a NAT gateway",
            ),
            Ok(e) => {
                let warnings = egress::warnings(&e, self.spec.assign_public_ip, oracle_linux);
                match warnings.first() {
                    None => ok(
                        "routing",
                        format!(
                            "route table {} leads to the OCI API (a service gateway for all \
                             Oracle services, a NAT gateway, or a route vipsetup can't judge)",
                            e.route_table_id
                        ),
                    ),
                    Some(w) => {
                        let (detail, fix) = w.rsplit_once("; ").unwrap_or((w, ""));
                        problem("routing", detail, fix)
                    }
                }
            }
        }
    }

    async fn check_egress_443(&self, subnet: Option<&SubnetFacts>) -> Check {
        let Some(s) = subnet else {
            return unknown(
                "egress_443",
                "not checked: the subnet could not be read",
                "fix the subnet first",
            );
        };
        let mut read = Vec::new();
        for id in &s.subnet.security_list_ids {
            match self.client().get_security_list(id).await {
                Ok(l) => read.push(l),
                Err(e) => {
                    return unknown(
                        "egress_443",
                        format!("could not read security list {id}: {e}"),
                        "let your group `read virtual-network-family` in the network's \
                         compartment, or check by hand that the subnet's security lists allow \
                         egress TCP 443",
                    )
                }
            }
        }
        // The nodes are members of vipsetup's NSG only, which allows VRRP and nothing else,
        // so HTTPS to the API must be allowed by the subnet's security lists (OCI applies the
        // union of both: docs Network/Concepts/securityrules.htm).
        let allowing = read.iter().find_map(|l| {
            l.egress_security_rules
                .iter()
                .find(|r| {
                    let to_all = r.destination_type.as_deref().unwrap_or("CIDR_BLOCK")
                        == "CIDR_BLOCK"
                        && r.destination == "0.0.0.0/0";
                    let to_services = r.destination_type.as_deref() == Some("SERVICE_CIDR_BLOCK")
                        && r.destination.starts_with("all-")
                        && r.destination
                            .ends_with("-services-in-oracle-services-network");
                    (to_all || to_services) && r.allows_tcp(443)
                })
                .map(|r| (l, r))
        });
        match allowing {
            Some((l, r)) => ok(
                "egress_443",
                format!(
                    "security list {} allows egress TCP 443 to {} (protocol {})",
                    l.display_name.as_deref().unwrap_or(&l.id),
                    r.destination,
                    r.protocol
                ),
            ),
            None => problem(
                "egress_443",
                format!(
                    "none of the subnet's security lists ({}) allows egress TCP 443 to \
                     0.0.0.0/0 or to all Oracle services, so the agents can't reach the OCI API",
                    if s.subnet.security_list_ids.is_empty() {
                        "it has none".to_string()
                    } else {
                        s.subnet.security_list_ids.join(", ")
                    }
                ),
                "add a stateful egress rule to one of them: destination 0.0.0.0/0 (or \"All \
                 <region> Services In Oracle Services Network\"), TCP, destination port 443",
            ),
        }
    }

    /// The VNIC of this pair's live node `i`, if it has one.
    async fn own_vnic(&self, i: usize) -> Option<String> {
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

    /// "Free" is what apply means by it (`engine::addresses`): inside the subnet, not one of
    /// the three addresses OCI reserves in every subnet (the first two and the last: docs
    /// Network/Concepts/overview.htm), and not held by any private IP in the subnet
    /// (ListPrivateIps by subnet and address). Addresses held by this pair itself are fine.
    async fn check_addresses(&self, subnet: Option<&SubnetFacts>) -> Check {
        let Some(s) = subnet else {
            return unknown(
                "addresses",
                "not checked: the subnet could not be read",
                "fix the subnet first",
            );
        };
        let mut taken = Vec::new();
        let mut said = Vec::new();
        for vip in &self.bp.network.vips {
            match self
                .cloud()
                .find_private_ip(&self.spec.subnet_id, *vip)
                .await
            {
                Err(e) => return self.addresses_unknown(e.to_string()),
                Ok(None) => said.push(format!("VIP {vip} free")),
                Ok(Some(p)) if p.tags.get("vipsetup-pair") == Some(&self.spec.pair) => {
                    said.push(format!("VIP {vip} already this pair's"))
                }
                Ok(Some(p)) => taken.push(format!(
                    "VIP {vip} is held by private IP {} (VNIC {})",
                    p.id,
                    p.vnic_id.unwrap_or_else(|| "none".into())
                )),
            }
        }
        let mut fixed = [None, None];
        for (i, n) in self.bp.nodes.iter().enumerate() {
            let Some(ip) = n.private_ip else { continue };
            fixed[i] = Some(ip);
            if !s.cidr.contains(ip) || s.cidr.is_reserved(ip) {
                taken.push(format!(
                    "node {}'s {ip} is outside {} or one of its reserved addresses",
                    n.name, s.cidr
                ));
                continue;
            }
            match self.cloud().find_private_ip(&self.spec.subnet_id, ip).await {
                Err(e) => return self.addresses_unknown(e.to_string()),
                Ok(None) => said.push(format!("{} {ip} free", n.name)),
                Ok(Some(p)) => {
                    let own = self.own_vnic(i).await;
                    if own.is_some() && p.vnic_id == own {
                        said.push(format!("{} {ip} already this pair's", n.name));
                    } else {
                        taken.push(format!(
                            "node {}'s {ip} is held by private IP {} (VNIC {})",
                            n.name,
                            p.id,
                            p.vnic_id.unwrap_or_else(|| "none".into())
                        ));
                    }
                }
            }
        }
        if fixed.iter().any(Option::is_none) {
            match self.cloud().subnet_ips(&self.spec.subnet_id).await {
                Err(e) => return self.addresses_unknown(e.to_string()),
                Ok(mut used) => {
                    used.extend(self.bp.network.vips.iter().skip(1));
                    match choose_node_ips(s.cidr, self.spec.vip, fixed, &used) {
                        Ok(ips) => said.push(format!(
                            "free node addresses to pick: {} and {}",
                            ips[0], ips[1]
                        )),
                        Err(e) => taken.push(e.to_string()),
                    }
                }
            }
        }
        if taken.is_empty() {
            ok("addresses", said.join(", "))
        } else {
            problem(
                "addresses",
                taken.join("; "),
                "choose free addresses for `network.vip` and `nodes[].private_ip` (or leave the \
                 nodes' out to have free ones picked), or free these",
            )
        }
    }

    fn addresses_unknown(&self, e: String) -> Check {
        unknown(
            "addresses",
            format!("could not list the subnet's private IPs: {e}"),
            "let your group `use virtual-network-family` (ListPrivateIps) in the subnet's \
             compartment",
        )
    }

    /// The availability domain and fault domains; returns the AD the nodes would go to.
    async fn check_placement(
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

    async fn check_shape_limits_image(&self, checks: &mut Vec<Check>, ad: Option<&str>) {
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

    async fn check_limits(&self, ad: &str, shape_ocpus: Option<f64>) -> Check {
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

    async fn check_image(&self, ad: &str) -> Check {
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

    /// Reads what the pair's IAM objects would collide with. Reading proves nothing about
    /// creating (OCI has no dry run); the report's operator policy says what that needs.
    async fn check_iam_read(&self, home: Option<&str>, network_compartment: &str) -> Check {
        let dg = &self.spec.dynamic_group;
        let pol = &self.spec.policy;
        let tenancy = &self.t.tenancy_id;
        let fix_read = format!(
            "ask an administrator for `Allow group <your-group> to inspect dynamic-groups in \
             tenancy` and `... to inspect policies {}` (apply needs `manage` on both, see below)",
            place(network_compartment, tenancy)
        );
        let groups = match self.client().list_dynamic_groups(tenancy, Some(dg)).await {
            Ok(g) => g,
            Err(e) if e.is_not_found() || e.status() == Some(403) => {
                return problem(
                    "iam_read",
                    format!("you may not read the tenancy's dynamic groups ({e})"),
                    fix_read,
                )
            }
            Err(e) => {
                return unknown(
                    "iam_read",
                    format!("could not list dynamic groups: {e}"),
                    "run doctor again",
                )
            }
        };
        let policies = match self
            .client()
            .list_policies(network_compartment, Some(pol))
            .await
        {
            Ok(p) => p,
            Err(e) if e.is_not_found() || e.status() == Some(403) => {
                return problem(
                    "iam_read",
                    format!(
                        "you may not read the policies {} ({e})",
                        place(network_compartment, tenancy)
                    ),
                    fix_read,
                )
            }
            Err(e) => {
                return unknown(
                    "iam_read",
                    format!("could not list policies: {e}"),
                    "run doctor again",
                )
            }
        };
        let theirs = |tags: &std::collections::BTreeMap<String, String>| {
            tags.get("vipsetup-pair") != Some(&self.spec.pair)
        };
        let mut clashes = Vec::new();
        if let Some(g) = groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(dg) && theirs(&g.freeform_tags))
        {
            clashes.push(format!(
                "a dynamic group named {} already exists ({})",
                g.name, g.id
            ));
        }
        if let Some(p) = policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(pol) && theirs(&p.freeform_tags))
        {
            clashes.push(format!(
                "a policy named {} already exists ({})",
                p.name, p.id
            ));
        }
        if clashes.is_empty() {
            ok(
                "iam_read",
                format!(
                    "you can read dynamic groups and policies; the names {dg} and {pol} are \
                     free or this pair's (made in the home region {})",
                    home.unwrap_or("of the tenancy")
                ),
            )
        } else {
            problem(
                "iam_read",
                clashes.join("; "),
                "choose other names in `iam.dynamic_group` / `iam.policy`",
            )
        }
    }

    async fn check_state_bucket(&self) -> Check {
        let Some(st) = &self.bp.state else {
            return ok(
                "state_bucket",
                "state kept in a local file (no `state:` key)",
            );
        };
        let ns = match &st.namespace {
            Some(n) => n.clone(),
            None => match self.client().get_namespace().await {
                Ok(n) => n,
                Err(e) => {
                    return unknown(
                        "state_bucket",
                        format!("could not read the Object Storage namespace: {e}"),
                        "set `state.namespace` (`oci os ns get`)",
                    )
                }
            },
        };
        let object = format!("{}{}.json", st.prefix, self.spec.pair);
        match self.client().list_objects(&ns, &st.bucket, &object).await {
            Ok(_) => ok(
                "state_bucket",
                format!("bucket {} in namespace {ns} is readable", st.bucket),
            ),
            Err(e) if e.is_not_found() => problem(
                "state_bucket",
                format!(
                    "bucket {} was not found in namespace {ns} (region {}), or you may not read it",
                    st.bucket,
                    self.client().region()
                ),
                format!(
                    "create it (`oci os bucket create --name {} --compartment-id {}`) or fix \
                     `state.bucket`, and let your group `manage objects` in it",
                    st.bucket, self.spec.compartment_id
                ),
            ),
            Err(e) => unknown(
                "state_bucket",
                format!("could not read bucket {}: {e}", st.bucket),
                "run doctor again",
            ),
        }
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
