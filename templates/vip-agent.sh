#!/bin/bash
# vipsetup failover agent: keepalived's notify_fifo_script.
#
# keepalived starts this once and writes ordered state lines to the FIFO given as $1, e.g.
#   INSTANCE "VI_1" MASTER 150
# On MASTER a claim loop (a child process in its own process group) moves the VIP's private IP
# object to this node's VNIC through the OCI API and keeps checking it; on BACKUP, FAULT, STOP
# or DELETED that loop is killed and waited for, so a node that lost the election never makes
# another call. keepalived itself adds and removes the address on the interface.
#
# It talks to OCI itself (oci-sign.sh: bash, curl and openssl; no OCI CLI, no Python): the VNIC
# and the VIP's private IP OCID are looked up once, so a takeover is one UpdatePrivateIp whose
# answer confirms the new owner (and records it in the VIP's freeform tags), and a recheck is
# one GET. The instance-principal session token is kept for its lifetime.
#
# After `systemctl reload keepalived` the new agent gets no state line (keepalived writes none
# on reload before 2.2.8, and only when asked): if none comes within STATE_WAIT seconds and the
# VIP is on this node's interface (keepalived adds it only as MASTER), the agent claims.
#
# Everything site-specific comes from the settings file (default /etc/vipsetup/agent.env,
# override with VIPSETUP_AGENT_ENV), so the agent runs the same against OCI and against a local
# simulator. An API or auth error only ever means "unknown, try again": it never counts as the
# peer being down, and the loop never gives up while the node is MASTER.
#
# Usage: vip-agent FIFO            (as keepalived's notify_fifo_script)
#        vip-agent --claim-loop    (internal: the claim loop)
#        vip-agent --claim-once    (one claim attempt, for tests and debugging; exit 0 = VIP here)
#        vip-agent --check-once    (one recheck: exit 0 = the API shows the VIP here)
set -u

SETTINGS=${VIPSETUP_AGENT_ENV:-/etc/vipsetup/agent.env}

# Defaults; the settings file overrides them. Empty means "not set".
VIP=''
NODE_IP=''
SUBNET_ID=''
REGION=''
NODE_NAME=$(hostname 2>/dev/null || echo node)
OCI_ENDPOINT=''
OCI_FEDERATION_ENDPOINT=''
OCI_METADATA_BASE_URL=''
OCI_REALM_DOMAIN='oraclecloud.com'
RECHECK_INTERVAL='5'
BACKOFF_INITIAL='1'
BACKOFF_MAX='8'
CONNECT_TIMEOUT='5'
CALL_DEADLINE='15'
STATE_WAIT='3'
STATE_DIR='/var/lib/vipsetup'
RUNTIME_DIR='/run/vipsetup'

log() {
    logger -t vipsetup-agent -- "$*" 2>/dev/null || printf 'vipsetup-agent: %s\n' "$*" >&2
}

if [ -r "$SETTINGS" ]; then
    # shellcheck source=/dev/null
    . "$SETTINGS"
else
    log "cannot read settings file $SETTINGS; using defaults (the VIP cannot be claimed without it)"
fi
export LC_ALL=C

# The signing library lives next to this script.
LIB=${VIPSETUP_AGENT_LIB:-${BASH_SOURCE[0]%/*}/oci-sign.sh}
# shellcheck source=/dev/null
if ! . "$LIB"; then
    log "cannot read the signing library $LIB; reinstall the agent"
    exit 1
fi
# The library's settings (read there, hence SC2034).
# shellcheck disable=SC2034
OCI_WORK_DIR=$RUNTIME_DIR
# shellcheck disable=SC2034
OCI_CONNECT_TIMEOUT=$CONNECT_TIMEOUT
# shellcheck disable=SC2034
OCI_MAX_TIME=$CALL_DEADLINE
OCI_METADATA_BASE=${OCI_METADATA_BASE_URL:-http://169.254.169.254/opc/v2}
OCI_METADATA_BASE=${OCI_METADATA_BASE%/}
OCI_FEDERATION_URL=${OCI_FEDERATION_ENDPOINT:-https://auth.${REGION}.${OCI_REALM_DOMAIN}}
OCI_FEDERATION_URL=${OCI_FEDERATION_URL%/}
case "$OCI_FEDERATION_URL" in
    */v1/x509) ;;
    *) OCI_FEDERATION_URL+=/v1/x509 ;;
