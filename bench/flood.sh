#!/usr/bin/env bash
# What a handshake flood costs a node: CPU time per flood datagram for
# garbage, a replayed initiation and fresh initiations, and what an
# established member loses meanwhile (pings, a TCP transfer).
#
#   ns fl-<pid>-b: CPU 1          ns fl-<pid>-a: CPU 0            ns fl-<pid>-c: CPU 1
#  +---------------------+      +------------------------+      +-----------------------+
#  | tessel B (member),  |      | tessel A (flooded),    |      | tessel test-flood:    |
#  | ping and iperf3 -c  |<---->| iperf3 -s              |<---->| replay | fresh |      |
#  | to A's overlay addr |      |                        |      | garbage at line rate  |
#  | veth 198.51.100.2   |      | 198.51.100.1 203.0.113.1|     | veth 203.0.113.3      |
#  +---------------------+      +------------------------+      +-----------------------+
#
# Two passes over the kinds (and no flood, the baseline), DURATION seconds
# each. CPU pass: only the flood runs; A's CPU time is utime+stime from
# /proc/PID/stat, the datagrams its UDP socket took are Udp InDatagrams in
# A's namespace (/proc/net/snmp), those the kernel dropped for a full socket
# buffer RcvbufErrors; CPU per datagram = (CPU - the idle window's CPU) /
# datagrams taken. Member pass: the same floods while B pings A (every
# 20 ms) for half the window and runs iperf3 to A for the other half: ping
# loss and TCP throughput against the window without a flood.
#
# Usage: sudo bench/flood.sh     (env: DURATION=8, TESSEL_BIN=path to a
#        tessel built with --features test-hooks, skipping the release build;
#        KEEP=1 keeps the logs)
# Needs root, iproute2, iperf3, iputils ping, taskset and two CPUs.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

