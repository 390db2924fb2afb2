#!/usr/bin/env bash
# Builds the first-boot twin's disk image and package mirror for one Debian suite from Debian
# packages, cached outside the clone under $VIPSETUP_FIRST_BOOT_CACHE (default
# /var/cache/vipsetup-first-boot)/<suite>-<recipe hash>/, and prints that directory on its last
# line. `image.sh SUITE`, SUITE one of bullseye (cloud-init 20.4, keepalived 2.1.5, OpenSSL
# 1.1.1: Oracle Linux 8's generation), bookworm (the default) or trixie (cloud-init 25.1,
# keepalived 2.3.3, OpenSSL 3.5). A changed recipe (this file, the suite, the twin's CA) gives a
# new hash, so a new build; an unchanged one is reused at once. Needs root, mmdebstrap, mkfs.ext4 (e2fsprogs),
# dpkg-scanpackages (dpkg-dev), openssl and a reachable Debian mirror ($VIPSETUP_DEBIAN_MIRROR).
#
# The image stands in for an OCI platform image (Debian instead of Ubuntu, same parts):
# cloud-init, e2fsprogs (cloud-init's resizefs runs resize2fs; trixie's minbase lacks it), curl, openssl, OpenSSH, sudo, locales, D-Bus, ifupdown + dhclient, and iptables rules that REJECT every
# inbound connection not explicitly allowed, restored at boot by netfilter-persistent, as in
# OCI's Ubuntu images (their /etc/iptables/rules.v4; see reference/real-world-findings.md). It
# does NOT contain keepalived: the installer must fetch it from the mirror, which holds exactly
# the .debs `apt-get install keepalived` needs on this image (recommends included). Each suite
# has its own mirror, served at http://192.0.2.20:8080/<suite>/ (the twin serves them all).
#
# Two additions that no real image has, both needed by the harness and nothing else:
# - the twin's CA in the trust store: the cloud namespace answers TLS for Oracle's API host
#   names with a certificate it signs (a real image trusts the public CA that signs Oracle's);
#   one CA for every suite ($cache_root/ca), so a mixed pair trusts the same TLS front;
# - a command channel on the second serial port (ttyS1): the harness writes one base64 command
#   per line and reads back `@@rc <status> <base64 output>`. It is how the test reads the node
#   without baking ssh keys into the image (OCI's serial console connection is the real analogue).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "image.sh: $*" >&2; exit 1; }
suite=${1:-bookworm}
case $suite in
    bullseye | bookworm | trixie) ;;
    *) die "unknown suite '$suite': use bullseye, bookworm or trixie" ;;
esac
cache_root=${VIPSETUP_FIRST_BOOT_CACHE:-/var/cache/vipsetup-first-boot}
mirror_url=${VIPSETUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Where the VMs find the package mirror (the cloud namespace serves it; tests/first_boot/vcn.rs).
# Port 8080: port 80 of every address there is the simulator's (the metadata service's port).
twin_mirror=http://192.0.2.20:8080/$suite
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap in root mode); run it as root, as .ci/run does"
for t in mmdebstrap mkfs.ext4 dpkg-scanpackages openssl; do
    command -v "$t" >/dev/null || die "missing $t; apt-get install mmdebstrap e2fsprogs dpkg-dev openssl, as .ci/run does"
done

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9

# The twin's CA (see above): 10 years, so a cached image never outlives it; shared by the suites.
if [ ! -s "$cache_root/ca/ca.crt" ] || [ ! -s "$cache_root/ca/ca.key" ]; then
    mkdir -p "$cache_root/ca"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=vipsetup first-boot twin CA" \
        -keyout "$cache_root/ca/ca.key.new" -out "$cache_root/ca/ca.crt.new" 2>/dev/null
    mv "$cache_root/ca/ca.key.new" "$cache_root/ca/ca.key"
    mv "$cache_root/ca/ca.crt.new" "$cache_root/ca/ca.crt"
fi
# The recipe is this file without its comment lines, the suite and the CA: a reworded comment
# does not cost a build.
recipe=$( (grep -v '^[[:space:]]*#' "$here/image.sh"; echo "$suite"; cat "$cache_root/ca/ca.crt") | sha256sum | cut -c1-16)
out=$cache_root/$suite-$recipe
if [ -f "$out/done" ]; then
    echo "$out"
    exit 0
fi