esac
CORE_BASE=${OCI_ENDPOINT:-https://iaas.${REGION}.${OCI_REALM_DOMAIN}}
CORE_BASE=${CORE_BASE%/}/20160918

mkdir -p "$STATE_DIR" 2>/dev/null
VNIC_FILE="$STATE_DIR/vnic-id"
PRIVATE_IP_FILE="$STATE_DIR/vip-private-ip-id"
# The pair's own freeform tags on the VIP, which every takeover must send back unchanged.
TAGS_FILE="$STATE_DIR/vip-tags"
# Freeform tags the agent writes on the VIP's private IP at each takeover. `vipsetup plan`
# ignores them (src/engine); `vipsetup status` shows them.
TAG_OWNER='vipsetup-owner'
TAG_TAKEOVER='vipsetup-takeover-at'

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
        log "cannot read this node's VNIC from the instance metadata service at $OCI_METADATA_BASE/vnics/ ($flat); will retry"
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

# Sets TAGS (the private IP's freeform tags as JSON members, without the agent's own; kept in
# TAGS_FILE) and OWNER (its vnicId) from a private IP document.
TAGS=''
OWNER=''
read_doc() {
    local doc=$1 object pair tags='' re_obj='"freeformTags"[[:space:]]*:[[:space:]]*\{([^}]*)\}'
    local re_pair='^[[:space:],]*"([^"]*)"[[:space:]]*:[[:space:]]*"([^"]*)"(.*)$'
    OWNER=''
    oci_json_get "$doc" vnicId && OWNER=$OCI_JSON
    if [[ $doc =~ $re_obj ]]; then
        object=${BASH_REMATCH[1]}
        while [[ $object =~ $re_pair ]]; do
            object=${BASH_REMATCH[3]}
            case "${BASH_REMATCH[1]}" in
                "$TAG_OWNER" | "$TAG_TAKEOVER") continue ;;
            esac
            pair="\"${BASH_REMATCH[1]}\": \"${BASH_REMATCH[2]}\""
            tags+="${tags:+, }$pair"
        done
    fi
    if [ "$tags" != "$TAGS" ] || [ ! -e "$TAGS_FILE" ]; then
        TAGS=$tags
        printf '%s\n' "$TAGS" >"$TAGS_FILE"
    fi
}

# Sets PIP_ID, the VIP's private IP OCID: cached; else looked up by address in the subnet;
# else created on this VNIC (then CREATED=1: it is already here, no move needed).
PIP_ID=''
CREATED=0
find_private_ip() {
    CREATED=0
    if [ -n "$PIP_ID" ]; then
        return 0
    fi
    # Cached with the pair's tags, or looked up again (a takeover must send the tags back).
    if [ -s "$PRIVATE_IP_FILE" ] && [ -e "$TAGS_FILE" ]; then
        read -r PIP_ID <"$PRIVATE_IP_FILE"
        IFS= read -r TAGS <"$TAGS_FILE"
        return 0
    fi
    if ! oci_call GET "$CORE_BASE/privateIps?ipAddress=$VIP&subnetId=$SUBNET_ID"; then
        log "listing private IP $VIP in the subnet failed (API state unknown; will retry): $OCI_ERROR"
        return 1
    fi
    if oci_json_get "$OCI_BODY" id; then
        PIP_ID=$OCI_JSON
        read_doc "$OCI_BODY"
    elif [ "${LOOKUP_ONLY:-0}" = 1 ]; then
        return 1
    else
        log "no private IP object exists for $VIP; creating it on this node's VNIC $VNIC"
        if ! oci_call POST "$CORE_BASE/privateIps" "$(takeover_body)"; then
            log "creating private IP $VIP failed (will retry): $OCI_ERROR"
            return 1
        fi
        oci_json_get "$OCI_BODY" id || return 1
        PIP_ID=$OCI_JSON
        read_doc "$OCI_BODY"
        CREATED=1
    fi
    printf '%s\n' "$PIP_ID" >"$PRIVATE_IP_FILE"
}

forget_private_ip() {
    log "private IP $PIP_ID no longer exists; forgetting it"
    rm -f "$PRIVATE_IP_FILE" "$TAGS_FILE"
    PIP_ID=''
}

