#!/bin/bash
# vipsetup: prepares the node for the failover agent and starts keepalived, in an order where
# keepalived never runs before VRRP can pass the host firewall, SELinux lets it make its FIFO
# and run the agent, and the agent's settings are in place. Run once by cloud-init (runcmd)
# after write_files put the files in place. Everything comes from the image's own package
# repositories (keepalived, curl, openssl): no OCI CLI, no Python, no PyPI.
#   Oracle Linux 8, 9, 10 (dnf); Ubuntu 22.04, 24.04 and Debian 11, 12, 13 (apt).
# When keepalived is already installed (a custom image for an air-gapped subnet) the package
# manager is not touched. Anything else gets a one-line refusal in the log.
#
# VIPSETUP_ROOT (tests only) prefixes every file this script reads or writes.
set -euo pipefail

ROOT=${VIPSETUP_ROOT:-}
SETTINGS=$ROOT/etc/vipsetup/agent.env
LIB_DIR=$ROOT/usr/local/lib/vipsetup
KEEPALIVED_CONF=$ROOT/etc/keepalived/keepalived.conf
SNMP=${VIPSETUP_SNMP:-/proc/net/snmp}
export LC_ALL=C

log() {
    logger -t vipsetup-install -- "$*" 2>/dev/null || true
    printf 'vipsetup-install: %s\n' "$*"
}

refuse() {
    log "$* -- nothing was changed; the failover agent is not installed"
    exit 1
}

# The node's settings (NODE_IP, PEER_IP, PREFERRED, INTERFACE, PEER_WAIT, ...).
NODE_IP=''
PEER_IP=''
PREFERRED='yes'
INTERFACE=''
PEER_WAIT='300'
[ -r "$SETTINGS" ] || refuse "cannot read $SETTINGS (written by cloud-init's write_files)"
# shellcheck source=/dev/null
. "$SETTINGS"

# Step 8: the preferred node becomes the first owner: the other one waits for its adverts.
# With nopreempt, whichever node runs VRRP first keeps the VIP, and installs finish minutes
# apart. Until keepalived runs here nothing reads VRRP, so the kernel counts each advert from
# the peer in Ip InUnknownProtos: a rise means the preferred node is up and MASTER.
unknown_protos() {
    awk '/^Ip: / { if (!n) { for (i = 2; i <= NF; i++) if ($i == "InUnknownProtos") c = i; n = 1 } else { print $c; exit } }' "$SNMP" 2>/dev/null
}
wait_for_peer() {
    local before now waited=0
    log "not the preferred node: waiting up to $PEER_WAIT s for VRRP from $PEER_IP before starting keepalived"
    before=$(unknown_protos)
    if [ -z "$before" ]; then
        log "cannot read InUnknownProtos from $SNMP; not waiting"
        waited=$PEER_WAIT
    fi
    while [ "$waited" -lt "$PEER_WAIT" ]; do
        now=$(unknown_protos)
        if [ -n "$before" ] && [ -n "$now" ] && [ "$now" -gt "$before" ]; then
            log "VRRP from the preferred node seen after $waited s"
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    if [ "$waited" -ge "$PEER_WAIT" ] && [ -n "$before" ]; then
        log "no VRRP from $PEER_IP within $PEER_WAIT s; starting keepalived anyway"
    fi
}

# `install-agent --wait-for-peer`: step 8 alone (the failover harness runs it as a node's
# install finishing).
if [ "${1:-}" = --wait-for-peer ]; then
    wait_for_peer
    exit 0
fi