# A build killed half-way leaves its directory behind; the lock says none is running now.
rm -rf "$cache_root"/.build-*
work=$(mktemp -d "$cache_root/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/mirror/$suite" "$work/ca"
cp "$cache_root/ca/ca.crt" "$cache_root/ca/ca.key" "$work/ca/"

cat >"$work/rules.v4" <<'RULES'
# As OCI's Ubuntu platform images ship it: inbound only established, ICMP, loopback, NTP replies
# and ssh; everything else is rejected. The installer must open VRRP itself.
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:InstanceServices - [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p udp --sport 123 -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
-A OUTPUT -d 169.254.0.0/16 -j InstanceServices
-A InstanceServices -d 169.254.169.254/32 -p tcp -m tcp --dport 53 -j ACCEPT
-A InstanceServices -d 169.254.169.254/32 -p udp -m udp --dport 53 -j ACCEPT
-A InstanceServices -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A InstanceServices -d 169.254.169.254/32 -p udp -m udp --dport 67 -j ACCEPT
-A InstanceServices -d 169.254.0.0/16 -p tcp -m tcp -j REJECT --reject-with tcp-reset
-A InstanceServices -d 169.254.0.0/16 -p udp -m udp -j REJECT --reject-with icmp-port-unreachable
COMMIT
RULES

cat >"$work/channel.sh" <<'CHANNEL'
#!/bin/bash
# The harness's command channel on ttyS1 (see tests/first_boot/image.sh): one base64 command per
# line in, `@@rc <status> <base64 output>` out.
exec </dev/ttyS1 >/dev/ttyS1 2>&1
stty raw -echo
echo "@@ready"
while IFS= read -r line; do
    line=${line%$'\r'}
    [ -n "$line" ] || continue
    cmd=$(printf '%s' "$line" | base64 -d 2>/dev/null) || { echo "@@rc 254 "; continue; }
    output=$(bash -c "$cmd" 2>&1 </dev/null)
    rc=$?
    printf '@@rc %s %s\n' "$rc" "$(printf '%s' "$output" | base64 -w0)"
done
CHANNEL

cat >"$work/channel.service" <<'UNIT'
[Unit]
Description=vipsetup first-boot harness channel (ttyS1)
After=systemd-udevd.service
[Service]
ExecStart=/usr/local/sbin/vsfb-channel
Restart=always
[Install]
WantedBy=multi-user.target
UNIT

# A workaround for the image, not a harness part: bullseye's ISC dhclient 4.4.1 (its libisc
# socket thread) sometimes stops reading its packet socket. Seen in the twin on 2026-12-07 (CI
# and here, both after a drill's reboot of the bullseye node): the offers reached the guest, the
# socket's receive queue grew (/proc/net/packet Rmem 144384, then 165120) and dhclient logged
# "No DHCPOFFERS received" for ever; a fresh dhclient on the same interface was bound at once.
# Also the likely cause of the two bullseye first boots without an address of 2026-12-06. Real
# OCI images do not run this client (Oracle Linux: NetworkManager; Ubuntu: systemd-networkd).
# So: dhclient gives up after 20 s (ifup returns), and this unit, between ifup and cloud-init's
# network stage, restarts dhclient on each interface ifupdown left without an IPv4 address.
cat >"$work/dhcp-guard.sh" <<'GUARD'
#!/bin/bash
# vsfb-dhcp-guard: restarts ISC dhclient on an interface ifup left without an IPv4 address
# (see tests/first_boot/image.sh in the vipsetup repository).
for attempt in 1 2 3 4 5 6; do
    missing=()
    for pidf in /run/dhclient.*.pid; do
        [ -e "$pidf" ] || continue
        dev=${pidf#/run/dhclient.}
        dev=${dev%.pid}
        [ -n "$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null)" ] || missing+=("$dev")
    done
    [ "${#missing[@]}" -eq 0 ] && exit 0
    for dev in "${missing[@]}"; do
        echo "vsfb-dhcp-guard: $dev has no IPv4 address; dhclient restarted (attempt $attempt)"
        kill "$(cat "/run/dhclient.$dev.pid" 2>/dev/null)" 2>/dev/null
        # To a file, not a pipe: a bound dhclient goes on in the background.
        timeout 30 dhclient -4 -1 -i -I -pf "/run/dhclient.$dev.pid" \
            -lf "/var/lib/dhcp/dhclient.$dev.leases" "$dev" >/run/vsfb-dhcp-guard.out 2>&1
        grep -E 'DHCPACK|bound to|No DHCPOFFERS' /run/vsfb-dhcp-guard.out
    done
done
echo "vsfb-dhcp-guard: still no IPv4 address on ${missing[*]}"
GUARD

cat >"$work/dhcp-guard.service" <<'UNIT'
[Unit]
Description=vipsetup twin: restart dhclient when ifup left an interface without an address
# Early boot, like networking.service and cloud-init.service (both DefaultDependencies=no;
# cloud-init.service is Before=sysinit.target, so a default unit ordered before it is a cycle).
# cloud-init-network.service is cloud-init 24.3+'s name for it (trixie).
DefaultDependencies=no
After=networking.service
Before=network-online.target cloud-init.service cloud-init-network.service shutdown.target
Conflicts=shutdown.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vsfb-dhcp-guard
TimeoutStartSec=300
[Install]
WantedBy=multi-user.target network-online.target
UNIT

echo "image.sh: building the $suite image (mmdebstrap, $mirror_url)" >&2
# The hooks are run by mmdebstrap's shell with the root directory as $1: single quotes on purpose.
# en_US.UTF-8 is generated here because Debian's locale-gen ignores the locale cloud-init passes
# it (Ubuntu's takes it), so cloud-init's locale module fails on a first boot without it. And it is
# the system locale (/etc/default/locale), as OCI's images set one (Ubuntu's: C.UTF-8):
# cloud-init's locale module regenerates the locale only when that file is missing or names
# another one (cloudinit/distros/debian.py, apply_locale, "Only call locale regeneration if
# needed"); without the file bullseye's cloud-init 20.4 regenerated it on every first boot, 882 s
# of guest time on the 02:33 run of 2026-12-07 (150 s at load 15-30), the baseline's too.
# shellcheck disable=SC2016
mmdebstrap --variant=minbase --mode=root \
    --include=linux-image-cloud-amd64,systemd-sysv,udev,cloud-init,e2fsprogs,curl,openssl,iproute2,ifupdown,isc-dhcp-client,ca-certificates,netbase,iptables,iptables-persistent,openssh-server,procps,locales,sudo,dbus \
    --essential-hook='echo "iptables-persistent iptables-persistent/autosave_v4 boolean false" | chroot "$1" debconf-set-selections' \
    --essential-hook='echo "iptables-persistent iptables-persistent/autosave_v6 boolean false" | chroot "$1" debconf-set-selections' \
    --customize-hook='sed -i "s/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/" "$1"/etc/locale.gen && chroot "$1" locale-gen >/dev/null' \
    --customize-hook='echo LANG=en_US.UTF-8 >"$1"/etc/default/locale' \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    --customize-hook='chroot "$1" apt-get install --download-only -y -q -o APT::Install-Recommends=true keepalived >/dev/null' \
    --customize-hook="mv \"\$1\"/var/cache/apt/archives/*.deb $work/mirror/$suite/" \
    --customize-hook="cp $work/rules.v4 \"\$1\"/etc/iptables/rules.v4" \
    --customize-hook="cp $work/ca/ca.crt \"\$1\"/usr/local/share/ca-certificates/vipsetup-twin-ca.crt" \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
    --customize-hook="install -m 0755 $work/channel.sh \"\$1\"/usr/local/sbin/vsfb-channel" \
    --customize-hook="cp $work/channel.service \"\$1\"/etc/systemd/system/vsfb-channel.service" \
    --customize-hook="install -m 0755 $work/dhcp-guard.sh \"\$1\"/usr/local/sbin/vsfb-dhcp-guard" \
    --customize-hook="cp $work/dhcp-guard.service \"\$1\"/etc/systemd/system/vsfb-dhcp-guard.service" \
    --customize-hook='if [ -f "$1"/etc/dhcp/dhclient.conf ]; then echo "timeout 20;" >>"$1"/etc/dhcp/dhclient.conf; fi' \
    --customize-hook='chroot "$1" systemctl enable vsfb-channel.service vsfb-dhcp-guard.service netfilter-persistent.service >/dev/null 2>&1' \
    --customize-hook="echo 'deb [trusted=yes] $twin_mirror ./' > \"\$1\"/etc/apt/sources.list" \
    --customize-hook='rm -f "$1"/etc/apt/sources.list.d/*; rm -rf "$1"/var/lib/apt/lists/*' \
    --customize-hook='echo "LABEL=vsfb-root / ext4 defaults 0 1" > "$1"/etc/fstab' \
    --customize-hook='printf "" > "$1"/etc/machine-id; rm -f "$1"/etc/hostname "$1"/etc/ssh/ssh_host_*' \
    --customize-hook='if chroot "$1" dpkg -s keepalived >/dev/null 2>&1; then echo "keepalived is in the image" >&2; exit 1; fi' \
    "$suite" "$root" "$mirror_url" >&2

ls "$work/mirror/$suite"/keepalived_*.deb >/dev/null 2>&1 || die "the $suite mirror has no keepalived .deb"
(cd "$work/mirror/$suite" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null && gzip -k Packages)

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
mkfs.ext4 -q -L vsfb-root -d "$root" "$work/disk.raw" 3G
rm -rf "$root"
printf '%s\n' "$recipe" >"$work/done"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
# Older recipes' images of this suite are never used again (nor the unsuffixed ones of before).
find "$cache_root" -mindepth 1 -maxdepth 1 -type d \( -name "$suite-*" -o -regex '.*/[0-9a-f]\{16\}' \) \
    ! -name "$suite-$recipe" -exec rm -rf {} +
echo "$out"
