#!/usr/bin/env bash
# The oldest tools a node carries (Oracle Linux 8: bash 4.4, OpenSSL 1.1.1, keepalived 2.1.5; see
# ../shared/reference/oci-wire.md), provided in a cached prefix for the oldest-tools CI lane,
# without installing anything over the system's tools:
#   - GNU bash 4.4.19, built from the vendored tarball ($VIPSETUP_VENDOR/bash-4.4.19.tar.gz; no
#     package registry carries bash 4.4);
#   - OpenSSL 1.1.1w, keepalived 2.1.5 and curl 7.74.0 from Debian bullseye packages, fetched with
#     a private apt configuration (the system's sources, lists and dpkg database stay untouched)
#     and unpacked with dpkg-deb -x, together with the bullseye libraries they link to that the
#     system lacks or has in another version.
# Prints the prefix on stdout; progress goes to stderr. The prefix holds bin/{bash,openssl,
# keepalived,curl} (bash itself; the others are wrappers that run the bullseye binary through the
# system's dynamic loader with the prefix's libraries, so the setting does not leak into the
# processes they start: keepalived's scripts, for one) and VERSIONS (the line the lane prints).
# The cache key is this file's hash: change the recipe and a new prefix is built.
# Exit status: 0 ready; 2 the vendored bash tarball is missing (the lane did not run); 1 failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VIPSETUP_OLDEST_TOOLS_CACHE:-/var/cache/vipsetup-oldest-tools}
vendor=${VIPSETUP_VENDOR:-}

