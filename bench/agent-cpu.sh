#!/usr/bin/env bash
# The agent's CPU per recheck and per takeover, on the node side alone: the agent's own functions
# (templates/agent/: vip-agent + oci-sign, sourced without their main part) against a local stand-in
# of the Core API on 127.0.0.1 that answers like OCI does (HTTP/1.1 kept alive, OCI's headers, a
# PrivateIp document) and checks nothing. Signing, token and look-ups are the agent's own; the
# token is one made up with an exp far away (no federation here: bench/failover.sh counts those).
# Prints, for this tree and for OLD (a git revision) side by side in one run:
# fast path) side by side in one run:
#   CPU ms per recheck (GET, the signature reused), CPU ms per takeover (PUT, signed), and the
#   agent CPU seconds an hour that rechecks every RECHECK s would cost.
# The CPU is user + system of the shell and every child it reaped (openssl, sha256sum), from bash's
# `times`. Needs bash, python3, openssl, git.
#
#   bench/agent-cpu.sh                 # N=400 rechecks, 40 takeovers, RECHECK=5
#   OLD=HEAD~3 N=1000 bench/agent-cpu.sh
#   VIPS=4+1 OLD=main bench/agent-cpu.sh   # 4 IPv4 + 1 IPv6 VIPs (the stand-in lists them by VNIC too)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-400}
M=${M:-40}
RECHECK=${RECHECK:-5}
OLD=${OLD:-8dbaa3c}
VIPS=${VIPS:-1+0}
if ! [[ $VIPS =~ ^([1-9])\+([0-9])$ ]]; then
    echo "bench/agent-cpu.sh: VIPS must be <IPv4>+<IPv6>, 1+0 to 9+9 (got '$VIPS')" >&2
    exit 1
fi
V4=${BASH_REMATCH[1]}
V6=${BASH_REMATCH[2]}

work=$(mktemp -d /tmp/vipsetup-agent-cpu.XXXXXX)
server_pid=''
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The stand-in API: PrivateIp and Ipv6 documents as OCI returns them (field sets of oci-python-sdk's
# PrivateIp and Ipv6 models), by OCID, and listed by VNIC (ListPrivateIps / ListIpv6s with vnicId:
# the node's primary IP first), with the headers an OCI answer carries. V4 + V6 VIPs.
cat >"$work/server.py" <<'PY'
import json, socket, sys, threading, time, secrets
v4, v6 = int(sys.argv[1]), int(sys.argv[2])
vnic = "ocid1.vnic.oc1.phx.abyhqljbenchvnicbenchvnicbenchvnicbenchvnicbenchvnicbenchvnicb"
def private_ip(n, addr, primary=False):
    return {
        "availabilityDomain": "Uocm:PHX-AD-1",
        "compartmentId": "ocid1.compartment.oc1..aaaaaaaa5wbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc",
        "definedTags": {}, "displayName": "vipsetup-vip",
        "freeformTags": {} if primary else {"vipsetup-pair": "bench", "vipsetup-managed-by": "vipsetup",
                         "vipsetup-owner": "node1", "vipsetup-takeover-at": "2026-12-02T00:00:00Z"},
        "hostnameLabel": None,
        "id": "ocid1.privateip.oc1.phx.abyhqljbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchben%d" % n,
        "ipAddress": addr, "isPrimary": primary, "isReserved": False,
        "subnetId": "ocid1.subnet.oc1.phx.aaaaaaaabenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc",
        "timeCreated": "2026-12-02T00:00:00.000Z", "vlanId": None, "vnicId": vnic,
        "ipState": "ASSIGNED", "lifetime": "EPHEMERAL" if primary else "RESERVED", "routeTableId": None,
    }
def ipv6(n, addr):
    return {
        "compartmentId": "ocid1.compartment.oc1..aaaaaaaa5wbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc",
        "definedTags": {}, "displayName": "vipsetup-vip",
        "freeformTags": {"vipsetup-pair": "bench", "vipsetup-managed-by": "vipsetup",
                         "vipsetup-owner": "node1", "vipsetup-takeover-at": "2026-12-02T00:00:00Z"},
        "id": "ocid1.ipv6.oc1.phx.abyhqljbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbe%d" % n,
        "ipAddress": addr, "lifecycleState": "AVAILABLE",
        "subnetId": "ocid1.subnet.oc1.phx.aaaaaaaabenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc",
        "timeCreated": "2026-12-02T00:00:00.000Z", "vnicId": vnic, "ipState": "ASSIGNED",
        "lifetime": "RESERVED", "routeTableId": None,
    }
docs4 = [private_ip(0, "172.16.2.11", True)] + [private_ip(k, "172.16.2.%d" % (10 if k == 1 else 18 + k)) for k in range(1, v4 + 1)]
docs6 = [ipv6(k, "2603:c020:1:2::%x" % (0x10 + k)) for k in range(1, v6 + 1)]
by_id = {d["id"]: d for d in docs4 + docs6}
def serve(c):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(buf) < length:
            buf += c.recv(65536)
        body, buf = buf[:length], buf[length:]
        path = head.split(b" ")[1].decode()
        if "?vnicId=" in path:
            out = docs6 if path.split("?")[0].endswith("/ipv6") else docs4
        else:
            out = dict(by_id[path.split("?")[0].rsplit("/", 1)[1]])
            if head.startswith(b"PUT"):
                out.update(json.loads(body))
        data = json.dumps(out).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nDate: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()).encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(data)).encode() +
                  b"\r\nopc-request-id: /" + secrets.token_hex(16).upper().encode() + b"/" + secrets.token_hex(16).upper().encode() +
                  b"\r\netag: " + secrets.token_hex(32).encode() +
                  b"\r\nX-Content-Type-Options: nosniff\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains;\r\n\r\n" + data)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$work/server.py" "$V4" "$V6" >"$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