DURATION=${DURATION:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS_A=fl-$$-a
NS_B=fl-$$-b
NS_C=fl-$$-c
PORT=9740
WORK=
PIDS=()

die() { echo "error: $*" >&2; exit 1; }
note() { echo "$*" >&2; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for tool in ip iperf3 ping taskset timeout python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
(($(nproc) >= 2)) || die "needs two CPUs"

if [[ -z ${TESSEL_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -p tessel-overlay --features test-hooks --bin tessel) >&2 ||
        die "cargo build of tessel failed"
    TESSEL_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tessel
fi

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then note "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-flood.XXXXXX")

# --- namespaces: B -- A -- C ------------------------------------------------------
for ns in "$NS_A" "$NS_B" "$NS_C"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add fl$$ab type veth peer name fl$$ba
ip link set fl$$ab netns "$NS_A"
ip link set fl$$ba netns "$NS_B"
ip link add fl$$ac type veth peer name fl$$ca
ip link set fl$$ac netns "$NS_A"
ip link set fl$$ca netns "$NS_C"
ip -n "$NS_A" addr add 198.51.100.1/24 dev fl$$ab
ip -n "$NS_B" addr add 198.51.100.2/24 dev fl$$ba
ip -n "$NS_A" addr add 203.0.113.1/24 dev fl$$ac
ip -n "$NS_C" addr add 203.0.113.3/24 dev fl$$ca
ip -n "$NS_A" link set fl$$ab up
ip -n "$NS_A" link set fl$$ac up
ip -n "$NS_B" link set fl$$ba up
ip -n "$NS_C" link set fl$$ca up

KEY=$("$TESSEL_BIN" network new)
mkdir -p "$WORK/a" "$WORK/b"
ip netns exec "$NS_A" taskset -c 0 "$TESSEL_BIN" up --state-dir "$WORK/a" --network "$KEY" \
    --no-lan-discovery --no-tcp --no-port-mapping >"$WORK/a.log" 2>&1 &
PID_A=$!
PIDS+=("$PID_A")
ip netns exec "$NS_B" taskset -c 1 "$TESSEL_BIN" up --state-dir "$WORK/b" --network "$KEY" \
    --no-lan-discovery --no-tcp --no-port-mapping --peer 198.51.100.1:$PORT >"$WORK/b.log" 2>&1 &
PIDS+=("$!")
ip netns exec "$NS_A" taskset -c 0 iperf3 -s >"$WORK/iperf-s.log" 2>&1 &
PIDS+=("$!")

status_a() { ip netns exec "$NS_A" "$TESSEL_BIN" status --state-dir "$WORK/a" --json; }
for _ in $(seq 200); do status_a >/dev/null 2>&1 && break; sleep 0.1; done
A_ID=$(status_a | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
A_IP6=$(status_a | python3 -c 'import json,sys; print(json.load(sys.stdin)["ipv6"])')
for _ in $(seq 300); do
    ip netns exec "$NS_B" ping -6 -c 1 -W 1 "$A_IP6" >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec "$NS_B" ping -6 -c 1 -W 1 "$A_IP6" >/dev/null || die "B never reached A"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID_A/stat"; }
udp() { ip netns exec "$NS_A" awk '/^Udp: [0-9]/ {print $2, $6}' /proc/net/snmp; }
CLK_TCK=$(getconf CLK_TCK)

# window KIND MEMBER: one measurement window (MEMBER=1: B pings and
# transfers meanwhile); prints a JSON line.
window() {
    local kind=$1 member=$2 flood_pid= t0 t1 u0 u1 sent=0
    read -r rx0 rcvbuf0 < <(udp)
    t0=$(cpu_ticks)
    u0=$(date +%s.%N)
    if [[ $kind != none ]]; then
        ip netns exec "$NS_C" taskset -c 1 "$TESSEL_BIN" test-flood --network "$KEY" \
            --target "$A_ID" --to 203.0.113.1:$PORT --kind "$kind" --seconds "$DURATION" \
            >"$WORK/flood-$kind.json" 2>"$WORK/flood-$kind.err" &
        flood_pid=$!
        sleep 0.2
    fi
    : >"$WORK/ping-$kind.log"
    echo '{}' >"$WORK/iperf-$kind.json"
    if ((member)); then
        local pings=$((DURATION * 25 / 2))
        ip netns exec "$NS_B" ping -6 -q -c "$pings" -i 0.02 -W 1 "$A_IP6" >"$WORK/ping-$kind.log" 2>&1 || true
        ip netns exec "$NS_B" timeout $((DURATION + 10)) iperf3 -c "$A_IP6" -t $((DURATION / 2 - 1)) -J \
            >"$WORK/iperf-$kind.json" 2>&1 || true
    else
        sleep "$DURATION"
    fi
    if [[ -n $flood_pid ]]; then
        wait "$flood_pid" || true
        sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$WORK/flood-$kind.json")
    fi
    t1=$(cpu_ticks)
    u1=$(date +%s.%N)
    read -r rx1 rcvbuf1 < <(udp)
    python3 - "$kind" "$t0" "$t1" "$u0" "$u1" "$rx0" "$rx1" "$rcvbuf0" "$rcvbuf1" "$sent" \
        "$WORK/ping-$kind.log" "$WORK/iperf-$kind.json" "$CLK_TCK" <<'EOF'
import json, re, sys
kind, t0, t1, u0, u1, rx0, rx1, rb0, rb1, sent, ping_log, iperf_json, tck = sys.argv[1:]
cpu = (int(t1) - int(t0)) / int(tck)
wall = float(u1) - float(u0)
m = re.search(r"(\d+) packets transmitted, (\d+) received", open(ping_log).read())
tx, rx = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
try:
    bps = json.load(open(iperf_json))["end"]["sum_received"]["bits_per_second"]
except Exception:
    bps = 0.0
print(json.dumps({"kind": kind, "cpu_s": cpu, "wall_s": wall, "taken": int(rx1) - int(rx0),
                  "rcvbuf_drops": int(rb1) - int(rb0), "sent": int(sent),
                  "pings": tx, "pongs": rx, "tcp_mbit": bps / 1e6}))
EOF
}

cpu=()
member=()
for kind in none garbage replay fresh; do
    note "CPU pass: $kind"
    cpu+=("$(window "$kind" 0)")
done
for kind in none garbage replay fresh; do
    note "member pass: $kind"
    member+=("$(window "$kind" 1)")
done
status_a >"$WORK/status.json"

python3 - "$WORK/status.json" "${cpu[@]}" "${member[@]}" <<'EOF'
import json, sys
status = json.load(open(sys.argv[1]))
rows = [json.loads(r) for r in sys.argv[2:]]
cpu, member = rows[:4], rows[4:]
base_rate = cpu[0]["cpu_s"] / cpu[0]["wall_s"]
def per(r):
    return (r["cpu_s"] - base_rate * r["wall_s"]) / max(r["taken"], 1) * 1e6
print("CPU pass (flood only; A on one core):")
print(f"  {'flood':8} {'sent':>9} {'taken':>9} {'rcvbuf':>8} {'A cpu':>7} {'µs/dgram':>9}")
for r in cpu:
    p = per(r) if r["kind"] != "none" else float("nan")
    print(f"  {r['kind']:8} {r['sent']:9d} {r['taken']:9d} {r['rcvbuf_drops']:8d} "
          f"{100 * r['cpu_s'] / r['wall_s']:6.1f}% {p:9.2f}")
g = {r["kind"]: r for r in cpu}
if per(g["garbage"]) > 0:
    print(f"  replay/garbage CPU per datagram: {per(g['replay']) / per(g['garbage']):.2f}x; "
          f"fresh/garbage: {per(g['fresh']) / per(g['garbage']):.2f}x")
print("Member pass (B pings A, then iperf3 to A, during the flood):")
print(f"  {'flood':8} {'ping loss':>9} {'TCP Mbit/s':>10} {'of none':>8}")
tcp0 = member[0]["tcp_mbit"] or float("nan")
for r in member:
    loss = 100.0 * (1 - r["pongs"] / r["pings"]) if r["pings"] else float("nan")
    print(f"  {r['kind']:8} {loss:8.1f}% {r['tcp_mbit']:10.1f} {100 * r['tcp_mbit'] / tcp0:7.0f}%")
h = status.get("handshakes", {})
d = status.get("drops", {})
print("A's counters: " + ", ".join(f"{k} {v}" for k, v in h.items()) + "; drops: " +
      ", ".join(f"{k} {v}" for k, v in d.items() if v))
EOF
