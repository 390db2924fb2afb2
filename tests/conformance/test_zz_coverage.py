"""Runs last (file order): every simulated operation was driven through the SDK or CLI with success."""
from conftest import Control

OPERATIONS = """
GetTenancy ListRegionSubscriptions ListAvailabilityDomains GetCompartment ListCompartments
CreateDynamicGroup GetDynamicGroup ListDynamicGroups UpdateDynamicGroup DeleteDynamicGroup
CreatePolicy GetPolicy ListPolicies UpdatePolicy DeletePolicy
GetVcn GetSubnet ListImages GetImage
LaunchInstance GetInstance ListInstances TerminateInstance ListVnicAttachments GetVnic
CreatePrivateIp GetPrivateIp ListPrivateIps UpdatePrivateIp DeletePrivateIp
CreateNetworkSecurityGroup GetNetworkSecurityGroup ListNetworkSecurityGroups DeleteNetworkSecurityGroup
AddNetworkSecurityGroupSecurityRules ListNetworkSecurityGroupSecurityRules RemoveNetworkSecurityGroupSecurityRules
ListFaultDomains ListShapes UpdateInstance InstanceAction UpdateVnic UpdateNetworkSecurityGroup
CreatePublicIp GetPublicIpByIpAddress DeletePublicIp GetPublicIp UpdatePublicIp GetPublicIpByPrivateIpId
CreateIpv6 GetIpv6 ListIpv6s UpdateIpv6 DeleteIpv6 GetTopic PublishMessage
GetRouteTable ListRouteTables GetNatGateway ListNatGateways GetServiceGateway ListServiceGateways
GetInternetGateway ListInternetGateways GetDhcpOptions ListDhcpOptions ListServices GetService
GetNamespace CreateBucket ListObjects GetObject HeadObject PutObject DeleteObject
GetSecurityList ListSecurityLists ListLimitValues GetResourceAvailability
FederateX509 Imds
""".split()


def test_every_operation_was_exercised(control: Control):
    ok = {e["operation"] for e in control.log() if 200 <= e["status"] < 300}
    missing = [op for op in OPERATIONS if op not in ok]
    assert not missing, f"never succeeded in this suite: {missing}"
    users = {e["principal"].split(":")[0] for e in control.log() if 200 <= e["status"] < 300}
    assert {"user", "instance", "imds"} <= users
