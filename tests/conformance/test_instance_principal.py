"""The node agent's path: IMDS v2 identity, /v1/x509 federation and IAM for instance principals."""
import base64
import json
import uuid

import oci
import pytest
# the SDK signs its own vendored requests objects; use the same library for hand-made requests
from oci._vendor import requests
from oci.exceptions import ServiceError

from conftest import launch, primary_vnic


@pytest.fixture(scope="module")
def nodes(compute, vnet, creds, control):
    control.config(iamPropagationDelayMs=0)
    n1 = launch(compute, creds, "ip-node1", private_ip="10.0.1.30").data
    n2 = launch(compute, creds, "ip-node2", private_ip="10.0.1.31").data
    v1 = primary_vnic(compute, vnet, creds, n1.id)
    v2 = primary_vnic(compute, vnet, creds, n2.id)
    vip = vnet.create_private_ip(oci.core.models.CreatePrivateIpDetails(vnic_id=v1.id, ip_address="10.0.1.60")).data
    control.alias("127.0.0.1", n2.id)
    yield {"n1": n1, "n2": n2, "v1": v1, "v2": v2, "vip": vip}
    for n in (n1, n2):
        compute.terminate_instance(n.id)


def test_imds_requires_bearer_and_answers_for_caller(sim_url, nodes, creds):
    base = f"{sim_url}/opc/v2"
    assert requests.get(f"{base}/instance/", timeout=10).status_code == 401
    h = {"Authorization": "Bearer Oracle"}
    inst = requests.get(f"{base}/instance/", headers=h, timeout=10).json()
    assert inst["id"] == nodes["n2"].id
    assert inst["compartmentId"] == creds["compartment_id"]
    assert inst["canonicalRegionName"] == creds["home_region"]
    assert inst["availabilityDomain"] == creds["availability_domains"][0]
    info = requests.get(f"{base}/instance/regionInfo", headers=h, timeout=10).json()
    assert info["regionIdentifier"] == creds["home_region"]
    vnics = requests.get(f"{base}/vnics/", headers=h, timeout=10).json()
    assert [v["vnicId"] for v in vnics] == [nodes["v2"].id]
    assert vnics[0]["privateIp"] == "10.0.1.31"
    cert = requests.get(f"{base}/identity/cert.pem", headers=h, timeout=10).text
    assert cert.startswith("-----BEGIN CERTIFICATE-----")
    assert oci.auth.auth_utils.get_tenancy_id_from_certificate(
        __import__("cryptography.x509", fromlist=["x509"]).load_pem_x509_certificate(cert.encode())
    ) == creds["tenancy_id"]


@pytest.fixture(scope="module")
def ip_vnet(sim_url, nodes, monkeypatch_module):
    monkeypatch_module.setenv("OCI_METADATA_BASE_URL", f"{sim_url}/opc/v2")
    signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner(federation_endpoint=f"{sim_url}/v1/x509")
    claims = json.loads(base64.urlsafe_b64decode(signer.federation_client.get_security_token().split(".")[1] + "=="))
    assert claims["exp"] > claims["iat"]
    return oci.core.VirtualNetworkClient({}, signer=signer, service_endpoint=sim_url)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_instance_principal_needs_dynamic_group_and_policy(identity, ip_vnet, nodes, creds, control):
    vip = nodes["vip"]
    # no dynamic group or policy yet: as OCI, unauthorized looks like not found
    with pytest.raises(ServiceError) as e:
        ip_vnet.get_private_ip(vip.id)
    assert (e.value.status, e.value.code) == (404, "NotAuthorizedOrNotFound")
    last = [x for x in control.log() if x["operation"] == "GetPrivateIp"][-1]
    assert last["principal"] == "instance:" + nodes["n2"].id

    suffix = uuid.uuid4().hex[:6]
    dg = identity.create_dynamic_group(oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["tenancy_id"], name=f"vip-{suffix}", description="vip nodes",
        matching_rule="ANY {instance.id = '%s', instance.id = '%s'}" % (nodes["n1"].id, nodes["n2"].id))).data
    control.config(iamPropagationDelayMs=120000)
    comp = creds["compartment_id"]
    pol = identity.create_policy(oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=f"vip-{suffix}", description="vip",
        statements=[f"Allow dynamic-group {dg.name} to read private-ips in compartment id {comp}"])).data
    # not yet propagated
    with pytest.raises(ServiceError) as e:
        ip_vnet.get_private_ip(vip.id)
    assert e.value.status == 404
    control.advance(121000)
    assert ip_vnet.get_private_ip(vip.id).data.vnic_id == nodes["v1"].id
    # read does not grant the move
    with pytest.raises(ServiceError) as e:
        ip_vnet.update_private_ip(vip.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=nodes["v2"].id))
    assert e.value.status == 404

    etag = identity.get_policy(pol.id).headers["etag"]
    identity.update_policy(pol.id, oci.identity.models.UpdatePolicyDetails(statements=[
        f"Allow dynamic-group {dg.name} to use private-ips in compartment id {comp}",
        f"Allow dynamic-group {dg.name} to use vnics in compartment id {comp}",
    ]), if_match=etag)
    # the old version stays in force until the change propagates
    assert ip_vnet.get_private_ip(vip.id).data.id == vip.id
    with pytest.raises(ServiceError):
        ip_vnet.update_private_ip(vip.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=nodes["v2"].id))
    control.advance(121000)
    moved = ip_vnet.update_private_ip(vip.id, oci.core.models.UpdatePrivateIpDetails(vnic_id=nodes["v2"].id)).data
    assert moved.vnic_id == nodes["v2"].id
    found = ip_vnet.list_private_ips(ip_address="10.0.1.60", subnet_id=creds["subnet_id"]).data
    assert [p.vnic_id for p in found] == [nodes["v2"].id]
    control.config(iamPropagationDelayMs=0)
    identity.delete_policy(pol.id)
    identity.delete_dynamic_group(dg.id)
