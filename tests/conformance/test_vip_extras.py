"""Issue 12's operations through Oracle's SDK: IPv6 VIPs (CreateIpv6 ... UpdateIpv6 moves one),
a reserved public IP that follows its private IP, Notifications GetTopic + PublishMessage, and the
agent's own calls (UpdateIpv6, PublishMessage, UpdateVnic tags) as an instance principal under the
statements vipsetup's policy writes."""
import json
import uuid

import oci
import pytest
# the SDK signs its own vendored requests objects; use the same library for hand-made requests
from oci._vendor import requests
from oci.exceptions import ServiceError

from conftest import assert_fields, launch, primary_vnic


@pytest.fixture(scope="module")
def pair(compute, vnet, creds, control):
    control.config(iamPropagationDelayMs=0)
    n1 = launch(compute, creds, "x-node1", private_ip="10.0.1.80").data
    n2 = launch(compute, creds, "x-node2", private_ip="10.0.1.81").data
    v1 = primary_vnic(compute, vnet, creds, n1.id)
    v2 = primary_vnic(compute, vnet, creds, n2.id)
    yield {"n1": n1, "n2": n2, "v1": v1, "v2": v2}
    for n in (n1, n2):
        compute.terminate_instance(n.id)


@pytest.fixture(scope="module")
def topic_id(sim_url):
    r = requests.post(f"{sim_url}/_sim/topics", json={"name": "vip-alerts"}, timeout=10)
    r.raise_for_status()
    return r.json()["id"]


def test_ipv6_create_list_move_delete(vnet, creds, pair):
    subnet = vnet.get_subnet(creds["subnet_id"]).data
    assert subnet.ipv6_cidr_block and subnet.ipv6_cidr_blocks == [subnet.ipv6_cidr_block]
    assert subnet.ipv6_virtual_router_ip
    vcn = vnet.get_vcn(subnet.vcn_id).data
    assert vcn.ipv6_cidr_blocks
    prefix = subnet.ipv6_cidr_block.split("/")[0].rstrip(":")
    address = f"{prefix}::80"

    made = vnet.create_ipv6(oci.core.models.CreateIpv6Details(
        vnic_id=pair["v1"].id, ip_address=address, freeform_tags={"vipsetup-pair": "x"}),
        opc_retry_token=uuid.uuid4().hex)
    v6 = made.data
    assert_fields(v6, "id", "compartment_id", "ip_address", "subnet_id", "vnic_id", "lifecycle_state",
                  "time_created")
    assert (v6.vnic_id, v6.lifecycle_state) == (pair["v1"].id, "AVAILABLE")
    with pytest.raises(ServiceError) as e:
        vnet.create_ipv6(oci.core.models.CreateIpv6Details(vnic_id=pair["v2"].id, ip_address=address))
    assert e.value.status == 409
    with pytest.raises(ServiceError) as e:
        vnet.create_ipv6(oci.core.models.CreateIpv6Details(vnic_id=pair["v2"].id, ip_address="2001:db8::1"))
    assert e.value.status == 400

    assert vnet.get_ipv6(v6.id).data.ip_address == v6.ip_address
    found = vnet.list_ipv6s(subnet_id=creds["subnet_id"], ip_address=address).data
    assert [x.id for x in found] == [v6.id]
    on_v1 = oci.pagination.list_call_get_all_results(vnet.list_ipv6s, vnic_id=pair["v1"].id).data
    assert [x.id for x in on_v1] == [v6.id]

    with pytest.raises(ServiceError) as e:
        vnet.update_ipv6(v6.id, oci.core.models.UpdateIpv6Details(vnic_id=pair["v2"].id), if_match="stale")
    assert e.value.status == 412
    moved = vnet.update_ipv6(v6.id, oci.core.models.UpdateIpv6Details(vnic_id=pair["v2"].id),
                             if_match=made.headers["etag"]).data
    assert moved.vnic_id == pair["v2"].id and moved.freeform_tags == {"vipsetup-pair": "x"}
    vnet.delete_ipv6(v6.id)
    with pytest.raises(ServiceError) as e:
        vnet.get_ipv6(v6.id)
    assert e.value.status == 404


