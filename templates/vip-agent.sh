#!/bin/bash
# vipsetup failover agent: keepalived's notify_fifo_script.
#
# keepalived starts this once and writes ordered state lines to the FIFO given as $1, e.g.
#   INSTANCE "VI_1" MASTER 150
# On MASTER a claim loop (a child process in its own process group) moves the VIP's private IP
# object to this node's VNIC through the OCI API and keeps checking it; on BACKUP, FAULT, STOP
# or DELETED that loop is killed and waited for, so a node that lost the election never makes
# another call. keepalived itself adds and removes the address on the interface.
#
# Everything site-specific comes from the settings file (default /etc/vipsetup/agent.env,
# override with VIPSETUP_AGENT_ENV), so the agent runs the same against OCI and against a local
# simulator. An API or auth error only ever means "unknown, try again": it never counts as the
# peer being down, and the loop never gives up while the node is MASTER.
#
# Usage: vip-agent FIFO            (as keepalived's notify_fifo_script)
#        vip-agent --claim-loop    (internal: the claim loop)
#        vip-agent --claim-once    (one claim attempt, for tests and debugging; exit 0 = VIP here)
set -u

SETTINGS=${VIPSETUP_AGENT_ENV:-/etc/vipsetup/agent.env}

# Defaults; the settings file overrides them. Empty means "not set".
VIP=''
SUBNET_ID=''
REGION=''
NODE_NAME=$(hostname 2>/dev/null || echo node)
OCI_AUTH='instance_principal'
OCI_CLI='/usr/bin/oci'
OCI_CONFIG_FILE=''
OCI_ENDPOINT=''
OCI_FEDERATION_ENDPOINT=''
OCI_METADATA_BASE_URL=''
OCI_REALM_DOMAIN='oraclecloud.com'
RECHECK_INTERVAL='5'
BACKOFF_INITIAL='1'
BACKOFF_MAX='8'
CLI_CONNECT_TIMEOUT='5'
CLI_READ_TIMEOUT='15'
CLI_DEADLINE='40'
STATE_DIR='/var/lib/vipsetup'

log() {
    logger -t vipsetup-agent -- "$*" 2>/dev/null || printf 'vipsetup-agent: %s\n' "$*" >&2
}

if [ -r "$SETTINGS" ]; then
    # shellcheck source=/dev/null
    . "$SETTINGS"
else
    log "cannot read settings file $SETTINGS; using defaults (the VIP cannot be claimed without it)"
fi

# The OCI CLI fails on some locales (Click refuses ASCII); the Python SDK reads
# OCI_METADATA_BASE_URL for instance principal certificates.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
export SUPPRESS_LABEL_WARNING=True OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING=True
if [ -n "$OCI_METADATA_BASE_URL" ]; then
    export OCI_METADATA_BASE_URL
fi
METADATA_BASE=${OCI_METADATA_BASE_URL:-http://169.254.169.254/opc/v2}
METADATA_BASE=${METADATA_BASE%/}
CORE_BASE=${OCI_ENDPOINT:-https://iaas.${REGION}.${OCI_REALM_DOMAIN}}
CORE_BASE=${CORE_BASE%/}

# Global CLI options. The CLI's own retry (up to 8 attempts with long back-off) is off: this
# loop retries with its own short, capped back-off, so a takeover is never stuck behind it.
cli_global=(--auth "$OCI_AUTH" --region "$REGION" --no-retry
    --connection-timeout "$CLI_CONNECT_TIMEOUT" --read-timeout "$CLI_READ_TIMEOUT")
if [ -n "$OCI_CONFIG_FILE" ]; then
    cli_global+=(--config-file "$OCI_CONFIG_FILE")
fi
if [ -n "$OCI_FEDERATION_ENDPOINT" ]; then
    cli_global+=(--federation-endpoint "$OCI_FEDERATION_ENDPOINT")
fi

# run_cli ARGS...: the CLI with a hard deadline. `raw-request` ignores the CLI's timeout flags,
# and a call stuck on a dead connection must not stall the loop. --foreground keeps timeout in
# our process group, so stopping the claim loop still kills a call in flight.
run_cli() {
    timeout --foreground -k 5 "$CLI_DEADLINE" "$OCI_CLI" "${cli_global[@]}" "$@"
}

# oci_cli ARGS...: a typed CLI command against the core service. Sets CLI_OUT (stdout) and
# CLI_ERR (stderr, where the CLI prints the service error as JSON); returns the CLI's status.
CLI_OUT=''
CLI_ERR=''
oci_cli() {
    local endpoint=() rc errfile
    if [ -n "$OCI_ENDPOINT" ]; then
        endpoint=(--endpoint "$OCI_ENDPOINT")
    fi
    errfile=$(mktemp)
    CLI_OUT=$(run_cli "${endpoint[@]}" "$@" 2>"$errfile")
    rc=$?
    CLI_ERR=$(tr -s ' \n' ' ' <"$errfile" | cut -c1-1500)
    rm -f "$errfile"
    return "$rc"
}

# oci_raw METHOD PATH BODY: one signed request through `oci raw-request` (which takes no
# --endpoint, hence the full URL). Sets CLI_OUT/CLI_ERR; returns 0 only on HTTP 2xx.
oci_raw() {
    local rc errfile
    errfile=$(mktemp)
    local body=()
    if [ -n "$3" ]; then
        body=(--request-body "$3")
    fi
    CLI_OUT=$(run_cli raw-request --http-method "$1" --target-uri "$CORE_BASE$2" "${body[@]}" 2>"$errfile")
    rc=$?
    CLI_ERR=$(tr -s ' \n' ' ' <"$errfile" | cut -c1-1500)
    rm -f "$errfile"
    [ "$rc" -eq 0 ] || return 1
    case "$CLI_OUT" in
        *'"status": "2'[0-9][0-9]*) return 0 ;;
    esac
    return 1
}

is_not_found() {
    case "$1" in
        *'"status": 404'* | *'"status": "404'* | *NotAuthorizedOrNotFound*) return 0 ;;
    esac
    return 1
}