# The body of the takeover: this VNIC, and the pair's tags plus who took over and when.
takeover_body() {
    local now ip_field=''
    printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    if [ -z "$PIP_ID" ]; then
        ip_field="\"ipAddress\": \"$VIP\", \"displayName\": \"vipsetup-vip\", "
    fi
    printf '{%s"vnicId": "%s", "freeformTags": {%s"%s": "%s", "%s": "%s"}}' "$ip_field" "$VNIC" \
        "${TAGS:+$TAGS, }" "$TAG_OWNER" "$NODE_NAME" "$TAG_TAKEOVER" "$now"
}

# A failed call on the private IP: forget it on 404, else log (the state stays unknown).
call_failed() {
    if [ "$OCI_STATUS" = 404 ]; then
        forget_private_ip
    else
        log "$1 failed (API state unknown; will retry): $OCI_ERROR"
    fi
}

# The takeover: one UpdatePrivateIp; its answer says which VNIC holds the VIP now.
move_vip() {
    if ! oci_call PUT "$CORE_BASE/privateIps/$PIP_ID" "$(takeover_body)"; then
        call_failed "moving VIP $VIP to this node"
        return 1
    fi
    read_doc "$OCI_BODY"
    log "moved VIP $VIP to this node's VNIC $VNIC (UpdatePrivateIp answered vnicId ${OWNER:-none})"
}

# A recheck: one GetPrivateIp. Sets OWNER.
read_owner() {
    if ! oci_call GET "$CORE_BASE/privateIps/$PIP_ID"; then
        call_failed "reading private IP $PIP_ID"
        return 1
    fi
    read_doc "$OCI_BODY"
}

# Returns 0 when the API confirms the VIP on this VNIC. While NEED_MOVE=1 it moves first (the
# takeover: one request); otherwise it reads (the recheck: one request), and moves at once if
# the API shows another owner.
NEED_MOVE=1
claim_once() {
    find_vnic || return 1
    find_private_ip || return 1
    if [ "$CREATED" = 1 ]; then
        NEED_MOVE=0
        return 0
    fi
    if [ "$NEED_MOVE" = 0 ]; then
        read_owner || return 1
        if [ "$OWNER" = "$VNIC" ]; then
            return 0
        fi
        log "the API shows VIP $VIP on VNIC ${OWNER:-none}, not on this node ($VNIC); claiming it"
        NEED_MOVE=1
    fi
    move_vip || return 1
    if [ "$OWNER" = "$VNIC" ]; then
        NEED_MOVE=0
        return 0
    fi
    return 1
}

# Sleep that a TERM interrupts at once (bash defers traps while a foreground child runs).
nap() {
    sleep "$1" &
    wait $! 2>/dev/null
}

