# oci-sign.sh, part 6: API calls as the instance principal: sign (or reuse), send, retry once on 401.

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
# Which transport served each: kept-alive or curl fallback (oci_fallback).
# shellcheck disable=SC2034
OCI_CALL_VIA=()
# shellcheck disable=SC2034
oci_call_all() {
    local k i n=${#OCI_CALL_URL[@]} all=0 sig re='^[0-9a-f]+$' RENEWED=0 fd
    local -a signing=() names=() reused=() nh=() fed=() pids=() scratch=()
    local -A hdrs=()
    OCI_CALL_STATUS=()
    OCI_CALL_RESULT=()
    OCI_CALL_ERROR=()
    OCI_CALL_VIA=()
    if [ "$n" -eq 1 ]; then
        oci_call "${OCI_CALL_METHOD[0]}" "${OCI_CALL_URL[0]}" "${OCI_CALL_BODY[0]}"
        all=$?
        OCI_CALL_STATUS[0]=$OCI_STATUS
        OCI_CALL_RESULT[0]=$OCI_BODY
        OCI_CALL_ERROR[0]=$OCI_ERROR
        OCI_CALL_VIA[0]=$OCI_VIA
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
    # The bodies first, each to its slot's warm hashing tool: they hash at once, while the first
    # signing strings are made (oci_b64_sha256 reads each answer).
    # (Equal bodies, a takeover's usual case, are hashed once: oci_b64_sha256.)
    for ((k = 0; k < n; k++)); do
        oci_body_nl "${OCI_CALL_BODY[k]}"
        OCI_CALL_BODY[k]=$OCI_NL_BODY
        [ "$k" -eq 0 ] || [ "$OCI_NL_BODY" != "${OCI_CALL_BODY[k - 1]}" ] || continue
        [ -n "$OCI_NL_BODY" ] && oci_warm_feed "$k" sum "$OCI_NL_BODY" && OCI_SUM_FED[$k]=$OCI_NL_BODY
    done
    for ((k = 0; k < n; k++)); do
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
        # A warm one is fed now and read below: they sign at once, in parallel (not for a GET).
        fed[k]=0
        if [ "${OCI_CALL_METHOD[k]}" != GET ] && oci_warm_feed "$k" sig "$OCI_SS"; then
            fed[k]=1
            continue
        fi
        oci_scratch "ss$k" "$OCI_SS" || return 1
        signing[k]=$OCI_SCRATCH
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
            # (rm is a process: the files go after the answers.)
            [ "${fed[k]}" = 1 ] || scratch+=("${signing[k]}" "${signing[k]}.sig")
            if [ -z "$sig" ]; then
                OCI_ERROR='cannot sign with the session key'
                rm -f "${scratch[@]}"
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
        if oci_http_recv || oci_fallback; then
            OCI_CALL_VIA[k]=$OCI_VIA
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
        OCI_CALL_VIA[k]=$OCI_VIA
        OCI_CALL_STATUS[k]=$OCI_STATUS
        OCI_CALL_RESULT[k]=$OCI_BODY
        [ -z "${OCI_CALL_ERROR[k]}" ] || all=1
    done
    oci_slot 0
    [ "${#scratch[@]}" -eq 0 ] || rm -f "${scratch[@]}"
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


