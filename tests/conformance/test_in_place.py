"""Placement lookups, changes in place, power actions and ephemeral public IPs through
ComputeClient, IdentityClient and VirtualNetworkClient, as an API-key user."""
import uuid

import oci
import pytest
from oci.exceptions import ServiceError

from conftest import assert_fields, launch, primary_vnic


def test_fault_domains_and_shapes(identity, compute, creds):
    ad = creds["availability_domains"][0]
    fds = identity.list_fault_domains(creds["compartment_id"], ad).data
    assert [f.name for f in fds] == ["FAULT-DOMAIN-1", "FAULT-DOMAIN-2", "FAULT-DOMAIN-3"]
    for f in fds:
        assert_fields(f, "name", "id", "compartment_id", "availability_domain")
    with pytest.raises(ServiceError) as e:
        identity.list_fault_domains(creds["compartment_id"], "Nope:XX-AD-9")
    assert e.value.status == 400

    every = oci.pagination.list_call_get_all_results(
        compute.list_shapes, creds["compartment_id"], availability_domain=ad).data
    names = [s.shape for s in every]
    assert "VM.Standard.E4.Flex" in names and len(names) == len(set(names))
    flex = [s for s in every if s.shape == "VM.Standard.E4.Flex"][0]
    assert flex.is_flexible is True
    for_image = oci.pagination.list_call_get_all_results(
        compute.list_shapes, creds["compartment_id"], availability_domain=ad,
        image_id=creds["image_ids"][0]).data
    assert {s.shape for s in for_image} <= set(names) and for_image


def test_update_instance_power_actions_vnic_and_nsg(compute, vnet, creds):
    inst = launch(compute, creds, "conf-upd", private_ip="10.0.1.30").data
    oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING", max_wait_seconds=30)

    tagged = compute.update_instance(
        inst.id, oci.core.models.UpdateInstanceDetails(freeform_tags={"team": "net"})).data
    assert tagged.freeform_tags == {"team": "net"} and tagged.lifecycle_state == "RUNNING"
    resized = compute.update_instance(
        inst.id, oci.core.models.UpdateInstanceDetails(
            shape_config=oci.core.models.UpdateInstanceShapeConfigDetails(ocpus=2, memory_in_gbs=16))).data
    assert (resized.shape_config.ocpus, resized.shape_config.memory_in_gbs) == (2, 16)
    # a running instance is rebooted for a new size
    assert resized.lifecycle_state in ("STARTING", "RUNNING")
    oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING", max_wait_seconds=30)

    with pytest.raises(ServiceError) as e:
        compute.instance_action(inst.id, "FLY")
    assert e.value.status == 400
    stopping = compute.instance_action(inst.id, "SOFTSTOP").data
    assert stopping.lifecycle_state in ("STOPPING", "STOPPED")
    stopped = oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "STOPPED",
                             max_wait_seconds=30).data
    assert stopped.lifecycle_state == "STOPPED"
    # a stopped instance keeps its VNIC
    vnic = primary_vnic(compute, vnet, creds, inst.id)
    assert vnic.private_ip == "10.0.1.30"
    started = compute.instance_action(inst.id, "START").data
    assert started.lifecycle_state in ("STARTING", "RUNNING")
    oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING", max_wait_seconds=30)

    subnet = vnet.get_subnet(creds["subnet_id"]).data
    nsg = vnet.create_network_security_group(
        oci.core.models.CreateNetworkSecurityGroupDetails(
            compartment_id=creds["compartment_id"], vcn_id=subnet.vcn_id, display_name="upd"),
        opc_retry_token=uuid.uuid4().hex).data
    renamed = vnet.update_network_security_group(
        nsg.id, oci.core.models.UpdateNetworkSecurityGroupDetails(freeform_tags={"k": "v"})).data
    assert renamed.freeform_tags == {"k": "v"} and renamed.display_name == "upd"
    joined = vnet.update_vnic(vnic.id, oci.core.models.UpdateVnicDetails(nsg_ids=[nsg.id])).data
    assert joined.nsg_ids == [nsg.id]
    assert vnet.get_vnic(vnic.id).data.nsg_ids == [nsg.id]
    with pytest.raises(ServiceError) as e:
        vnet.update_vnic(vnic.id, oci.core.models.UpdateVnicDetails(nsg_ids=[nsg.id] * 6))
    assert e.value.status == 400
    vnet.update_vnic(vnic.id, oci.core.models.UpdateVnicDetails(nsg_ids=[]))

    compute.terminate_instance(inst.id)
    oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "TERMINATED", max_wait_seconds=30)
    with pytest.raises(ServiceError) as e:
        compute.instance_action(inst.id, "START")
    assert (e.value.status, e.value.code) == (409, "IncorrectState")
    vnet.delete_network_security_group(nsg.id)


def test_ephemeral_public_ip(compute, vnet, creds, control):
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    public_subnet = control.subnet(vcn_id, "10.0.7.0/24", "public", public=True)
    inst = launch(compute, creds, "conf-pub", private_ip="10.0.7.31", subnet_id=public_subnet).data
    oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING", max_wait_seconds=30)
    vnic = primary_vnic(compute, vnet, creds, inst.id)
    assert vnic.public_ip is None
    ips = vnet.list_private_ips(vnic_id=vnic.id).data
    primary = [p for p in ips if p.is_primary][0]
    secondary = vnet.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(vnic_id=vnic.id, ip_address="10.0.7.32")).data

    def details(private_ip_id):
        return oci.core.models.CreatePublicIpDetails(
            compartment_id=creds["compartment_id"], lifetime="EPHEMERAL", private_ip_id=private_ip_id)

    with pytest.raises(ServiceError) as e:
        vnet.create_public_ip(details(secondary.id))
    assert e.value.status == 400
    # the seeded subnet is private: public IPs are prohibited there
    private_inst = launch(compute, creds, "conf-priv", private_ip="10.0.1.33").data
    private_vnic = primary_vnic(compute, vnet, creds, private_inst.id)
    private_primary = [p for p in vnet.list_private_ips(vnic_id=private_vnic.id).data if p.is_primary][0]
    with pytest.raises(ServiceError) as e:
        vnet.create_public_ip(details(private_primary.id))
    assert e.value.status == 400
    compute.terminate_instance(private_inst.id)
    pub = vnet.create_public_ip(details(primary.id), opc_retry_token=uuid.uuid4().hex).data
    assert_fields(pub, "id", "ip_address", "lifetime", "lifecycle_state", "private_ip_id", "scope",
                  "compartment_id")
    assert (pub.lifetime, pub.private_ip_id) == ("EPHEMERAL", primary.id)
    assert vnet.get_vnic(vnic.id).data.public_ip == pub.ip_address
    with pytest.raises(ServiceError) as e:
        vnet.create_public_ip(details(primary.id))
    assert e.value.status == 409
    found = vnet.get_public_ip_by_ip_address(
        oci.core.models.GetPublicIpByIpAddressDetails(ip_address=pub.ip_address)).data
    assert found.id == pub.id
    vnet.delete_public_ip(pub.id)
    assert vnet.get_vnic(vnic.id).data.public_ip is None
    with pytest.raises(ServiceError) as e:
        vnet.get_public_ip_by_ip_address(
            oci.core.models.GetPublicIpByIpAddressDetails(ip_address=pub.ip_address))
    assert e.value.status == 404
    vnet.delete_private_ip(secondary.id)
    compute.terminate_instance(inst.id)
