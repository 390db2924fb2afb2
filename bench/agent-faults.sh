#!/usr/bin/env bash
# The failover agent's fault matrix (tests/agent_faults.rs, issue 23): every state the agent can
# be in x every call it makes there x every failure OCI and the network give (OCI error answers
# 400/401/404/409/429/500/503, refused, reset before and after the request, a kept-alive
# connection closed by the server, an answer stalled in its body, for a while or for good), once
# and for three calls in a row. Each case runs the rendered agent against the strict simulator
# through a fault proxy and checks: no bash error, every VIP claimed within the back-off plus a
# recheck once the fault cleared, a BACKUP never moves anything, at most one claim loop.
# The time bounds hold for a machine whose load average stays below its core count; above that
# they are multiplied by load / cores (tests/agent_faults/run.rs, load_factor, says why), and
# the last line says in how many cases.
# A line per case on stderr; the last line on stdout:
#   agent faults: <N> cases, <F> failed, worst claim after the fault cleared <T> s (time bounds scaled by load in <S> cases, at most x<X>)
#
#   bench/agent-faults.sh                          # every case, JOBS=3 at once
#   JOBS=2 ONLY=17,240 bench/agent-faults.sh       # some cases (ids from a run's lines)
#   PART=0/2 bench/agent-faults.sh                 # the cases whose id is 0 modulo 2
#   tests/oldest-tools/run.sh bench/agent-faults.sh   # under bash 4.4, OpenSSL 1.1.1 (Oracle Linux 8)
set -euo pipefail
cd "$(dirname "$0")/.."
export AGENT_FAULTS_JOBS="${JOBS:-3}"
if [ -n "${ONLY:-}" ]; then
    export AGENT_FAULTS_ONLY="$ONLY"
fi
if [ -n "${PART:-}" ]; then
    export AGENT_FAULTS_PART="$PART"
fi
# shellcheck disable=SC2016 # expanded by the bash that runs the agent
echo "agent faults under bash $(bash -c 'echo $BASH_VERSION'), $(openssl version | cut -d' ' -f1-2)" >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
cargo test --test agent_faults -- --ignored --exact the_whole_fault_matrix --nocapture >"$out" || rc=$?
grep '^agent faults:' "$out" | tail -1 || { cat "$out"; echo "agent faults: the run printed no summary" >&2; exit 1; }
exit "$rc"