mkdir -p "$STATE_DIR" 2>/dev/null
VNIC_FILE="$STATE_DIR/vnic-id"
PRIVATE_IP_FILE="$STATE_DIR/vip-private-ip-id"

# Sets VNIC: this node's primary VNIC, from the instance metadata service (v2), cached on disk.
VNIC=''
find_vnic() {
    local body
    if [ -s "$VNIC_FILE" ]; then
        VNIC=$(tr -d '[:space:]' <"$VNIC_FILE")
        return 0
    fi
    if ! body=$(curl -sf --max-time 5 -H 'Authorization: Bearer Oracle' "$METADATA_BASE/vnics/"); then
        log "cannot read this node's VNIC from the instance metadata service at $METADATA_BASE/vnics/; will retry"
        return 1
    fi
    # The first entry is the primary VNIC; OCIDs never contain quotes.
    VNIC=$(printf '%s' "$body" | tr -d '\n' | grep -o '"vnicId" *: *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
    if [ -z "$VNIC" ]; then
        log "the instance metadata service returned no vnicId; will retry"
        return 1
    fi
    printf '%s\n' "$VNIC" >"$VNIC_FILE"
}

# Sets PIP_ID, the VIP's private IP OCID: cached; else looked up by address in the subnet;
# else created on this VNIC (then CREATED=1: it is already here, no move needed).
PIP_ID=''
CREATED=0
find_private_ip() {
    CREATED=0
    if [ -s "$PRIVATE_IP_FILE" ]; then
        PIP_ID=$(tr -d '[:space:]' <"$PRIVATE_IP_FILE")
        return 0
    fi
    if ! oci_cli network private-ip list --subnet-id "$SUBNET_ID" --ip-address "$VIP" \
        --query 'data[0].id' --raw-output; then
        log "listing private IP $VIP in the subnet failed (API state unknown; will retry): $CLI_ERR"
        return 1
    fi
    PIP_ID=$(printf '%s' "$CLI_OUT" | tr -d '[:space:]')
    case "$PIP_ID" in
        ocid1.*) ;;
        *)
            log "no private IP object exists for $VIP; creating it on this node's VNIC $VNIC"
            if ! oci_cli network private-ip create --vnic-id "$VNIC" --ip-address "$VIP" \
                --display-name "vipsetup-vip" --query 'data.id' --raw-output; then
                log "creating private IP $VIP failed (will retry): $CLI_ERR"
                return 1
            fi
            PIP_ID=$(printf '%s' "$CLI_OUT" | tr -d '[:space:]')
            CREATED=1
            ;;
    esac
    printf '%s\n' "$PIP_ID" >"$PRIVATE_IP_FILE"
}

