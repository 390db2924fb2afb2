#!/usr/bin/env bash
# Drill benchmark (issue 19): on the namespace harness of tests/failover.rs (real keepalived and
# agents, the simulator as the cloud, its instance actions driving the nodes), runs
# `apply --wait`, `vipsetup drill` (SOFTSTOP of the owner) and `apply --replace` of the VIP
# holder, and prints as its last line:
#   drill: stop->api <A> s, stop->master <M> s, start->backup <B> s, replace holder: longest vip gap <G> s, accel netns
# `accel netns`: the nodes are network namespaces, not VMs (the first-boot VM twin's version,
# with accel kvm|tcg, is not done yet). The simulator's STOPPING and STARTING last 2 s each (OCI's
# take longer), and "start -> backup" is keepalived's and the agent's start, not a boot.
# The gap is the longer of: the API's owner not holding the VIP (how a VCN delivers it), and a
# TCP connect to the VIP from the cloud namespace failing (a probe every 100 ms).
# Needs root, keepalived, socat, iproute2, curl and openssl, like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
CI=true cargo test --test failover -- --exact --nocapture --test-threads=1 \
    drill_scenario::issue19_apply_wait_drill_and_holder_replacement 2>&1 | tee "$out" >&2
grep '^issue19: ' "$out" | tail -1
grep '^drill: stop->api ' "$out" | tail -1