# One tree's agent: its templates, a settings file, a session key, a token, the cached look-ups.
prepare() {
    local dir=$1
    local vips4='' vips6='' i a
    for ((i = 1; i <= V4; i++)); do
        vips4+="${vips4:+ }172.16.2.$((i == 1 ? 10 : 18 + i))/24"
    done
    for ((i = 1; i <= V6; i++)); do
        printf -v a '2603:c020:1:2::%x/64' $((0x10 + i))
        vips6+="${vips6:+ }$a"
    done
    mkdir -p "$dir/state" "$dir/run"
    chmod 700 "$dir/run"
    cat >"$dir/agent.env" <<EOF
VIPS='$vips4'
VIPS6='$vips6'
PAIR_NAME='bench'
NODE_IP='172.16.2.11'
NODE_NAME='node2'
SUBNET_ID='ocid1.subnet.oc1.phx.aaaaaaaabenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc'
REGION='us-phoenix-1'
OCI_ENDPOINT='http://127.0.0.1:$port'
RECHECK_INTERVAL='$RECHECK'
STATE_DIR='$dir/state'
RUNTIME_DIR='$dir/run'
EOF
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/run/session-key.pem" 2>/dev/null
    openssl pkey -in "$dir/run/session-key.pem" -pubout -out "$dir/run/session-pub.pem" 2>/dev/null
    # A JWT-shaped token of an OCI session token's size whose exp is in 2100.
    local payload
    payload=$(printf '{"sub":"ocid1.instance.oc1.phx.bench","exp":4102444800,"jwk":"%s"}' "$(head -c 900 /dev/zero | tr '\0' k)" | base64 -w0 | tr '+/' '-_' | tr -d '=')
    printf '4102444800 eyJhbGciOiJSUzI1NiJ9.%s.%s\n' "$payload" "$(head -c 342 /dev/zero | tr '\0' s)" >"$dir/run/token"
    printf 'ocid1.vnic.oc1.phx.abyhqljbenchvnicbenchvnicbenchvnicbenchvnicbenchvnicbenchvnicb\n' >"$dir/state/vnic-id"
    local k addr
    for ((k = 1; k <= V4; k++)); do
        addr=172.16.2.$((k == 1 ? 10 : 18 + k))
        printf '%s\n%s\n' "ocid1.privateip.oc1.phx.abyhqljbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchben$k" \
            '"vipsetup-pair": "bench", "vipsetup-managed-by": "vipsetup"' >"$dir/state/vip.$addr"
    done
    for ((k = 1; k <= V6; k++)); do
        printf -v addr '2603:c020:1:2::%x' $((0x10 + k))
        printf '%s\n%s\n' "ocid1.ipv6.oc1.phx.abyhqljbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbe$k" \
            '"vipsetup-pair": "bench", "vipsetup-managed-by": "vipsetup"' >"$dir/state/vip.$addr"
    done
    # The agent without its main part (from its `case "${1:-}"` on), so its functions can be run.
    sed '/^case "\${1:-}" in$/,$d' "$dir/vip-agent.sh" >"$dir/agent-lib.sh"
}

