#!/usr/bin/env bash
# Drill benchmark (issue 19). Two modes, each printing as its last line:
#   drill: stop->api <A> s, stop->master <M> s, start->backup <B> s, replace holder: longest vip gap <G> s, accel <netns|kvm|tcg>
#
#   bench/drill.sh          # the namespace harness (tests/failover.rs), accel netns
#   bench/drill.sh twin     # the first-boot VM twin (tests/first_boot.rs), accel kvm|tcg
#
# Namespace harness: real keepalived and agents, the simulator as the cloud, its instance
# actions driving the nodes; runs `apply --wait`, `vipsetup drill` (SOFTSTOP of the owner) and
# `apply --replace` of the VIP holder. `accel netns`: the nodes are network namespaces, not
# VMs. The simulator's STOPPING and STARTING last 2 s each (OCI's take longer), and "start ->
# backup" is keepalived's and the agent's start, not a boot. The gap is the longer of: the
# API's owner not holding the VIP (how a VCN delivers it), and a TCP connect to the VIP from
# the cloud namespace failing (a probe every 100 ms).
#
# Twin: the VMs obey the instance actions (tests/first_boot/actions.rs: SOFTSTOP = ACPI
# power-down, START = a boot of the same disk, ...; the states move when the VM has exited or
# started). A, M, B: first_boot_pair_comes_up_and_fails_over's `vipsetup drill` (SOFTSTOP of
# node 1, bullseye; B includes the VM's boot); G: the same test's `apply --replace node1 --wait`
# after the drills, node 1 holding the VIP again, a TCP probe (connect and read the node's name)
# every 100 ms from the cloud namespace. One pair and a third first boot (the replacement's):
# about 15 minutes under TCG on an idle 2-core machine. Run nothing else with VMs meanwhile.
#
# Needs root and what .ci/run installs, like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "${1:-}" = twin ]; then
    cargo build -q --test first_boot
    t=first_boot_pair_comes_up_and_fails_over
    if ! CI=true cargo test -q --test first_boot -- --exact --nocapture --test-threads=1 "$t" \
        >>"$out" 2>&1; then
        cat "$out" >&2
        echo "bench/drill.sh: $t failed (output above)" >&2
        exit 1
    fi
    grep '^first_boot: \(drill\|apply --wait\|replace holder\)' "$out" >&2 || true
    field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
    d=$(grep '^first_boot: drill stop_api=' "$out" | tail -n 1)
    r=$(grep '^first_boot: replace gap=' "$out" | tail -n 1)
    if [ -z "$d" ] || [ -z "$r" ]; then
        echo "bench/drill.sh: the twin printed no figures (skipped?)" >&2
        exit 1
    fi
    echo "drill: stop->api $(field "$d" stop_api) s, stop->master $(field "$d" stop_master) s, start->backup $(field "$d" start_backup) s, replace holder: longest vip gap $(field "$r" gap) s, accel $(field "$d" accel)"
    exit 0
fi
CI=true cargo test --test failover -- --exact --nocapture --test-threads=1 \
    drill_scenario::issue19_apply_wait_drill_and_holder_replacement 2>&1 | tee "$out" >&2
grep '^issue19: ' "$out" | tail -1
grep '^drill: stop->api ' "$out" | tail -1
