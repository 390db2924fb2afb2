#!/bin/bash
# (A library: vip-agent sources it; running it does nothing.)
# vipsetup: OCI request signing and instance-principal federation in bash with curl and openssl.
# Signing as oci-python-sdk oci/signer.py and oci-go-sdk common/http_signer.go do it; federation
# as oci/auth/federation_client.py does (IMDS v2 certificate, key and intermediate; tenancy from
# opc-tenant:; keyId <tenancy>/fed-x509/<SHA-1 fp>; a session key made once; POST /v1/x509; the
# token kept until 60 s before its exp, renewed at once after a 401; calls keyed ST$<token>).
# Forks are what a loop that runs for the node's life must save: calls go over kept-alive HTTP/1.1
# connections spoken by bash (/dev/tcp for http, one openssl s_client for https); a GET's
# signature is reused for OCI_SIG_REUSE s (OCI only checks the date is within 5 minutes:
# oci-api.md); curl only for the metadata service.
# Settings: OCI_WORK_DIR, OCI_METADATA_BASE, OCI_FEDERATION_URL, OCI_CONNECT_TIMEOUT,
# OCI_MAX_TIME, OCI_SIG_REUSE. Results: OCI_STATUS (000 = no answer), OCI_BODY.

OCI_WORK_DIR=${OCI_WORK_DIR:-/run/vipsetup}
OCI_METADATA_BASE=${OCI_METADATA_BASE:-http://169.254.169.254/opc/v2}
OCI_FEDERATION_URL=${OCI_FEDERATION_URL:-}
OCI_CONNECT_TIMEOUT=${OCI_CONNECT_TIMEOUT:-5}
OCI_MAX_TIME=${OCI_MAX_TIME:-15}
# Outputs for the caller (hence SC2034: assigned here, read by vip-agent).
# shellcheck disable=SC2034
OCI_STATUS=''
OCI_BODY=''
# shellcheck disable=SC2034
OCI_ERROR=''
OCI_SS=''
OCI_SIGNED_HEADERS=''
OCI_TOKEN=''
OCI_TOKEN_EXP=0
# Renew this long before the token's exp (the Python SDK's margin; it also covers clock skew).
OCI_TOKEN_MARGIN=60
# Seconds a GET's signature (and its date) is sent again for the same URL.
OCI_SIG_REUSE=${OCI_SIG_REUSE:-240}
# Touched before each request, for a watchdog ('' = none).
OCI_BEAT_FILE=${OCI_BEAT_FILE:-}
OCI_B64_ALPHABET='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

# oci_http_date: sets OCI_DATE to now in the RFC 7231 form the service checks (bash builtin, no
# process).
oci_http_date() {
    TZ=GMT LC_ALL=C printf -v OCI_DATE '%(%a, %d %b %Y %H:%M:%S GMT)T' -1
}

# oci_hex_b64 HEX: sets OCI_B64 to the base64 of the bytes HEX spells (bash arithmetic: no process).
OCI_B64=''
oci_hex_b64() {
    local hex=$1 n i v out='' a=$OCI_B64_ALPHABET
    n=${#hex}
    for ((i = 0; i + 6 <= n; i += 6)); do
        v=$((16#${hex:i:6}))
        out+=${a:v>>18&63:1}${a:v>>12&63:1}${a:v>>6&63:1}${a:v&63:1}
    done
    case $((n - i)) in
        2)
            v=$((16#${hex:i:2} << 16))
            out+=${a:v>>18&63:1}${a:v>>12&63:1}==
            ;;
        4)
            v=$((16#${hex:i:4} << 8))
            out+=${a:v>>18&63:1}${a:v>>12&63:1}${a:v>>6&63:1}=
            ;;
    esac
    OCI_B64=$out
}

# oci_scratch NAME CONTENT: writes CONTENT to a file in OCI_WORK_DIR and sets OCI_SCRATCH to its
# path (the tools read files; a pipe would cost a process).
OCI_SCRATCH=''
oci_scratch() {
    [ -d "$OCI_WORK_DIR" ] || (umask 077 && mkdir -p "$OCI_WORK_DIR") || return 1
    OCI_SCRATCH=$OCI_WORK_DIR/$1.$BASHPID
    printf '%s' "$2" >"$OCI_SCRATCH"
}

# oci_cleanup: closes the connection and removes this process's scratch files.
oci_cleanup() {
    oci_conn_close_all
    # Closing its input ends each warm tool.
    oci_warm_forget
    rm -f "$OCI_WORK_DIR/ss.$BASHPID" "$OCI_WORK_DIR/body.$BASHPID"
}

# Warm tools: started ahead of need (oci_warm), an openssl that hashes and one that signs with the
# session key wait on pipes for their input, so that a takeover pays neither start-up (OpenSSL 3
# takes about 10 ms of CPU to start, more on a busy small shape). One pair per slot, each used once.
# OCI_WARM_IN[K] is the tool's input, OCI_WARM_OUT[K] a pipe (both ends in one fd) its answer comes
# back on: one line of base64 (bash's conversion from hex is a few hundred commands).
# OCI_WARM_PID[K] is the openssl. No FIFO: nothing ever waits to open one. A tool sees the end of
# its input when the last copy of its write end closes, so every long-lived child closes its
# copies (oci_warm_forget).
declare -A OCI_WARM_IN=() OCI_WARM_OUT=() OCI_WARM_PID=()
# Set when a tool was used (vip-agent starts new ones then).
# shellcheck disable=SC2034
OCI_WARM_USED=0
oci_warm() {
    local k=$1 kind in out args
    [ -s "$OCI_WORK_DIR/session-key.pem" ] || return 1
    # A tool that died makes the write to it fail with EPIPE: handled, not fatal.
    trap '' PIPE
    for kind in sum sig; do
        [ -z "${OCI_WARM_IN[$k$kind]:-}" ] || continue
        args=(-binary)
        [ "$kind" = sum ] || args=(-sign "$OCI_WORK_DIR/session-key.pem")
        exec {out}<> <(:) || return 1
        # (A wrap wider than the answer: one line, ended by a newline.)
        exec {in}> >(oci_forget_conns
            exec openssl dgst -sha256 "${args[@]}" 2>/dev/null > >(exec base64 -w 4096 >&"$out")) || return 1
        OCI_WARM_OUT[$k$kind]=$out
        OCI_WARM_IN[$k$kind]=$in
        OCI_WARM_PID[$k$kind]=$!
    done
}

# oci_warm_forget: in a child, closes its copies of the warm tools' ends (the parent keeps them).
oci_warm_forget() {
    local fd
    for fd in "${OCI_WARM_IN[@]}" "${OCI_WARM_OUT[@]}"; do
        [ -z "$fd" ] || exec {fd}>&-
    done 2>/dev/null
    OCI_WARM_IN=()
    OCI_WARM_OUT=()
    OCI_WARM_PID=()
}

# oci_warm_feed K KIND INPUT: gives INPUT to slot K's warm tool of KIND (sum, sig), alive, and ends
# its input; returns 1 when there is none.
oci_warm_feed() {
    local in=${OCI_WARM_IN[$1$2]:-}
    [ -n "$in" ] || return 1
    # shellcheck disable=SC2034
    OCI_WARM_USED=1
    OCI_WARM_IN[$1$2]=''
    if ! kill -0 "${OCI_WARM_PID[$1$2]}" 2>/dev/null || ! printf '%s' "$3" 2>/dev/null 1>&"$in"; then
        exec {in}>&-
        oci_warm_answer "$1" "$2" dead
        return 1
    fi
    exec {in}>&-
}

# oci_warm_answer K KIND [dead]: sets OCI_B64 to the answer of slot K's tool of KIND (fed before);
# returns 1 when it gave none.
oci_warm_answer() {
    local out=${OCI_WARM_OUT[$1$2]:-} line=''
    OCI_WARM_OUT[$1$2]=''
    [ -n "$out" ] || return 1
    [ -n "${3:-}" ] || IFS= read -r -t "$OCI_MAX_TIME" -u "$out" line
    exec {out}<&-
    OCI_B64=$line
    [[ $line =~ ^[A-Za-z0-9+/]+=*$ ]]
}

# oci_warm_use K KIND INPUT: oci_warm_feed, then oci_warm_answer.
oci_warm_use() {
    oci_warm_feed "$@" && oci_warm_answer "$1" "$2"
}

# oci_b64_sha256 STRING: sets OCI_B64 to the base64 of the SHA-256 of STRING's bytes.
oci_b64_sha256() {
    local hex
    ! oci_warm_use "$OCI_SLOT" sum "$1" || return 0
    oci_scratch body "$1" || return 1
    hex=$(sha256sum <"$OCI_SCRATCH") || return 1
    hex=${hex%% *}
    [ ${#hex} -eq 64 ] || return 1
    oci_hex_b64 "$hex"
}

# oci_signing_string METHOD URL DATE BODY [federation]: sets OCI_SS (the signing string),
# OCI_SIGNED_HEADERS (their names) and OCI_HEADERS (the headers to send but (request-target)).
oci_signing_string() {
    local method=$1 url=$2 date=$3 body=$4 mode=${5:-api}
    local scheme=${url%%://*} rest=${url#*://}
    local host=${rest%%/*} target='/'
    case "$rest" in
        */*) target=/${rest#*/} ;;
    esac
    # The host header as HTTP clients send it: the default port left out.
    case "$scheme:$host" in
        https:*:443) host=${host%:443} ;;
        http:*:80) host=${host%:80} ;;
    esac
    local names=(date '(request-target)') values=("$date" "${method,,} $target")
    if [ "$mode" != federation ]; then
        names+=(host)
        values+=("$host")
    fi
    case "${method^^}" in
        POST | PUT | PATCH)
            # Bytes, not characters.
            local LC_ALL=C length
            length=${#body}
            oci_b64_sha256 "$body" || return 1
            names+=(content-length content-type x-content-sha256)
            values+=("$length" 'application/json' "$OCI_B64")
            ;;
    esac
    local i
    OCI_SS=''
    OCI_HEADERS=()
    for i in "${!names[@]}"; do
        [ "$i" -eq 0 ] || OCI_SS+=$'\n'
        OCI_SS+="${names[$i]}: ${values[$i]}"
        if [ "${names[$i]}" != '(request-target)' ]; then
            OCI_HEADERS+=("${names[$i]}: ${values[$i]}")
        fi
    done
    OCI_SIGNED_HEADERS="${names[*]}"
}

# oci_authorization KEY_ID KEY_FILE: signs OCI_SS (from oci_signing_string) with the PEM key and
# sets OCI_AUTHORIZATION, the Authorization header's value.
oci_authorization() {
    local sig re='^[0-9a-f]+$'
    # One process (a warm one with the session key): openssl prints the signature in hex
    # ("RSA-SHA256(file)= 1a2b..."); bash turns it into base64.
    # (A GET's signature, made every OCI_SIG_REUSE s, does not use up the warm signer: it is kept
    # for the takeover.)
    if [ "$2" != "$OCI_WORK_DIR/session-key.pem" ] || [[ $OCI_SS == *$'\n(request-target): get '* ]] ||
        ! oci_warm_use "$OCI_SLOT" sig "$OCI_SS"; then
        oci_scratch ss "$OCI_SS" || return 1
        sig=$(openssl dgst -sha256 -sign "$2" -hex "$OCI_SCRATCH" 2>/dev/null) || return 1
        sig=${sig##*= }
        [[ $sig =~ $re ]] || return 1
        oci_hex_b64 "$sig"
    fi
    OCI_AUTHORIZATION="Signature algorithm=\"rsa-sha256\",headers=\"$OCI_SIGNED_HEADERS\",keyId=\"$1\",signature=\"$OCI_B64\",version=\"1\""
}


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

# oci_json_get JSON KEY: sets OCI_JSON to the first string value of "KEY" in JSON; returns 1 when
# there is none.
OCI_JSON=''
oci_json_get() {
    local re="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
    OCI_JSON=''
    [[ $1 =~ $re ]] || return 1
    OCI_JSON=${BASH_REMATCH[1]}
}

# oci_metadata PATH FILE: GET from the metadata service into FILE (mode 600), with the same limits
# as an API call.
oci_metadata() {
    [ -z "$OCI_BEAT_FILE" ] || : >"$OCI_BEAT_FILE"
    (umask 077 && curl -sSf --connect-timeout "$OCI_CONNECT_TIMEOUT" --max-time "$OCI_MAX_TIME" \
        -H 'Authorization: Bearer Oracle' -o "$2" -- "$OCI_METADATA_BASE/$1" 2>/dev/null)
}

# oci_pem_body FILE: sets OCI_PEM to the PEM's base64 without its BEGIN/END lines and line breaks,
# as the auth service wants certificates and keys in the federation body (bash alone: no process).
OCI_PEM=''
oci_pem_body() {
    local line
    OCI_PEM=''
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line == *-----* ]] || OCI_PEM+=${line//[$' \r']/}
    done <"$1"
}

# oci_new_session_key: a fresh session key pair (the agent makes one when it starts; its claim loops
# use it).
oci_new_session_key() {
    local key=$OCI_WORK_DIR/session-key.pem
    mkdir -p "$OCI_WORK_DIR" && chmod 700 "$OCI_WORK_DIR" || return 1
    rm -f "$OCI_WORK_DIR/token"
    OCI_TOKEN=''
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key.tmp" 2>/dev/null &&
        openssl pkey -in "$key.tmp" -pubout -out "$OCI_WORK_DIR/session-pub.pem" 2>/dev/null &&
        mv -f "$key.tmp" "$key")
}

# oci_session_key: makes the session key pair unless there is one.
oci_session_key() {
    if [ ! -s "$OCI_WORK_DIR/session-key.pem" ] || [ ! -s "$OCI_WORK_DIR/session-pub.pem" ]; then
        oci_new_session_key
    fi
}

# oci_jwt_exp TOKEN: the token's exp claim (seconds since the epoch), 0 if unreadable.
oci_jwt_exp() {
    local payload=${1#*.}
    payload=${payload%%.*}
    payload=${payload//_//}
    payload=${payload//-/+}
    while [ $((${#payload} % 4)) -ne 0 ]; do payload+='='; done
    local claims re='"exp"[[:space:]]*:[[:space:]]*([0-9]+)'
    claims=$(base64 -d 2>/dev/null <<<"$payload")
    if [[ $claims =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf 0; fi
}

# oci_federate: a new session token from the auth service (POST /v1/x509).
oci_federate() {
    local d=$OCI_WORK_DIR f tenancy fp body subject re='opc-tenant:(ocid1\.[A-Za-z0-9._-]+)'
    oci_session_key || {
        OCI_ERROR="cannot make a session key in $d"
        return 1
    }
    # Re-read every time: the instance certificate rotates.
    for f in cert.pem key.pem intermediate.pem; do
        if ! oci_metadata "identity/$f" "$d/leaf-$f"; then
            OCI_ERROR="cannot read identity/$f from the metadata service at $OCI_METADATA_BASE"
            OCI_STATUS=000
            return 1
        fi
    done
    # One openssl: "subject=..." then "SHA1 Fingerprint=AB:CD:...".
    subject=$(openssl x509 -in "$d/leaf-cert.pem" -noout -subject -nameopt RFC2253 -fingerprint -sha1 2>/dev/null)
    if ! [[ $subject =~ $re ]]; then
        OCI_ERROR="the instance certificate's subject has no opc-tenant: (${subject%%$'\n'*})"
        return 1
    fi
    tenancy=${BASH_REMATCH[1]}
    fp=${subject##*Fingerprint=}
    fp=${fp^^}
    oci_pem_body "$d/leaf-cert.pem"
    body="{\"certificate\": \"$OCI_PEM\", "
    oci_pem_body "$d/session-pub.pem"
    body+="\"publicKey\": \"$OCI_PEM\", "
    oci_pem_body "$d/leaf-intermediate.pem"
    body+="\"intermediateCertificates\": [\"$OCI_PEM\"]}"$'\n'
    oci_http_date
    if ! oci_signing_string POST "$OCI_FEDERATION_URL" "$OCI_DATE" "$body" federation ||
        ! oci_authorization "$tenancy/fed-x509/$fp" "$d/leaf-key.pem"; then
        OCI_ERROR='cannot sign the federation request with the instance key'
        return 1
    fi
    # On a connection of its own (slot 9): the API's stays open.
    local slot=$OCI_SLOT
    oci_slot 9
    oci_http POST "$OCI_FEDERATION_URL" "$body" "${OCI_HEADERS[@]}" "authorization: $OCI_AUTHORIZATION"
    f=$?
    oci_conn_close
    oci_slot "$slot"
    if [ "$f" != 0 ]; then
        OCI_ERROR="federation at $OCI_FEDERATION_URL failed: HTTP $OCI_STATUS ${OCI_BODY:0:200}"
        return 1
    fi
    oci_json_get "$OCI_BODY" token
    OCI_TOKEN=$OCI_JSON
    OCI_JSON=''
    OCI_BODY='[token]'
    OCI_TOKEN_EXP=$(oci_jwt_exp "$OCI_TOKEN")
    if [ -z "$OCI_TOKEN" ] || [ "$OCI_TOKEN_EXP" -eq 0 ]; then
        OCI_ERROR="federation at $OCI_FEDERATION_URL answered without a token with an exp"
        OCI_TOKEN=''
        return 1
    fi
    (umask 077 && printf '%s %s\n' "$OCI_TOKEN_EXP" "$OCI_TOKEN" >"$d/token.tmp" && mv -f "$d/token.tmp" "$d/token")
    OCI_FEDERATIONS=$((${OCI_FEDERATIONS:-0} + 1))
}

# oci_token: a session token valid for at least OCI_TOKEN_MARGIN more seconds, from memory, from
# OCI_WORK_DIR/token (this agent's last federation, shared with its claim loops), or by federating.
oci_token() {
    local now
    printf -v now '%(%s)T' -1
    if [ -z "$OCI_TOKEN" ] && [ -s "$OCI_WORK_DIR/token" ]; then
        read -r OCI_TOKEN_EXP OCI_TOKEN <"$OCI_WORK_DIR/token"
    fi
    if [ -n "$OCI_TOKEN" ] && [ $((now + OCI_TOKEN_MARGIN)) -lt "${OCI_TOKEN_EXP:-0}" ]; then
        return 0
    fi
    oci_federate
}

# Reused GET signatures, by URL and token: when signed (s), how many headers, and each header
# ("KEY#i"; kept apart, not joined: splitting them again would read them byte by byte).
declare -A OCI_REUSE_AT=() OCI_REUSE_N=() OCI_REUSE_HDRS=()

# oci_sign_call METHOD URL BODY: sets OCI_HEADERS (with authorization) for a call as the instance
# principal, reusing a GET's recent signature for the same URL and token (OCI_REUSED=1 then).
OCI_REUSED=0
oci_sign_call() {
    local method=$1 url=$2 body=$3
    OCI_REUSED=0
    if [ "$method" = GET ] && oci_sign_call_reused "$url"; then
        OCI_REUSED=1
        return 0
    fi
    oci_http_date
    if ! oci_signing_string "$method" "$url" "$OCI_DATE" "$body" ||
        ! oci_authorization "ST\$$OCI_TOKEN" "$OCI_WORK_DIR/session-key.pem"; then
        OCI_ERROR='cannot sign with the session key'
        return 1
    fi
    OCI_HEADERS+=("authorization: $OCI_AUTHORIZATION")
    [ "$method" != GET ] || oci_reuse_keep "$url"
}

# oci_reuse_keep URL: keeps OCI_HEADERS, a fresh GET signature for URL, for reuse.
oci_reuse_keep() {
    local now key="$1 ${OCI_TOKEN: -32}" i
    printf -v now '%(%s)T' -1
    OCI_REUSE_AT[$key]=$now
    OCI_REUSE_N[$key]=${#OCI_HEADERS[@]}
    for i in "${!OCI_HEADERS[@]}"; do
        OCI_REUSE_HDRS[$key#$i]=${OCI_HEADERS[i]}
    done
}

# oci_call_failed METHOD URL: after a failed call, whether to make it again (returns 0): after a 401
# on a reused signature (reuse is then off for the process
oci_call_failed() {
    # shellcheck disable=SC2034
    OCI_ERROR="$1 $2: HTTP $OCI_STATUS ${OCI_BODY:0:300}"
    unset 'OCI_REUSE_AT[$2 ${OCI_TOKEN: -32}]'
    [ "$OCI_STATUS" = 401 ] || return 1
    if [ "$OCI_REUSED" = 1 ]; then
        OCI_SIG_REUSE=0
        return 0
    fi
    [ "$RENEWED" = 0 ] || return 1
    RENEWED=1
    OCI_TOKEN=''
    OCI_TOKEN_EXP=0
    rm -f "$OCI_WORK_DIR/token"
}

# oci_body_nl BODY: sets OCI_NL_BODY to BODY ending with a newline (JSON allows it). bash's output is
# line-buffered: a request is written up to its last newline, then the rest, so a body without one
# went out in a second write, which Nagle's algorithm holds until the server's delayed ACK (40 ms
# on Linux; strace: the headers' write, then the body's 42 ms later). Ending with a newline, the
# whole request is one write.
OCI_NL_BODY=''
oci_body_nl() {
    OCI_NL_BODY=$1
    [ -z "$1" ] || [[ $1 == *$'\n' ]] || OCI_NL_BODY+=$'\n'
}

# oci_call METHOD URL [BODY]: one API call as the instance principal, on the kept-alive connection
# of the slot in use.
oci_call() {
    local method=$1 url=$2 body=${3:-} attempt RENEWED=0
    oci_body_nl "$body"
    body=$OCI_NL_BODY
    for attempt in 1 2 3; do
        oci_token || return 1
        oci_sign_call "$method" "$url" "$body" || return 1
        if oci_http "$method" "$url" "$body" "${OCI_HEADERS[@]}"; then
            return 0
        fi
        oci_call_failed "$method" "$url" || return 1
    done
    return 1
}

# oci_call_all: the calls OCI_CALL_METHOD[k] OCI_CALL_URL[k] OCI_CALL_BODY[k] at once, each on its
# own connection (slot k), their signatures made by parallel openssl processes.
OCI_CALL_METHOD=()
OCI_CALL_URL=()
OCI_CALL_BODY=()
# Outputs for the caller (hence SC2034).
# shellcheck disable=SC2034
OCI_CALL_STATUS=()
# shellcheck disable=SC2034
OCI_CALL_RESULT=()
OCI_CALL_ERROR=()
# shellcheck disable=SC2034
oci_call_all() {
    local k i n=${#OCI_CALL_URL[@]} all=0 sig re='^[0-9a-f]+$' RENEWED=0 fd
    local -a signing=() names=() reused=() nh=() fed=() pids=()
    local -A hdrs=()
    OCI_CALL_STATUS=()
    OCI_CALL_RESULT=()
    OCI_CALL_ERROR=()
    if [ "$n" -eq 1 ]; then
        oci_call "${OCI_CALL_METHOD[0]}" "${OCI_CALL_URL[0]}" "${OCI_CALL_BODY[0]}"
        all=$?
        OCI_CALL_STATUS[0]=$OCI_STATUS
        OCI_CALL_RESULT[0]=$OCI_BODY
        OCI_CALL_ERROR[0]=$OCI_ERROR
        return "$all"
    fi
    if ! oci_token; then
        for ((k = 0; k < n; k++)); do
            OCI_CALL_STATUS[k]=000
            OCI_CALL_ERROR[k]=$OCI_ERROR
        done
        return 1
    fi
    oci_http_date
    for ((k = 0; k < n; k++)); do
        oci_body_nl "${OCI_CALL_BODY[k]}"
        OCI_CALL_BODY[k]=$OCI_NL_BODY
        # Slot k's warm tools hash its body and sign it.
        oci_slot "$k"
        OCI_REUSED=0
        reused[k]=0
        if [ "${OCI_CALL_METHOD[k]}" = GET ] && oci_sign_call_reused "${OCI_CALL_URL[k]}"; then
            reused[k]=1
        elif ! oci_signing_string "${OCI_CALL_METHOD[k]}" "${OCI_CALL_URL[k]}" "$OCI_DATE" "${OCI_CALL_BODY[k]}"; then
            return 1
        fi
        nh[k]=${#OCI_HEADERS[@]}
        for i in "${!OCI_HEADERS[@]}"; do
            hdrs[$k#$i]=${OCI_HEADERS[i]}
        done
        [ "${reused[k]}" = 0 ] || continue
        names[k]=$OCI_SIGNED_HEADERS
        oci_scratch "ss$k" "$OCI_SS" || return 1
        signing[k]=$OCI_SCRATCH
        # A warm one is fed now and read below: they sign at once, in parallel (not for a GET).
        fed[k]=0
        if [ "${OCI_CALL_METHOD[k]}" != GET ] && oci_warm_feed "$k" sig "$OCI_SS"; then
            fed[k]=1
            continue
        fi
        openssl dgst -sha256 -sign "$OCI_WORK_DIR/session-key.pem" -hex -out "$OCI_SCRATCH.sig" \
            "$OCI_SCRATCH" 2>/dev/null &
        pids+=("$!")
    done
    # These, by PID: bash 5's bare `wait` also waits for the last process substitution, which can be
    # a kept-alive s_client or a warm tool that never ends on its own.
    [ "${#pids[@]}" -eq 0 ] || wait "${pids[@]}"
    for ((k = 0; k < n; k++)); do
        OCI_HEADERS=()
        for ((i = 0; i < nh[k]; i++)); do
            OCI_HEADERS+=("${hdrs[$k#$i]}")
        done
        if [ "${reused[k]}" = 0 ]; then
            sig=''
            if [ "${fed[k]}" = 1 ]; then
                # A warm one answers in base64.
                oci_warm_answer "$k" sig && sig=$OCI_B64
            else
                read -r sig <"${signing[k]}.sig" 2>/dev/null
                sig=${sig##*= }
                [[ $sig =~ $re ]] || sig=''
                [ -z "$sig" ] || oci_hex_b64 "$sig"
            fi
            rm -f "${signing[k]}" "${signing[k]}.sig"
            if [ -z "$sig" ]; then
                OCI_ERROR='cannot sign with the session key'
                return 1
            fi
            OCI_HEADERS+=("authorization: Signature algorithm=\"rsa-sha256\",headers=\"${names[k]}\",keyId=\"ST\$$OCI_TOKEN\",signature=\"$OCI_B64\",version=\"1\"")
            [ "${OCI_CALL_METHOD[k]}" != GET ] || oci_reuse_keep "${OCI_CALL_URL[k]}"
        fi
        oci_slot "$k"
        oci_http_send "${OCI_CALL_METHOD[k]}" "${OCI_CALL_URL[k]}" "${OCI_CALL_BODY[k]}" "${OCI_HEADERS[@]}"
    done
    for ((k = 0; k < n; k++)); do
        oci_slot "$k"
        if oci_http_recv; then
            OCI_CALL_STATUS[k]=$OCI_STATUS
            OCI_CALL_RESULT[k]=$OCI_BODY
            OCI_CALL_ERROR[k]=''
            continue
        fi
        OCI_REUSED=${reused[k]}
        OCI_CALL_ERROR[k]="${OCI_CALL_METHOD[k]} ${OCI_CALL_URL[k]}: HTTP $OCI_STATUS ${OCI_BODY:0:300}"
        if [ "$OCI_STATUS" = 401 ]; then
            # Once more on its own, with a fresh signature or token.
            if oci_call "${OCI_CALL_METHOD[k]}" "${OCI_CALL_URL[k]}" "${OCI_CALL_BODY[k]}"; then
                OCI_CALL_ERROR[k]=''
            else
                OCI_CALL_ERROR[k]=$OCI_ERROR
            fi
        fi
        OCI_CALL_STATUS[k]=$OCI_STATUS
        OCI_CALL_RESULT[k]=$OCI_BODY
        [ -z "${OCI_CALL_ERROR[k]}" ] || all=1
    done
    oci_slot 0
    return "$all"
}

# oci_sign_call_reused URL: sets OCI_HEADERS to a recent signature's for a GET of URL and returns 0,
# when reuse allows one.
oci_sign_call_reused() {
    local now key="$1 ${OCI_TOKEN: -32}"
    printf -v now '%(%s)T' -1
    local i
    [ "$OCI_SIG_REUSE" -gt 0 ] && [ -n "${OCI_REUSE_AT[$key]:-}" ] &&
        [ $((now - OCI_REUSE_AT[$key])) -lt "$OCI_SIG_REUSE" ] || return 1
    OCI_HEADERS=()
    for ((i = 0; i < OCI_REUSE_N[$key]; i++)); do
        OCI_HEADERS+=("${OCI_REUSE_HDRS[$key#$i]}")
    done
}