# now_ms: sets NOW_MS (milliseconds, from bash 5's EPOCHREALTIME; whole seconds on bash 4).
NOW_MS=0
now_ms() {
    local t=${EPOCHREALTIME:-}
    if [ -n "$t" ]; then
        t=${t/[.,]/}
        NOW_MS=$((10#$t / 1000))
    else
        printf -v t '%(%s)T' -1
        NOW_MS=$((t * 1000))
    fi
}

claim_loop() {
    local delay=$BACKOFF_INITIAL confirmed=0 started jitter t0 rest
    trap 'exit 0' TERM INT
    printf -v started '%(%s)T' -1
    if [ "${VIPSETUP_CHECK_FIRST:-0}" = 1 ]; then
        NEED_MOVE=0
    fi
    log "MASTER: claiming VIP $VIP for $NODE_NAME"
    while true; do
        # Never outlive the agent: an orphaned loop could keep claiming on a node that lost.
        if [ -n "${VIPSETUP_AGENT_PID:-}" ] && ! kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; then
            log "agent process $VIPSETUP_AGENT_PID is gone; stopping the claim loop"
            exit 0
        fi
        now_ms
        t0=$NOW_MS
        if claim_once; then
            # Renew the token now if it would need renewing before the next recheck, so the
            # federation runs in this pause and not in front of the next GET.
            OCI_TOKEN_MARGIN=$((60 + RECHECK_INTERVAL + 1)) oci_token || true
            if [ "$confirmed" = 0 ]; then
                local now
                printf -v now '%(%s)T' -1
                log "VIP $VIP confirmed on this node by the API after $((now - started)) s"
                confirmed=1
            fi
            delay=$BACKOFF_INITIAL
            # Rechecks keep their cadence: the time this one took comes off the pause.
            now_ms
            rest=$((RECHECK_INTERVAL * 1000 - (NOW_MS - t0)))
            if [ "$rest" -lt 0 ]; then
                rest=0
            fi
            printf -v rest '%d.%03d' $((rest / 1000)) $((rest % 1000))
            nap "$rest"
        else
            if [ "$confirmed" = 1 ]; then
                printf -v started '%(%s)T' -1
            fi
            confirmed=0
            # Capped exponential back-off with up to 50% jitter, in milliseconds.
            jitter=$((RANDOM % (delay * 500 + 1)))
            nap "$((delay + jitter / 1000)).$(printf '%03d' $((jitter % 1000)))"
            delay=$((delay * 2))
            if [ "$delay" -gt "$BACKOFF_MAX" ]; then
                delay=$BACKOFF_MAX
            fi
        fi
    done
}

CLAIM_PID=''
# start_claim [check]: starts the claim loop unless it runs; "check" = recheck before moving.
start_claim() {
    if [ -n "$CLAIM_PID" ] && kill -0 "$CLAIM_PID" 2>/dev/null; then
        return 0
    fi
    # setsid: the loop leads its own process group, so stopping it also stops a call in
    # flight (a loser must not finish a move after it lost).
    VIPSETUP_CHECK_FIRST=$([ "${1:-}" = check ] && echo 1 || echo 0) VIPSETUP_AGENT_PID=$$ \
        setsid "$BASH" "$0" --claim-loop </dev/null &
    CLAIM_PID=$!
}

stop_claim() {
    if [ -n "$CLAIM_PID" ]; then
        kill -TERM -- "-$CLAIM_PID" 2>/dev/null || kill -TERM "$CLAIM_PID" 2>/dev/null
        wait "$CLAIM_PID" 2>/dev/null
        log "stopped claiming VIP $VIP ($1)"
        CLAIM_PID=''
    fi
}

# Whether keepalived has put the VIP on one of this node's interfaces (it does only as MASTER).
vip_on_interface() {
    local out
    out=$(ip -o -4 addr show 2>/dev/null)
    [[ $out == *"inet $VIP/"* ]]
}

case "${1:-}" in
    --claim-loop)
        claim_loop
        exit 0
        ;;
    --claim-once)
        NEED_MOVE=1
        claim_once
        exit $?
        ;;
    --check-once)
        NEED_MOVE=0
        claim_once
        exit $?
        ;;
    '' | -h | --help)
        echo "usage: $0 FIFO   (keepalived notify_fifo_script)" >&2
        exit 1
        ;;
esac

FIFO=$1
trap 'stop_claim "agent stopping"; exit 0' TERM INT
# One session key pair per agent process (its claim loops share it and the token).
if ! oci_new_session_key; then
    log "cannot make a session key in $OCI_WORK_DIR; claims will fail until it can"
fi
log "started for $NODE_NAME (VIP $VIP, region $REGION), reading $FIFO"
# The look-ups and the session token now, not at the first MASTER, so that a takeover is one
# request. Read-only: it never creates the private IP (only a MASTER may).
(
    LOOKUP_ONLY=1
    find_vnic && find_private_ip
    oci_token
) >/dev/null 2>&1 </dev/null &
seen_state=0
while true; do
    # keepalived keeps the FIFO open; if it ever closes, open it again.
    if ! exec 3<"$FIFO"; then
        nap 1
        continue
    fi
    while true; do
        if [ "$seen_state" = 0 ]; then
            read -r -t "$STATE_WAIT" kind name state _priority <&3
        else
            read -r kind name state _priority <&3
        fi
        rc=$?
        if [ "$rc" -gt 128 ]; then
            # No state line since this agent started: a reload, or a start still settling.
            seen_state=1
            if vip_on_interface; then
                log "no state line from keepalived within $STATE_WAIT s and VIP $VIP is on this node: MASTER (after a reload)"
                start_claim check
            fi
            continue
        fi
        [ "$rc" -eq 0 ] || break
        [ "$kind" = INSTANCE ] || continue
        seen_state=1
        case "$state" in
            MASTER)
                log "instance $name is MASTER"
                start_claim
                ;;
            BACKUP | FAULT | STOP | DELETED)
                log "instance $name is $state"
                stop_claim "$state"
                ;;
        esac
    done
    exec 3<&-
    nap 1
done
