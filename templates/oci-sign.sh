#!/bin/bash
# (A library: vip-agent sources it; running it does nothing.)
# vipsetup: OCI request signing and instance-principal federation in bash, with only curl and
# openssl (present on every OCI platform image). Sourced by vip-agent; no OCI CLI, no Python.
#
# Signing (Signature version 1, rsa-sha256), as Oracle's SDKs do it (oci-python-sdk
# oci/signer.py; oci-go-sdk common/http_signer.go): the signing string is the lines
# "name: value" of date, (request-target) and host, plus content-length, content-type and
# x-content-sha256 for POST/PUT/PATCH; the federation request signs the same set without host.
#
# Instance principals, as oci-python-sdk oci/auth/federation_client.py and
# certificate_retriever.py do it: the leaf certificate, its key and the intermediate from the
# metadata service (IMDS v2, "Authorization: Bearer Oracle"); the tenancy from the certificate
# subject (opc-tenant:); keyId <tenancy>/fed-x509/<SHA-1 fingerprint, uppercase, colons>; a
# session key pair made once per process; POST /v1/x509 returns a JWT session token, kept until
# 60 s before its exp and renewed at once after a 401. API calls are signed with keyId
# ST$<token> and the session key.
#
# Settings (globals, set before use): OCI_WORK_DIR (private directory for keys and the token),
# OCI_METADATA_BASE, OCI_FEDERATION_URL, OCI_CONNECT_TIMEOUT, OCI_MAX_TIME.
# Results: OCI_STATUS (HTTP status, 000 when no answer) and OCI_BODY (response body).

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

# oci_http_date: sets OCI_DATE to now in the RFC 7231 form the service checks (bash builtin,
# no process).
oci_http_date() {
    TZ=GMT LC_ALL=C printf -v OCI_DATE '%(%a, %d %b %Y %H:%M:%S GMT)T' -1
}

# oci_b64_sha256 STRING: base64 of the SHA-256 of STRING's bytes.
oci_b64_sha256() {
    printf '%s' "$1" | openssl dgst -sha256 -binary | base64 -w 0
}

# oci_signing_string METHOD URL DATE BODY [federation]: sets OCI_SS (the signing string),
# OCI_SIGNED_HEADERS (their names, space separated) and OCI_HEADERS (an array of the
# "name: value" headers to send, (request-target) excluded).
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
            names+=(content-length content-type x-content-sha256)
            values+=("$length" 'application/json' "$(oci_b64_sha256 "$body")")
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

# oci_authorization KEY_ID KEY_FILE: signs OCI_SS (from oci_signing_string) with the PEM key
# and sets OCI_AUTHORIZATION, the Authorization header's value. Returns 1 if openssl fails.
oci_authorization() {
    local sig
    sig=$(printf '%s' "$OCI_SS" | openssl dgst -sha256 -sign "$2" | base64 -w 0) || return 1
    [ -n "$sig" ] || return 1
    OCI_AUTHORIZATION="Signature algorithm=\"rsa-sha256\",headers=\"$OCI_SIGNED_HEADERS\",keyId=\"$1\",signature=\"$sig\",version=\"1\""
}

# oci_curl_quote STRING: STRING as a double-quoted curl config value.
oci_curl_quote() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    printf '"%s"' "$s"
}

# oci_send METHOD URL BODY [EXTRA_HEADER...]: one request with the headers in OCI_HEADERS plus
# the extra ones. Headers and body go to curl on stdin (a config file), never on its command
# line, where other users could read a token in the process list. Sets OCI_STATUS/OCI_BODY;
# returns 0 on 2xx.
oci_send() {
    local method=$1 url=$2 body=$3 h out config
    shift 3
    config="request = $(oci_curl_quote "$method")"$'\n'
    for h in "${OCI_HEADERS[@]}" "$@"; do
        config+="header = $(oci_curl_quote "$h")"$'\n'
    done
    config+="header = \"accept: application/json\""$'\n'
    if [ -n "$body" ] || [ "${method^^}" != GET ]; then
        config+="data-binary = $(oci_curl_quote "$body")"$'\n'
    fi
    out=$(printf '%s' "$config" | curl -sS -K - --connect-timeout "$OCI_CONNECT_TIMEOUT" \
        --max-time "$OCI_MAX_TIME" -w '\n%{http_code}' -- "$url" 2>&1)
    OCI_STATUS=${out##*$'\n'}
    OCI_BODY=${out%$'\n'*}
    [ "$OCI_BODY" != "$out" ] || OCI_BODY=''
    case "$OCI_STATUS" in
        2[0-9][0-9]) return 0 ;;
        [0-9][0-9][0-9]) ;;
        *) OCI_STATUS=000 ;;
    esac
    return 1
}