# --- 1. which system, and whether it can run the agent
ID=''
VERSION_ID=''
# shellcheck source=/dev/null
[ -r "$ROOT/etc/os-release" ] && . "$ROOT/etc/os-release"
major=${VERSION_ID%%.*}
case "${ID:-}:$major" in
    ol:8 | ol:9 | ol:10 | rhel:8 | rhel:9 | rhel:10 | almalinux:[89] | rocky:[89]) family=dnf ;;
    ubuntu:22 | ubuntu:24 | debian:11 | debian:12 | debian:13) family=apt ;;
    *)
        # Oracle Linux 7's keepalived (1.3.5) predates notify_fifo (1.3.6) and
        # vrrp_startup_delay (2.0.14).
        refuse "unsupported system ${ID:-unknown} ${VERSION_ID:-}: needs Oracle Linux 8-10, Ubuntu 22.04 or 24.04, or Debian 11-13"
        ;;
esac
log "preparing ${ID} ${VERSION_ID} for the failover agent"

# --- 2. keepalived must not run until step 9 (apt starts a service it installs)
policy_rc_d=''
if [ "$family" = apt ] && [ ! -e "$ROOT/usr/sbin/policy-rc.d" ]; then
    # invoke-rc.d and deb-systemd-invoke ask this script; 101 = "action not allowed".
    printf '#!/bin/sh\n# vipsetup install-agent: no service starts while it installs\nexit 101\n' \
        >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    policy_rc_d=$ROOT/usr/sbin/policy-rc.d
fi
cleanup() {
    if [ -n "$policy_rc_d" ]; then
        rm -f "$policy_rc_d"
    fi
    systemctl unmask --runtime keepalived >/dev/null 2>&1 || true
}
trap cleanup EXIT
systemctl mask --runtime keepalived >/dev/null 2>&1 || true
# A custom image may have started it at boot, with our configuration but no firewall rule yet.
systemctl stop keepalived >/dev/null 2>&1 || true

# --- 2b. the agent's session key pair and first token, made while the packages install (an
# RSA key and a federation cost seconds on a small shape; the agent keepalived starts keeps them).
# Not under VIPSETUP_ROOT: the agent knows no root prefix. Without curl or openssl yet it fails,
# and one cut short by the timeout (90 s from here) leaves no mark: the agent then makes its own
# key and token (the mark is written last).
# (A background job's stdin is /dev/null already.)
if [ -z "$ROOT" ]; then
    timeout 90 "$LIB_DIR/vip-agent" --prepare &>/dev/null &
fi

# --- 3. packages, from the image's repositories, only what is missing
missing=()
command -v keepalived >/dev/null 2>&1 || missing+=(keepalived)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -eq 0 ]; then
    log "keepalived, curl and openssl are installed"
else
    log "installing ${missing[*]}"
    if [ "$family" = apt ]; then
        export DEBIAN_FRONTEND=noninteractive
        # unattended-upgrades may hold the lock at first boot: wait for it (10 min).
        apt-get -o DPkg::Lock::Timeout=600 -q update ||
            log "apt-get update failed; trying the install with the current package lists"
        apt-get -o DPkg::Lock::Timeout=600 -y -q install --no-install-recommends "${missing[@]}" ||
            refuse "apt-get could not install ${missing[*]}; check the subnet reaches the package mirror"
    else
        # dnf waits for another dnf's lock by itself.
        dnf -y -q install "${missing[@]}" ||
            refuse "dnf could not install ${missing[*]}; check the subnet reaches the package mirror"
    fi
fi

