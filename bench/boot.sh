#!/usr/bin/env bash
# First-boot figures: runs the first-boot twin (tests/first_boot.rs: the image, the cloud
# namespace, `vipsetup apply`, two VMs booting its user data through cloud-init's Oracle
# datasource, a power-off of the VIP owner) RUNS times and prints each run's figures. They are
# measured, never asserted. Needs root and what .ci/run installs, like the test.
#
#   bench/boot.sh            # RUNS=1
#   RUNS=3 bench/boot.sh
# Last line: `first boot: vm start->vip confirmed <T> s, cloud-init <C> s, power-off->api <F> s,
# accel <kvm|tcg>` (the last run's figures).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1}
cargo build -q --test first_boot
last=
for run in $(seq 1 "$runs"); do
    log=$(mktemp)
    # --include-ignored: the test is ignored on a main whose installer cannot work offline.
    if ! cargo test -q --test first_boot -- --include-ignored --nocapture --test-threads=1 >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "bench/boot.sh: run $run failed (output above)" >&2
        exit 1
    fi
    grep '^first_boot: ' "$log" | sed "s/^/run $run: /"
    last=$(grep '^first boot: ' "$log" | tail -n 1)
    rm -f "$log"
    [ -n "$last" ] || { echo "bench/boot.sh: run $run printed no figures (skipped?)" >&2; exit 1; }
done
echo "$last"
