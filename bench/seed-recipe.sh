#!/usr/bin/env bash
# The seed recipe as an OCI engineer runs it by hand: one OCI CLI command after another, each
# waiting for its resource (the way the recipe is written), then the same in reverse.
# Used by the benchmark (bench/apply.rs) to time the manual way beside `vipsetup apply`.
#
# Environment (all required): OCI (path to the `oci` CLI), OCI_CONFIG (config file with the
# user's API key), ENDPOINT (base URL every call goes to), COMP (compartment OCID), VCN, SUBNET,
# AD, IMAGE, PAIR (name prefix), NODE1_IP, NODE2_IP, VIP, POLL (seconds between state polls),
# PHASE (apply | destroy), IDS (file the apply phase writes OCIDs to, destroy reads them from).
set -euo pipefail

oci_() {
    "$OCI" --config-file "$OCI_CONFIG" --endpoint "$ENDPOINT" "$@"
}

if [ "$PHASE" = apply ]; then
    : >"$IDS"
    nsg=$(oci_ network nsg create -c "$COMP" --vcn-id "$VCN" --display-name "$PAIR-vrrp" \
        --wait-for-state AVAILABLE --wait-interval-seconds "$POLL" --query data.id --raw-output)
    echo "nsg=$nsg" >>"$IDS"
    oci_ network nsg rules add --nsg-id "$nsg" --security-rules "[
        {\"direction\":\"INGRESS\",\"protocol\":\"112\",\"source\":\"$nsg\",\"sourceType\":\"NETWORK_SECURITY_GROUP\",\"isStateless\":false},
        {\"direction\":\"EGRESS\",\"protocol\":\"112\",\"destination\":\"$nsg\",\"destinationType\":\"NETWORK_SECURITY_GROUP\",\"isStateless\":false}]" >/dev/null
    ids=()
    for n in 1 2; do
        ip_var="NODE${n}_IP"
        id=$(oci_ compute instance launch -c "$COMP" --availability-domain "$AD" \
            --shape VM.Standard.E4.Flex --shape-config '{"ocpus":1,"memoryInGBs":8}' \
            --image-id "$IMAGE" --subnet-id "$SUBNET" --private-ip "${!ip_var}" \
            --nsg-ids "[\"$nsg\"]" --display-name "instance$n" --fault-domain "FAULT-DOMAIN-$n" \
            --assign-public-ip false --metadata '{"user_data":"I2Nsb3VkLWNvbmZpZwo="}' \
            --wait-for-state RUNNING --wait-interval-seconds "$POLL" --query data.id --raw-output)
        echo "node$n=$id" >>"$IDS"
        ids+=("$id")
    done
    dg=$(oci_ iam dynamic-group create --name "$PAIR-dg" --description "$PAIR nodes" \
        --matching-rule "ANY {instance.id = '${ids[0]}', instance.id = '${ids[1]}'}" \
        --wait-for-state ACTIVE --wait-interval-seconds "$POLL" --query data.id --raw-output)
    echo "dg=$dg" >>"$IDS"
    pol=$(oci_ iam policy create -c "$COMP" --name "$PAIR-policy" --description "$PAIR VIP mover" \
        --statements "[\"Allow dynamic-group $PAIR-dg to use private-ips in compartment id $COMP\",
                       \"Allow dynamic-group $PAIR-dg to use vnics in compartment id $COMP\",
                       \"Allow dynamic-group $PAIR-dg to use subnets in compartment id $COMP\"]" \
        --wait-for-state ACTIVE --wait-interval-seconds "$POLL" --query data.id --raw-output)
    echo "policy=$pol" >>"$IDS"
    vnic=$(oci_ compute instance list-vnics --instance-id "${ids[0]}" --query 'data[0].id' --raw-output)
    vip=$(oci_ network vnic assign-private-ip --vnic-id "$vnic" --ip-address "$VIP" \
        --unassign-if-already-assigned --query data.id --raw-output)
    echo "vip=$vip" >>"$IDS"
else
    # shellcheck disable=SC1090
    . "$IDS"
    : "${nsg:?}" "${node1:?}" "${node2:?}" "${dg:?}" "${policy:?}" "${vip:?}"
    oci_ network private-ip delete --private-ip-id "$vip" --force
    for id in "$node1" "$node2"; do
        oci_ compute instance terminate --instance-id "$id" --preserve-boot-volume false --force
        # terminate has no lifecycle waiter in the CLI: poll as the recipe's author would.
        until [ "$(oci_ compute instance get --instance-id "$id" \
            --query 'data."lifecycle-state"' --raw-output)" = TERMINATED ]; do
            sleep "$POLL"
        done
    done
    oci_ iam policy delete --policy-id "$policy" --force
    oci_ iam dynamic-group delete --dynamic-group-id "$dg" --force
    oci_ network nsg delete --nsg-id "$nsg" --force
fi