# --- 4. the interface: the one holding this node's address
addrs=$(ip -o -4 addr show 2>/dev/null || true)
found=$(printf '%s\n' "$addrs" | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
if [ -n "$found" ] && [ "$found" != "$INTERFACE" ]; then
    if printf '%s\n' "$addrs" | awk -v dev="$INTERFACE" '$2 == dev { f = 1 } END { exit !f }'; then
        log "interface $INTERFACE (from the blueprint) is kept; $NODE_IP is on $found"
    else
        log "interface ${INTERFACE:-none} does not exist here; using $found, which holds $NODE_IP"
        sed -i "s/^\([[:space:]]*interface \)$INTERFACE\$/\1$found/; s/ dev $INTERFACE\$/ dev $found/" "$KEEPALIVED_CONF"
        INTERFACE=$found
    fi
fi

# --- 5. the host firewall lets VRRP (IP protocol 112) in
save_rules=''
if systemctl is-active --quiet firewalld 2>/dev/null; then
    firewall-cmd --permanent --add-rich-rule='rule protocol value="vrrp" accept'
    firewall-cmd --reload
    log "firewalld: VRRP accepted"
elif command -v iptables >/dev/null 2>&1; then
    # OCI's Ubuntu images end INPUT with a REJECT (rules.v4): insert before it (saved for the
    # next boot after keepalived starts, step 10).
    if ! iptables -C INPUT -p vrrp -j ACCEPT 2>/dev/null; then
        iptables -I INPUT -p vrrp -j ACCEPT
    fi
    command -v netfilter-persistent >/dev/null 2>&1 && save_rules=yes
    log "iptables: VRRP accepted"
fi

# --- 6. SELinux stays enforcing: a module for keepalived's FIFO and the agent's label
if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then
    semodule -i "$LIB_DIR/vipsetup-keepalived.cil" ||
        refuse "semodule could not load $LIB_DIR/vipsetup-keepalived.cil"
    restorecon -R "$LIB_DIR" || refuse "restorecon could not label $LIB_DIR"
    log "SELinux: module vipsetup-keepalived loaded, $LIB_DIR labelled"
fi

# --- 7. systemd-networkd must not drop the VIP when it restarts (Ubuntu's netplan)
if [ -n "$INTERFACE" ] && systemctl is-active --quiet systemd-networkd 2>/dev/null; then
    dropin=$ROOT/etc/systemd/network/10-netplan-$INTERFACE.network.d
    mkdir -p "$dropin"
    printf '# vipsetup: keep the VIP keepalived adds when networkd restarts\n[Network]\nKeepConfiguration=static\n' \
        >"$dropin/vipsetup-keep-vip.conf"
    networkctl reload >/dev/null 2>&1 || true
    log "systemd-networkd: KeepConfiguration=static on $INTERFACE"
fi

# --- 8. the preferred node becomes the first owner (wait_for_peer, above)
if [ "$PREFERRED" != yes ]; then
    wait_for_peer
fi

# --- 9. start keepalived (after --prepare, which its timeout bounds: the only background job).
# Started first; what only the next boot needs (step 10) follows: `systemctl enable` reloads
# systemd and, for keepalived's SysV script, runs update-rc.d, and saving the firewall runs
# iptables-save: together 4.8-5.7 s of a first boot under TCG that the VIP waited for.
wait
systemctl unmask --runtime keepalived >/dev/null 2>&1 || true
systemctl restart keepalived
log "keepalived started; the agent logs to journalctl -t vipsetup-agent"

# --- 10. for the next boot: the firewall rule saved, keepalived enabled (waiting for the address)
if [ -n "$save_rules" ]; then
    netfilter-persistent save >/dev/null 2>&1 || log "netfilter-persistent save failed; the VRRP rule lasts until reboot"
fi
# keepalived starts at boot only once this node's address is configured: keepalived
# 2.1.5 (Oracle Linux 8's) that starts before it logs "bind unicast_src ... failed", enters FAULT
# ("src address not configured") and stays there when the address comes (seen in the twin: a
# reboot whose DHCP came late left the node FAULT for good). At most 120 s, then it starts anyway.
if [ -n "$NODE_IP" ]; then
    unit_dropin=$ROOT/etc/systemd/system/keepalived.service.d
    mkdir -p "$unit_dropin"
    # (keepalived.service is After= and Wants=network-online.target in Debian's and Oracle's.)
    cat >"$unit_dropin/vipsetup-wait-address.conf" <<DROPIN
[Service]
ExecStartPre=/bin/sh -c 'for i in \$\$(seq 120); do ip -o addr | grep -qF " $NODE_IP/" && exit 0; sleep 1; done; echo "vipsetup: no $NODE_IP in 120 s"'
TimeoutStartSec=180
DROPIN
    systemctl daemon-reload >/dev/null 2>&1 || true
fi

systemctl enable keepalived
