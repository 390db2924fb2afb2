# vip-agent, part 4: what the agent tells: the failover alert and its view on the VNIC's tags.

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
        # The library's setting (read there).
        # shellcheck disable=SC2034
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

# The heartbeat: the view is written again every HEARTBEAT_INTERVAL s (default 120) even when it
# has not changed, with the time of writing (vipsetup-agent-seen) and the interval
# (vipsetup-agent-beat), so `vipsetup status` tells a dead agent (its tags stop ageing) from a
# quiet BACKUP. Its cost: one GetVnic and one UpdateVnic per interval (1,440 calls a day a node at
# 120 s). Run by the agent's watcher process (90-main.sh), which wakes every WATCH_INTERVAL s, so
# it is late by at most that: no process forked for it, its own kept-alive connection to the API
# (slot 1; slot 0 is the metadata service's), and the GetVnic's signature reused while it may be
# (OCI_SIG_REUSE, 240 s: every other beat).
#
# A view that could not be written (no network yet, or a new instance whose IAM has not taken
# effect: 404) stays due (VIEW_DUE: from each write's start to its success) and the watcher
# writes it at each look, every WATCH_INTERVAL s, until it is written: `apply --wait` and a
# replacement wait for that view (in the twin a new node whose first write met the 60 s IAM delay
# waited a whole heartbeat, 113 s more). While the API refuses, that is one GetVnic a look (the
# claim loop retries every BACKOFF_MAX s then).
HEARTBEAT_INTERVAL=${HEARTBEAT_INTERVAL:-120}
printf -v LAST_HEARTBEAT '%(%s)T' -1
VIEW_DUE=$STATE_DIR/view-due
heartbeat() {
    local now
    printf -v now '%(%s)T' -1
    [ -e "$VIEW_DUE" ] || [ $((now - LAST_HEARTBEAT)) -ge "$HEARTBEAT_INTERVAL" ] || return 0
    LAST_HEARTBEAT=$now
    [ -s "$VIEW_FILE" ] || return 0
    oci_slot 1
    write_view
    oci_slot 0
}

# write_view: GetVnic, then UpdateVnic with its freeform tags and the view merged in.
write_view() {
    local doc object tags='' seen re_obj='"freeformTags"[[:space:]]*:[[:space:]]*\{([^}]*)\}'
    local re_pair='^[[:space:],]*"([^"]*)"[[:space:]]*:[[:space:]]*"([^"]*)"(.*)$'
    : >"$VIEW_DUE"
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
    # The view as it is now, not as it was when this writer started: the agent and its claim loop
    # write views from processes of their own, and a slower, older writer (one that federated
    # first) would otherwise land last and put back a view already replaced (a MASTER shown as
    # BACKUP; seen in the several-VIPs crash scenario).
    if [ -s "$VIEW_FILE" ]; then
        IFS='|' read -r VIEW_STATE VIEW_SINCE VIEW_CLAIM VIEW_ERROR <"$VIEW_FILE"
    fi
    json_text "$VIEW_ERROR"
    tags+="\"vipsetup-agent-state\": \"$VIEW_STATE\", \"vipsetup-agent-since\": \"$VIEW_SINCE\", "
    tags+="\"vipsetup-agent-claim\": \"$VIEW_CLAIM\", \"vipsetup-agent-error\": \"$JSON_TEXT\", "
    TZ=UTC printf -v seen '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    tags+="\"vipsetup-agent-seen\": \"$seen\", \"vipsetup-agent-beat\": \"$HEARTBEAT_INTERVAL\""
    # The settings version it runs, and the last one it refused (10-settings.sh).
    # (Each at most 256 characters, as OCI's tags: the reasons are cut shorter.)
    local run='' ref=''
    read -r run _ <"$SETTINGS_RECORD"
    read -r ref <"$SETTINGS_REFUSED"
    json_text "${ref%|*}"
    tags+=", \"vipsetup-agent-settings\": \"$run\", \"vipsetup-agent-settings-refused\": \"$JSON_TEXT\""
    oci_call PUT "$CORE_BASE/vnics/$VNIC" "{\"freeformTags\": {$tags}}" || {
        log "recording the agent's view on this node's VNIC failed: $OCI_ERROR"
        return
    }
    rm -f "$VIEW_DUE"
}
