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

# oci_b64_sha256 STRING: sets OCI_B64 to the base64 of the SHA-256 of STRING's bytes. A slot whose
# warm hashing tool was fed STRING ahead (OCI_SUM_FED[slot], by oci_call_all: the bodies of several
# calls hash at once) has only its answer to read.
# The last body hashed and its hash: a takeover's PUTs of several VIPs carry the same body (the
# VNIC and the tags), hashed once (oci_call_all feeds only the first of equal bodies).
OCI_SUM_OF=''
OCI_SUM_B64=''
declare -A OCI_SUM_FED=()
oci_b64_sha256() {
    if [ -z "${OCI_SUM_FED[$OCI_SLOT]+set}" ] && [ -n "$OCI_SUM_B64" ] && [ "$1" = "$OCI_SUM_OF" ]; then
        OCI_B64=$OCI_SUM_B64
        return 0
    fi
    oci_b64_sha256_made "$1" || return 1
    OCI_SUM_OF=$1
    OCI_SUM_B64=$OCI_B64
}
oci_b64_sha256_made() {
    local hex fed
    if [ -n "${OCI_SUM_FED[$OCI_SLOT]+set}" ]; then
        fed=${OCI_SUM_FED[$OCI_SLOT]}
        unset 'OCI_SUM_FED[$OCI_SLOT]'
        if [ "$fed" = "$1" ]; then
            ! oci_warm_answer "$OCI_SLOT" sum || return 0
        else
            oci_warm_answer "$OCI_SLOT" sum dead
        fi
    fi
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

# oci_json_get JSON KEY: sets OCI_JSON to the first string value of "KEY" in JSON; returns 1 when
# there is none.
OCI_JSON=''
oci_json_get() {
    local re="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
    OCI_JSON=''
    [[ $1 =~ $re ]] || return 1
    OCI_JSON=${BASH_REMATCH[1]}
}
