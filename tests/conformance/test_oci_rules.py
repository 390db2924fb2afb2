"""Rules the simulator holds to as OCI does (issue 10), seen through Oracle's Python SDK: the
hostname label rules, a policy naming a group IAM can't see yet, an invalidated retry token."""
import uuid

import oci
import pytest
from oci.exceptions import ServiceError

from conftest import launch


def test_hostname_labels_are_unique_in_the_subnet(compute, vnet, creds):
    a = launch(compute, creds, "rule-host", private_ip="10.0.1.70").data
    try:
        with pytest.raises(ServiceError) as e:
            launch(compute, creds, "rule-host", private_ip="10.0.1.71")
        assert (e.value.status, e.value.code) == (400, "InvalidParameter")
        assert "already used" in e.value.message
    finally:
        compute.terminate_instance(a.id)


def test_a_policy_naming_a_group_not_yet_visible_is_refused(identity, creds, control):
    suffix = uuid.uuid4().hex[:6]
    control.config(iamPropagationDelayMs=60000)
    try:
        dg = identity.create_dynamic_group(oci.identity.models.CreateDynamicGroupDetails(
            compartment_id=creds["tenancy_id"], name=f"lag-{suffix}", description="d",
            matching_rule="instance.id = 'ocid1.instance.oc1..x'")).data
        details = oci.identity.models.CreatePolicyDetails(
            compartment_id=creds["tenancy_id"], name=f"lag-{suffix}", description="d",
            statements=[f"Allow dynamic-group {dg.name} to read private-ips in tenancy"])
        with pytest.raises(ServiceError) as e:
            identity.create_policy(details)
        assert (e.value.status, e.value.code) == (400, "InvalidParameter")
        assert "does not exist under current compartment hierarchy" in e.value.message
        control.advance(61000)
        pol = identity.create_policy(details).data
    finally:
        control.config(iamPropagationDelayMs=0)
    identity.delete_policy(pol.id)
    identity.delete_dynamic_group(dg.id)


def test_a_retry_token_of_a_deleted_resource_is_invalidated(vnet, creds):
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    details = oci.core.models.CreateNetworkSecurityGroupDetails(
        compartment_id=creds["compartment_id"], vcn_id=vcn_id, display_name="rule-token")
    token = uuid.uuid4().hex
    nsg = vnet.create_network_security_group(details, opc_retry_token=token).data
    vnet.delete_network_security_group(nsg.id)
    with pytest.raises(ServiceError) as e:
        vnet.create_network_security_group(details, opc_retry_token=token)
    assert (e.value.status, e.value.code) == (409, "InvalidatedRetryToken")
