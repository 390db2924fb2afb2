"""What `vipsetup doctor` reads, as Oracle's Python SDK reads it: the subnet's security lists
(VirtualNetworkClient.get_security_list / list_security_lists) and the compute core limits
(LimitsClient.list_limit_values / get_resource_availability, oci/limits/limits_client.py)."""
import oci
import pytest

from conftest import assert_fields, launch


@pytest.fixture(scope="module")
def limits(config, sim_url):
    return oci.limits.LimitsClient(config, service_endpoint=sim_url)


def test_the_default_security_list_allows_all_egress_and_ssh_in(vnet, creds):
    subnet = vnet.get_subnet(creds["subnet_id"]).data
    assert len(subnet.security_list_ids) == 1
    sl = vnet.get_security_list(subnet.security_list_ids[0]).data
    assert_fields(sl, "id", "compartment_id", "vcn_id", "display_name", "lifecycle_state",
                  "egress_security_rules", "ingress_security_rules", "time_created")
    assert sl.lifecycle_state == "AVAILABLE"
    [egress] = sl.egress_security_rules
    assert isinstance(egress, oci.core.models.EgressSecurityRule)
    assert (egress.destination, egress.destination_type, egress.protocol, egress.is_stateless) == (
        "0.0.0.0/0", "CIDR_BLOCK", "all", False)
    ssh = [r for r in sl.ingress_security_rules if r.protocol == "6"]
    assert len(ssh) == 1
    assert isinstance(ssh[0].tcp_options, oci.core.models.TcpOptions)
    assert (ssh[0].tcp_options.destination_port_range.min, ssh[0].tcp_options.destination_port_range.max) == (22, 22)
    icmp = [r for r in sl.ingress_security_rules if r.protocol == "1"]
    assert {r.icmp_options.type for r in icmp} == {3}
    listed = vnet.list_security_lists(subnet.compartment_id, vcn_id=subnet.vcn_id).data
    assert [s.id for s in listed] == [sl.id]


def test_compute_core_limits_per_ad(limits, creds):
    ad = creds["availability_domains"][0]
    values = oci.pagination.list_call_get_all_results(
        limits.list_limit_values, creds["tenancy_id"], "compute", scope_type="AD", availability_domain=ad
    ).data
    by_name = {v.name: v for v in values}
    e4 = by_name["standard-e4-core-count"]
    assert_fields(e4, "name", "scope_type", "availability_domain", "value")
    assert (e4.scope_type, e4.availability_domain) == ("AD", ad)
    assert isinstance(e4.value, int)
    only = limits.list_limit_values(creds["tenancy_id"], "compute", name="standard-a1-core-count").data
    assert {v.name for v in only} == {"standard-a1-core-count"}


def test_resource_availability_follows_launches(limits, compute, creds):
    ad = creds["availability_domains"][0]
    comp = creds["compartment_id"]

    def available():
        a = limits.get_resource_availability("compute", "standard-e4-core-count", comp, availability_domain=ad).data
        assert isinstance(a, oci.limits.models.ResourceAvailability)
        assert_fields(a, "used", "available", "fractional_usage", "fractional_availability")
        return a

    before = available()
    inst = launch(compute, creds, "limits-probe").data
    after = available()
    assert after.used == before.used + 1
    assert after.available == before.available - 1
    compute.terminate_instance(inst.id)

    # "mandatory if the scopeType of the target resource limit is AD" (the SDK's docstring).
    with pytest.raises(oci.exceptions.ServiceError) as e:
        limits.get_resource_availability("compute", "standard-e4-core-count", comp)
    assert (e.value.status, e.value.code) == (400, "InvalidParameter")
    # "not all resource limits support this API ... the API returns a 404 response".
    with pytest.raises(oci.exceptions.ServiceError) as e:
        limits.get_resource_availability("compute", "no-such-limit", comp, availability_domain=ad)
    assert e.value.status == 404