# measure DIR: prints "recheck_ms takeover_ms" for the tree in DIR.
measure() {
    local dir=$1
    VIPSETUP_AGENT_ENV=$dir/agent.env VIPSETUP_AGENT_LIB=$dir/oci-sign.sh N=$N M=$M bash -c '
        . "$1" || exit 1
        logger() { :; }
        # User + system ticks of this shell and its reaped children (proc(5) stat fields 14-17).
        cpu() { local f; read -r -a f </proc/$BASHPID/stat; T=$((f[13] + f[14] + f[15] + f[16])); }
        # Warm up: the connection, the first signature (reused after).
        NEED_MOVE=0
        claim_once || { echo "recheck failed: $OCI_ERROR" >&2; exit 1; }
        if [ "${TRACE:-}" = takeover ]; then
            ! declare -F warm_all >/dev/null || warm_all
            sleep 0.2
            NEED_MOVE=1; CONFIRMED=(); PS4="+ \${EPOCHREALTIME} "; set -x; claim_once; set +x; exit 0
        elif [ -n "${TRACE:-}" ]; then
            rounds=0
            nap() { ((++rounds < 2)) || OCI_FAST_REQ=(); }
            NEED_MOVE=0; claim_once; set -x; steady; set +x; exit 0
        fi
        cpu; t0=$T
        if declare -F steady >/dev/null; then
            # The rechecks of a MASTER as the claim loop makes them, the pause taken out: steady,
            # whose nap here counts the rounds and ends it after N.
            rounds=0
            nap() { ((++rounds < N)) || OCI_FAST_REQ=(); }
            NEED_MOVE=0
            claim_once && steady
            [ "$rounds" -ge "$N" ] || { echo "steady stopped after $rounds rounds: $OCI_ERROR" >&2; exit 1; }
        else
            for ((i = 0; i < N; i++)); do
                NEED_MOVE=0
                claim_once || { echo "recheck failed: $OCI_ERROR" >&2; exit 1; }
                view MASTER ok
                OCI_TOKEN_MARGIN=66 oci_token
            done
        fi
        cpu; t1=$T
        wall=0
        for ((i = 0; i < M; i++)); do
            NEED_MOVE=1
            CONFIRMED=()
            # As the claim loop waits: its signing tools started (where the tree has them).
            ! declare -F warm_all >/dev/null || warm_all
            sleep 0.1
            a=${EPOCHREALTIME/[.,]/}
            claim_once || { echo "takeover failed: $OCI_ERROR" >&2; exit 1; }
            b=${EPOCHREALTIME/[.,]/}
            wall=$((wall + b - a))
        done
        cpu; t2=$T
        hz=$(getconf CLK_TCK)
        awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" -v m="$M" -v hz="$hz" -v w="$wall" "BEGIN{printf \"%.3f %.3f %.3f\n\", (b-a)*1000/hz/n, (c-b)*1000/hz/m, w/1000/m}"
    ' bench "$dir/agent-lib.sh"
}

new=$work/new
old=$work/old
mkdir -p "$new" "$old"
# script REV NAME: the agent script NAME (vip-agent, oci-sign) of revision REV ('' = this tree):
# one file before the split, else its parts (templates/agent/NAME/*.sh) in name order (build.rs).
script() {
    local rev=$1 name=$2 part
    if [ -z "$rev" ]; then
        cat templates/agent/"$name"/*.sh
    elif git cat-file -e "$rev:templates/$name.sh" 2>/dev/null; then
        git show "$rev:templates/$name.sh"
    else
        for part in $(git ls-tree --name-only "$rev" "templates/agent/$name/" | LC_ALL=C sort); do
            git show "$rev:$part"
        done
    fi
}
for rev in '' "$OLD"; do
    to=$new
    [ -z "$rev" ] || to=$old
    script "$rev" vip-agent >"$to/vip-agent.sh"
    script "$rev" oci-sign >"$to/oci-sign.sh"
done
prepare "$new"
if [ -n "${TRACE:-}" ]; then
    # One recheck of this tree, traced (set -x) on standard error: what it runs.
    measure "$new"
    exit 0
fi
prepare "$old"
# Alternate, so that both see the same machine.
read -r old_r old_t old_w < <(measure "$old")
read -r new_r new_t new_w < <(measure "$new")
read -r old_r2 old_t2 old_w2 < <(measure "$old")
read -r new_r2 new_t2 new_w2 < <(measure "$new")
awk -v or1="$old_r" -v or2="$old_r2" -v nr1="$new_r" -v nr2="$new_r2" \
    -v ot1="$old_t" -v ot2="$old_t2" -v nt1="$new_t" -v nt2="$new_t2" -v rc="$RECHECK" \
    -v ow1="$old_w" -v ow2="$old_w2" -v nw1="$new_w" -v nw2="$new_w2" -v old="$OLD" -v n="$N" -v m="$M" -v vips="$VIPS" 'BEGIN {
    or = (or1 + or2) / 2; nr = (nr1 + nr2) / 2; ot = (ot1 + ot2) / 2; nt = (nt1 + nt2) / 2
    ow = (ow1 + ow2) / 2; nw = (nw1 + nw2) / 2
    printf "agent CPU, %d rechecks and %d takeovers of %s VIPs (IPv4+IPv6), twice each, alternating (ms of user+system, children included)\n", n, m, vips
    printf "  %-22s %12s %12s %14s %22s\n", "", "per recheck", "per takeover", "takeover wall", "rechecks every " rc " s"
    printf "  %-22s %9.3f ms %9.3f ms %11.3f ms %17.2f s/h\n", "old (" old ")", or, ot, ow, or * 3600 / rc / 1000
    printf "  %-22s %9.3f ms %9.3f ms %11.3f ms %17.2f s/h\n", "this tree", nr, nt, nw, nr * 3600 / rc / 1000
    printf "(per takeover: CPU of the whole round, the warm tools included; wall: from the claim to the\n"
    printf " confirming answer, the time a takeover adds after keepalived says MASTER)\n"
    printf "agent-cpu: recheck %.3f ms (old %.3f ms, x%.1f less), takeover wall %.3f ms (old %.3f ms), VIPs %s\n", nr, or, (nr > 0 ? or / nr : 0), nw, ow, vips
}'
