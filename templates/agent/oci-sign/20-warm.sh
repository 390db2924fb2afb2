# oci-sign.sh, part 2: warm tools, openssl processes started ahead of a takeover.

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
        # A new tool has been fed nothing (oci_b64_sha256).
        unset 'OCI_SUM_FED[$k]'
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
