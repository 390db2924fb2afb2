"""Identity operations through IdentityClient, as an API-key user."""
import uuid

import oci
import pytest
from oci.exceptions import ServiceError

from conftest import assert_fields


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def vip(identity, creds):
    """A dynamic group for policy statements to name (OCI refuses statements naming none)."""
    dg = identity.create_dynamic_group(oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["tenancy_id"], name=uniq("vip"), description="policy subject",
        matching_rule="instance.compartment.id = '%s'" % creds["compartment_id"])).data
    yield dg.name
    identity.delete_dynamic_group(dg.id)


def test_tenancy_regions_and_ads(identity, creds):
    t = identity.get_tenancy(creds["tenancy_id"])
    assert t.headers.get("opc-request-id")
    assert_fields(t.data, "id", "name", "home_region_key")
    subs = identity.list_region_subscriptions(creds["tenancy_id"]).data
    homes = [s for s in subs if s.is_home_region]
    assert len(homes) == 1 and homes[0].region_name == creds["home_region"]
    assert homes[0].region_key == t.data.home_region_key
    for s in subs:
        assert_fields(s, "region_key", "region_name", "status", "is_home_region")
    ads = identity.list_availability_domains(creds["tenancy_id"]).data
    assert [a.name for a in ads] == creds["availability_domains"]
    assert_fields(ads[0], "name", "id", "compartment_id")


def test_compartments(identity, creds):
    c = identity.get_compartment(creds["compartment_id"]).data
    assert_fields(c, "id", "compartment_id", "name", "description", "time_created", "lifecycle_state")
    assert c.compartment_id == creds["tenancy_id"]
    listed = oci.pagination.list_call_get_all_results(
        identity.list_compartments, creds["tenancy_id"], compartment_id_in_subtree=True
    ).data
    assert creds["compartment_id"] in [x.id for x in listed]
    with pytest.raises(ServiceError) as e:
        identity.get_compartment("ocid1.compartment.oc1..doesnotexist")
    assert (e.value.status, e.value.code) == (404, "NotAuthorizedOrNotFound")


def test_dynamic_group_lifecycle(identity, creds):
    name = uniq("dg")
    details = oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["tenancy_id"], name=name, description="conformance",
        matching_rule="ANY {instance.compartment.id = '%s'}" % creds["compartment_id"],
    )
    created = identity.create_dynamic_group(details, opc_retry_token=uniq("tok"))
    dg = created.data
    assert created.headers.get("etag")
    assert_fields(dg, "id", "compartment_id", "name", "description", "matching_rule", "time_created", "lifecycle_state")
    assert dg.lifecycle_state == "ACTIVE"
    got = identity.get_dynamic_group(dg.id)
    assert got.data.matching_rule == details.matching_rule
    by_name = identity.list_dynamic_groups(creds["tenancy_id"], name=name).data
    assert [x.id for x in by_name] == [dg.id]

    with pytest.raises(ServiceError) as e:
        identity.create_dynamic_group(details)
    assert e.value.status == 409

    with pytest.raises(ServiceError) as e:
        identity.update_dynamic_group(
            dg.id, oci.identity.models.UpdateDynamicGroupDetails(description="x"), if_match="stale-etag"
        )
    assert (e.value.status, e.value.code) == (412, "NoEtagMatch")

    updated = identity.update_dynamic_group(
        dg.id,
        oci.identity.models.UpdateDynamicGroupDetails(matching_rule="instance.id = 'ocid1.instance.oc1..x'"),
        if_match=got.headers["etag"],
    )
    assert updated.data.matching_rule == "instance.id = 'ocid1.instance.oc1..x'"
    assert updated.headers["etag"] != got.headers["etag"]

    with pytest.raises(ServiceError) as e:
        identity.update_dynamic_group(
            dg.id, oci.identity.models.UpdateDynamicGroupDetails(matching_rule="tag.x.y.value = 'z'")
        )
    assert e.value.status == 400

    resp = identity.delete_dynamic_group(dg.id, if_match=updated.headers["etag"])
    assert resp.status in (200, 204)
    with pytest.raises(ServiceError) as e:
        identity.get_dynamic_group(dg.id)
    assert e.value.status == 404


