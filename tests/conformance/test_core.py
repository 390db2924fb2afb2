"""Core operations through ComputeClient and VirtualNetworkClient, as an API-key user."""
import uuid

import oci
import pytest
from oci.exceptions import ServiceError

from conftest import assert_fields, launch, primary_vnic


def test_vcn_and_subnet(vnet, creds):
    subnet = vnet.get_subnet(creds["subnet_id"])
    assert subnet.headers.get("etag")
    s = subnet.data
    assert_fields(s, "id", "cidr_block", "compartment_id", "vcn_id", "lifecycle_state", "virtual_router_ip",
                  "prohibit_public_ip_on_vnic", "route_table_id", "security_list_ids", "time_created")
    v = vnet.get_vcn(s.vcn_id).data
    assert_fields(v, "id", "cidr_block", "cidr_blocks", "compartment_id", "lifecycle_state", "display_name")
    with pytest.raises(ServiceError) as e:
        vnet.get_subnet("ocid1.subnet.oc1.iad.missing")
    assert (e.value.status, e.value.code) == (404, "NotAuthorizedOrNotFound")


def test_images_filter_and_sort(compute, creds):
    imgs = oci.pagination.list_call_get_all_results(
        compute.list_images, creds["compartment_id"], operating_system="Oracle Linux",
        operating_system_version="9", shape="VM.Standard.E4.Flex", sort_by="TIMECREATED", sort_order="DESC",
    ).data
    assert len(imgs) >= 2
    assert all(i.operating_system == "Oracle Linux" and i.operating_system_version == "9" for i in imgs)
    assert [i.time_created for i in imgs] == sorted((i.time_created for i in imgs), reverse=True)
    asc = compute.list_images(creds["compartment_id"], operating_system="Oracle Linux",
                              operating_system_version="9", sort_by="TIMECREATED", sort_order="ASC").data
    assert asc[0].id == imgs[-1].id
    for i in imgs:
        assert_fields(i, "id", "display_name", "operating_system", "operating_system_version",
                      "lifecycle_state", "time_created", "create_image_allowed")
    assert compute.get_image(imgs[0].id).data.id == imgs[0].id
    none = compute.list_images(creds["compartment_id"], operating_system="Windows").data
    assert none == []


def test_pagination_follows_next_page(compute, creds):
    # the conformance simulator runs with a page size of 2
    first = compute.list_images(creds["compartment_id"], limit=1)
    assert len(first.data) == 1 and first.next_page
    everything = oci.pagination.list_call_get_all_results(compute.list_images, creds["compartment_id"]).data
    assert len(everything) == len(creds["image_ids"]) > 2
    assert len({i.id for i in everything}) == len(everything)
    with pytest.raises(ServiceError) as e:
        compute.list_images(creds["compartment_id"], page="not-a-token")
    assert e.value.status == 400


def test_instance_lifecycle_vnics_and_private_ips(compute, vnet, creds):
    token = uuid.uuid4().hex
    resp = launch(compute, creds, "conf-a", private_ip="10.0.1.20", retry_token=token)
    inst = resp.data
    assert resp.headers.get("opc-work-request-id") and resp.headers.get("etag")
    assert inst.lifecycle_state in ("PROVISIONING", "RUNNING")
    assert_fields(inst, "id", "availability_domain", "compartment_id", "display_name", "shape", "region",
                  "lifecycle_state", "time_created", "source_details", "shape_config", "metadata", "fault_domain")
    replay = launch(compute, creds, "conf-a", private_ip="10.0.1.20", retry_token=token).data
    assert replay.id == inst.id
    b = launch(compute, creds, "conf-b", private_ip="10.0.1.21").data
    running = oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING", max_wait_seconds=30)
    assert running.data.lifecycle_state == "RUNNING"
    listed = oci.pagination.list_call_get_all_results(compute.list_instances, creds["compartment_id"]).data
    assert {inst.id, b.id} <= {i.id for i in listed}

    va = primary_vnic(compute, vnet, creds, inst.id)
    vb = primary_vnic(compute, vnet, creds, b.id)
    assert_fields(va, "id", "is_primary", "private_ip", "subnet_id", "mac_address", "lifecycle_state",
                  "availability_domain", "compartment_id", "time_created")
    assert (va.private_ip, vb.private_ip) == ("10.0.1.20", "10.0.1.21")

    # an address taken by another VNIC, one outside the subnet
    for ip, status in (("10.0.1.21", 409), ("10.0.2.5", 400), ("10.0.1.255", 400)):
        with pytest.raises(ServiceError) as e:
            vnet.create_private_ip(oci.core.models.CreatePrivateIpDetails(vnic_id=va.id, ip_address=ip))
        assert e.value.status == status, ip

    vip = vnet.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(vnic_id=va.id, ip_address="10.0.1.50", display_name="vip"),
        opc_retry_token=uuid.uuid4().hex,
    )
    assert vip.headers.get("etag")
    assert_fields(vip.data, "id", "ip_address", "vnic_id", "subnet_id", "is_primary", "compartment_id",
                  "availability_domain", "time_created")
    assert vip.data.is_primary is False
    found = vnet.list_private_ips(ip_address="10.0.1.50", subnet_id=creds["subnet_id"]).data
    assert [p.id for p in found] == [vip.data.id]
    on_a = oci.pagination.list_call_get_all_results(vnet.list_private_ips, vnic_id=va.id).data
    assert {p.ip_address for p in on_a} == {"10.0.1.20", "10.0.1.50"}
    primary_a = [p for p in on_a if p.is_primary][0]

    with pytest.raises(ServiceError) as e:
        vnet.update_private_ip(vip.data.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=vb.id), if_match="stale")
    assert (e.value.status, e.value.code) == (412, "NoEtagMatch")
    moved = vnet.update_private_ip(
        vip.data.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=vb.id), if_match=vip.headers["etag"]
    )
    assert moved.data.vnic_id == vb.id
    assert vnet.get_private_ip(vip.data.id).data.vnic_id == vb.id

    with pytest.raises(ServiceError) as e:
        vnet.update_private_ip(primary_a.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=vb.id))
    assert e.value.status == 400
    with pytest.raises(ServiceError) as e:
        vnet.delete_private_ip(primary_a.id)
    assert e.value.status == 400

    vnet.delete_private_ip(vip.data.id)
    with pytest.raises(ServiceError) as e:
        vnet.get_private_ip(vip.data.id)
    assert e.value.status == 404

    for i in (inst.id, b.id):
        resp = compute.terminate_instance(i, preserve_boot_volume=False)
        assert resp.headers.get("opc-work-request-id")
    gone = oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "TERMINATED", max_wait_seconds=30)
    assert gone.data.lifecycle_state == "TERMINATED"
    with pytest.raises(ServiceError) as e:
        vnet.get_vnic(va.id)
    assert e.value.status == 404
    # terminated instances stay listed
    assert inst.id in {i.id for i in oci.pagination.list_call_get_all_results(compute.list_instances, creds["compartment_id"]).data}


