# oci-sign.sh, part 4: HTTP/1.1 on a kept-alive connection: the request, the answer, the fast recheck.

# oci_left DEADLINE_MS: sets OCI_LEFT to the seconds left (for read -t); returns 1 when none are.
OCI_LEFT=0
oci_left() {
    local t=${EPOCHREALTIME:-} ms
    if [ -n "$t" ]; then
        t=${t/[.,]/}
        ms=$(($1 - 10#$t / 1000))
    else
        printf -v t '%(%s)T' -1
        ms=$(($1 - t * 1000))
    fi
    [ "$ms" -gt 0 ] || return 1
    printf -v OCI_LEFT '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

# oci_http METHOD URL BODY [HEADER...]: one HTTP/1.1 request on the kept-alive connection of the
# slot in use, answered within OCI_MAX_TIME seconds.
oci_http() {
    oci_http_send "$@" || return 1
    oci_http_recv || oci_fallback
}

# oci_http_send METHOD URL BODY [HEADER...]: writes the request, kept per slot: oci_http_recv sends
# it again on a new connection when the server had closed the old one.
OCI_SLOT_REQ=()
OCI_SLOT_DEADLINE=()
OCI_SLOT_TARGET=()
oci_http_send() {
    local method=$1 url=$2 body=$3 LC_ALL=C
    shift 3
    local scheme=${url%%://*} rest=${url#*://} host port target='/' req h have='' t
    local hostport=${rest%%/*}
    case "$rest" in
        */*) target=/${rest#*/} ;;
    esac
    host=${hostport%:*}
    port=${hostport##*:}
    if [ "$port" = "$hostport" ]; then
        port=443
        [ "$scheme" = http ] && port=80
    fi
    case "$scheme:$hostport" in
        https:*:443) hostport=${hostport%:443} ;;
        http:*:80) hostport=${hostport%:80} ;;
    esac
    req="$method $target HTTP/1.1"$'\r\n'
    for h in "$@"; do
        req+="$h"$'\r\n'
        have+=" ${h%%:*}"
    done
    have=${have,,}
    [[ $have == *" host"* ]] || req+="host: $hostport"$'\r\n'
    if [ -n "$body" ] || [ "$method" != GET ]; then
        [[ $have == *" content-length"* ]] || req+="content-length: ${#body}"$'\r\n'
        [[ $have == *" content-type"* ]] || req+="content-type: application/json"$'\r\n'
    fi
    [[ "$have " == *" accept "* ]] || req+="accept: application/json"$'\r\n'
    req+=$'\r\n'"$body"
    t=${EPOCHREALTIME:-}
    if [ -n "$t" ]; then
        t=${t/[.,]/}
        t=$((10#$t / 1000 + OCI_MAX_TIME * 1000))
    else
        printf -v t '%(%s)T' -1
        t=$(((t + OCI_MAX_TIME) * 1000))
    fi
    OCI_SLOT_REQ[OCI_SLOT]=$req
    if [ "$method" = GET ]; then
        # Kept whole for oci_get_fast while its signature may be reused.
        OCI_FAST_REQ[$url]=$req
        OCI_FAST_CONN[$url]="$scheme://$host:$port"
    fi
    OCI_SLOT_DEADLINE[OCI_SLOT]=$t
    OCI_SLOT_TARGET[OCI_SLOT]="$scheme $host $port $hostport $method"
    OCI_STATUS=000
    OCI_BODY=''
    if ! oci_conn_open "$scheme" "$host" "$port"; then
        OCI_BODY="cannot connect to $hostport"
        return 1
    fi
    [ -z "$OCI_BEAT_FILE" ] || : >"$OCI_BEAT_FILE"
    # A failed write shows as no answer in oci_http_recv.
    printf '%s' "$req" 2>/dev/null 1>&"$OCI_CONN_OUT"
    return 0
}

# oci_get_fast URL: a GET of URL sent again as the same bytes as the last time (its signature still
# reusable, the same token), on slot 0's open connection, answered 200 with a Content-Length; sets
# OCI_BODY and returns 0. Anything else returns 1, with nothing to undo: the caller makes the call
# the general way (oci_call). This is the recheck of a MASTER, every few seconds for the node's
# life, so it runs few commands and no process, and reads without `read -t` once the answer has
# begun: bash's timed read costs two system calls a byte (about 1 ms an answer). A server that
# stops in the middle of an answer could then hold it; the agent's watchdog (vip-agent) replaces
# a claim loop that stops beating.
declare -A OCI_FAST_REQ=() OCI_FAST_CONN=() OCI_FAST_HLEN=()
oci_get_fast() {
    local req=${OCI_FAST_REQ[$1]:-} at=${OCI_REUSE_AT[$1 ${OCI_TOKEN: -32}]:-0} now line len='' head n LC_ALL=C
    printf -v now '%(%s)T' -1
    [[ -n $req && $OCI_SLOT == 0 && $OCI_CONN == "${OCI_FAST_CONN[$1]}" ]] &&
        ((now - at < OCI_SIG_REUSE && now + 5 < OCI_TOKEN_EXP)) || return 1
    [ -z "$OCI_BEAT_FILE" ] || : >"$OCI_BEAT_FILE"
    # Readable before the request: the server closed it (stale). The wait for the answer has the
    # call's deadline; then the status line, the headers and the body by its length.
    if read -r -t 0 -u "$OCI_CONN_IN" 2>/dev/null || ! printf '%s' "$req" 2>/dev/null 1>&"$OCI_CONN_OUT" ||
        ! IFS= read -r -N 1 -t "$OCI_MAX_TIME" -u "$OCI_CONN_IN" line ||
        ! IFS= read -r -u "$OCI_CONN_IN" line || [[ $line != 'TTP/1.1 200 '* ]]; then
        oci_conn_close
        return 1
    fi
    # The headers: as many bytes as last time at once (in the steady state they are as long: the
    # same fields, a date and ids of fixed widths), else a line at a time. A 200's document is
    # longer than any difference, so the count never waits past the answer.
    head=''
    n=${OCI_FAST_HLEN[$1]:-0}
    if [ "$n" -gt 0 ] && IFS= read -r -N "$n" -u "$OCI_CONN_IN" head && [[ $head == *$'\r\n\r\n'* ]]; then
        OCI_BODY=${head#*$'\r\n\r\n'}
        head=${head%%$'\r\n\r\n'*}$'\r\n\r\n'
    else
        OCI_BODY=''
        while [[ $head != *$'\r\n\r\n' && $head != $'\r\n' ]] && IFS= read -r -u "$OCI_CONN_IN" line; do
            head+=$line$'\n'
        done
    fi
    OCI_FAST_HLEN[$1]=${#head}
    line=$'\n'${head,,}
    if [[ $head != *$'\r\n\r\n' && $head != $'\r\n' || $line != *$'\ncontent-length:'* ||
        $line == *$'\ntransfer-encoding:'* ]]; then
        oci_conn_close
        return 1
    fi
    len=${line#*$'\ncontent-length:'}
    len=${len%%$'\r'*}
    len=${len%%,*}
    len=${len//[!0-9]/}
    n=$((len - ${#OCI_BODY}))
    if [ -z "$len" ] || [ "$n" -lt 0 ] ||
        { [ "$n" -gt 0 ] && { ! IFS= read -r -N "$n" -u "$OCI_CONN_IN" line || [ "${#line}" != "$n" ]; }; }; then
        oci_conn_close
        return 1
    fi
    OCI_BODY+=${line:0:n}
    # shellcheck disable=SC2034
    OCI_STATUS=200
}

# oci_http_recv: reads the answer to the slot's request (see oci_http), framed as RFC 9112 6.3 has
# it: 1xx interim answers skipped; no body for HEAD, 204, 304; chunked (extensions and trailers
# read and dropped); else Content-Length (a list of equal values is one); else to the end of the
# connection. Any content coding is identity: none is asked for, and OCI sends a bogus
# `Content-Encoding: UTF-8` (oci-wire.md). OCI_FAULT says why it got no answer when a fresh
# connection does not explain it (an answer it cannot frame, one cut off, none after a
# reconnect), with time left: oci_fallback makes the call through curl then.
OCI_FAULT=''
OCI_VIA=''
oci_http_recv() {
    local LC_ALL=C attempt t=${OCI_SLOT_DEADLINE[$OCI_SLOT]} scheme host port hostport method
    local part head line rest re='^HTTP/1\.([01]) ([0-9][0-9][0-9])' status len='' te='' close=0
    local size fault='' cut=''
    read -r scheme host port hostport method <<<"${OCI_SLOT_TARGET[$OCI_SLOT]}"
    OCI_STATUS=000
    OCI_BODY=''
    OCI_FAULT=''
    OCI_VIA=kept-alive
    OCI_RAW=''
    for attempt in 1 2; do
        # The wait for the first byte gets what is left of the deadline.
        if [ -n "$OCI_CONN_IN" ] && oci_left "$t" &&
            IFS= read -r -N 1 -t "$OCI_LEFT" -u "$OCI_CONN_IN" OCI_RAW; then
            break
        fi
        # Nothing came back: a stale connection (retried once on a new one), or no answer.
        oci_conn_close
        if ! oci_left "$t"; then
            OCI_BODY="no answer from $hostport within $OCI_MAX_TIME s"
            return 1
        fi
        if [ "$attempt" = 2 ]; then
            OCI_BODY="the connection to $hostport closed without an answer, twice"
            OCI_FAULT='no answer after a reconnect'
            return 1
        fi
        if ! oci_conn_open "$scheme" "$host" "$port"; then
            OCI_BODY="cannot connect to $hostport"
            return 1
        fi
        printf '%s' "${OCI_SLOT_REQ[$OCI_SLOT]}" 2>/dev/null 1>&"$OCI_CONN_OUT"
    done
    # Status and headers, a line each: nothing is waited for beyond them (a bulk read would wait
    # for more until its timer ran out). A 1xx (100 Continue, 103 Early Hints) is followed by the
    # answer.
    while true; do
        while [[ $OCI_RAW != *$'\r\n\r\n' ]]; do
            [ "$OCI_RAW" != $'\r\n' ] || OCI_RAW=''
            if ! oci_left "$t" || ! IFS= read -r -t "$OCI_LEFT" -u "$OCI_CONN_IN" part; then
                cut=1
                break 2
            fi
            OCI_RAW+=$part$'\n'
        done
        head=${OCI_RAW%$'\r\n\r\n'}
        line=${head%%$'\r\n'*}
        if ! [[ $line =~ $re ]] || [ "${BASH_REMATCH[2]}" = 101 ]; then
            fault="not an HTTP/1.x answer (${line:0:60})"
            break
        fi
        status=${BASH_REMATCH[2]}
        # HTTP/1.0 closes after the answer.
        [ "${BASH_REMATCH[1]}" = 1 ] || close=1
        [[ $status == 1* ]] || break
        OCI_RAW=''
        if ! oci_left "$t" || ! IFS= read -r -N 1 -t "$OCI_LEFT" -u "$OCI_CONN_IN" OCI_RAW; then
            cut=1
            break
        fi
    done
    rest=''
    [ -n "$fault$cut" ] || [[ $head != *$'\r\n'* ]] || rest=${head#*$'\r\n'}$'\r\n'
    while [ -n "$rest" ]; do
        line=${rest%%$'\r\n'*}
        rest=${rest#*$'\r\n'}
        case "${line,,}" in
            content-length:*)
                size=${line#*:}
                size=${size%%,*}
                size=${size//[$' \t']/}
                if ! [[ $size =~ ^[0-9]{1,15}$ ]] || { [ -n "$len" ] && [ "$((10#$size))" != "$len" ]; }; then
                    fault='a Content-Length that is not one number'
                else
                    len=$((10#$size))
                fi
                ;;
            transfer-encoding:*)
                part=${line#*:}
                te+=${part//[$' \t']/},
                ;;
            connection:*close*) close=1 ;;
        esac
    done
    if [ -n "$te" ]; then
        te=${te,,}
        te=${te%%,}
        # The only coding asked for is none: chunked alone (then the length is ignored, and the
        # connection not trusted after).
        [ "$te" = chunked ] || fault="a transfer coding it cannot read ($te)"
        [ -z "$len" ] || close=1
    fi
    if [ -n "$fault$cut" ] || [ "$method" = HEAD ] || [ "$status" = 204 ] || [ "$status" = 304 ]; then
        :
    elif [ -n "$te" ]; then
        # Size line, data and its CRLF, until the last chunk (size 0); then trailer lines up to
        # an empty one.
        while true; do
            if ! oci_left "$t" || ! IFS= read -r -t "$OCI_LEFT" -u "$OCI_CONN_IN" line; then
                cut=1
                break
            fi
            size=${line%$'\r'}
            size=${size%%;*}
            size=${size//[$' \t']/}
            if ! [[ $size =~ ^[0-9a-fA-F]{1,8}$ ]]; then
                fault="a chunk size it cannot read (${line:0:40})"
                break
            fi
            size=$((16#$size))
            [ "$size" -gt 0 ] || break
            if ! oci_left "$t" || ! IFS= read -r -N $((size + 2)) -t "$OCI_LEFT" -u "$OCI_CONN_IN" part ||
                [ "${#part}" != $((size + 2)) ]; then
                cut=1
                break
            fi
            if [ "${part:size}" != $'\r\n' ]; then
                fault='a chunk longer than its size'
                break
            fi
            OCI_BODY+=${part:0:size}
        done
        while [ -z "$fault$cut" ]; do
            if ! oci_left "$t" || ! IFS= read -r -t "$OCI_LEFT" -u "$OCI_CONN_IN" line; then
                cut=1
            elif [ "$line" = $'\r' ]; then
                break
            fi
        done
    elif [ -n "$len" ]; then
        if [ "$len" -gt 0 ]; then
            if ! oci_left "$t" || ! IFS= read -r -N "$len" -t "$OCI_LEFT" -u "$OCI_CONN_IN" part ||
                [ "${#part}" != "$len" ]; then
                cut=1
            fi
            OCI_BODY=$part
        fi
    else
        # No length: the body runs to the end of the connection.
        size=129
        while oci_left "$t"; do
            IFS= read -r -N 65536 -t "$OCI_LEFT" -u "$OCI_CONN_IN" part
            size=$?
            OCI_BODY+=$part
            [ "$size" = 0 ] || break
            size=129
        done
        [ "$size" -le 128 ] || cut=1
        close=1
    fi
    # Bytes beyond the answer put the connection out of step: never reused.
    if [ -n "$fault" ] || [ "$cut" = 1 ] || [ "$close" = 1 ] || read -r -t 0 -u "$OCI_CONN_IN" 2>/dev/null; then
        oci_conn_close
    fi
    if [ -n "$fault" ] || [ "$cut" = 1 ]; then
        OCI_BODY="the answer from $hostport was cut off"
        [ -z "$fault" ] || OCI_BODY="the answer from $hostport has $fault"
        # Out of time (a server that stalls), nothing more to try.
        ! oci_left "$t" || OCI_FAULT=${fault:-cut off}
        return 1
    fi
    OCI_STATUS=$status
    case "$status" in
        2[0-9][0-9]) return 0 ;;
    esac
    return 1
}
