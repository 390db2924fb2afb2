//! Routing reads: GetRouteTable, GetServiceGateway, GetNatGateway, GetInternetGateway.

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::models::{InternetGateway, NatGateway, RouteTable, ServiceGateway};
use crate::oci::request::{encode, ApiRequest};

impl Client {
    pub async fn get_route_table(&self, id: &str) -> Result<RouteTable, OciError> {
        let path = format!("/routeTables/{}", encode(id));
        self.call(ApiRequest::get("GetRouteTable", Service::Core, path))
            .await
    }

    pub async fn get_service_gateway(&self, id: &str) -> Result<ServiceGateway, OciError> {
        let path = format!("/serviceGateways/{}", encode(id));
        self.call(ApiRequest::get("GetServiceGateway", Service::Core, path))
            .await
    }

    pub async fn get_nat_gateway(&self, id: &str) -> Result<NatGateway, OciError> {
        let path = format!("/natGateways/{}", encode(id));
        self.call(ApiRequest::get("GetNatGateway", Service::Core, path))
            .await
    }

    pub async fn get_internet_gateway(&self, id: &str) -> Result<InternetGateway, OciError> {
        let path = format!("/internetGateways/{}", encode(id));
        self.call(ApiRequest::get("GetInternetGateway", Service::Core, path))
            .await
    }
}
