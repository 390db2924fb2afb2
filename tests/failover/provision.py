"""Creates, against the OCI simulator, what `vipsetup apply` creates for one VIP pair: two
instances with fixed private IPs and their rendered user data, the dynamic group naming them,
the policy, and the VIP's secondary private IP on node 1's primary VNIC.

Uses Oracle's Python SDK as the seeded user (API key), with every service pointed at the
simulator. One Python process for the whole set-up keeps the harness fast.

stdin: JSON spec (see failover/cloud.rs); stdout: JSON {instances, vnics, privateIpId}.
"""
import json
import sys
import time

import oci


def main():
    spec = json.load(sys.stdin)
    config = oci.config.from_file(spec["configFile"], "DEFAULT")
    endpoint = spec["endpoint"]
    compute = oci.core.ComputeClient(config, service_endpoint=endpoint)
    network = oci.core.VirtualNetworkClient(config, service_endpoint=endpoint)
    identity = oci.identity.IdentityClient(config, service_endpoint=endpoint)

    instance_ids = []
    for node in spec["nodes"]:
        details = oci.core.models.LaunchInstanceDetails(
            availability_domain=spec["availabilityDomain"],
            compartment_id=spec["compartmentId"],
            display_name=node["name"],
            shape=spec["shape"],
            shape_config=oci.core.models.LaunchInstanceShapeConfigDetails(
                ocpus=1.0, memory_in_gbs=8.0
            )
            if spec["shape"].endswith(".Flex")
            else None,
            source_details=oci.core.models.InstanceSourceViaImageDetails(
                image_id=spec["imageId"]
            ),
            create_vnic_details=oci.core.models.CreateVnicDetails(
                subnet_id=spec["subnetId"],
                private_ip=node["ip"],
                assign_public_ip=False,
                hostname_label=node["name"],
            ),
            metadata={"user_data": node["userData"]},
            freeform_tags=spec["tags"],
        )
        instance_ids.append(compute.launch_instance(details).data.id)

    vnics = []
    for iid in instance_ids:
        deadline = time.time() + 60
        while True:
            inst = compute.get_instance(iid).data
            attachments = compute.list_vnic_attachments(
                compartment_id=spec["compartmentId"], instance_id=iid
            ).data
            attached = [a for a in attachments if a.lifecycle_state == "ATTACHED"]
            if inst.lifecycle_state == "RUNNING" and attached:
                vnics.append(attached[0].vnic_id)
                break
            if time.time() > deadline:
                raise SystemExit(f"instance {iid} not RUNNING with a VNIC after 60 s")
            time.sleep(0.2)

    rule = spec["matchingRule"]
    statements = spec["statements"]
    for i, iid in enumerate(instance_ids):
        rule = rule.replace(f"@INSTANCE{i + 1}@", iid)
    identity.create_dynamic_group(
        oci.identity.models.CreateDynamicGroupDetails(
            compartment_id=spec["tenancyId"],
            name=spec["dynamicGroup"],
            description="vipsetup pair " + spec["pair"],
            matching_rule=rule,
            freeform_tags=spec["tags"],
        )
    )
    identity.create_policy(
        oci.identity.models.CreatePolicyDetails(
            compartment_id=spec["policyCompartmentId"],
            name=spec["policy"],
            description="vipsetup pair " + spec["pair"],
            statements=statements,
            freeform_tags=spec["tags"],
        )
    )
    pip = network.create_private_ip(
        oci.core.models.CreatePrivateIpDetails(
            vnic_id=vnics[0],
            ip_address=spec["vip"],
            display_name=spec["pair"] + "-vip",
            freeform_tags=spec["tags"],
        )
    ).data
    json.dump({"instances": instance_ids, "vnics": vnics, "privateIpId": pip.id}, sys.stdout)


if __name__ == "__main__":
    main()
