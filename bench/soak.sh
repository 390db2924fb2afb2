#!/usr/bin/env bash
# Soak benchmark: false failovers under CPU load. For each advert interval in ADVERTS, builds the
# pair on the namespace harness of tests/failover.rs, lets node 1 settle as the owner, then keeps
# LOAD busy processes (shell busy loops at nice 0, as a loaded application; default one per core)
# running for SOAK_SECS and changes nothing else. It counts what the backup did meanwhile: its
# MASTER events (keepalived's log, the agent's "is MASTER" lines) and its VIP moves in the API
# (successful UpdatePrivateIp calls in the simulator's log), and says who owns the VIP at the end
# (API and OS). Any MASTER event on the backup is a false failover: the owner was healthy.
# It prints the load average seen, the VRRP process's scheduling class, and per advert interval
# a last line, exactly:
#   soak: advert <A> s: <S> s with <L> busy processes on <C> cores, load <x>: false failovers <F> (backup MASTER events <M>, API moves <P>)
# Needs root, keepalived, nftables, iproute2, curl and openssl, like the tests.
#
#   bench/soak.sh                          # ADVERTS="0.05", SOAK_SECS=600, LOAD=$(nproc)
#   ADVERTS="0.05 0.1" bench/soak.sh
#   VRRP_SCHED=off bench/soak.sh           # the VRRP process at normal priority, whatever the template says
#   VRRP_SCHED=rt:10 bench/soak.sh         # vrrp_rt_priority 10 (SCHED_RR) instead
#   VRRP_SCHED=nice:-10 bench/soak.sh      # vrrp_priority -10 (nice) instead
#   SOAK_SECS=60 ALLOW_SHORT=1 bench/soak.sh   # a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

export VIPSETUP_SOAK_ADVERTS="${ADVERTS:-0.05}"
export VIPSETUP_SOAK_SECS="${SOAK_SECS:-600}"
export VIPSETUP_SOAK_LOAD="${LOAD:-$(nproc)}"
export VIPSETUP_SOAK_VRRP_SCHED="${VRRP_SCHED:-}"

for knob in SOAK_SECS:"$VIPSETUP_SOAK_SECS" LOAD:"$VIPSETUP_SOAK_LOAD"; do
    case "${knob#*:}" in
    '' | *[!0-9]*)
        echo "bench/soak.sh: ${knob%%:*} must be a whole number, not '${knob#*:}'" >&2
        exit 1
        ;;
    esac
done

# A false failover under load is rare or it is a bug: a few minutes say little about "none".
if [ "$VIPSETUP_SOAK_SECS" -lt 600 ] && [ -z "${ALLOW_SHORT:-}" ]; then
    echo "bench/soak.sh: SOAK_SECS must be at least 600 (10 minutes) for a count of none to mean anything" >&2
    echo "(set ALLOW_SHORT=1 for a quick smoke run)" >&2
    exit 1
fi

# The benchmark is an ignored test so it shares the harness; it prints, it does not assert counts.
exec cargo test --test failover -- --ignored --exact --nocapture --test-threads=1 \
    benches::bench_soak_false_failovers
