#!/bin/bash
# vipsetup failover agent: keepalived's notify_fifo_script (ordered state lines on the FIFO $1).
# A claim loop (own process group) waits, warmed up, from the start; on MASTER it moves every VIP
# object (private IPs, Ipv6s) to this node's VNIC, one request each, all at once, then rechecks;
# on BACKUP/FAULT/STOP it is killed with any call in flight, so a loser never moves anything.
# keepalived adds and removes the addresses. API or auth errors mean "unknown, try again", never
# "peer down". After `systemctl reload keepalived` no state line comes: if none comes within
# STATE_WAIT s and the VIP is on an interface (only a MASTER has it), the agent claims.
# Settings: /etc/vipsetup/agent.env (VIPSETUP_AGENT_ENV), so it runs alike against a simulator.
# Usage: vip-agent FIFO | --standby (internal) | --claim-once | --check-once (exit 0 = VIPs here)
set -u

SETTINGS=${VIPSETUP_AGENT_ENV:-/etc/vipsetup/agent.env}

# Defaults; the settings file overrides them.
VIP=''
VIPS=''
VIPS6=''
NOTIFY_TOPIC=''
NOTIFY_ENDPOINT=''
PAIR_NAME=''
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
WATCH_INTERVAL='15'
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
# Freeform tags the agent writes on each VIP object at each takeover.
TAG_OWNER='vipsetup-owner'
TAG_TAKEOVER='vipsetup-takeover-at'

# The VIPs, moved together: IPv4 (VIPS; VIP in older settings), then IPv6 (VIPS6). Per VIP k:
# ADDR, KIND (4 or 6), ID (OCID), TAGS (the pair's), OWNER (VNIC), PREV (last taker's name).
ADDR=()
KIND=()
ID=()
TAGS=()
OWNER=()
PREV=()
read -r -a _vips <<<"${VIPS:-$VIP}"
read -r -a _vips6 <<<"$VIPS6"
for _v in "${_vips[@]}"; do
    ADDR+=("${_v%/*}")
    KIND+=(4)
done
for _v in "${_vips6[@]}"; do
    ADDR+=("${_v%/*}")
    KIND+=(6)
