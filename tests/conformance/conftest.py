"""Fixtures for the conformance suite: Oracle's Python SDK against the vipsetup OCI simulator.

Environment (set by tests/simulator_conformance.rs):
  VIPSETUP_SIM_URL    base URL of a running simulator (every service on one listener)
  VIPSETUP_SIM_CREDS  JSON written by `vipsetup simulator serve --creds-out`
"""
import json
import os

import oci
import pytest
# the SDK signs its own vendored requests objects; use the same library for hand-made requests
from oci._vendor import requests


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run this suite through `cargo test --test simulator_conformance`", 2)
    return value


@pytest.fixture(scope="session")
def sim_url():
    return _env("VIPSETUP_SIM_URL").rstrip("/")


@pytest.fixture(scope="session")
def creds():
    with open(_env("VIPSETUP_SIM_CREDS")) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def config(creds, tmp_path_factory):
    key = tmp_path_factory.mktemp("key") / "key.pem"
    key.write_text(creds["private_key_pem"])
    key.chmod(0o600)
    cfg = {
        "user": creds["user_id"],
        "fingerprint": creds["fingerprint"],
        "tenancy": creds["tenancy_id"],
        "region": creds["home_region"],
        "key_file": str(key),
    }
    oci.config.validate_config(cfg)
    return cfg


@pytest.fixture(scope="session")
def signer(config):
    return oci.signer.Signer(
        config["tenancy"], config["user"], config["fingerprint"], config["key_file"]
    )


@pytest.fixture(scope="session")
def identity(config, sim_url):
    return oci.identity.IdentityClient(config, service_endpoint=sim_url)


@pytest.fixture(scope="session")
def compute(config, sim_url):
    return oci.core.ComputeClient(config, service_endpoint=sim_url)


@pytest.fixture(scope="session")
def vnet(config, sim_url):
    return oci.core.VirtualNetworkClient(config, service_endpoint=sim_url)


class Control:
    """The simulator's unsigned /_sim control API."""

    def __init__(self, url):
        self.url = url

    def log(self):
        return requests.get(f"{self.url}/_sim/log", timeout=10).json()

    def config(self, **fields):
        r = requests.put(f"{self.url}/_sim/config", json=fields, timeout=10)
        r.raise_for_status()
        return r.json()

    def advance(self, ms):
        requests.post(f"{self.url}/_sim/clock/advance", json={"ms": ms}, timeout=10).raise_for_status()

    def alias(self, ip, instance_id):
        requests.post(
            f"{self.url}/_sim/imds/aliases", json={"ip": ip, "instanceId": instance_id}, timeout=10
        ).raise_for_status()

    def subnet(self, vcn_id, cidr, name, public):
        r = requests.post(
            f"{self.url}/_sim/subnets",
            json={"vcnId": vcn_id, "cidr": cidr, "name": name, "prohibitPublicIpOnVnic": not public,
                  "dnsLabel": name},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["id"]

    def fault(self, operation, count, status, code, message="injected"):
        requests.post(
            f"{self.url}/_sim/faults",
            json={"operation": operation, "count": count,
                  "fault": {"kind": "status", "status": status, "code": code, "message": message}},
            timeout=10,
        ).raise_for_status()


@pytest.fixture(scope="session")
def control(sim_url):
    return Control(sim_url)


def launch(compute, creds, name, private_ip=None, retry_token=None, nsg_ids=None, subnet_id=None):
    """Launches an instance in the seeded subnet (or `subnet_id`) and returns the SDK's Instance model."""
    details = oci.core.models.LaunchInstanceDetails(
        compartment_id=creds["compartment_id"],
        availability_domain=creds["availability_domains"][0],
        shape="VM.Standard.E4.Flex",
        shape_config=oci.core.models.LaunchInstanceShapeConfigDetails(ocpus=1, memory_in_gbs=8),
        display_name=name,
        source_details=oci.core.models.InstanceSourceViaImageDetails(
            image_id=creds["image_ids"][0], boot_volume_size_in_gbs=50
        ),
        create_vnic_details=oci.core.models.CreateVnicDetails(
            subnet_id=subnet_id or creds["subnet_id"], assign_public_ip=False, private_ip=private_ip,
            hostname_label=name, nsg_ids=nsg_ids,
        ),
        metadata={"ssh_authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA test"},
    )
    kwargs = {"opc_retry_token": retry_token} if retry_token else {}
    return compute.launch_instance(details, **kwargs)


def primary_vnic(compute, vnet, creds, instance_id):
    atts = oci.pagination.list_call_get_all_results(
        compute.list_vnic_attachments, creds["compartment_id"], instance_id=instance_id
    ).data
    assert len(atts) == 1
    return vnet.get_vnic(atts[0].vnic_id).data


def assert_fields(model, *names):
    """OCI guarantees these fields; the SDK model must have parsed them."""
    for n in names:
        assert getattr(model, n) is not None, f"{type(model).__name__}.{n} is None"
