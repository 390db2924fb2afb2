#!/bin/bash
# vipsetup failover agent: keepalived's notify_fifo_script (ordered state lines on the FIFO $1).
# A claim loop (own process group) waits, warmed up, from the start; on MASTER it moves every VIP
# object (private IPs, Ipv6s) to this node's VNIC, one request each, all at once, then rechecks;
# on BACKUP/FAULT/STOP it is killed with any call in flight, so a loser never moves anything.
# keepalived adds and removes the addresses. API or auth errors mean "unknown, try again", never
# "peer down". After `systemctl reload keepalived` no state line comes: if none comes within
# STATE_WAIT s and the VIP is on an interface (only a MASTER has it), the agent claims.
# Settings: /etc/vipsetup/agent.env (VIPSETUP_AGENT_ENV), so it runs alike against a simulator,
# then settings.env next to it: what a running node takes live from the instance metadata key
# vipsetup-settings (watch_settings, below; render/settings.rs writes the key).
# Usage: vip-agent FIFO | --standby (internal) | --claim-once | --check-once (exit 0 = VIPs here)
set -u

SETTINGS=${VIPSETUP_AGENT_ENV:-/etc/vipsetup/agent.env}

# Defaults; the settings file overrides them.
VIP=''
VIPS=''
VIPS6=''
NOTIFY_TOPIC=''
NOTIFY_ENDPOINT=''
PAIR_NAME=''
NODE_IP=''
SUBNET_ID=''
REGION=''
NODE_NAME=$(hostname 2>/dev/null || echo node)
OCI_ENDPOINT=''
OCI_FEDERATION_ENDPOINT=''
OCI_METADATA_BASE_URL=''
OCI_REALM_DOMAIN='oraclecloud.com'
RECHECK_INTERVAL='5'
BACKOFF_INITIAL='1'
BACKOFF_MAX='8'
CONNECT_TIMEOUT='5'
CALL_DEADLINE='15'
STATE_WAIT='3'
WATCH_INTERVAL='15'
STATE_DIR='/var/lib/vipsetup'
RUNTIME_DIR='/run/vipsetup'
KEEPALIVED_RELOAD='systemctl reload keepalived'

log() {
    logger -t vipsetup-agent -- "$*" 2>/dev/null || printf 'vipsetup-agent: %s\n' "$*" >&2
}

if [ -r "$SETTINGS" ]; then
    # shellcheck source=/dev/null
    . "$SETTINGS"
else
    log "cannot read settings file $SETTINGS; using defaults (the VIP cannot be claimed without it)"
fi
SETTINGS_LIVE=${SETTINGS%/*}/settings.env
# shellcheck source=/dev/null
[ ! -r "$SETTINGS_LIVE" ] || . "$SETTINGS_LIVE"
export LC_ALL=C

# The signing library lives next to this script.
LIB=${VIPSETUP_AGENT_LIB:-${BASH_SOURCE[0]%/*}/oci-sign.sh}
# shellcheck source=/dev/null
if ! . "$LIB"; then
    log "cannot read the signing library $LIB; reinstall the agent"
    exit 1
fi
# The library's settings (read there, hence SC2034).
# shellcheck disable=SC2034
OCI_WORK_DIR=$RUNTIME_DIR
# shellcheck disable=SC2034
OCI_CONNECT_TIMEOUT=$CONNECT_TIMEOUT
# shellcheck disable=SC2034
OCI_MAX_TIME=$CALL_DEADLINE
OCI_METADATA_BASE=${OCI_METADATA_BASE_URL:-http://169.254.169.254/opc/v2}
OCI_METADATA_BASE=${OCI_METADATA_BASE%/}
OCI_FEDERATION_URL=${OCI_FEDERATION_ENDPOINT:-https://auth.${REGION}.${OCI_REALM_DOMAIN}}
OCI_FEDERATION_URL=${OCI_FEDERATION_URL%/}
case "$OCI_FEDERATION_URL" in
    */v1/x509) ;;
    *) OCI_FEDERATION_URL+=/v1/x509 ;;