def test_launch_checks(compute, creds):
    with pytest.raises(ServiceError) as e:
        launch(compute, creds, "bad-ip", private_ip="192.168.0.9")
    assert e.value.status == 400
    details = oci.core.models.LaunchInstanceDetails(
        compartment_id=creds["compartment_id"], availability_domain="Nope:XX-AD-9", shape="VM.Standard.E4.Flex",
        source_details=oci.core.models.InstanceSourceViaImageDetails(image_id=creds["image_ids"][0]),
        create_vnic_details=oci.core.models.CreateVnicDetails(subnet_id=creds["subnet_id"]),
    )
    with pytest.raises(ServiceError) as e:
        compute.launch_instance(details)
    assert e.value.status == 400
    details.availability_domain = creds["availability_domains"][0]
    details.metadata = {"user_data": "A" * 32001}
    with pytest.raises(ServiceError) as e:
        compute.launch_instance(details)
    assert e.value.status == 400


def test_injected_out_of_capacity(compute, creds, control):
    control.fault("LaunchInstance", 1, 500, "InternalError", "Out of host capacity.")
    with pytest.raises(ServiceError) as e:
        launch(compute, creds, "capacity")
    assert e.value.status == 500 and "Out of host capacity" in e.value.message


def test_network_security_groups(vnet, compute, creds):
    subnet = vnet.get_subnet(creds["subnet_id"]).data
    created = vnet.create_network_security_group(
        oci.core.models.CreateNetworkSecurityGroupDetails(
            compartment_id=creds["compartment_id"], vcn_id=subnet.vcn_id, display_name="vrrp"),
        opc_retry_token=uuid.uuid4().hex,
    )
    nsg = created.data
    assert created.headers.get("etag")
    assert_fields(nsg, "id", "compartment_id", "vcn_id", "display_name", "lifecycle_state", "time_created")
    rules = [
        oci.core.models.AddSecurityRuleDetails(direction="INGRESS", protocol="112", source=nsg.id,
                                               source_type="NETWORK_SECURITY_GROUP", is_stateless=False, description="VRRP"),
        oci.core.models.AddSecurityRuleDetails(direction="EGRESS", protocol="112", destination=nsg.id,
                                               destination_type="NETWORK_SECURITY_GROUP", is_stateless=False),
        oci.core.models.AddSecurityRuleDetails(direction="INGRESS", protocol="6", source="10.0.0.0/16",
                                               tcp_options=oci.core.models.TcpOptions(
                                                   destination_port_range=oci.core.models.PortRange(min=22, max=22))),
    ]
    added = vnet.add_network_security_group_security_rules(
        nsg.id, oci.core.models.AddNetworkSecurityGroupSecurityRulesDetails(security_rules=rules)).data
    assert len(added.security_rules) == 3
    for r in added.security_rules:
        assert_fields(r, "id", "direction", "protocol", "is_valid")
    listed = oci.pagination.list_call_get_all_results(vnet.list_network_security_group_security_rules, nsg.id).data
    assert [r.id for r in listed] == [r.id for r in added.security_rules]
    assert listed[2].tcp_options.destination_port_range.min == 22
    # RemoveNetworkSecurityGroupSecurityRules by id (how vipsetup drops a VRRP rule altered in place)
    removed = vnet.remove_network_security_group_security_rules(
        nsg.id, oci.core.models.RemoveNetworkSecurityGroupSecurityRulesDetails(
            security_rule_ids=[added.security_rules[2].id]))
    assert removed.status == 200
    left = oci.pagination.list_call_get_all_results(vnet.list_network_security_group_security_rules, nsg.id).data
    assert [r.id for r in left] == [r.id for r in added.security_rules[:2]]
    too_many = [rules[0]] * 26
    with pytest.raises(ServiceError) as e:
        vnet.add_network_security_group_security_rules(
            nsg.id, oci.core.models.AddNetworkSecurityGroupSecurityRulesDetails(security_rules=too_many))
    assert e.value.status == 400
    assert nsg.id in [n.id for n in vnet.list_network_security_groups(compartment_id=creds["compartment_id"]).data]
    assert vnet.get_network_security_group(nsg.id).data.display_name == "vrrp"
    vnet.delete_network_security_group(nsg.id)
    with pytest.raises(ServiceError) as e:
        vnet.get_network_security_group(nsg.id)
    assert e.value.status == 404
