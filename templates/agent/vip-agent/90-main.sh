# vip-agent, part 6: the entry points and the loop that reads keepalived's FIFO.

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
    --prepare)
        # The installer runs this while the packages install: the session key pair and a
        # token, left for the agent keepalived starts next (it keeps them once, below).
        oci_new_session_key && oci_token && : >"$OCI_WORK_DIR/prepared"
        exit $?
        ;;
    '' | -h | --help)
        echo "usage: $0 FIFO   (keepalived notify_fifo_script)" >&2
        exit 1
        ;;
esac

FIFO=$1
TICKER_PID=''
WATCHER_PID=''
trap 'stop_claim "agent stopping"; kill ${TICKER_PID:+"$TICKER_PID"} ${WATCHER_PID:+"$WATCHER_PID"} 2>/dev/null; oci_cleanup; exit 0' TERM INT
# A claim loop that died makes the word's write fail with EPIPE: handled, not fatal.
trap '' PIPE
# Scratch files of earlier agents and their loops (named after their pids).
rm -f "$OCI_WORK_DIR"/ss.* "$OCI_WORK_DIR"/body.* "$OCI_WORK_DIR"/leaf.* "$RUNTIME_DIR"/beat.* \
    "$RUNTIME_DIR"/look.* 2>/dev/null
# One session key pair per agent process (its claim loops share it and the token); the first
# agent after the install keeps the pair and token the installer's --prepare left.
if [ -f "$OCI_WORK_DIR/prepared" ] && [ -s "$OCI_WORK_DIR/session-key.pem" ]; then
    rm -f "$OCI_WORK_DIR/prepared"
elif ! oci_new_session_key; then
    log "cannot make a session key in $OCI_WORK_DIR; claims will fail until it can"
fi
log "started for $NODE_NAME (VIP $VIP, region $REGION), reading $FIFO"
# A claim loop waiting for MASTER does the look-ups and federates now, not at the first MASTER, so
# that a takeover is one request.
spawn_standby
# The FIFO is read without a timer: bash 4.4's `read -t` (Oracle Linux 8) that runs out in the
# middle of a line loses the bytes it had read, so a BACKUP line could arrive as "NSTANCE ..." and
# go unnoticed. The agent's timers come as lines instead: a ticker writes TICK to the same FIFO
# STATE_WAIT s after the start, then every WATCH_INTERVAL s (each line one write, shorter than
# PIPE_BUF: never mixed with keepalived's), waiting on a read of a pipe nothing writes to.
start_ticker() {
    (
        trap 'exit 0' TERM
        exec 3>"$FIFO" || exit 0
        exec {t}<> <(:) || exit 0
        read -r -t "$STATE_WAIT" -u "$t" _
        while kill -0 "$$" 2>/dev/null; do
            printf 'TICK\n' >&3 || exit 0
            read -r -t "$WATCH_INTERVAL" -u "$t" _
        done
    ) </dev/null >/dev/null 2>&1 &
    TICKER_PID=$!
}
start_ticker
# The watcher: one process for the agent's life that wakes every WATCH_INTERVAL s, looks at the
# live settings (10-settings.sh; not for an agent run on another settings file: tests, outside a
# node) and writes the heartbeat when it is due (40-views.sh). Its own connections; it never
# beats the claim loop's watchdog. Not the ticker: a look or a heartbeat can take a call's whole
# deadline, and the ticks drive the watchdog.
start_watcher() {
    (
        trap 'oci_cleanup; exit 0' TERM
        oci_forget_conns
        # The library's setting (read there).
        # shellcheck disable=SC2034
        OCI_BEAT_FILE=''
        exec {t}<> <(:) || exit 0
        while kill -0 "$$" 2>/dev/null; do
            read -r -t "$WATCH_INTERVAL" -u "$t" _
            [ -n "${VIPSETUP_AGENT_ENV:-}" ] || watch_settings
            heartbeat
        done
    ) </dev/null >/dev/null 2>&1 &
    WATCHER_PID=$!
}
start_watcher
seen_state=0
while true; do
    # keepalived keeps the FIFO open; if it ever closes, open it again.
    if ! exec 3<"$FIFO"; then
        nap 1
        continue
    fi
    while true; do
        IFS= read -r line <&3
        rc=$?
        # (A ticker or watcher killed by hand is started again.)
        kill -0 "$TICKER_PID" 2>/dev/null || start_ticker
        if [ "$rc" -eq 0 ] && [ "$line" = TICK ]; then
            rc=142
            kill -0 "$WATCHER_PID" 2>/dev/null || start_watcher
        fi
        [ "$rc" -ne 0 ] || read -r kind name state _priority <<<"$line"
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
