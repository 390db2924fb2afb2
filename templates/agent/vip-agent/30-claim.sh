# vip-agent, part 3: the claim loop: one claim, the standby that waits warmed up, the loop, the steady recheck.

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
        [ "${CREATED[k]:-0}" = 0 ] || CONFIRMED[k]=1
    done
    if [ "$NEED_MOVE" = 0 ]; then
        recheck_fast || return 1
        for ((k = 0; k < NVIPS; k++)); do
            if [ "${OWNER[k]:-}" != "$VNIC" ]; then
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
            # (A VIP whose move failed has no owner read yet: restarted with its OCID cached.)
            if [ "${OWNER[k]:-}" = "$VNIC" ] && [ -n "${ID[k]:-}" ]; then
                CONFIRMED[k]=1
                CLAIMED=1
                [ -z "${away[$k]:-}" ] || MOVED+="${MOVED:+ }${ADDR[k]}"
                log "moved VIP ${ADDR[k]} to this node's VNIC $VNIC (the update answered vnicId ${OWNER[k]}) via ${VIA[k]}"
            fi
        done
    fi
    for ((k = 0; k < NVIPS; k++)); do
        [ "${CONFIRMED[k]:-0}" = 1 ] || return 1
    done
    NEED_MOVE=0
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
# standby_lookups: the read-only look-ups (they never create a VIP's object: only a MASTER may);
# LOOKED=1 once they are done, a VIP without an object passed over.
LOOKED=0
standby_lookups() {
    local rc
    LOOKUP_ONLY=1
    find_vnic && find_vips
    rc=$?
    LOOKUP_ONLY=0
    [ "$rc" = 1 ] || LOOKED=1
}

standby() {
    local line rc wake
    trap 'oci_cleanup; exit 0' TERM INT
    # Beats for the agent's watchdog (the library touches it before each request).
    # shellcheck disable=SC2034
    OCI_BEAT_FILE=$BEAT_FILE
    # Opened read-write, the pipe never reports end of file: reads on it only time out.
    exec {NAP_FD}<> <(:) || NAP_FD=''
    standby_lookups
    # The takeover's signing tools, started now (one pair per VIP: they sign in parallel).
    warm_all
    while true; do
        if [ -n "${VIPSETUP_AGENT_PID:-}" ] && ! kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; then
            exit 0
        fi
        # Look-ups that failed (the metadata service or the API unreachable, IAM not yet effective
        # at boot, which takes minutes) are tried again every BACKOFF_MAX s, so that a takeover
        # still costs one request per VIP.
        wake=$STANDBY_WAKE
        [ "$LOOKED" = 1 ] || wake=$BACKOFF_MAX
        # Valid for the next wait and the Python SDK's margin after it.
        OCI_TOKEN_MARGIN=$((60 + wake + 5)) oci_token >/dev/null 2>&1 || true
        IFS= read -r -t "$wake" line
        rc=$?
        if [ "$rc" -gt 128 ] && [ "$LOOKED" = 0 ]; then
            standby_lookups
            continue
        fi
        if [ "$rc" -eq 0 ]; then
            # The word, "go" or "check", may have lost its first bytes: bash 4.4's `read -t` that
            # runs out in the middle of a line drops what it had read, and the rest comes as a line
            # of its own. Any line is "go" unless it ends like "check" (which only adds a recheck).
            case "$line" in
                *k)
                    REASON='keepalived reloaded with the VIP on this node (no state line)'
                    NEED_MOVE=0
                    break
                    ;;
                *)
                    REASON='keepalived made this node MASTER'
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
            # The next attempt rechecks every VIP first (one list per kind): while this one
            # failed, VIPs it had confirmed may have been moved away, and a failed move may
            # have been applied after all. A retry costs that round trip; the first takeover not.
            NEED_MOVE=0
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
# confirmed here: the same documents (one list per kind of two VIPs or more, else the object:
# recheck_units), so nothing to parse, log or record. This is the MASTER's life, so it runs the
# fewest commands it can. Returns (for claim_once, at once) when one reads otherwise or cannot be
# read the fast way (a new signature is due, the connection closed, an error).
steady() {
    local j k t0 t rest urls=() docs=()
    for ((k = 0; k < NVIPS; k++)); do
        [ "${OWNER[k]:-}" = "$VNIC" ] && [ -n "${LAST_DOC[k]:-}" ] || return 0
    done
    recheck_units
    for j in "${!UNIT_URL[@]}"; do
        if [ -n "${UNIT_URL[j]}" ]; then
            urls[j]=${UNIT_URL[j]}
            docs[j]=${UNIT_DOC[j]}
        else
            k=${UNIT_VIPS[j]}
            obj_url "$k"
            urls[j]=$OBJ_URL
            docs[j]=${LAST_DOC[k]}
        fi
        [ -n "${docs[j]}" ] || return 0
    done
    while [ -z "${VIPSETUP_AGENT_PID:-}" ] || kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; do
        # Milliseconds (bash 5's clock; whole seconds on bash 4).
        t=${EPOCHREALTIME:-}
        if [ -n "$t" ]; then t0=$((${t/[.,]/} / 1000)); else now_ms; t0=$NOW_MS; fi
        for j in "${!urls[@]}"; do
            oci_get_fast "${urls[j]}" || return 0
            # Read again, and parsed, by claim_once.
            [ "$OCI_BODY" = "${docs[j]}" ] || return 0
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
