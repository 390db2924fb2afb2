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
    oci_http_recv
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
    req+="accept: application/json"$'\r\n\r\n'"$body"
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
    if [[ $head != *$'\r\n\r\n' && $head != $'\r\n' || $line != *$'\ncontent-length:'* ]]; then
        oci_conn_close
        return 1
    fi
    len=${line#*$'\ncontent-length:'}
    len=${len%%$'\r'*}
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

# oci_http_recv: reads the answer to the slot's request (see oci_http).
oci_http_recv() {
    local LC_ALL=C attempt t=${OCI_SLOT_DEADLINE[$OCI_SLOT]} scheme host port hostport method
    local part eof=0 head line rest re='^HTTP/1\.[01] ([0-9][0-9][0-9])' status len=-1 chunked=0
    local close=0 size data
    read -r scheme host port hostport method <<<"${OCI_SLOT_TARGET[$OCI_SLOT]}"
    OCI_STATUS=000
    OCI_BODY=''
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
            OCI_BODY="the connection to $hostport closed without an answer"
            return 1
        fi
        if ! oci_conn_open "$scheme" "$host" "$port"; then
            OCI_BODY="cannot connect to $hostport"
            return 1
        fi
        printf '%s' "${OCI_SLOT_REQ[$OCI_SLOT]}" 2>/dev/null 1>&"$OCI_CONN_OUT"
    done
    # Status and headers, a line each: nothing is waited for beyond them (a bulk read would wait
    # for more until its timer ran out).
    while [[ $OCI_RAW != *$'\r\n\r\n' ]]; do
        if ! oci_left "$t" || ! IFS= read -r -t "$OCI_LEFT" -u "$OCI_CONN_IN" part; then
            oci_conn_close
            OCI_BODY="the answer from $hostport was cut off"
            return 1
        fi
        OCI_RAW+=$part$'\n'
    done
    head=${OCI_RAW%%$'\r\n\r\n'*}
    OCI_BODY=''
    line=${head%%$'\r\n'*}
    if ! [[ $line =~ $re ]]; then
        oci_conn_close
        OCI_BODY="not an HTTP answer from $hostport: ${line:0:100}"
        return 1
    fi
    status=${BASH_REMATCH[1]}
    rest=''
    [[ $head != *$'\r\n'* ]] || rest=${head#*$'\r\n'}
    while [ -n "$rest" ]; do
        line=${rest%%$'\r\n'*}
        if [[ $rest == *$'\r\n'* ]]; then rest=${rest#*$'\r\n'}; else rest=''; fi
        case "${line,,}" in
            content-length:*)
                len=${line#*:}
                len=${len//[^0-9]/}
                ;;
            transfer-encoding:*chunked*) chunked=1 ;;
            connection:*close*) close=1 ;;
        esac
    done
    if [ "$method" = HEAD ] || [ "$status" = 204 ] || [ "$status" = 304 ]; then
        OCI_BODY=''
    elif [ "$chunked" = 1 ]; then
        # Until the last chunk (size 0) and the empty line after it.
        while [[ $OCI_BODY != 0$'\r\n\r\n' && $OCI_BODY != *$'\r\n'0$'\r\n\r\n' ]]; do
            if [ "$eof" = 1 ] || ! oci_left "$t" ||
                ! IFS= read -r -N 1 -t "$OCI_LEFT" -u "$OCI_CONN_IN" part; then
                close=2
                break
            fi
            OCI_BODY+=$part
            OCI_RAW=$OCI_BODY
            oci_more || eof=1
            OCI_BODY=$OCI_RAW
        done
        data=$OCI_BODY
        OCI_BODY=''
        while [ "$close" != 2 ] && [[ $data == *$'\r\n'* ]]; do
            size=${data%%$'\r\n'*}
            size=${size%%;*}
            size=${size//[^0-9a-fA-F]/}
            size=$((16#${size:-0}))
            data=${data#*$'\r\n'}
            [ "$size" -gt 0 ] || break
            OCI_BODY+=${data:0:size}
            data=${data:size+2}
        done
    elif [ "$len" -ge 0 ]; then
        size=$((len - ${#OCI_BODY}))
        if [ "$size" -gt 0 ]; then
            if [ "$eof" = 1 ] || ! oci_left "$t" ||
                ! IFS= read -r -N "$size" -t "$OCI_LEFT" -u "$OCI_CONN_IN" part; then
                close=2
            else
                OCI_BODY+=$part
            fi
        elif [ "$size" -lt 0 ]; then
            # More than announced: the connection is out of step; never reuse it.
            OCI_BODY=${OCI_BODY:0:len}
            close=1
        fi
    else
        # No length: the body runs to the end of the connection.
        while [ "$eof" = 0 ] && oci_left "$t"; do
            IFS= read -r -N 65536 -t "$OCI_LEFT" -u "$OCI_CONN_IN" part
            [ $? -gt 128 ] || eof=1
            OCI_BODY+=$part
        done
        close=1
    fi
    if [ "$close" != 0 ] || [ "$eof" = 1 ]; then
        oci_conn_close
    fi
    if [ "$close" = 2 ]; then
        OCI_BODY="the answer from $hostport was cut off"
        return 1
    fi
    OCI_STATUS=$status
    case "$status" in
        2[0-9][0-9]) return 0 ;;
    esac
    return 1
}

# oci_more: appends to OCI_RAW what the connection holds now (bash reads a socket a byte per system
# call for lines but in bulk for a count: one read of up to 64 KiB, then at most 2 ms for more).
OCI_RAW=''
oci_more() {
    local part rc
    IFS= read -r -N 65536 -t 0.002 -u "$OCI_CONN_IN" part
    rc=$?
    OCI_RAW+=$part
    [ "$rc" -gt 128 ] || [ "$rc" -eq 0 ]
}
