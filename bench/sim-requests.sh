#!/usr/bin/env bash
# What the OCI simulator itself costs per request on the failover agent's path: a pair applied
# in process with 4 IPv4 + 1 IPv6 VIPs (the failover harness's shape: world file, 50 ms
# write-behind, an instance principal), then ROUNDS takeovers (the VIPs' updates at once) and
# rechecks. Prints, per operation, how long the simulator held its lock (p50 / p95, its own
# timings, VIPSETUP_SIM_TIMINGS) and the takeover's wall as the client saw it. The debug build,
# as the harness runs it.
#
#   bench/sim-requests.sh                 # ROUNDS=200 VIPS=4+1
#   ROUNDS=50 VIPS=1+0 bench/sim-requests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --example bench_sim_requests
