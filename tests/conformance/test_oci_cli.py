"""The failover agent's exact cloud call: Oracle's OCI CLI, as an instance principal, moving the
VIP with `oci network vnic assign-private-ip --unassign-if-already-assigned`."""
import os
import subprocess
import sys
import uuid

import oci
import pytest

from conftest import launch, primary_vnic

OCI_CLI = os.path.join(os.path.dirname(sys.executable), "oci")


def run_cli(sim_url, tmp_path, *args):
    env = dict(
        os.environ,
        OCI_METADATA_BASE_URL=f"{sim_url}/opc/v2",
        OCI_CLI_FEDERATION_ENDPOINT=f"{sim_url}/v1/x509",
        OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING="True",
        LC_ALL="C.UTF-8",
        HOME=str(tmp_path),
    )
    return subprocess.run(
        [OCI_CLI, "--auth", "instance_principal", "--endpoint", sim_url, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


# In CI a missing CLI is a failure (the assert below), never a silent skip.
@pytest.mark.skipif(not os.path.exists(OCI_CLI) and os.environ.get("CI") != "true",
                    reason="the OCI CLI is not installed in this venv (pip install oci-cli)")
def test_cli_moves_the_vip_as_instance_principal(compute, vnet, identity, creds, control, sim_url, tmp_path):
    assert os.path.exists(OCI_CLI), f"{OCI_CLI} is missing: pip install oci-cli into the venv (.ci/run does)"
    control.config(iamPropagationDelayMs=0)
    n1 = launch(compute, creds, "cli-node1", private_ip="10.0.1.40").data
    n2 = launch(compute, creds, "cli-node2", private_ip="10.0.1.41").data
    v1 = primary_vnic(compute, vnet, creds, n1.id)
    v2 = primary_vnic(compute, vnet, creds, n2.id)
    vip = vnet.create_private_ip(oci.core.models.CreatePrivateIpDetails(vnic_id=v1.id, ip_address="10.0.1.70")).data
    control.alias("127.0.0.1", n2.id)
    move = ["network", "vnic", "assign-private-ip", "--vnic-id", v2.id, "--ip-address", "10.0.1.70",
            "--unassign-if-already-assigned"]

    refused = run_cli(sim_url, tmp_path, *move)
    assert refused.returncode != 0, refused.stdout
    assert vnet.get_private_ip(vip.id).data.vnic_id == v1.id

    suffix = uuid.uuid4().hex[:6]
    comp = creds["compartment_id"]
    dg = identity.create_dynamic_group(oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["tenancy_id"], name=f"cli-{suffix}", description="d",
        matching_rule="ANY {instance.id = '%s', instance.id = '%s'}" % (n1.id, n2.id))).data
    pol = identity.create_policy(oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=f"cli-{suffix}", description="d", statements=[
            f"Allow dynamic-group {dg.name} to use private-ips in compartment id {comp}",
            f"Allow dynamic-group {dg.name} to use vnics in compartment id {comp}"])).data
    before = len(control.log())
    done = run_cli(sim_url, tmp_path, *move)
    assert done.returncode == 0, done.stderr
    assert vnet.get_private_ip(vip.id).data.vnic_id == v2.id
    ops = [e["operation"] for e in control.log()[before:] if e["principal"].startswith("instance:")]
    # one PUT, no delete (oci_cli virtualnetwork_cli_extended.assign_private_ip)
    assert "UpdatePrivateIp" in ops and "DeletePrivateIp" not in ops and "CreatePrivateIp" not in ops

    again = run_cli(sim_url, tmp_path, *move)
    assert again.returncode == 0 and "Taking no action" in (again.stdout + again.stderr)
    identity.delete_policy(pol.id)
    identity.delete_dynamic_group(dg.id)
    for n in (n1, n2):
        compute.terminate_instance(n.id)