BASH_TARBALL=bash-4.4.19.tar.gz
# From ../shared/vendor/README.md.
BASH_SHA256=14a9e688780156aefcee70764d42bdfb6982c3faa5b72039ec5f092d5ca4e4a6
# bullseye's main suite (frozen since its last point release): the versions do not move. Its
# security suite is left out on purpose, so the same recipe always gets the same files.
MIRROR=${VIPSETUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(
    keepalived=1:2.1.5-0.2+deb11u1
    openssl=1.1.1w-0+deb11u1
    libssl1.1=1.1.1w-0+deb11u1
    curl=7.74.0-1.3+deb11u13
    libcurl4=7.74.0-1.3+deb11u13
    # keepalived's library Depends in bullseye
    libmnl0=1.0.4-3
    libnftnl11=1.1.9-1
    libnl-3-200=3.4.0-1+b1
    libnl-genl-3-200=3.4.0-1+b1
    libsnmp40=5.9+dfsg-4+deb11u1
    libpcre2-8-0=10.36-2+deb11u1
    libglib2.0-0=2.66.8-1+deb11u4
    # sonames those link to that bookworm has only in a newer soname (found with ld.so --list)
    libperl5.32=5.32.1-4+deb11u3
    libpcre3=2:8.39-13
    libffi7=3.3-6
    libldap-2.4-2=2.4.57+dfsg-3+deb11u1
)
WANT_VERSIONS='bash 4.4.19, OpenSSL 1.1.1w, keepalived 2.1.5, curl 7.74.0'

say() { printf 'oldest-tools setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

key=$(sha256sum "$here/setup.sh" | cut -c1-16)
prefix=$cache/$key
if [ -s "$prefix/VERSIONS" ]; then
    say "cached: $prefix"
    printf '%s\n' "$prefix"
    exit 0
fi

# The vendored source: its absence means the lane cannot run here; say so plainly.
if [ -z "$vendor" ]; then
    say "the oldest-tools lane did NOT run: VIPSETUP_VENDOR is not set (set it to the folder" \
        "holding $BASH_TARBALL, e.g. ../shared/vendor; see its README.md)"
    exit 2
fi
case $vendor in /*) ;; *) vendor=$repo/$vendor ;; esac
if [ ! -f "$vendor/$BASH_TARBALL" ]; then
    say "the oldest-tools lane did NOT run: $vendor/$BASH_TARBALL not found (set VIPSETUP_VENDOR" \
        "to the folder holding it; see ../shared/vendor/README.md)"
    exit 2
fi
got=$(sha256sum "$vendor/$BASH_TARBALL" | cut -d' ' -f1)
[ "$got" = "$BASH_SHA256" ] ||
    die "$vendor/$BASH_TARBALL has sha256 $got, not $BASH_SHA256 (the one its README names); replace the file"

[ "$(dpkg --print-architecture)" = amd64 ] ||
    die "only amd64 is supported (the bullseye packages and the loader path are amd64's)"
loader=/lib64/ld-linux-x86-64.so.2
[ -x "$loader" ] || die "$loader not found: this lane needs an amd64 glibc system"
for tool in apt-get dpkg-deb make cc; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install build-essential)"
done

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
# Another run may have built it while this one waited for the lock.
if [ -s "$prefix/VERSIONS" ]; then
    say "cached: $prefix"
    printf '%s\n' "$prefix"
    exit 0
fi
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/prefix
mkdir -p "$out/bin" "$out/root"
started=$SECONDS

# --- bash 4.4.19 from source
say "building bash 4.4.19 from $vendor/$BASH_TARBALL"
tar -xzf "$vendor/$BASH_TARBALL" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'bash-*' | head -n1)
[ -n "$src" ] || die "$BASH_TARBALL holds no bash-* folder"
(cd "$src" && ./configure --without-bash-malloc >"$work/bash-configure.log" 2>&1) ||
    { tail -n 30 "$work/bash-configure.log" >&2; die "bash configure failed"; }
(cd "$src" && make -j2 >"$work/bash-make.log" 2>&1) ||
    { tail -n 30 "$work/bash-make.log" >&2; die "bash make failed"; }
install -m 755 "$src/bash" "$out/bin/bash"
say "bash built in $((SECONDS - started)) s"

# --- bullseye packages through a private apt configuration
t=$SECONDS
apt=$work/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/prefs" "$apt/debs"
: >"$apt/status"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bullseye main\n' \
    "$MIRROR" >"$apt/sources.list"
apt_opts=(
    -o "Dir::Etc::SourceList=$apt/sources.list"
    -o "Dir::Etc::SourceParts=$apt/parts"
    -o "Dir::Etc::PreferencesParts=$apt/prefs"
    -o "Dir::State::Lists=$apt/lists"
    -o "Dir::State::status=$apt/status"
    -o "Dir::Cache=$apt/cache"
    -o "APT::Sandbox::User=root"
)
say "fetching bullseye's package lists (private apt lists in $apt)"
apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update of bullseye failed"
(cd "$apt/debs" && apt-get "${apt_opts[@]}" -qq download "${PACKAGES[@]}") >&2 ||
    die "apt-get download from bullseye failed"
for deb in "$apt"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/root"
done
say "bullseye packages fetched and unpacked in $((SECONDS - t)) s"

libs=$out/root/usr/lib/x86_64-linux-gnu:$out/root/lib/x86_64-linux-gnu
# The final prefix path goes into the wrappers (the build dir is renamed to it at the end).
final_libs=${libs//$out/$prefix}
wrap() { # NAME BINARY [ENV=VALUE...]: bin/NAME runs the bullseye BINARY with the prefix's libraries
    local name=$1 bin=$2
    shift 2
    {
        printf '#!/bin/sh\n# oldest-tools lane: bullseye %s, its libraries loaded from the prefix only\n' "$name"
        printf '# (ld.so --library-path, not LD_LIBRARY_PATH: what it starts does not inherit them).\n'
        [ $# -eq 0 ] || printf 'export %s\n' "$@"
        # shellcheck disable=SC2016 # "$0" and "$@" are the wrapper's own
        printf 'exec %s --library-path %s --argv0 "$0" %s "$@"\n' \
            "$loader" "$final_libs" "${bin//$out/$prefix}"
    } >"$out/bin/$name"
    chmod 755 "$out/bin/$name"
    # Every library must resolve (from the prefix or, for the rest, the system).
    if "$loader" --library-path "$libs" --list "$bin" | grep -q 'not found'; then
        "$loader" --library-path "$libs" --list "$bin" | grep 'not found' >&2
        die "$name: libraries not found (add their bullseye packages to PACKAGES)"
    fi
}
# OpenSSL 1.1.1 reads its own configuration (bookworm's is written for OpenSSL 3).
wrap openssl "$out/root/usr/bin/openssl" "OPENSSL_CONF=$prefix/root/etc/ssl/openssl.cnf"
wrap keepalived "$out/root/usr/sbin/keepalived"
wrap curl "$out/root/usr/bin/curl"

# --- check what was built and record the versions
versions() { # BIN_DIR: the one-line summary of what it runs
    local b=$1 bv ov kv cv
    # shellcheck disable=SC2016 # expanded by the bash under test
    bv=$("$b/bash" -c 'echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}.${BASH_VERSINFO[2]}"')
    ov=$("$b/openssl" version | awk '{print $2}')
    kv=$("$b/keepalived" --version 2>&1 | awk '/^Keepalived v/{sub(/^v/, "", $2); print $2; exit}')
    cv=$("$b/curl" --version | awk 'NR==1{print $2}')
    printf 'bash %s, OpenSSL %s, keepalived %s, curl %s\n' "$bv" "$ov" "$kv" "$cv"
}
mv "$out" "$prefix.tmp"
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
seen=$(versions "$prefix/bin") || { rm -rf "$prefix"; die "a built tool does not run"; }
if [ "$seen" != "$WANT_VERSIONS" ]; then
    rm -rf "$prefix"
    die "built tools report '$seen', expected '$WANT_VERSIONS'"
fi
printf '%s\n' "$seen" >"$prefix/VERSIONS"
say "ready in $((SECONDS - started)) s: $prefix ($seen)"
printf '%s\n' "$prefix"
