# vip-agent, part 2: the VIP objects: this node's VNIC, each VIP's OCID, its document, the calls.

# obj_url K: the API URL of VIP K's object ('' until it is known).
OBJ_URL=''
obj_url() {
    if [ "${KIND[$1]}" = 6 ]; then
        OBJ_URL=$CORE_BASE/ipv6/${ID[$1]}
    else
        OBJ_URL=$CORE_BASE/privateIps/${ID[$1]}
    fi
}

# Sets VNIC: this node's VNIC holding NODE_IP (else the first, the primary), from the instance
# metadata service, cached on disk (a primary VNIC never changes).
VNIC=''
find_vnic() {
    local flat seg first='' re='\{([^{}]*)\}(.*)'
    if [ -n "$VNIC" ]; then
        return 0
    fi
    if [ -s "$VNIC_FILE" ]; then
        read -r VNIC <"$VNIC_FILE"
        return 0
    fi
    if ! flat=$(curl -sSf --connect-timeout "$CONNECT_TIMEOUT" --max-time "$CALL_DEADLINE" -H 'Authorization: Bearer Oracle' \
        -- "$OCI_METADATA_BASE/vnics/" 2>&1); then
        log "cannot read $OCI_METADATA_BASE/vnics/ ($flat); will retry"
        return 1
    fi
    flat=${flat//$'\n'/ }
    while [[ $flat =~ $re ]]; do
        seg=${BASH_REMATCH[1]}
        flat=${BASH_REMATCH[2]}
        oci_json_get "$seg" vnicId || continue
        first=${first:-$OCI_JSON}
        local id=$OCI_JSON
        if [ -n "$NODE_IP" ] && oci_json_get "$seg" privateIp && [ "$OCI_JSON" = "$NODE_IP" ]; then
            VNIC=$id
            break
        fi
    done
    VNIC=${VNIC:-$first}
    if [ -z "$VNIC" ]; then
        log "the instance metadata service listed no VNIC; will retry"
        return 1
    fi
    printf '%s\n' "$VNIC" >"$VNIC_FILE"
}

# What a recheck reads (recheck_units), unit J: UNIT_URL[J] and its VIPs UNIT_VIPS[J] ("K K ...").
# Each kind (IPv4, IPv6) with two VIPs or more is one list of this node's VNIC's objects of that
# kind, one request however many VIPs: ListPrivateIps with vnicId (GET /20160918/privateIps?vnicId=,
# "Lists the PrivateIp objects based on one of these filters: ... VNIC OCID", oci-python-sdk
# VirtualNetworkClient.list_private_ips, query parameter vnicId) and ListIpv6s with vnicId (GET
# /20160918/ipv6?vnicId=, list_ipv6s). A VIP alone of its kind is read as its object (UNIT_URL '':
# GetPrivateIp / GetIpv6, a shorter answer than a list, which holds the primary IP too). NO_LIST
# names the kinds whose list is not used again: it lacked a VIP the API then showed here (more IPs
# than a page: the list is paginated).
UNIT_URL=()
UNIT_VIPS=()
UNIT_DOC=()
UNITS_FOR=''
NO_LIST=''
recheck_units() {
    local k kind url vips
    [ "$UNITS_FOR" != "$VNIC $NO_LIST" ] || return 0
    UNITS_FOR="$VNIC $NO_LIST"
    UNIT_URL=()
    UNIT_VIPS=()
    UNIT_DOC=()
    for kind in 4 6; do
        vips=''
        for ((k = 0; k < NVIPS; k++)); do
            [ "${KIND[k]}" != "$kind" ] || vips+="${vips:+ }$k"
        done
        if [[ $vips == *' '* && $NO_LIST != *$kind* ]]; then
            url=$CORE_BASE/privateIps
            [ "$kind" = 4 ] || url=$CORE_BASE/ipv6
            UNIT_URL+=("$url?vnicId=$VNIC")
            UNIT_VIPS+=("$vips")
            UNIT_DOC+=('')
            continue
        fi
        for k in $vips; do
            UNIT_URL+=('')
            UNIT_VIPS+=("$k")
            UNIT_DOC+=('')
        done
    done
}

# recheck_fast: every VIP read again, one request per unit (recheck_units); returns 1 when one
# cannot be read (an error, logged, or an object gone: forgotten). A list as it was when its VIPs
# were last confirmed here (UNIT_DOC[J]) shows each of them still on this VNIC, unchanged. A list
# that differs (a VIP moved away or deleted is absent from it), or cannot be read, has its VIPs read
# one by one (their owner, their tags, a 404 for one deleted); it is kept as confirmed when each
# of them is here and in it. A VIP's document unchanged since its last one (LAST_DOC[K]) has
# nothing new to parse.
LAST_DOC=()
recheck_fast() {
    local j k url bodies=() again=()
    recheck_units
    for j in "${!UNIT_URL[@]}"; do
        url=${UNIT_URL[j]}
        if [ -z "$url" ]; then
            k=${UNIT_VIPS[j]}
            obj_url "$k"
            if ! oci_get_fast "$OBJ_URL"; then
                again+=("$k")
            elif [ "$OCI_BODY" != "${LAST_DOC[k]:-}" ]; then
                read_doc "$k" "$OCI_BODY"
            fi
            continue
        fi
        bodies[j]=''
        if oci_get_fast "$url" || oci_call GET "$url"; then
            [ "$OCI_BODY" != "${UNIT_DOC[j]}" ] || continue
            bodies[j]=$OCI_BODY
        fi
        UNIT_DOC[j]=''
        # shellcheck disable=SC2206
        again+=(${UNIT_VIPS[j]})
    done
    [ "${#again[@]}" -gt 0 ] || return 0
    calls_for GET "${again[@]}"
    run_calls "reading" || return 1
    for j in "${!bodies[@]}"; do
        [ -n "${bodies[j]}" ] || continue
        for k in ${UNIT_VIPS[j]}; do
            [ "${OWNER[k]:-}" = "$VNIC" ] || continue 2
            if [[ ${bodies[j]} != *"\"${ID[k]:-}\""* ]]; then
                log "the list of this VNIC's IPv${KIND[k]} objects lacks VIP ${ADDR[k]}, on this VNIC: rechecks read each of them"
                NO_LIST+=${KIND[k]}
                continue 2
            fi
        done
        UNIT_DOC[j]=${bodies[j]}
    done
}

# read_doc K DOC: OWNER[K] (vnicId), TAGS[K] (the pair's tags, kept on disk with the OCID) and
# PREV[K] (the node its tags name as the last taker) from VIP K's object.
read_doc() {
    local k=$1 doc=$2 object pair tags='' re_obj='"freeformTags"[[:space:]]*:[[:space:]]*\{([^}]*)\}'
    local re_pair='^[[:space:],]*"([^"]*)"[[:space:]]*:[[:space:]]*"([^"]*)"(.*)$'
    OWNER[k]=''
    LAST_DOC[k]=$doc
    oci_json_get "$doc" vnicId && OWNER[k]=$OCI_JSON
    if [[ $doc =~ $re_obj ]]; then
        object=${BASH_REMATCH[1]}
        while [[ $object =~ $re_pair ]]; do
            object=${BASH_REMATCH[3]}
            case "${BASH_REMATCH[1]}" in
                "$TAG_OWNER")
                    PREV[k]=${BASH_REMATCH[2]}
                    continue
                    ;;
                "$TAG_TAKEOVER") continue ;;
            esac
            pair="\"${BASH_REMATCH[1]}\": \"${BASH_REMATCH[2]}\""
            tags+="${tags:+, }$pair"
        done
    fi
    if [ "$tags" != "${TAGS[k]:-}" ] || [ ! -e "$STATE_DIR/vip.${ADDR[k]}" ]; then
        TAGS[k]=$tags
        printf '%s\n%s\n' "${ID[k]}" "$tags" >"$STATE_DIR/vip.${ADDR[k]}"
    fi
}

