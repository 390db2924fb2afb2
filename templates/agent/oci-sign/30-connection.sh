# oci-sign.sh, part 3: the kept-alive connections (one per slot), opened, reused, closed; oci_cleanup.

# The kept-alive connection in use: OCI_CONN (scheme://host:port it goes to, '' = none), the fds to
# write requests to and read answers from, and s_client's pid for https.
OCI_CONN=''
OCI_CONN_OUT=''
OCI_CONN_IN=''
OCI_CONN_PID=''
OCI_SLOT=0
OCI_SLOT_CONN=()
OCI_SLOT_OUT=()
OCI_SLOT_IN=()
OCI_SLOT_PID=()
# Optional: a CA bundle for https (else the system's).
OCI_CA_FILE=${OCI_CA_FILE:-}

# oci_slot N: makes slot N's connection the one in use (the current one is kept in its slot).
oci_slot() {
    [ "$1" != "$OCI_SLOT" ] || return 0
    OCI_SLOT_CONN[OCI_SLOT]=$OCI_CONN
    OCI_SLOT_OUT[OCI_SLOT]=$OCI_CONN_OUT
    OCI_SLOT_IN[OCI_SLOT]=$OCI_CONN_IN
    OCI_SLOT_PID[OCI_SLOT]=$OCI_CONN_PID
    OCI_SLOT=$1
    OCI_CONN=${OCI_SLOT_CONN[$1]:-}
    OCI_CONN_OUT=${OCI_SLOT_OUT[$1]:-}
    OCI_CONN_IN=${OCI_SLOT_IN[$1]:-}
    OCI_CONN_PID=${OCI_SLOT_PID[$1]:-}
}

oci_conn_close() {
    if [ -n "$OCI_CONN_PID" ]; then
        kill "$OCI_CONN_PID" 2>/dev/null
        wait "$OCI_CONN_PID" 2>/dev/null
    fi
    [ -z "$OCI_CONN_IN" ] || exec {OCI_CONN_IN}<&-
    [ -z "$OCI_CONN_OUT" ] || [ "$OCI_CONN_OUT" = "$OCI_CONN_IN" ] || exec {OCI_CONN_OUT}>&-
    OCI_CONN=''
    OCI_CONN_OUT=''
    OCI_CONN_IN=''
    OCI_CONN_PID=''
}

# oci_conn_close_all: closes every slot's connection.
oci_conn_close_all() {
    local n
    for n in "${!OCI_SLOT_CONN[@]}" "$OCI_SLOT"; do
        oci_slot "$n"
        oci_conn_close
    done
    oci_slot 0
}

# oci_forget_conns: in a child process, forgets the parent's connections without closing them (the
# parent goes on using them; the child opens its own).
oci_forget_conns() {
    local fd
    oci_warm_forget
    for fd in "$OCI_CONN_IN" "$OCI_CONN_OUT" "${OCI_SLOT_IN[@]}" "${OCI_SLOT_OUT[@]}"; do
        [ -z "$fd" ] || exec {fd}>&-
    done 2>/dev/null
    OCI_CONN=''
    OCI_CONN_IN=''
    OCI_CONN_OUT=''
    OCI_CONN_PID=''
    OCI_SLOT=0
    OCI_SLOT_CONN=()
    OCI_SLOT_IN=()
    OCI_SLOT_OUT=()
    OCI_SLOT_PID=()
}

# oci_conn_open SCHEME HOST PORT: a connection to HOST:PORT, the open one when it goes there and the
# server has not closed it (nothing is readable before a request: else it is stale).
oci_conn_open() {
    local key="$1://$2:$3" fifo
    if [ "$OCI_CONN" = "$key" ] && ! read -r -t 0 -u "$OCI_CONN_IN" 2>/dev/null; then
        return 0
    fi
    oci_conn_close
    # A server that closed the connection makes the next write fail with EPIPE: an error to handle,
    # not a signal that kills the agent.
    trap '' PIPE
    case "$1" in
        https)
            # One openssl s_client per connection, for its lifetime: requests in through a FIFO
            # (unlinked once both ends are open), answers out through a pipe.
            fifo=$OCI_WORK_DIR/tls.$BASHPID.$OCI_SLOT
            rm -f "$fifo"
            [ -d "$OCI_WORK_DIR" ] || (umask 077 && mkdir -p "$OCI_WORK_DIR")
            mkfifo -m 600 "$fifo" || return 1
            exec {OCI_CONN_IN}< <(oci_warm_forget
                exec openssl s_client -quiet -nocommands -verify_return_error \
                -verify_hostname "$2" -servername "$2" ${OCI_CA_FILE:+-CAfile "$OCI_CA_FILE"} \
                -connect "$2:$3" <"$fifo" 2>/dev/null)
            OCI_CONN_PID=$!
            exec {OCI_CONN_OUT}>"$fifo"
            rm -f "$fifo"
            ;;
        http)
            # Plain http is for a local simulator only (bash connects without a timeout).
            { exec {OCI_CONN_IN}<>"/dev/tcp/$2/$3"; } 2>/dev/null || {
                OCI_CONN_IN=''
                return 1
            }
            OCI_CONN_OUT=$OCI_CONN_IN
            ;;
        *) return 1 ;;
    esac
    OCI_CONN=$key
}

# oci_cleanup: closes the connection and removes this process's scratch files.
oci_cleanup() {
    oci_conn_close_all
    # Closing its input ends each warm tool.
    oci_warm_forget
    rm -f "$OCI_WORK_DIR/ss.$BASHPID" "$OCI_WORK_DIR/body.$BASHPID" "$OCI_WORK_DIR/fallback.$BASHPID".*
}
