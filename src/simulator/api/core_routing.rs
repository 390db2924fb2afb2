//! The core virtual network's routing: route tables, NAT, service and internet gateways, DHCP
//! options and the Oracle Services Network services, read-only as vipsetup reads them to tell
//! whether the nodes can reach the OCI API (the shapes follow the SDKs' models: RouteTable,
//! RouteRule, NatGateway, ServiceGateway, InternetGateway, DhcpOptions, Service).

use serde_json::Value;

use super::super::world;
use super::super::{ApiErr, Resp};
use super::context::{s, Ctx};

/// (Get operation, List operation, path segment, world kind)
const READ_ONLY: &[(&str, &str, &str, &str)] = &[
    (
        "GetRouteTable",
        "ListRouteTables",
        "routeTables",
        world::ROUTE_TABLE,
    ),
    (
        "GetNatGateway",
        "ListNatGateways",
        "natGateways",
        world::NAT_GATEWAY,
    ),
    (
        "GetServiceGateway",
        "ListServiceGateways",
        "serviceGateways",
        world::SERVICE_GATEWAY,
    ),
    (
        "GetInternetGateway",
        "ListInternetGateways",
        "internetGateways",
        world::INTERNET_GATEWAY,
    ),
    (
        "GetDhcpOptions",
        "ListDhcpOptions",
        "dhcps",
        world::DHCP_OPTIONS,
    ),
];

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    match (method, segs) {
        ("GET", ["20160918", "services"]) => Some("ListServices"),
        ("GET", ["20160918", "services", _]) => Some("GetService"),
        ("GET", ["20160918", seg]) => READ_ONLY
            .iter()
            .find(|(_, _, p, _)| p == seg)
            .map(|(_, list, _, _)| *list),
        ("GET", ["20160918", seg, _]) => READ_ONLY
            .iter()
            .find(|(_, _, p, _)| p == seg)
            .map(|(get, _, _, _)| *get),
        _ => None,
    }
}

impl Ctx<'_> {
    /// Runs the operation when this service owns it.
    pub(super) fn run_core_routing(&mut self) -> Option<Result<Resp, ApiErr>> {
        match self.op {
            "ListServices" => return Some(self.list_services()),
            "GetService" => return Some(self.get_service()),
            _ => {}
        }
        if let Some((_, _, _, kind)) = READ_ONLY.iter().find(|(get, _, _, _)| *get == self.op) {
            return Some(self.get_one(kind));
        }
        let (_, _, _, kind) = READ_ONLY.iter().find(|(_, list, _, _)| *list == self.op)?;
        Some(self.list_in_vcn(kind))
    }

    /// `List<Resource>?compartmentId=&vcnId=&displayName=&lifecycleState=`.
    fn list_in_vcn(&self, kind: &str) -> Result<Resp, ApiErr> {
        let c = self.list_compartment()?;
        let items: Vec<Value> = self
            .w
            .all(kind)
            .filter(|d| s(d, "compartmentId") == c && s(d, "_region") == self.req.region)
            .filter(|d| {
                self.filter_eq(d, "vcnId", "vcnId")
                    && self.filter_eq(d, "displayName", "displayName")
                    && self.filter_eq(d, "lifecycleState", "lifecycleState")
            })
            .map(|d| self.render(kind, d))
            .collect();
        self.page(items)
    }

    /// The region's services (shared by every tenancy: no compartment, no permission needed,
    /// a guess from the ListServices docs naming no required permission).
    fn list_services(&self) -> Result<Resp, ApiErr> {
        let items: Vec<Value> = self
            .w
            .all(world::SERVICE)
            .filter(|d| s(d, "_region") == self.req.region)
            .map(|d| self.render(world::SERVICE, d))
            .collect();
        self.page(items)
    }

    fn get_service(&self) -> Result<Resp, ApiErr> {
        let d = self.doc(world::SERVICE, self.id())?;
        Ok(self.one(world::SERVICE, &d, 200))
    }
}