# find_vips: every VIP's OCID: cached; else looked up by address in the subnet; else (only a MASTER:
# LOOKUP_ONLY=0) created on this VNIC, and then already here (CREATED[K]=1).
CREATED=()
# With LOOKUP_ONLY=1 a VIP with no object yet is passed over and the others still looked up;
# returns 2 then (1 on an error).
find_vips() {
    local k rc all=0
    for ((k = 0; k < NVIPS; k++)); do
        find_vip "$k"
        rc=$?
        if [ "$rc" = 2 ]; then
            all=2
            continue
        fi
        [ "$rc" = 0 ] || return 1
    done
    return "$all"
}

find_vip() {
    local k=$1 a=${ADDR[$1]} what=private url
    CREATED[k]=0
    [ -z "${ID[k]:-}" ] || return 0
    # Cached with the pair's tags, or looked up again (a takeover must send the tags back).
    if [ -s "$STATE_DIR/vip.$a" ]; then
        {
            read -r 'ID[k]'
            IFS= read -r 'TAGS[k]'
        } <"$STATE_DIR/vip.$a"
        [ -z "${ID[k]:-}" ] || return 0
    fi
    url="$CORE_BASE/privateIps"
    if [ "${KIND[k]}" = 6 ]; then
        what=IPv6
        url="$CORE_BASE/ipv6"
    fi
    if ! oci_call GET "$url?ipAddress=$a&subnetId=$SUBNET_ID"; then
        log "listing $what IP $a in the subnet failed (API state unknown; will retry): $OCI_ERROR"
        return 1
    fi
    if oci_json_get "$OCI_BODY" id; then
        ID[k]=$OCI_JSON
        read_doc "$k" "$OCI_BODY"
        return 0
    fi
    [ "${LOOKUP_ONLY:-0}" = 0 ] || return 2
    log "no $what IP object exists for $a; creating it on this node's VNIC $VNIC"
    takeover_body "$k"
    if ! oci_call POST "$url" "$BODY"; then
        log "creating $what IP $a failed (will retry): $OCI_ERROR"
        return 1
    fi
    oci_json_get "$OCI_BODY" id || return 1
    ID[k]=$OCI_JSON
    read_doc "$k" "$OCI_BODY"
    CREATED[k]=1
}

