#!/usr/bin/env bash
# Runs a command with the oldest tools a node carries (tests/oldest-tools/setup.sh builds them):
#   tests/oldest-tools/run.sh cargo test --test render_agent
# The command runs in a private mount namespace where the system's bash, openssl, keepalived and
# curl are bind-mounted over by the lane's (bash 4.4.19 and wrappers of the bullseye binaries),
# so everything it starts gets them: `bash` from PATH, a `#!/bin/bash` script, the agent that
# keepalived itself starts on a failover-harness node. Nothing changes outside the namespace.
# VIPSETUP_OLDEST_TOOLS is set to the versions line the tests must see (tests/oldest-tools/
# versions.rs asserts it), so the lane cannot silently run the new tools. Needs root.
# Exit status: the command's; 2 when the lane could not run (VIPSETUP_VENDOR unset or missing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --inside ]; then
    prefix=$2
    shift 2
    bound=' '
    bind() { # TOOL: mount the lane's TOOL over the file the system runs for it
        local sys real
        for sys in "$(command -v "$1")" "/bin/$1" "/usr/bin/$1" "/usr/sbin/$1" "/sbin/$1"; do
            [ -e "$sys" ] || continue
            real=$(readlink -f "$sys")
            case $bound in *" $real "*) continue ;; esac
            mount --bind "$prefix/bin/$1" "$real"
            bound="$bound$real "
        done
    }
    for tool in bash openssl keepalived curl; do
        command -v "$tool" >/dev/null || {
            echo "oldest tools lane: the system has no $tool to stand in for" >&2
            exit 1
        }
        bind "$tool"
    done
    export PATH="$prefix/bin:$PATH"
    VIPSETUP_OLDEST_TOOLS=$(cat "$prefix/VERSIONS")
    export VIPSETUP_OLDEST_TOOLS
    # What this namespace now runs, by the names a test or a script uses.
    # shellcheck disable=SC2016 # expanded by the bash under test
    seen=$(
        printf 'bash %s, OpenSSL %s, keepalived %s, curl %s' \
            "$(/bin/bash -c 'echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}.${BASH_VERSINFO[2]}"')" \
            "$(openssl version | awk '{print $2}')" \
            "$(keepalived --version 2>&1 | awk '/^Keepalived v/{sub(/^v/, "", $2); print $2; exit}')" \
            "$(curl --version | awk 'NR==1{print $2}')"
    )
    if [ "$seen" != "$VIPSETUP_OLDEST_TOOLS" ]; then
        echo "oldest tools lane: the namespace runs '$seen', not '$VIPSETUP_OLDEST_TOOLS'" >&2
        exit 1
    fi
    echo "oldest tools lane: $seen" >&2
    exec "$@"
fi

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 64; }
[ "$(id -u)" = 0 ] || { echo "oldest tools lane: needs root (a mount namespace)" >&2; exit 1; }
prefix=$("$here/setup.sh")
exec unshare -m --propagation private -- "$BASH" "$here/run.sh" --inside "$prefix" "$@"
