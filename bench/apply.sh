#!/usr/bin/env bash
# Apply + destroy of the quickstart pair against the simulator with a realistic latency profile
# scaled down (BENCH_SCALE, default 10), beside the seed recipe as a sequential OCI CLI script.
# Prints wall times, the critical-path lower bound, their ratio and API-call counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export VIPSETUP_VENV=${VIPSETUP_VENV:-/opt/vipsetup-venv}
cargo run --quiet --example bench_apply
