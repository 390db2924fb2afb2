"""Requests the SDK signs are accepted; tampered ones are refused with 401."""
import email.utils
import json
import time

import oci
# the SDK signs its own vendored requests objects; use the same library for hand-made requests
from oci._vendor import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def signed(signer, method, url, body=None, date=None):
    headers = {"content-type": "application/json"}
    if date:
        headers["date"] = date
    req = requests.Request(method, url, data=body, headers=headers).prepare()
    if method in ("POST", "PUT") and body is None:
        req.headers["content-length"] = "0"
    signer(req)
    return req


def send(req):
    with requests.Session() as s:
        return s.send(req, timeout=10)


def nsg_body(creds, vcn_id, name):
    return json.dumps({"compartmentId": creds["compartment_id"], "vcnId": vcn_id, "displayName": name})


def test_signed_requests_are_accepted(signer, sim_url, creds, vnet):
    r = send(signed(signer, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}"))
    assert r.status_code == 200, r.text
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    r = send(signed(signer, "POST", f"{sim_url}/20160918/networkSecurityGroups", nsg_body(creds, vcn_id, "ok")))
    assert r.status_code == 200, r.text
    send(signed(signer, "DELETE", f"{sim_url}/20160918/networkSecurityGroups/{r.json()['id']}"))


def assert_refused(resp):
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "NotAuthenticated"
    assert resp.headers.get("opc-request-id")


def test_unsigned_is_refused(sim_url, creds):
    assert_refused(requests.get(f"{sim_url}/20160918/subnets/{creds['subnet_id']}", timeout=10))


def test_changed_body_is_refused(signer, sim_url, creds, vnet):
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    req = signed(signer, "POST", f"{sim_url}/20160918/networkSecurityGroups", nsg_body(creds, vcn_id, "aaaa"))
    req.body = nsg_body(creds, vcn_id, "bbbb")  # same length: only the hash gives it away
    assert_refused(send(req))


def test_changed_path_is_refused(signer, sim_url, creds, vnet):
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    req = signed(signer, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}")
    req.url = f"{sim_url}/20160918/vcns/{vcn_id}"
    assert_refused(send(req))
    req = signed(signer, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}")
    req.url = req.url + "?extra=1"
    assert_refused(send(req))


def test_old_date_is_refused(signer, sim_url, creds):
    old = email.utils.formatdate(time.time() - 6 * 60, usegmt=True)
    assert_refused(send(signed(signer, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}", date=old)))
    # within the 5 minutes allowed
    recent = email.utils.formatdate(time.time() - 4 * 60, usegmt=True)
    r = send(signed(signer, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}", date=recent))
    assert r.status_code == 200


def test_wrong_key_is_refused(config, sim_url, creds, tmp_path):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.pem"
    path.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    wrong = oci.signer.Signer(config["tenancy"], config["user"], config["fingerprint"], str(path))
    assert_refused(send(signed(wrong, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}")))
    unknown_fp = oci.signer.Signer(config["tenancy"], config["user"], "00:" * 15 + "00", config["key_file"])
    assert_refused(send(signed(unknown_fp, "GET", f"{sim_url}/20160918/subnets/{creds['subnet_id']}")))


def test_post_without_body_headers_is_refused(sim_url, signer, creds, vnet):
    vcn_id = vnet.get_subnet(creds["subnet_id"]).data.vcn_id
    req = signed(signer, "POST", f"{sim_url}/20160918/networkSecurityGroups", nsg_body(creds, vcn_id, "x"))
    # re-sign as if it were a GET: the body headers drop out of the signature
    auth = req.headers["authorization"].replace(
        'headers="date (request-target) host content-length content-type x-content-sha256"',
        'headers="date (request-target) host"')
    req.headers["authorization"] = auth
    assert_refused(send(req))
