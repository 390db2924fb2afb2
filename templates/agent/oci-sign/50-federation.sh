# oci-sign.sh, part 5: instance-principal federation (metadata service, session key, token).

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
    # Re-read every time: the instance certificate rotates. Files of this process's own: a claim
    # loop and a background view writer may federate at once, and one's half-written certificate
    # read by the other failed its federation ("no opc-tenant:").
    local leaf=$d/leaf.$BASHPID
    for f in cert.pem key.pem intermediate.pem; do
        if ! oci_metadata "identity/$f" "$leaf-$f"; then
            rm -f "$leaf"-*
            OCI_ERROR="cannot read identity/$f from the metadata service at $OCI_METADATA_BASE"
            OCI_STATUS=000
            return 1
        fi
    done
    # One openssl: "subject=..." then "SHA1 Fingerprint=AB:CD:...".
    subject=$(openssl x509 -in "$leaf-cert.pem" -noout -subject -nameopt RFC2253 -fingerprint -sha1 2>/dev/null)
    if ! [[ $subject =~ $re ]]; then
        rm -f "$leaf"-*
        OCI_ERROR="the instance certificate's subject has no opc-tenant: (${subject%%$'\n'*})"
        return 1
    fi
    tenancy=${BASH_REMATCH[1]}
    fp=${subject##*Fingerprint=}
    fp=${fp^^}
    oci_pem_body "$leaf-cert.pem"
    body="{\"certificate\": \"$OCI_PEM\", "
    oci_pem_body "$d/session-pub.pem"
    body+="\"publicKey\": \"$OCI_PEM\", "
    oci_pem_body "$leaf-intermediate.pem"
    body+="\"intermediateCertificates\": [\"$OCI_PEM\"]}"$'\n'
    oci_http_date
    if ! oci_signing_string POST "$OCI_FEDERATION_URL" "$OCI_DATE" "$body" federation ||
        ! oci_authorization "$tenancy/fed-x509/$fp" "$leaf-key.pem"; then
        rm -f "$leaf"-*
        OCI_ERROR='cannot sign the federation request with the instance key'
        return 1
    fi
    rm -f "$leaf"-*
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
