# oci-sign.sh, part 4b: the safety valve: a call the kept-alive transport could not complete, once through curl.

# oci_fallback: after oci_http_recv failed with OCI_FAULT set (an answer it could not frame, one
# cut off, none after a reconnect) and time is left, sends the slot's request once more through
# curl: a connection and an HTTP parser of its own, the same signed headers and body, each from a
# file in OCI_WORK_DIR written by a umask-077 subshell and removed after (the token is in the
# authorization header: nothing secret on a command line). A bug in the hand-written transport
# then costs latency, never the call (a takeover). Sets OCI_STATUS, OCI_BODY and
# OCI_VIA='curl fallback'; returns 0 for a 2xx answer, like oci_http_recv. Without OCI_FAULT (an
# answer, no connection, the deadline passed) it returns 1 at once, leaving those as they are.
oci_fallback() {
    local req=${OCI_SLOT_REQ[$OCI_SLOT]} scheme host port hostport method head target out rc
    [ -n "$OCI_FAULT" ] && oci_left "${OCI_SLOT_DEADLINE[$OCI_SLOT]}" || return 1
    read -r scheme host port hostport method <<<"${OCI_SLOT_TARGET[$OCI_SLOT]}"
    head=${req%%$'\r\n\r\n'*}
    target=${head%%$'\r\n'*}
    target=${target#* }
    target=${target% HTTP/1.1}
    out=$OCI_WORK_DIR/fallback.$BASHPID
    [ -d "$OCI_WORK_DIR" ] || (umask 077 && mkdir -p "$OCI_WORK_DIR") || return 1
    # Headers one a line (an empty `expect:` stops curl waiting for a 100 Continue); the body as
    # sent, also when empty (a PUT or POST still says content-length: 0).
    head=${head#*$'\r\n'}
    OCI_STATUS=$(
        umask 077
        printf '%s\nexpect:\n' "${head//$'\r'/}" >"$out.h" || exit 1
        args=(-H "@$out.h")
        if [ "$method" != GET ]; then
            printf '%s' "${req#*$'\r\n\r\n'}" >"$out.b" || exit 1
            args+=(-X "$method" --data-binary "@$out.b")
        fi
        exec curl -sS -o "$out.o" -w '%{http_code}' --connect-timeout "$OCI_CONNECT_TIMEOUT" \
            --max-time "$OCI_LEFT" ${OCI_CA_FILE:+--cacert "$OCI_CA_FILE"} "${args[@]}" \
            -- "$scheme://$hostport$target" 2>/dev/null
    )
    rc=$?
    OCI_VIA='curl fallback'
    OCI_BODY=''
    [ ! -f "$out.o" ] || IFS= read -r -d '' OCI_BODY <"$out.o" || true
    rm -f "$out.h" "$out.b" "$out.o"
    if [ "$rc" != 0 ] || [[ ! $OCI_STATUS =~ ^[1-5][0-9][0-9]$ ]]; then
        OCI_STATUS=000
        OCI_BODY="the kept-alive connection failed ($OCI_FAULT), and curl got no answer from $hostport either (curl exit $rc)"
        return 1
    fi
    case "$OCI_STATUS" in
        2[0-9][0-9]) return 0 ;;
    esac
    return 1
}