esac
CORE_BASE=${OCI_ENDPOINT:-https://iaas.${REGION}.${OCI_REALM_DOMAIN}}
CORE_BASE=${CORE_BASE%/}/20160918

mkdir -p "$STATE_DIR" 2>/dev/null
VNIC_FILE="$STATE_DIR/vnic-id"
# Freeform tags the agent writes on each VIP object at each takeover.
TAG_OWNER='vipsetup-owner'
TAG_TAKEOVER='vipsetup-takeover-at'

# The VIPs, moved together: IPv4 (VIPS; VIP in older settings), then IPv6 (VIPS6). Per VIP k:
# ADDR, KIND (4 or 6), ID (OCID), TAGS (the pair's), OWNER (VNIC), PREV (last taker's name).
ADDR=()
KIND=()
ID=()
TAGS=()
OWNER=()
PREV=()
read -r -a _vips <<<"${VIPS:-$VIP}"
read -r -a _vips6 <<<"$VIPS6"
for _v in "${_vips[@]}"; do
    ADDR+=("${_v%/*}")
    KIND+=(4)
done
for _v in "${_vips6[@]}"; do
    ADDR+=("${_v%/*}")
    KIND+=(6)
done
NVIPS=${#ADDR[@]}
ALL_VIPS=()
for ((_k = 0; _k < NVIPS; _k++)); do ALL_VIPS+=("$_k"); done
VIP=${ADDR[0]:-$VIP}
unset _k _v _vips _vips6

# --- Live settings. Every WATCH_INTERVAL s the settings watcher (a process of its own for the
# agent's life, started in 90-main.sh) reads the instance metadata key vipsetup-settings
# ("vipsetup-settings v<N> sha256:<hex>", then the base64 of the gzipped payload: sections
# "=== keepalived.conf", "=== settings.env", "=== health-check"; render/settings.rs). A version
# not yet run nor refused is checked whole (digest, sections, every settings line a known
# KEY='plain value', `keepalived -t`) before anything changes: a bad one is refused, logged and
# shown on the view tags, and the running files stay. A good one replaces the files, each by a
# rename, and keepalived reloads: it keeps its state and addresses and starts a new agent, which
# reads the new settings.
KEEPALIVED_CONF=/etc/keepalived/keepalived.conf
HEALTH_CHECK=${BASH_SOURCE[0]%/*}/health-check
SETTINGS_RECORD=$STATE_DIR/settings-version
SETTINGS_REFUSED=$STATE_DIR/settings-refused

# settings_stage DIR: unpacks DIR/value into DIR/f.<section>; prints why not (nothing: all good).
settings_stage() {
    local d=$1 h out
    IFS=' ' read -r _ _ h _ <"$d/value"
    sed -n 2p "$d/value" | base64 -d | gzip -dc >"$d/payload"
    out=$(sha256sum <"$d/payload")
    [ "sha256:${out%% *}" = "$h" ] || { echo "digest mismatch" && return; }
    # Sections other than these three are never installed.
    awk -v d="$d/f." '/^=== / { f = d substr($0, 5); next } f { print >f }' "$d/payload"
    if [ ! -s "$d/f.keepalived.conf" ] || [ ! -s "$d/f.settings.env" ]; then
        echo "missing section"
        return
    fi
    # Known keys, plain values: read as code only once it is sure to be settings.
    out=$(grep -Ev "^(PEER_IP|PREFERRED|VIPS?6?|VIP_PREFIX|NOTIFY_TOPIC|RECHECK_INTERVAL|BACKOFF_[A-Z]+)='[-0-9A-Za-z.:/ _]*'\$" "$d/f.settings.env")
    [ -z "$out" ] || { echo "not a setting: ${out:0:80}" && return; }
    # The interface keepalived runs on: the installer's choice (install-agent.sh, step 4) when the
    # blueprint names none, or one this node does not have.
    out=$(awk '$1 == "interface" { print $2; exit }' "$KEEPALIVED_CONF")
    [ "$out" = "$INTERFACE" ] || sed -i "s/ $INTERFACE\$/ $out/" "$d/f.keepalived.conf"
    chmod 755 "$d/f.health-check"
    # As the node will run it, the health check where keepalived would check it. 2.1.5 exits 0
    # on errors: any line it prints is one (as tests/render_tools.rs reads it).
    sed "s#\"$HEALTH_CHECK\"#\"$d/f.health-check\"#" "$d/f.keepalived.conf" >"$d/check.conf"
    out=$(keepalived -t -l -f "$d/check.conf" 2>&1) || out+=" (exit $?)"
    [ -z "${out//[[:space:]]/}" ] || echo "keepalived -t: ${out//$'\n'/; }" | cut -c1-160
}

# watch_settings: one look at the metadata key, from the settings watcher. It runs for the node's
# life, 240 times an hour, so a look that finds the version already run or refused costs no
# process and touches no file: a GET on the watcher's own kept-alive connection to the metadata
# service (the library's HTTP/1.1 client over bash's /dev/tcp, Content-Length or chunked; once
# through curl when that transport fails, oci_fallback), its first line compared in bash. (It was
# a forked subshell, flock, mkdir, curl and rm every look: about 2 CPU s an hour on the MASTER,
# bench/failover.sh; docs/failover-results.md.)
watch_settings() {
    local d fd v h run='' ref='' why same=1 x r p m
    # None (a node still on its first settings) or no answer: the next look.
    oci_http GET "$OCI_METADATA_BASE/instance/metadata/vipsetup-settings" '' \
        'Authorization: Bearer Oracle' 'accept: */*' || return
    [[ ${OCI_BODY%%$'\n'*} =~ ^[^\ ]+\ (v[0-9]+)\ sha256:([0-9a-fA-F]+) ]] || return
    v=${BASH_REMATCH[1]}
    h="$v ${BASH_REMATCH[2]}"
    [ ! -s "$SETTINGS_RECORD" ] || read -r run <"$SETTINGS_RECORD"
    [ ! -s "$SETTINGS_REFUSED" ] || read -r ref <"$SETTINGS_REFUSED"
    if [ "$h" = "$run" ] || [ "${ref%%:*} ${ref##*|}" = "$h" ]; then
        return
    fi
    # A new version: staged in a directory of its own, one watcher at a time (a reload starts a
    # new agent, whose watcher may start before this one has ended).
    d=$RUNTIME_DIR/settings.$BASHPID
    exec {fd}>"$RUNTIME_DIR/settings.lock" || return
    if ! flock -n "$fd" || ! mkdir -m 700 "$d"; then
        exec {fd}>&-
        return
    fi
    printf '%s\n' "$OCI_BODY" >"$d/value"
    run=${run%% *}
    why=$(settings_stage "$d")
    # (A file it cannot write counts as a refusal too: logged and shown, never half-reloaded.)
    for x in keepalived.conf:"$KEEPALIVED_CONF":640 settings.env:"$SETTINGS_LIVE":640 health-check:"$HEALTH_CHECK":755; do
        IFS=: read -r r p m <<<"$x"
        if [ -z "$why" ] && [ -e "$d/f.$r" ] && ! cmp -s "$d/f.$r" "$p"; then
            same=0
            cp "$d/f.$r" "$p.new" && chmod "$m" "$p.new" && mv -f "$p.new" "$p" || why="cannot write $p"
        fi
    done
    rm -rf "$d"
    # (The lock goes with its descriptor: this watcher looks again in WATCH_INTERVAL s.)
    exec {fd}>&-
    if [ -n "$why" ]; then
        log "settings $v refused (kept ${run:-v1}): $why"
        echo "$v: ${why//|/ }|${h#* }" >"$SETTINGS_REFUSED"
        write_view
        return
    fi
    echo "$h" >"$SETTINGS_RECORD"
    rm -f "$SETTINGS_REFUSED"
    log "settings $v applied (was ${run:-the first})"
    write_view
    [ "$same" = 1 ] || eval "$KEEPALIVED_RELOAD" || log "$KEEPALIVED_RELOAD failed"
}