done
NVIPS=${#ADDR[@]}
ALL_VIPS=()
for ((_k = 0; _k < NVIPS; _k++)); do ALL_VIPS+=("$_k"); done
VIP=${ADDR[0]:-$VIP}
unset _k _v _vips _vips6

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

# recheck_fast: every VIP read again with oci_get_fast (returns 1 when one cannot be: the caller
# reads them the general way); a document unchanged since VIP K's last one (LAST_DOC[K]) has
# nothing new to parse.
LAST_DOC=()
recheck_fast() {
    local k
    for ((k = 0; k < NVIPS; k++)); do
        obj_url "$k"
        oci_get_fast "$OBJ_URL" || return 1
        [ "$OCI_BODY" = "${LAST_DOC[k]:-}" ] || read_doc "$k" "$OCI_BODY"
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
find_vips() {
    local k
    for ((k = 0; k < NVIPS; k++)); do
        find_vip "$k" || return 1
    done
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
        [ -z "${ID[k]}" ] || return 0
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
    [ "${LOOKUP_ONLY:-0}" = 0 ] || return 1
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

# Returns 0 when the API confirms every VIP on this VNIC.
NEED_MOVE=1
CONFIRMED=()
MOVED=''
CLAIMED=0
REASON=''
claim_once() {
    local k todo=() elsewhere=()
    find_vnic || return 1
    find_vips || return 1
    for ((k = 0; k < NVIPS; k++)); do
        [ "${CREATED[k]}" = 0 ] || CONFIRMED[k]=1
    done
    if [ "$NEED_MOVE" = 0 ]; then
        if ! recheck_fast; then
            calls_for GET "${ALL_VIPS[@]}"
            run_calls "reading" || return 1
        fi
        for ((k = 0; k < NVIPS; k++)); do
            if [ "${OWNER[k]}" != "$VNIC" ]; then
                elsewhere+=("$k")
                CONFIRMED[k]=0
            fi
        done
        [ "${#elsewhere[@]}" -gt 0 ] || return 0
        todo=()
        for k in "${elsewhere[@]}"; do todo+=("${ADDR[k]} (on ${OWNER[k]:-no VNIC})"); done
        log "the API shows ${todo[*]} not on this node ($VNIC); claiming"
        REASON="a recheck found ${todo[*]} off this node"
        NEED_MOVE=1
    fi
    todo=()
    for ((k = 0; k < NVIPS; k++)); do
        [ "${CONFIRMED[k]:-0}" = 1 ] || todo+=("$k")
    done
    if [ "${#todo[@]}" -gt 0 ]; then
        # Which of them were elsewhere (a takeover, alerted) and not just confirmed in place: the
        # last owner the API showed, else the last taker named in the tags.
        local -A away=()
        for k in "${todo[@]}"; do
            if [ -n "${OWNER[k]:-}" ]; then
                [ "${OWNER[k]}" = "$VNIC" ] || away[$k]=1
            elif [ "${PREV[k]:-}" != "$NODE_NAME" ]; then
                away[$k]=1
            fi
        done
        calls_for PUT "${todo[@]}"
        run_calls "moving"
        for k in "${todo[@]}"; do
            if [ "${OWNER[k]}" = "$VNIC" ] && [ -n "${ID[k]}" ]; then
                CONFIRMED[k]=1
                CLAIMED=1
                [ -z "${away[$k]:-}" ] || MOVED+="${MOVED:+ }${ADDR[k]}"
                log "moved VIP ${ADDR[k]} to this node's VNIC $VNIC (the update answered vnicId ${OWNER[k]})"
            fi
        done
    fi
    for ((k = 0; k < NVIPS; k++)); do
        [ "${CONFIRMED[k]:-0}" = 1 ] || return 1
    done
    NEED_MOVE=0
}

# json_text STRING: sets JSON_TEXT to STRING as a JSON string's content (quotes, backslashes and
# control characters escaped).
JSON_TEXT=''
json_text() {
    local t=${1//\\/\\\\}
    t=${t//\"/\\\"}
    t=${t//$'\n'/\\n}
    t=${t//$'\r'/}
    JSON_TEXT=${t//$'\t'/ }
}

# in_background CMD...: runs CMD in a child that has its own connections (never the loop's: two
# writers on one connection would mix their requests) and never holds up the takeover.
in_background() {
    (
        OCI_BEAT_FILE=''
        oci_forget_conns
        "$@"
        oci_cleanup
    ) </dev/null >/dev/null 2>&1 &
}

# alert: one message per takeover to NOTIFY_TOPIC (OCI Notifications PublishMessage, as the instance
# principal): pair, VIPs, new owner, previous owner if known, time and why.
alert() {
    local now prev='' k title text url try
    [ -n "$NOTIFY_TOPIC" ] || return 0
    for ((k = 0; k < NVIPS; k++)); do
        if [ -n "${PREV[k]:-}" ] && [ "${PREV[k]}" != "$NODE_NAME" ]; then
            prev=${PREV[k]}
            break
        fi
    done
    TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    title="vipsetup ${PAIR_NAME:-pair}: $NODE_NAME took over"
    text="pair: ${PAIR_NAME:-}"$'\n'"vips: $MOVED"$'\n'"new owner: $NODE_NAME"$'\n'
    text+="previous owner: ${prev:-unknown}"$'\n'"time: $now"$'\n'"why: ${REASON:-keepalived MASTER}"
    json_text "$title"
    title=$JSON_TEXT
    json_text "$text"
    # Oracle's Go/Java/Python SDKs: "https://notification.{region}.{secondLevelDomain}".
    url=${NOTIFY_ENDPOINT:-https://notification.${REGION}.${OCI_REALM_DOMAIN}}
    url=${url%/}/20181201/topics/$NOTIFY_TOPIC/messages
    for try in 1 2 3; do
        if oci_call POST "$url" "{\"title\": \"$title\", \"body\": \"$JSON_TEXT\"}"; then
            log "failover alert published to $NOTIFY_TOPIC (VIPs $MOVED)"
            return 0
        fi
        log "publishing the failover alert to $NOTIFY_TOPIC failed (try $try of 3): $OCI_ERROR"
        nap "$try"
    done
}

# The agent's own view on its VNIC's freeform tags (read by `vipsetup status`): state, since when,
# last confirmed claim, last error.
VIEW_FILE="$STATE_DIR/agent-view"
VIEW_STATE=''
VIEW_SINCE=''
VIEW_CLAIM=''
VIEW_ERROR=''

# view STATE|'' [claim|error TEXT]: updates the view (STATE '' keeps the state) and writes it when
# it changed.
view() {
    # Nothing to change (a recheck that went well, again): no file, no clock.
    if [ "$1" = "$VIEW_STATE" ] && [ "${2:-}" = ok ] && [ -z "$VIEW_ERROR" ]; then
        return 0
    fi
    local now old=''
    TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    [ -s "$VIEW_FILE" ] && { IFS= read -r old <"$VIEW_FILE"; } 2>/dev/null
    if [ -z "$VIEW_STATE" ] && [ -n "$old" ]; then
        IFS='|' read -r VIEW_STATE VIEW_SINCE VIEW_CLAIM VIEW_ERROR <<<"$old"
    fi
    if [ -n "$1" ] && [ "$1" != "$VIEW_STATE" ]; then
        VIEW_STATE=$1
        VIEW_SINCE=$now
    fi
    case "${2:-}" in
        claim)
            VIEW_CLAIM=$now
            VIEW_ERROR=''
            ;;
        error)
            local e=${3//|/ }
            VIEW_ERROR=${e:0:200}
            ;;
        ok) VIEW_ERROR='' ;;
    esac
    local line="$VIEW_STATE|$VIEW_SINCE|$VIEW_CLAIM|$VIEW_ERROR"
    [ "$line" != "$old" ] || return 0
    printf '%s\n' "$line" >"$VIEW_FILE"
    in_background write_view
}

# write_view: GetVnic, then UpdateVnic with its freeform tags and the view merged in.
write_view() {
    local doc object tags='' re_obj='"freeformTags"[[:space:]]*:[[:space:]]*\{([^}]*)\}'
    local re_pair='^[[:space:],]*"([^"]*)"[[:space:]]*:[[:space:]]*"([^"]*)"(.*)$'
    find_vnic || return 1
    oci_call GET "$CORE_BASE/vnics/$VNIC" || {
        log "reading this node's VNIC to record the agent's view failed: $OCI_ERROR"
        return 1
    }
    doc=$OCI_BODY
    if [[ $doc =~ $re_obj ]]; then
        object=${BASH_REMATCH[1]}
        while [[ $object =~ $re_pair ]]; do
            object=${BASH_REMATCH[3]}
            case "${BASH_REMATCH[1]}" in
                vipsetup-agent-*) continue ;;
            esac
            tags+="\"${BASH_REMATCH[1]}\": \"${BASH_REMATCH[2]}\", "
        done
    fi
    json_text "$VIEW_ERROR"
    tags+="\"vipsetup-agent-state\": \"$VIEW_STATE\", \"vipsetup-agent-since\": \"$VIEW_SINCE\", "
    tags+="\"vipsetup-agent-claim\": \"$VIEW_CLAIM\", \"vipsetup-agent-error\": \"$JSON_TEXT\""
    oci_call PUT "$CORE_BASE/vnics/$VNIC" "{\"freeformTags\": {$tags}}" ||
        log "recording the agent's view on this node's VNIC failed: $OCI_ERROR"
}

# Sleep that a TERM interrupts at once (bash defers traps while a foreground child runs, but not
# during its own read).
NAP_FD=''
nap() {
    if [ -n "$NAP_FD" ]; then
        read -r -t "$1" -u "$NAP_FD" _
        return 0
    fi
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

# The claim loop waits here, warmed up, for the agent's word (a line on stdin: "go", or "check" to
# recheck before moving), making no call that moves anything before it.
STANDBY_WAKE=60
standby() {
    local line rc
    trap 'oci_cleanup; exit 0' TERM INT
    # Beats for the agent's watchdog (the library touches it before each request).
    # shellcheck disable=SC2034
    OCI_BEAT_FILE=$BEAT_FILE
    # Opened read-write, the pipe never reports end of file: reads on it only time out.
    exec {NAP_FD}<> <(:) || NAP_FD=''
    # Read-only look-ups: they never create the private IP (only a MASTER may).
    LOOKUP_ONLY=1
    find_vnic && find_vips
    LOOKUP_ONLY=0
    # The takeover's signing tools, started now (one pair per VIP: they sign in parallel).
    warm_all
    while true; do
        if [ -n "${VIPSETUP_AGENT_PID:-}" ] && ! kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; then
            exit 0
        fi
        # Valid for the next wait and the Python SDK's margin after it.
        OCI_TOKEN_MARGIN=$((60 + STANDBY_WAKE + 5)) oci_token >/dev/null 2>&1 || true
        IFS= read -r -t "$STANDBY_WAKE" line
        rc=$?
        if [ "$rc" -eq 0 ]; then
            case "$line" in
                go)
                    REASON='keepalived made this node MASTER'
                    break
                    ;;
                check)
                    REASON='keepalived reloaded with the VIP on this node (no state line)'
                    NEED_MOVE=0
                    break
                    ;;
            esac
        elif [ "$rc" -le 128 ]; then
            # End of file: the agent is gone.
            exit 0
        fi
    done
    claim_loop
}

# warm_all: the warm hashing and signing openssl for each VIP's call (oci_warm), where used or missing.
warm_all() {
    local k
    for ((k = 0; k < NVIPS; k++)); do
        oci_warm "$k" || break
    done
    OCI_WARM_USED=0
}

# event_time: sets EVENT_TIME to now as HH:MM:SS.mmm UTC.
EVENT_TIME=''
event_time() {
    now_ms
    TZ=UTC printf -v EVENT_TIME '%(%H:%M:%S)T.%03d' $((NOW_MS / 1000)) $((NOW_MS % 1000))
}

claim_loop() {
    local delay=$BACKOFF_INITIAL confirmed=0 started jitter t0 rest first=1 rc
    trap 'oci_cleanup; exit 0' TERM INT
    printf -v started '%(%s)T' -1
    while true; do
        # Never outlive the agent: an orphaned loop could keep claiming on a node that lost.
        if [ -n "${VIPSETUP_AGENT_PID:-}" ] && ! kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; then
            log "agent process $VIPSETUP_AGENT_PID is gone; stopping the claim loop"
            exit 0
        fi
        now_ms
        t0=$NOW_MS
        : >"$BEAT_FILE"
        claim_once
        rc=$?
        if [ "$first" = 1 ]; then
            # Logged after the first attempt: logger is a process, not to be waited for.
            log "MASTER: claiming VIP(s) ${ADDR[*]} for $NODE_NAME"
            first=0
            [ -n "$NAP_FD" ] || { exec {NAP_FD}<> <(:) || NAP_FD=''; }
        fi
        if [ "$rc" = 0 ] && [ "$CLAIMED" = 1 ]; then
            # One alert per takeover, once every VIP is confirmed here; never in its way.
            [ -z "$MOVED" ] || in_background alert
            MOVED=''
            CLAIMED=0
            view MASTER claim
        elif [ "$rc" = 0 ]; then
            view MASTER ok
        else
            view MASTER error "$OCI_ERROR"
        fi
        if [ "$rc" = 0 ]; then
            # Renew the token now if it would need renewing before the next recheck, so the
            # federation runs in this pause and not in front of the next GET.
            OCI_TOKEN_MARGIN=$((60 + RECHECK_INTERVAL + 1)) oci_token || true
            if [ "$confirmed" = 0 ]; then
                local now
                printf -v now '%(%s)T' -1
                log "VIP(s) ${ADDR[*]} confirmed on this node by the API after $((now - started)) s"
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
            : >"$BEAT_FILE"
            # Tools used by this round (a new signature) are started again in the pause.
            [ "$OCI_WARM_USED" = 0 ] || warm_all
            nap "$rest"
            steady
        else
            if [ "$confirmed" = 1 ]; then
                printf -v started '%(%s)T' -1
            fi
            confirmed=0
            # Capped exponential back-off with up to 50% jitter, in milliseconds.
            jitter=$((RANDOM % (delay * 500 + 1)))
            printf -v rest '%d.%03d' $((delay + jitter / 1000)) $((jitter % 1000))
            : >"$BEAT_FILE"
            [ "$OCI_WARM_USED" = 0 ] || warm_all
            nap "$rest"
            delay=$((delay * 2))
            if [ "$delay" -gt "$BACKOFF_MAX" ]; then
                delay=$BACKOFF_MAX
            fi
        fi
    done
}

# steady: rechecks, RECHECK_INTERVAL s apart, while every VIP reads exactly as it did when it was
# confirmed here: the same document, so nothing to parse, log or record. This is the MASTER's life,
# so it runs the fewest commands it can. Returns (for claim_once, at once) when one reads otherwise
# or cannot be read the fast way (a new signature is due, the connection closed, an error).
steady() {
    local k t0 t rest urls=()
    for ((k = 0; k < NVIPS; k++)); do
        [ "${OWNER[k]:-}" = "$VNIC" ] && [ -n "${LAST_DOC[k]:-}" ] || return 0
        obj_url "$k"
        urls+=("$OBJ_URL")
    done
    while [ -z "${VIPSETUP_AGENT_PID:-}" ] || kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; do
        # Milliseconds (bash 5's clock; whole seconds on bash 4).
        t=${EPOCHREALTIME:-}
        if [ -n "$t" ]; then t0=$((${t/[.,]/} / 1000)); else now_ms; t0=$NOW_MS; fi
        for k in "${!urls[@]}"; do
            oci_get_fast "${urls[k]}" || return 0
            if [ "$OCI_BODY" != "${LAST_DOC[k]}" ]; then
                read_doc "$k" "$OCI_BODY"
                return 0
            fi
        done
        # A token that would need renewing before the next recheck is renewed in this pause; if
        # that fails, rechecks go on with the current one while it lasts.
        if [ $((t0 / 1000 + 61 + RECHECK_INTERVAL)) -ge "$OCI_TOKEN_EXP" ] &&
            ! OCI_TOKEN_MARGIN=$((61 + RECHECK_INTERVAL)) oci_token; then
            log "renewing the session token failed (it is valid until $OCI_TOKEN_EXP): $OCI_ERROR"
        fi
        t=${EPOCHREALTIME:-}
        if [ -n "$t" ]; then t=$((${t/[.,]/} / 1000)); else now_ms; t=$NOW_MS; fi
        rest=$((RECHECK_INTERVAL * 1000 - (t - t0)))
        [ "$rest" -gt 0 ] || rest=0
        printf -v rest '%d.%03d' $((rest / 1000)) $((rest % 1000))
        nap "$rest"
    done
}

CLAIM_PID=''
CLAIM_FD=''
CLAIMING=0
# spawn_standby: a new claim loop, waiting for the word on a pipe from this agent.
spawn_standby() {
    exec {CLAIM_FD}> >(VIPSETUP_AGENT_PID=$$ exec setsid "$BASH" "$0" --standby)
    CLAIM_PID=$!
    CLAIMING=0
}

# start_claim [check]: tells the waiting claim loop to claim ("check": recheck before moving),
# unless it claims already.
start_claim() {
    local word=${1:-go}
    if [ "$CLAIMING" = 1 ] && kill -0 "$CLAIM_PID" 2>/dev/null; then
        return 0
    fi
    if [ -z "$CLAIM_PID" ] || ! kill -0 "$CLAIM_PID" 2>/dev/null ||
        ! printf '%s\n' "$word" 2>/dev/null 1>&"$CLAIM_FD"; then
        # It is gone (killed by hand?): a new one, told at once.
        stop_claim '' respawn
        printf '%s\n' "$word" 2>/dev/null 1>&"$CLAIM_FD"
    fi
    CLAIMING=1
}

# stop_claim REASON [respawn]: stops the claim loop and its call in flight; with "respawn", a new
# one waits for the next MASTER.
stop_claim() {
    if [ -n "$CLAIM_PID" ]; then
        kill -TERM -- "-$CLAIM_PID" 2>/dev/null || kill -TERM "$CLAIM_PID" 2>/dev/null
        wait "$CLAIM_PID" 2>/dev/null
        [ -z "$CLAIM_FD" ] || exec {CLAIM_FD}>&-
        CLAIM_FD=''

        if [ "$CLAIMING" = 1 ] && [ -n "$1" ]; then
            log "stopped claiming VIP $VIP ($1)"
        fi
        CLAIM_PID=''
        CLAIMING=0
    fi
    if [ "${2:-}" = respawn ]; then
        spawn_standby
    fi
}

# The watchdog: a claim loop beats (touches BEAT_FILE) before each request and each pause, so one
# that has not for STUCK_AFTER s while claiming is stuck (a server that stopped in the middle of an
# answer: the recheck reads it without a timer, see oci_get_fast); it is replaced by one that
# rechecks and claims. Looked at every WATCH_INTERVAL s when no state line comes.
BEAT_FILE=$RUNTIME_DIR/beat.${VIPSETUP_AGENT_PID:-$$}
LOOK_FILE=$RUNTIME_DIR/look.$$
STUCK_AFTER=$((CALL_DEADLINE + CONNECT_TIMEOUT + WATCH_INTERVAL))
if [ "$RECHECK_INTERVAL" -gt $((BACKOFF_MAX * 2)) ]; then
    STUCK_AFTER=$((STUCK_AFTER + RECHECK_INTERVAL))
else
    STUCK_AFTER=$((STUCK_AFTER + BACKOFF_MAX * 2))
fi
LAST_BEAT=0
watch_claim() {
    local now
    printf -v now '%(%s)T' -1
    if [ "$CLAIMING" != 1 ] || [ "$BEAT_FILE" -nt "$LOOK_FILE" ]; then
        : >"$LOOK_FILE"
        LAST_BEAT=$now
        return 0
    fi
    [ $((now - LAST_BEAT)) -ge "$STUCK_AFTER" ] || return 0
    log "the claim loop (pid $CLAIM_PID) made no progress for $((now - LAST_BEAT)) s; replacing it"
    # Stopped or blocked, it must still take its TERM.
    kill -CONT -- "-$CLAIM_PID" 2>/dev/null
    stop_claim 'no progress' respawn
    start_claim check
    LAST_BEAT=$now
}

# Whether keepalived has put the VIP on one of this node's interfaces (it does only as MASTER).
vip_on_interface() {
    local out
    out=$(ip -o -4 addr show 2>/dev/null)
    [[ $out == *"inet $VIP/"* ]]
}

case "${1:-}" in
    --standby)
        standby
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
trap 'stop_claim "agent stopping"; oci_cleanup; exit 0' TERM INT
# A claim loop that died makes the word's write fail with EPIPE: handled, not fatal.
trap '' PIPE
# Scratch files of earlier agents and their loops (named after their pids).
rm -f "$OCI_WORK_DIR"/ss.* "$OCI_WORK_DIR"/body.* "$RUNTIME_DIR"/beat.* "$RUNTIME_DIR"/look.* 2>/dev/null
# One session key pair per agent process (its claim loops share it and the token).
if ! oci_new_session_key; then
    log "cannot make a session key in $OCI_WORK_DIR; claims will fail until it can"
fi
log "started for $NODE_NAME (VIP $VIP, region $REGION), reading $FIFO"
# A claim loop waiting for MASTER does the look-ups and federates now, not at the first MASTER, so
# that a takeover is one request.
spawn_standby
seen_state=0
while true; do
    # keepalived keeps the FIFO open; if it ever closes, open it again.
    if ! exec 3<"$FIFO"; then
        nap 1
        continue
    fi
    pending=''
    while true; do
        # A timed read that runs out in the middle of a line keeps what it read (pending): the rest
        # comes with the next read, and no state line is ever cut in two.
        if [ "$seen_state" = 0 ]; then
            IFS= read -r -t "$STATE_WAIT" line <&3
        else
            IFS= read -r -t "$WATCH_INTERVAL" line <&3
        fi
        rc=$?
        if [ "$rc" -gt 128 ]; then
            pending+=$line
        elif [ "$rc" -eq 0 ]; then
            line=$pending$line
            pending=''
            read -r kind name state _priority <<<"$line"
        fi
        if [ "$rc" -gt 128 ] && [ "$seen_state" = 1 ]; then
            watch_claim
            continue
        fi
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
                # The word first; the log line (a logger process) after, with the time the event was
                # read.
                event_time
                start_claim
                printf -v LAST_BEAT '%(%s)T' -1
                log "instance $name is MASTER (read at $EVENT_TIME)"
                ;;
            BACKUP | FAULT | STOP | DELETED)
                log "instance $name is $state"
                stop_claim "$state" respawn
                [ "$state" = DELETED ] || view "$state"
                ;;
        esac
    done
    exec 3<&-
    nap 1
done
