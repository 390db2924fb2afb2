"""Object Storage as Oracle's SDK drives it: namespace, bucket, objects with ETags, and the
conditional writes vipsetup's remote state and lock rely on (if-none-match: * creates once,
if-match refuses a stale write or delete with 412)."""
import json

import oci
import pytest
# the SDK signs its own vendored requests objects; use the same library for hand-made requests
from oci._vendor import requests


@pytest.fixture(scope="module")
def os_client(config, sim_url):
    return oci.object_storage.ObjectStorageClient(config, service_endpoint=sim_url)


@pytest.fixture(scope="module")
def bucket(os_client, creds):
    ns = os_client.get_namespace().data
    details = oci.object_storage.models.CreateBucketDetails(
        name="conformance-state", compartment_id=creds["compartment_id"]
    )
    b = os_client.create_bucket(ns, details).data
    assert (b.name, b.namespace, b.compartment_id) == ("conformance-state", ns, creds["compartment_id"])
    assert b.etag and b.time_created
    return ns, b.name


def service_error(call):
    with pytest.raises(oci.exceptions.ServiceError) as e:
        call()
    return e.value


def test_namespace_is_a_lowercase_string(os_client):
    ns = os_client.get_namespace().data
    assert isinstance(ns, str) and ns and ns == ns.lower() and ns.isalnum()


def test_bucket_names_are_unique_per_namespace(os_client, bucket, creds):
    ns, name = bucket
    details = oci.object_storage.models.CreateBucketDetails(name=name, compartment_id=creds["compartment_id"])
    e = service_error(lambda: os_client.create_bucket(ns, details))
    assert (e.status, e.code) == (409, "BucketAlreadyExists")


def test_conditional_create_overwrite_and_delete(os_client, bucket):
    ns, b = bucket
    name = "pairs/web-vip.lock"
    r = os_client.put_object(ns, b, name, b'{"holder":1}', if_none_match="*")
    assert r.status == 200
    first = r.headers["etag"]
    assert r.headers.get("opc-content-md5")
    # a second create loses: exactly one run takes a lock
    e = service_error(lambda: os_client.put_object(ns, b, name, b'{"holder":2}', if_none_match="*"))
    assert (e.status, e.code) == (412, "IfNoneMatchFailed")
    got = os_client.get_object(ns, b, name)
    assert got.data.content == b'{"holder":1}'
    assert got.headers["etag"] == first
    # a write on the current etag wins and changes it; one on the old etag is refused
    second = os_client.put_object(ns, b, name, b'{"holder":3}', if_match=first).headers["etag"]
    assert second != first
    e = service_error(lambda: os_client.put_object(ns, b, name, b"stale", if_match=first))
    assert (e.status, e.code) == (412, "IfMatchFailed")
    head = os_client.head_object(ns, b, name)
    assert head.headers["etag"] == second and int(head.headers["content-length"]) == len(b'{"holder":3}')
    # a delete on a stale etag leaves the object; on the current one removes it
    e = service_error(lambda: os_client.delete_object(ns, b, name, if_match=first))
    assert (e.status, e.code) == (412, "IfMatchFailed")
    assert os_client.delete_object(ns, b, name, if_match=second).status == 204
    e = service_error(lambda: os_client.get_object(ns, b, name))
    assert (e.status, e.code) == (404, "ObjectNotFound")


def test_list_objects_by_prefix_with_paging(os_client, bucket):
    ns, b = bucket
    for n in ["list/a.json", "list/b.json", "list/c.json", "other.json"]:
        os_client.put_object(ns, b, n, b"{}")
    page = os_client.list_objects(ns, b, prefix="list/", limit=2, fields="name,size,etag").data
    assert [o.name for o in page.objects] == ["list/a.json", "list/b.json"]
    assert page.objects[0].size == 2 and page.objects[0].etag
    assert page.next_start_with == "list/c.json"
    rest = os_client.list_objects(ns, b, prefix="list/", start=page.next_start_with).data
    assert [o.name for o in rest.objects] == ["list/c.json"] and rest.next_start_with is None


def test_missing_bucket_and_foreign_namespace_are_404(os_client, bucket):
    ns, _ = bucket
    e = service_error(lambda: os_client.get_object(ns, "no-such-bucket", "x"))
    assert (e.status, e.code) == (404, "BucketNotFound")
    e = service_error(lambda: os_client.get_object("someoneelse", "conformance-state", "x"))
    assert e.status == 404


def test_put_object_signed_with_body_headers_is_accepted_too(signer, sim_url, bucket):
    """The SDK leaves the body out of a PutObject signature; a client that signs it anyway
    (content-length, content-type, x-content-sha256) must still get through, and a body that
    does not match its signed hash must not."""
    ns, b = bucket
    url = f"{sim_url}/n/{ns}/b/{b}/o/signed-body.json"
    req = requests.Request("PUT", url, data=b"{}", headers={"content-type": "application/json"}).prepare()
    signer(req)  # enforce_content_headers=True: the body headers are signed
    with requests.Session() as s:
        assert s.send(req, timeout=10).status_code == 200
    req = requests.Request("PUT", url, data=b"{}", headers={"content-type": "application/json"}).prepare()
    signer(req)
    req.body = b"[]"
    with requests.Session() as s:
        assert s.send(req, timeout=10).status_code == 401


def test_only_put_object_may_leave_its_body_unsigned(signer, sim_url, bucket, creds):
    """CreateBucket is a JSON POST like any other: its body headers must be signed."""
    ns, _ = bucket
    body = json.dumps({"name": "unsigned-body", "compartmentId": creds["compartment_id"]})
    req = requests.Request(
        "POST", f"{sim_url}/n/{ns}/b/", data=body, headers={"content-type": "application/json"}
    ).prepare()
    signer(req, enforce_content_headers=False)
    with requests.Session() as s:
        r = s.send(req, timeout=10)
    assert r.status_code == 401, r.text