# Sets OWNER: the VNIC the API says the VIP is attached to (the confirmation GET). Like the
# move, it goes through `oci raw-request`, which starts in about half the time of a typed
# command (it loads no service modules) -- this runs every RECHECK_INTERVAL.
OWNER=''
read_owner() {
    if ! oci_raw GET "/20160918/privateIps/$PIP_ID" ''; then
        if is_not_found "$CLI_OUT $CLI_ERR"; then
            log "private IP $PIP_ID no longer exists; forgetting it"
            rm -f "$PRIVATE_IP_FILE"
        else
            log "reading private IP $PIP_ID failed (API state unknown; will retry): $(printf '%s' "$CLI_OUT $CLI_ERR" | tr -s ' \n' ' ' | cut -c1-300)"
        fi
        return 1
    fi
    OWNER=$(printf '%s' "$CLI_OUT" | tr -d '\n' | grep -o '"vnicId" *: *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
}

# One UpdatePrivateIp moving the VIP to this VNIC.
move_vip() {
    if ! oci_raw PUT "/20160918/privateIps/$PIP_ID" "{\"vnicId\": \"$VNIC\"}"; then
        if is_not_found "$CLI_OUT $CLI_ERR"; then
            log "private IP $PIP_ID no longer exists; forgetting it"
            rm -f "$PRIVATE_IP_FILE"
        else
            log "moving VIP $VIP to this node failed (will retry): $(printf '%s' "$CLI_OUT $CLI_ERR" | tr '\n' ' ' | cut -c1-300)"
        fi
        return 1
    fi
    log "moved VIP $VIP to this node's VNIC $VNIC (UpdatePrivateIp accepted)"
}

# Returns 0 when the API confirms the VIP on this VNIC. While NEED_MOVE=1 it sends the
# UpdatePrivateIp first without reading (the takeover path: two CLI calls once cached).
NEED_MOVE=1
claim_once() {
    find_vnic || return 1
    find_private_ip || return 1
    if [ "$CREATED" = 1 ]; then
        NEED_MOVE=0
    fi
    if [ "$NEED_MOVE" = 1 ]; then
        move_vip || return 1
        NEED_MOVE=0
    fi
    read_owner || return 1
    if [ "$OWNER" = "$VNIC" ]; then
        return 0
    fi
    log "the API shows VIP $VIP on VNIC ${OWNER:-none}, not on this node ($VNIC); claiming it"
    NEED_MOVE=1
    return 1
}

# Sleep that a TERM interrupts at once (bash defers traps while a foreground child runs).
nap() {
    sleep "$1" &
    wait $! 2>/dev/null
}

claim_loop() {
    local delay=$BACKOFF_INITIAL confirmed=0 started jitter
    trap 'exit 0' TERM INT
    started=$(date +%s)
    log "MASTER: claiming VIP $VIP for $NODE_NAME"
    while true; do
        # Never outlive the agent: an orphaned loop could keep claiming on a node that lost.
        if [ -n "${VIPSETUP_AGENT_PID:-}" ] && ! kill -0 "$VIPSETUP_AGENT_PID" 2>/dev/null; then
            log "agent process $VIPSETUP_AGENT_PID is gone; stopping the claim loop"
            exit 0
        fi
        if claim_once; then
            if [ "$confirmed" = 0 ]; then
                log "VIP $VIP confirmed on this node by the API after $(($(date +%s) - started)) s"
                confirmed=1
            fi
            delay=$BACKOFF_INITIAL
            nap "$RECHECK_INTERVAL"
        else
            if [ "$confirmed" = 1 ]; then
                started=$(date +%s)
            fi
            confirmed=0
            # Capped exponential back-off with up to 50% jitter, in milliseconds.
            jitter=$((RANDOM % (delay * 500 + 1)))
            nap "$((delay + jitter / 1000)).$(printf '%03d' $((jitter % 1000)))"
            delay=$((delay * 2))
            if [ "$delay" -gt "$BACKOFF_MAX" ]; then
                delay=$BACKOFF_MAX
            fi
        fi
    done
}

CLAIM_PID=''
start_claim() {
    if [ -n "$CLAIM_PID" ] && kill -0 "$CLAIM_PID" 2>/dev/null; then
        return 0
    fi
    # setsid: the loop leads its own process group, so stopping it also stops a CLI call
    # in flight (a loser must not finish a move after it lost).
    VIPSETUP_AGENT_PID=$$ setsid "$BASH" "$0" --claim-loop </dev/null &
    CLAIM_PID=$!
}

stop_claim() {
    if [ -n "$CLAIM_PID" ]; then
        kill -TERM -- "-$CLAIM_PID" 2>/dev/null || kill -TERM "$CLAIM_PID" 2>/dev/null
        wait "$CLAIM_PID" 2>/dev/null
        log "stopped claiming VIP $VIP ($1)"
        CLAIM_PID=''
    fi
}

case "${1:-}" in
    --claim-loop)
        claim_loop
        exit 0
        ;;
    --claim-once)
        NEED_MOVE=1
        claim_once
        exit $?
        ;;
    '' | -h | --help)
        echo "usage: $0 FIFO   (keepalived notify_fifo_script)" >&2
        exit 2
        ;;
esac

FIFO=$1
trap 'stop_claim "agent stopping"; exit 0' TERM INT
log "started for $NODE_NAME (VIP $VIP, region $REGION, auth $OCI_AUTH), reading $FIFO"
while true; do
    # keepalived keeps the FIFO open; if it ever closes, open it again.
    while read -r kind name state _priority; do
        [ "$kind" = INSTANCE ] || continue
        case "$state" in
            MASTER)
                log "instance $name is MASTER"
                start_claim
                ;;
            BACKUP | FAULT | STOP | DELETED)
                log "instance $name is $state"
                stop_claim "$state"
                ;;
        esac
    done <"$FIFO"
    nap 1
done
