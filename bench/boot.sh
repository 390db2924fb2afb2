#!/usr/bin/env bash
# First-boot figures: runs the first-boot twin (tests/first_boot.rs: the images, the cloud
# namespace, `vipsetup apply`, a bullseye and a trixie VM booting its user data through
# cloud-init's Oracle datasource with IMDS v1 off and IAM propagation at 60 s, `apply --wait`,
# then two `vipsetup drill`s whose instance actions the VMs obey: SOFTSTOP of node 1, STOP of
# node 2, each started again) and, at the same time in the same run, the baseline boot (the same images and
# cloud, user data that only installs and starts keepalived), RUNS times. Prints each run's
# timeline per node (seconds since that VM started, from the node's own clocks and logs and the
# simulator's request log) and figures. They are measured, never asserted. Needs root and what
# .ci/run installs. Four TCG VMs at once: on a shared machine at load 30-47 (2026-12-07) a first
# boot took over 60 minutes (BOOT_LIMIT in tests/first_boot.rs); run it on an idle machine.
#
#   bench/boot.sh            # RUNS=1
#   RUNS=3 bench/boot.sh
# Last line (the last run's figures):
# `first boot: vm start->vip confirmed <T> s, vipsetup share <S> s, cloud-init <C> s, power-off->api <F> s, accel <kvm|tcg>`
# T: node 1's VM start to its agent seeing the API confirm the VIP on its VNIC; S: T minus the
# baseline's node 1 VM start -> keepalived running (what the boot costs without vipsetup);
# C: node 1's VM start -> cloud-init done; F: the STOP drill's power-off of node 2 -> the API
# shows node 1 (as `vipsetup drill` measures it). The drill's own figures and the holder
# replacement's gap: bench/drill.sh twin.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1}
cargo build -q --test first_boot
last=
for run in $(seq 1 "$runs"); do
    log=$(mktemp)
    # The baseline and the pair boot side by side (two test threads, four VMs): both meet the
    # same load on a shared machine, so the difference between them is vipsetup's own share.
    if ! VIPSETUP_BOOT_BASELINE=1 cargo test -q --test first_boot -- --nocapture --test-threads=2 >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "bench/boot.sh: run $run failed (output above)" >&2
        exit 1
    fi
    grep '^first_boot: ' "$log" | grep -v '^first_boot: figures\|^first_boot: baseline keepalived_running' | sed "s/^/run $run: /"
    figures=$(grep '^first_boot: figures ' "$log" | tail -n 1)
    baseline=$(grep '^first_boot: baseline keepalived_running=' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$figures" ] || [ -z "$baseline" ]; then
        echo "bench/boot.sh: run $run printed no figures (skipped?)" >&2
        exit 1
    fi
    field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
    t=$(field "$figures" vip_confirmed)
    c=$(field "$figures" cloud_init)
    f=$(field "$figures" power_off_api)
    accel=$(field "$figures" accel)
    base=$(field "$baseline" keepalived_running)
    s=$(awk -v t="$t" -v b="$base" 'BEGIN { printf "%.1f", t - b }')
    echo "run $run: baseline node1 VM start -> keepalived running $base s"
    last="first boot: vm start->vip confirmed $t s, vipsetup share $s s, cloud-init $c s, power-off->api $f s, accel $accel"
done
echo "$last"