forget_vip() {
    log "the object of VIP ${ADDR[$1]} (${ID[$1]}) no longer exists; forgetting it"
    rm -f "$STATE_DIR/vip.${ADDR[$1]}"
    LAST_DOC[$1]=''
    ID[$1]=''
}

# takeover_body K: sets BODY to VIP K's takeover: this VNIC, and the pair's tags plus who took over
# and when (with the address and a name when it is created).
BODY=''
takeover_body() {
    local k=$1 now ip_field=''
    TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    if [ -z "${ID[k]:-}" ]; then
        ip_field="\"ipAddress\": \"${ADDR[k]}\", \"displayName\": \"vipsetup-vip\", "
    fi
    printf -v BODY '{%s"vnicId": "%s", "freeformTags": {%s"%s": "%s", "%s": "%s"}}' "$ip_field" "$VNIC" \
        "${TAGS[k]:+${TAGS[k]}, }" "$TAG_OWNER" "$NODE_NAME" "$TAG_TAKEOVER" "$now"
}

# calls_for VERB K...: queues one call per VIP K for oci_call_all: GET (a recheck) or PUT (the
# takeover: UpdatePrivateIp / UpdateIpv6 with the takeover body).
CALL_VIP=()
# Which transport served each VIP's last call (oci_call_all's OCI_CALL_VIA), for the log.
VIA=()
calls_for() {
    local verb=$1 k
    shift
    OCI_CALL_METHOD=()
    OCI_CALL_URL=()
    OCI_CALL_BODY=()
    CALL_VIP=()
    for k in "$@"; do
        obj_url "$k"
        BODY=''
        [ "$verb" = GET ] || takeover_body "$k"
        CALL_VIP+=("$k")
        OCI_CALL_METHOD+=("$verb")
        OCI_CALL_URL+=("$OBJ_URL")
        OCI_CALL_BODY+=("$BODY")
    done
}

# run_calls WHAT: sends the queued calls at once; reads each answer into its VIP's OWNER.
run_calls() {
    local what=$1 i k rc=0
    oci_call_all
    for i in "${!CALL_VIP[@]}"; do
        k=${CALL_VIP[i]}
        VIA[k]=${OCI_CALL_VIA[i]:-kept-alive}
        case "${OCI_CALL_STATUS[i]}" in
            2[0-9][0-9]) read_doc "$k" "${OCI_CALL_RESULT[i]}" ;;
            404)
                forget_vip "$k"
                rc=1
                ;;
            *)
                OCI_ERROR=${OCI_CALL_ERROR[i]}
                log "$what VIP ${ADDR[k]} failed (API state unknown; will retry): $OCI_ERROR"
                rc=1
                ;;
        esac
    done
    return "$rc"
}