def test_dynamic_group_only_in_tenancy(identity, creds):
    details = oci.identity.models.CreateDynamicGroupDetails(
        compartment_id=creds["compartment_id"], name=uniq("dg"), description="d",
        matching_rule="instance.id = 'ocid1.instance.oc1..x'",
    )
    with pytest.raises(ServiceError) as e:
        identity.create_dynamic_group(details)
    assert (e.value.status, e.value.code) == (400, "InvalidParameter")


def test_policy_lifecycle(identity, creds, vip):
    name = uniq("pol")
    stmts = ["Allow dynamic-group %s to use private-ips in compartment id %s" % (vip, creds["compartment_id"])]
    details = oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=name, description="conformance", statements=stmts
    )
    created = identity.create_policy(details, opc_retry_token=uniq("tok"))
    p = created.data
    assert_fields(p, "id", "compartment_id", "name", "statements", "description", "time_created", "lifecycle_state")
    assert p.statements == stmts
    assert [x.id for x in identity.list_policies(creds["tenancy_id"], name=name).data] == [p.id]
    with pytest.raises(ServiceError) as e:
        identity.create_policy(details)
    assert e.value.status == 409
    bad = oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=uniq("pol"), description="d", statements=["Permit everyone"]
    )
    with pytest.raises(ServiceError) as e:
        identity.create_policy(bad)
    assert (e.value.status, e.value.code) == (400, "InvalidParameter")
    bad.statements = ["Allow dynamic-group no-such-group to read private-ips in tenancy"]
    with pytest.raises(ServiceError) as e:
        identity.create_policy(bad)
    assert (e.value.status, e.value.code) == (400, "InvalidParameter")
    bad.compartment_id = creds["compartment_id"]
    bad.statements = ["Allow dynamic-group %s to read private-ips in tenancy" % vip]
    with pytest.raises(ServiceError) as e:
        identity.create_policy(bad)
    assert (e.value.status, e.value.code) == (400, "InvalidParameter")
    etag = identity.get_policy(p.id).headers["etag"]
    new = stmts + ["Allow dynamic-group %s to use vnics in compartment id %s" % (vip, creds["compartment_id"])]
    upd = identity.update_policy(p.id, oci.identity.models.UpdatePolicyDetails(statements=new), if_match=etag)
    assert upd.data.statements == new
    identity.delete_policy(p.id, if_match=upd.headers["etag"])
    with pytest.raises(ServiceError) as e:
        identity.get_policy(p.id)
    assert e.value.status == 404


def test_retry_token_replays_first_result(identity, creds, vip):
    token = uniq("tok")
    details = oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=uniq("pol"), description="retry",
        statements=["Allow dynamic-group %s to read private-ips in tenancy" % vip],
    )
    first = identity.create_policy(details, opc_retry_token=token).data
    again = identity.create_policy(details, opc_retry_token=token).data
    assert again.id == first.id
    assert len(identity.list_policies(creds["tenancy_id"], name=details.name).data) == 1
    details.description = "different"
    with pytest.raises(ServiceError) as e:
        identity.create_policy(details, opc_retry_token=token)
    assert e.value.status == 409
    identity.delete_policy(first.id)


def test_iam_writes_outside_home_region_are_refused(config, creds, sim_url, vip):
    other = [r for r in ("us-phoenix-1",) if r != creds["home_region"]][0]
    remote = oci.identity.IdentityClient(config, service_endpoint=f"{sim_url}/region/{other}")
    # reads work in any subscribed region
    assert remote.get_tenancy(creds["tenancy_id"]).data.id == creds["tenancy_id"]
    details = oci.identity.models.CreatePolicyDetails(
        compartment_id=creds["tenancy_id"], name=uniq("pol"), description="d",
        statements=["Allow dynamic-group %s to read private-ips in tenancy" % vip],
    )
    with pytest.raises(ServiceError) as e:
        remote.create_policy(details)
    assert (e.value.status, e.value.code) == (403, "NotAllowed")
