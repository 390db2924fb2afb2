//! The network checks: the subnet, its routing, egress to OCI on 443 and the node addresses.

use crate::engine::addresses::{choose_node_ips, Cidr};
use crate::engine::egress;
use crate::engine::resolve::ImageChoice;

use super::report::{ok, problem, unknown, Check};
use super::{Doctor, SubnetFacts};

impl Doctor<'_> {
    pub(super) async fn check_subnet(&self, checks: &mut Vec<Check>) -> Option<SubnetFacts> {
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

    pub(super) async fn check_routing(&self) -> Check {
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

    pub(super) async fn check_egress_443(&self, subnet: Option<&SubnetFacts>) -> Check {
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
    /// "Free" is what apply means by it (`engine::addresses`): inside the subnet, not one of
    /// the three addresses OCI reserves in every subnet (the first two and the last: docs
    /// Network/Concepts/overview.htm), and not held by any private IP in the subnet
    /// (ListPrivateIps by subnet and address). Addresses held by this pair itself are fine.
    pub(super) async fn check_addresses(&self, subnet: Option<&SubnetFacts>) -> Check {
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
}
