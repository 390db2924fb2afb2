# vip-agent, part 5: the claim loop's life: started, told, stopped, and replaced when stuck.

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
    local rekill pid=$CLAIM_PID
    if [ -n "$pid" ]; then
        kill -TERM -- "-$CLAIM_PID" 2>/dev/null || kill -TERM "$CLAIM_PID" 2>/dev/null
        # A TERM that comes between the fork of a new loop and the exec of its `setsid bash` is
        # lost: the subshell catches it with this agent's trap, then resets its traps. The agent
        # then waited for that loop forever and never read the next state line (a BACKUP right
        # after the start, then MASTER: seen under bash 4.4 on a loaded machine, fault matrix
        # #427, #453, #455). So it is told again until it is gone, and killed after 3.7 s.
        (
            for t in 0.2 0.5 1 2; do
                sleep "$t"
                kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || exit 0
            done
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        ) </dev/null >/dev/null 2>&1 &
        rekill=$!
        wait "$CLAIM_PID" 2>/dev/null
        kill "$rekill" 2>/dev/null
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
