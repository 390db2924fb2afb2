"""Route tables, gateways, DHCP options and services as the Python SDK reads them: what the
egress check needs to tell whether the nodes can reach the OCI API."""
import oci

from conftest import assert_fields


def test_the_seeded_subnet_routes_to_a_nat_and_a_service_gateway(vnet, creds):
    subnet = vnet.get_subnet(creds["subnet_id"]).data
    comp, vcn_id = creds["compartment_id"], subnet.vcn_id
    rt = vnet.get_route_table(subnet.route_table_id).data
    assert_fields(rt, "id", "compartment_id", "vcn_id", "display_name", "lifecycle_state", "route_rules", "time_created")
    assert rt.lifecycle_state == "AVAILABLE"
    by_type = {r.destination_type: r for r in rt.route_rules}
    assert by_type["CIDR_BLOCK"].destination == "0.0.0.0/0"
    nat = vnet.get_nat_gateway(by_type["CIDR_BLOCK"].network_entity_id).data
    assert_fields(nat, "id", "compartment_id", "vcn_id", "nat_ip", "block_traffic", "lifecycle_state")
    assert nat.block_traffic is False
    sgw = vnet.get_service_gateway(by_type["SERVICE_CIDR_BLOCK"].network_entity_id).data
    assert_fields(sgw, "id", "compartment_id", "vcn_id", "services", "block_traffic", "lifecycle_state")
    service = vnet.get_service(sgw.services[0].service_id).data
    assert service.cidr_block == by_type["SERVICE_CIDR_BLOCK"].destination
    assert service.cidr_block.startswith("all-") and service.cidr_block.endswith("-services-in-oracle-services-network")
    names = [s.cidr_block for s in oci.pagination.list_call_get_all_results(vnet.list_services).data]
    assert service.cidr_block in names

    assert [t.id for t in vnet.list_route_tables(comp, vcn_id=vcn_id).data] == [rt.id]
    assert [g.id for g in vnet.list_nat_gateways(comp, vcn_id=vcn_id).data] == [nat.id]
    assert [g.id for g in vnet.list_service_gateways(comp, vcn_id=vcn_id).data] == [sgw.id]
    igws = vnet.list_internet_gateways(comp, vcn_id=vcn_id).data
    assert len(igws) == 1 and igws[0].is_enabled
    assert vnet.get_internet_gateway(igws[0].id).data.id == igws[0].id

    dhcp = vnet.get_dhcp_options(subnet.dhcp_options_id).data
    kinds = {type(o).__name__ for o in dhcp.options}
    assert kinds == {"DhcpDnsOption", "DhcpSearchDomainOption"}, kinds
    assert [d.id for d in vnet.list_dhcp_options(comp, vcn_id=vcn_id).data] == [dhcp.id]
