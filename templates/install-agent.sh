#!/bin/bash
# vipsetup: installs the failover agent's dependencies and starts keepalived.
# Run once by cloud-init (runcmd) after write_files put the configuration in place.
#   Oracle Linux 8/9: keepalived + Oracle's OCI CLI from the OS packages
#                     (oraclelinux-developer-release-elN, then python36-oci-cli / python39-oci-cli)
#   Ubuntu:           keepalived from apt, the OCI CLI into a venv (pip install oci-cli)
# It also lets VRRP (IP protocol 112) through the host firewall the platform images ship with.
set -euo pipefail

SETTINGS=${VIPSETUP_AGENT_ENV:-/etc/vipsetup/agent.env}
VENV=/opt/vipsetup/venv
OCI_CLI_VERSION=3.95.1
export LC_ALL=C.UTF-8 LANG=C.UTF-8

log() {
    logger -t vipsetup-install -- "$*" 2>/dev/null || true
    printf 'vipsetup-install: %s\n' "$*"
}

# retry N CMD...: package mirrors are sometimes briefly unreachable right after boot.
retry() {
    local n=$1 i
    shift
    for ((i = 1; i <= n; i++)); do
        if "$@"; then
            return 0
        fi
        log "attempt $i of $n failed: $*"
        sleep $((i * 5))
    done
    return 1
}

# shellcheck source=/dev/null
. /etc/os-release
major=${VERSION_ID%%.*}
cli=''
case "${ID:-}" in
    ol | rhel | centos | rocky | almalinux)
        case "$major" in
            8) cli_pkg=python36-oci-cli ;;
            9) cli_pkg=python39-oci-cli ;;
            *)
                log "unsupported ${ID} version ${VERSION_ID}; install keepalived and the OCI CLI by hand"
                exit 1
                ;;
        esac
        retry 3 dnf -y -q install keepalived curl policycoreutils-python-utils \
            "oraclelinux-developer-release-el$major"
        retry 3 dnf -y -q install "$cli_pkg"
        cli=/usr/bin/oci
        # SELinux confines keepalived and the scripts it runs (keepalived_t): label ours so they
        # may reach the metadata service and the OCI API, as the stock policy does for
        # /usr/libexec/keepalived.
        if command -v selinuxenabled >/dev/null && selinuxenabled; then
            if ! semanage fcontext -a -t keepalived_unconfined_script_exec_t '/usr/local/lib/vipsetup(/.*)?' 2>/dev/null; then
                semanage fcontext -m -t keepalived_unconfined_script_exec_t '/usr/local/lib/vipsetup(/.*)?' || true
            fi
            restorecon -R /usr/local/lib/vipsetup ||
                chcon -t keepalived_unconfined_script_exec_t /usr/local/lib/vipsetup/*
        fi
        if systemctl is-active --quiet firewalld; then
            firewall-cmd --permanent --add-rich-rule='rule protocol value="vrrp" accept'
            firewall-cmd --reload
        fi
        ;;
    ubuntu | debian)
        export DEBIAN_FRONTEND=noninteractive
        retry 3 apt-get update -q
        retry 3 apt-get install -y -q keepalived curl python3-venv
        if [ ! -x "$VENV/bin/oci" ]; then
            python3 -m venv "$VENV"
            # The version the agent's CLI usage is tested with (tests/requirements.txt).
            retry 3 "$VENV/bin/pip" install -q "oci-cli==$OCI_CLI_VERSION"
        fi
        cli=$VENV/bin/oci
        # OCI's Ubuntu images REJECT inbound traffic not explicitly allowed.
        if command -v iptables >/dev/null && ! iptables -C INPUT -p vrrp -j ACCEPT 2>/dev/null; then
            iptables -I INPUT -p vrrp -j ACCEPT
            if command -v netfilter-persistent >/dev/null; then
                netfilter-persistent save || true
            fi
        fi
        ;;
    *)
        log "unsupported operating system ${ID:-unknown}; install keepalived and the OCI CLI by hand"
        exit 1
        ;;
esac

# Point the agent at the CLI just installed, unless the settings name another one on purpose.
if [ -f "$SETTINGS" ] && [ "$cli" != /usr/bin/oci ]; then
    sed -i "s#^OCI_CLI='/usr/bin/oci'\$#OCI_CLI='$cli'#" "$SETTINGS"
fi
log "OCI CLI: $("$cli" --version 2>/dev/null || echo missing)"

systemctl enable keepalived
systemctl restart keepalived
log "keepalived started; the failover agent logs with tag vipsetup-agent (journalctl -t vipsetup-agent)"