def test_reserved_public_ip_follows_its_private_ip(compute, vnet, creds, control):
    public = control.subnet(vnet.get_subnet(creds["subnet_id"]).data.vcn_id, "10.0.8.0/24", "pubx", True)
    a = launch(compute, creds, "pub-a", private_ip="10.0.8.10", subnet_id=public).data
    b = launch(compute, creds, "pub-b", private_ip="10.0.8.11", subnet_id=public).data
    va = primary_vnic(compute, vnet, creds, a.id)
    vb = primary_vnic(compute, vnet, creds, b.id)
    vip = vnet.create_private_ip(oci.core.models.CreatePrivateIpDetails(vnic_id=va.id, ip_address="10.0.8.20")).data

    reserved = vnet.create_public_ip(oci.core.models.CreatePublicIpDetails(
        compartment_id=creds["compartment_id"], lifetime="RESERVED", display_name="vip")).data
    assert (reserved.lifetime, reserved.scope, reserved.lifecycle_state) == ("RESERVED", "REGION", "AVAILABLE")
    assert reserved.private_ip_id is None
    assigned = vnet.update_public_ip(reserved.id, oci.core.models.UpdatePublicIpDetails(private_ip_id=vip.id)).data
    assert (assigned.lifecycle_state, assigned.private_ip_id) == ("ASSIGNED", vip.id)

    vnet.update_private_ip(vip.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=vb.id))
    followed = vnet.get_public_ip_by_private_ip_id(
        oci.core.models.GetPublicIpByPrivateIpIdDetails(private_ip_id=vip.id)).data
    assert followed.id == reserved.id
    assert vnet.get_private_ip(followed.private_ip_id).data.vnic_id == vb.id

    unassigned = vnet.update_public_ip(reserved.id, oci.core.models.UpdatePublicIpDetails(private_ip_id="")).data
    assert (unassigned.lifecycle_state, unassigned.private_ip_id) == ("AVAILABLE", None)
    assert vnet.get_public_ip(reserved.id).data.ip_address == reserved.ip_address
    vnet.delete_public_ip(reserved.id)
    for n in (a, b):
        compute.terminate_instance(n.id)


def test_topic_and_publish(config, sim_url, creds, topic_id):
    cp = oci.ons.NotificationControlPlaneClient(config, service_endpoint=sim_url)
    dp = oci.ons.NotificationDataPlaneClient(config, service_endpoint=sim_url)
    topic = cp.get_topic(topic_id).data
    assert_fields(topic, "name", "topic_id", "compartment_id", "lifecycle_state", "time_created", "api_endpoint")
    assert (topic.topic_id, topic.lifecycle_state) == (topic_id, "ACTIVE")
    res = dp.publish_message(topic_id, oci.ons.models.MessageDetails(title="vip", body="hello")).data
    assert res.message_id and res.time_stamp
    with pytest.raises(ServiceError) as e:
        dp.publish_message("ocid1.onstopic.oc1..nope", oci.ons.models.MessageDetails(body="x"))
    assert e.value.status == 404
    kept = requests.get(f"{sim_url}/_sim/messages", timeout=10).json()
    assert [m["body"] for m in kept if m["topicId"] == topic_id] == ["hello"]


@pytest.fixture(scope="module")
def ip_signer(sim_url, pair, control):
    mp = pytest.MonkeyPatch()
    mp.setenv("OCI_METADATA_BASE_URL", f"{sim_url}/opc/v2")
    control.alias("127.0.0.1", pair["n2"].id)
    yield oci.auth.signers.InstancePrincipalsSecurityTokenSigner(federation_endpoint=f"{sim_url}/v1/x509")
    mp.undo()


def test_the_agent_moves_an_ipv6_tags_its_vnic_and_publishes(identity, vnet, sim_url, creds, pair, topic_id,
                                                           ip_signer):
    v6 = vnet.create_ipv6(oci.core.models.CreateIpv6Details(vnic_id=pair["v1"].id)).data
    ip_vnet = oci.core.VirtualNetworkClient({}, signer=ip_signer, service_endpoint=sim_url)
    ip_dp = oci.ons.NotificationDataPlaneClient({}, signer=ip_signer, service_endpoint=sim_url)
    message = oci.ons.models.MessageDetails(title="takeover", body=json.dumps({"owner": "x-node2"}))
    with pytest.raises(ServiceError) as e:
        ip_dp.publish_message(topic_id, message)
    assert (e.value.status, e.value.code) == (404, "NotAuthorizedOrNotFound")

    suffix = uuid.uuid4().hex[:6]
    comp = creds["compartment_id"]
    dg = identity.create_dynamic_group(oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["tenancy_id"], name=f"x-{suffix}", description="vip nodes",
        matching_rule="ANY {instance.id = '%s', instance.id = '%s'}" % (pair["n1"].id, pair["n2"].id))).data
    pol = identity.create_policy(oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=f"x-{suffix}", description="vip", statements=[
            f"Allow dynamic-group {dg.name} to use ipv6s in compartment id {comp}",
            f"Allow dynamic-group {dg.name} to use vnics in compartment id {comp}",
            f"Allow dynamic-group {dg.name} to use ons-topics in compartment id {comp}",
        ])).data
    moved = ip_vnet.update_ipv6(v6.id, oci.core.models.UpdateIpv6Details(vnic_id=pair["v2"].id)).data
    assert moved.vnic_id == pair["v2"].id
    tags = dict(pair["v2"].freeform_tags or {}, **{"vipsetup-agent-state": "MASTER"})
    tagged = ip_vnet.update_vnic(pair["v2"].id, oci.core.models.UpdateVnicDetails(freeform_tags=tags)).data
    assert tagged.freeform_tags["vipsetup-agent-state"] == "MASTER"
    assert ip_dp.publish_message(topic_id, message).data.message_id
    kept = requests.get(f"{sim_url}/_sim/messages", timeout=10).json()
    assert kept[-1]["publishedBy"] == "instance:" + pair["n2"].id
    identity.delete_policy(pol.id)
    identity.delete_dynamic_group(dg.id)
    vnet.delete_ipv6(v6.id)
