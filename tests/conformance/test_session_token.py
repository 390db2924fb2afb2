"""Session-token auth (keyId ST$<token>) through the SDK's SecurityTokenSigner."""
import oci
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oci.exceptions import ServiceError

from oci._vendor import requests


def test_security_token_signer(sim_url, creds):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    r = requests.post(f"{sim_url}/_sim/sessions", json={"userId": creds["user_id"], "publicKey": spki}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    vnet = oci.core.VirtualNetworkClient({}, signer=oci.auth.signers.SecurityTokenSigner(token, key),
                                         service_endpoint=sim_url)
    assert vnet.get_subnet(creds["subnet_id"]).data.id == creds["subnet_id"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong = oci.core.VirtualNetworkClient({}, signer=oci.auth.signers.SecurityTokenSigner(token, other),
                                          service_endpoint=sim_url)
    with pytest.raises(ServiceError) as e:
        wrong.get_subnet(creds["subnet_id"])
    assert e.value.status == 401
