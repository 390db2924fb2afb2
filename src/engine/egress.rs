//! Can the nodes reach the OCI API (and package mirrors) at all? Read from the subnet's route
//! table: an agent that can't reach the API can never move the VIP, and vipsetup would build a
//! pair that looks fine until its first failover. Advice only: a route through a DRG or a
//! private IP (a firewall, an on-premises proxy) may well reach the API, and vipsetup can't
//! tell, so it says nothing then.

/// Where a route rule sends its traffic.
#[derive(Clone, Debug, PartialEq)]
pub enum RouteTarget {
    /// `all_services`: the gateway enables "All <region> Services In Oracle Services Network"
    /// (not only Object Storage).
    ServiceGateway {
        all_services: bool,
        blocked: bool,
    },
    NatGateway {
        blocked: bool,
    },
    InternetGateway {
        enabled: bool,
    },
    /// A DRG, a private IP, a local peering gateway...: vipsetup can't judge where it leads.
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub destination: String,
    /// `CIDR_BLOCK` or `SERVICE_CIDR_BLOCK`.
    pub destination_type: String,
    pub target: RouteTarget,
}

/// The subnet's routes as far as egress is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct Egress {
    pub subnet_id: String,
    pub route_table_id: String,
    pub routes: Vec<Route>,
}

fn to_everywhere(r: &Route) -> bool {
    r.destination_type != "SERVICE_CIDR_BLOCK" && r.destination == "0.0.0.0/0"
}

/// A service CIDR label for every Oracle service in the region, e.g.
/// `all-iad-services-in-oracle-services-network` (docs: Network/Tasks/servicegateway.htm);
/// the other label (`oci-iad-objectstorage`) reaches Object Storage only.
fn all_services_label(destination: &str) -> bool {
    destination.starts_with("all-") && destination.ends_with("-services-in-oracle-services-network")
}

/// What to tell the user, if anything. `public_ip`: the nodes get public IPs (an internet
/// gateway then works); `oracle_linux`: the image's packages come from Oracle's own mirrors,
/// which a service gateway reaches (`None` when unknown: the image was given by OCID).
pub fn warnings(e: &Egress, public_ip: bool, oracle_linux: Option<bool>) -> Vec<String> {
    let via_service_gateway = e.routes.iter().any(|r| {
        r.destination_type == "SERVICE_CIDR_BLOCK"
            && all_services_label(&r.destination)
            && r.target
                == RouteTarget::ServiceGateway {
                    all_services: true,
                    blocked: false,
                }
    });
    let to_internet = e
        .routes
        .iter()
        .filter(|r| to_everywhere(r))
        .any(|r| match r.target {
            RouteTarget::NatGateway { blocked } => !blocked,
            RouteTarget::InternetGateway { enabled } => enabled && public_ip,
            RouteTarget::Other => true,
            RouteTarget::ServiceGateway { .. } => false,
        });
    let mut out = Vec::new();
    if !via_service_gateway && !to_internet {
        out.push(format!(
            "the nodes can't reach the OCI API from subnet {}: its route table {} has no route \
             to a service gateway for all services in the Oracle Services Network and no \
             0.0.0.0/0 route to a NAT gateway{}, so their agents could never move the VIP; add a \
             service gateway with \"All <region> Services In Oracle Services Network\" and a route \
             rule to it (or a NAT gateway and a 0.0.0.0/0 rule to it)",
            e.subnet_id,
            e.route_table_id,
            if public_ip {
                " or an enabled internet gateway"
            } else {
                ""
            }
        ));
    } else if !to_internet && oracle_linux == Some(false) {
        out.push(format!(
            "the nodes in subnet {} reach only Oracle's services (service gateway): keepalived \
             can't be installed from the image's package mirrors unless the image already has \
             it; add a NAT gateway and a 0.0.0.0/0 route rule to it",
            e.subnet_id
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(routes: Vec<Route>) -> Egress {
        Egress {
            subnet_id: "ocid1.subnet.oc1..s".into(),
            route_table_id: "ocid1.routetable.oc1..r".into(),
            routes,
        }
    }

    fn route(destination: &str, target: RouteTarget) -> Route {
        Route {
            destination: destination.into(),
            destination_type: if destination.contains('/') {
                "CIDR_BLOCK".into()
            } else {
                "SERVICE_CIDR_BLOCK".into()
            },
            target,
        }
    }

    const ALL: &str = "all-nrt-services-in-oracle-services-network";
    const SGW: RouteTarget = RouteTarget::ServiceGateway {
        all_services: true,
        blocked: false,
    };

    #[test]
    fn each_way_to_the_api_and_each_dead_end() {
        let nat = route("0.0.0.0/0", RouteTarget::NatGateway { blocked: false });
        // (name, routes, public ips, oracle linux, the warning expected)
        type Row = (
            &'static str,
            Vec<Route>,
            bool,
            Option<bool>,
            Option<&'static str>,
        );
        let rows: Vec<Row> = vec![
            (
                "no routes",
                vec![],
                false,
                None,
                Some("can't reach the OCI API"),
            ),
            ("nat gateway", vec![nat.clone()], false, Some(false), None),
            (
                "blocked nat gateway",
                vec![route(
                    "0.0.0.0/0",
                    RouteTarget::NatGateway { blocked: true },
                )],
                false,
                None,
                Some("can't reach the OCI API"),
            ),
            (
                "service gateway, oracle linux",
                vec![route(ALL, SGW)],
                false,
                Some(true),
                None,
            ),
            (
                "service gateway, ubuntu",
                vec![route(ALL, SGW)],
                false,
                Some(false),
                Some("reach only Oracle's services"),
            ),
            (
                "object storage only",
                vec![route(
                    "oci-nrt-objectstorage",
                    RouteTarget::ServiceGateway {
                        all_services: false,
                        blocked: false,
                    },
                )],
                false,
                None,
                Some("can't reach the OCI API"),
            ),
            (
                "internet gateway without public ips",
                vec![route(
                    "0.0.0.0/0",
                    RouteTarget::InternetGateway { enabled: true },
                )],
                false,
                None,
                Some("can't reach the OCI API"),
            ),
            (
                "internet gateway with public ips",
                vec![route(
                    "0.0.0.0/0",
                    RouteTarget::InternetGateway { enabled: true },
                )],
                true,
                Some(false),
                None,
            ),
            (
                "a drg: can't judge",
                vec![route("0.0.0.0/0", RouteTarget::Other)],
                false,
                None,
                None,
            ),
            (
                "a narrower nat route",
                vec![route(
                    "10.9.0.0/16",
                    RouteTarget::NatGateway { blocked: false },
                )],
                false,
                None,
                Some("can't reach the OCI API"),
            ),
        ];
        for (name, routes, public_ip, ol, want) in rows {
            let got = warnings(&egress(routes), public_ip, ol);
            match want {
                None => assert!(got.is_empty(), "{name}: {got:?}"),
                Some(w) => {
                    assert_eq!(got.len(), 1, "{name}: {got:?}");
                    assert!(got[0].contains(w), "{name}: {got:?}");
                }
            }
        }
    }
}
