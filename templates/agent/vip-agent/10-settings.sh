#!/bin/bash
# vipsetup failover agent: keepalived's notify_fifo_script (ordered state lines on the FIFO $1).
# A claim loop (own process group) waits, warmed up, from the start; on MASTER it moves every VIP
# object (private IPs, Ipv6s) to this node's VNIC, one request each, all at once, then rechecks;
# on BACKUP/FAULT/STOP it is killed with any call in flight, so a loser never moves anything.
# keepalived adds and removes the addresses. API or auth errors mean "unknown, try again", never
# "peer down". After `systemctl reload keepalived` no state line comes: if none comes within
# STATE_WAIT s and the VIP is on an interface (only a MASTER has it), the agent claims.
# Settings: /etc/vipsetup/agent.env (VIPSETUP_AGENT_ENV), so it runs alike against a simulator.
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

log() {
    logger -t vipsetup-agent -- "$*" 2>/dev/null || printf 'vipsetup-agent: %s\n' "$*" >&2
}

if [ -r "$SETTINGS" ]; then
    # shellcheck source=/dev/null
    . "$SETTINGS"
else
    log "cannot read settings file $SETTINGS; using defaults (the VIP cannot be claimed without it)"
fi
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