# oci_json_get JSON KEY: sets OCI_JSON to the first string value of "KEY" in JSON; returns 1
# when there is none. Enough for OCIDs, addresses, tokens and tags, which hold no quotes.
OCI_JSON=''
oci_json_get() {
    local re="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
    OCI_JSON=''
    [[ $1 =~ $re ]] || return 1
    OCI_JSON=${BASH_REMATCH[1]}
}

# oci_metadata PATH FILE: GET from the metadata service into FILE (mode 600), with the same
# limits as an API call.
oci_metadata() {
    (umask 077 && curl -sSf --connect-timeout "$OCI_CONNECT_TIMEOUT" --max-time "$OCI_MAX_TIME" \
        -H 'Authorization: Bearer Oracle' -o "$2" -- "$OCI_METADATA_BASE/$1" 2>/dev/null)
}

# oci_pem_body FILE: the PEM's base64 without its BEGIN/END lines and line breaks, as the
# auth service wants certificates and keys in the federation body.
oci_pem_body() {
    grep -v -- '-----' "$1" | tr -d ' \r\n'
}

# oci_new_session_key: a fresh session key pair (the agent makes one when it starts; its claim
# loops use it). Forgets the token bound to the old key.
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
    payload=$(printf '%s' "$payload" | tr '_-' '/+')
    while [ $((${#payload} % 4)) -ne 0 ]; do payload+='='; done
    local claims re='"exp"[[:space:]]*:[[:space:]]*([0-9]+)'
    claims=$(printf '%s' "$payload" | base64 -d 2>/dev/null)
    if [[ $claims =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf 0; fi
}

# oci_federate: a new session token from the auth service (POST /v1/x509). Sets OCI_TOKEN and
# OCI_TOKEN_EXP and keeps them in OCI_WORK_DIR/token for the process's children.
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
    subject=$(openssl x509 -in "$d/leaf-cert.pem" -noout -subject -nameopt RFC2253 2>/dev/null)
    if ! [[ $subject =~ $re ]]; then
        OCI_ERROR="the instance certificate's subject has no opc-tenant: ($subject)"
        return 1
    fi
    tenancy=${BASH_REMATCH[1]}
    fp=$(openssl x509 -in "$d/leaf-cert.pem" -noout -fingerprint -sha1 2>/dev/null)
    fp=${fp#*=}
    fp=${fp^^}
    body="{\"certificate\": \"$(oci_pem_body "$d/leaf-cert.pem")\", \"publicKey\": \"$(oci_pem_body "$d/session-pub.pem")\", \"intermediateCertificates\": [\"$(oci_pem_body "$d/leaf-intermediate.pem")\"]}"
    oci_http_date
    oci_signing_string POST "$OCI_FEDERATION_URL" "$OCI_DATE" "$body" federation
    oci_authorization "$tenancy/fed-x509/$fp" "$d/leaf-key.pem" || {
        OCI_ERROR='cannot sign the federation request with the instance key'
        return 1
    }
    if ! oci_send POST "$OCI_FEDERATION_URL" "$body" "authorization: $OCI_AUTHORIZATION"; then
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

# oci_token: a session token valid for at least OCI_TOKEN_MARGIN more seconds, from memory,
# from OCI_WORK_DIR/token (this agent's last federation, shared with its claim loops), or by
# federating.
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

# oci_call METHOD URL [BODY]: one API call as the instance principal. On a 401 the token is
# renewed at once and the call made once more. Sets OCI_STATUS/OCI_BODY; returns 0 on 2xx.
oci_call() {
    local method=$1 url=$2 body=${3:-} attempt
    for attempt in 1 2; do
        oci_token || return 1
        oci_http_date
        oci_signing_string "$method" "$url" "$OCI_DATE" "$body"
        oci_authorization "ST\$$OCI_TOKEN" "$OCI_WORK_DIR/session-key.pem" || {
            OCI_ERROR='cannot sign with the session key'
            return 1
        }
        if oci_send "$method" "$url" "$body" "authorization: $OCI_AUTHORIZATION"; then
            return 0
        fi
        # shellcheck disable=SC2034
        OCI_ERROR="$method $url: HTTP $OCI_STATUS ${OCI_BODY:0:300}"
        [ "$OCI_STATUS" = 401 ] && [ "$attempt" = 1 ] || return 1
        OCI_TOKEN=''
        OCI_TOKEN_EXP=0
        rm -f "$OCI_WORK_DIR/token"
    done
    return 1
}
