#!/usr/bin/env bash
# MFM packets per second and one-way latency between two neighbouring tiles,
# against the plain overlay round trip (ping) between the same two nodes, in
# one run.
#
#   ns tile-<pid>-a                          ns tile-<pid>-b
#   tessel up --tile ET=B  <-- veth pair -->  tessel up --tile WT=A
#   198.51.100.1                             198.51.100.2
#
# The tiles' MFM channels are driven by bench/lib/tile_measure.py (one
# process, one clock for both ends): latency is the median of 500 single
# packets from A's socket to B's socket; throughput is 50 000 packets of 64
# bytes as fast as A's credit allows. The overlay round trip is the median
# of 200 pings 10 ms apart from A to B's overlay IPv6 address. Printed: the tile figures,
# the ping RTT, the tile's one-way latency as a multiple of half the RTT, and
# packets per second against one packet per RTT (what a sender that waits
# for each reply would get).
#
# Usage: sudo bench/tile.sh   (env: TESSEL_BIN=path skips the release build)
# Needs root, iproute2, iputils ping and python3.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS_A=tile-$$-a
NS_B=tile-$$-b
WORK=$(mktemp -d /tmp/tile-bench.XXXXXX)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${TESSEL_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release --locked -p tessel-overlay --bin tessel >&2)
    TESSEL_BIN=$ROOT/target/release/tessel
fi

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add veth0 netns "$NS_A" type veth peer name veth0 netns "$NS_B"
ip -n "$NS_A" addr add 198.51.100.1/24 dev veth0
ip -n "$NS_B" addr add 198.51.100.2/24 dev veth0
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
done

KEY=$("$TESSEL_BIN" network new)
COMMON=(--network "$KEY" --no-port-mapping --no-lan-discovery)

# start NS NAME ARGS...: runs `tessel up` in NS with state dir $WORK/NAME.
start() {
    local ns=$1 name=$2
    shift 2
    ip netns exec "$ns" "$TESSEL_BIN" up --state-dir "$WORK/$name" "${COMMON[@]}" "$@" \
        >>"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
}

# wait_for SECS CMD...: polls CMD every 0.2 s.
wait_for() {
    local secs=$1
    shift
    for _ in $(seq $((secs * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "error: timed out waiting for: $*" >&2
    tail -n 30 "$WORK"/*.log >&2
    exit 1
}

# The node IDs exist once each node has run once.
start "$NS_A" a
start "$NS_B" b --peer 198.51.100.1:9740
wait_for 20 "$TESSEL_BIN" status --state-dir "$WORK/a"
wait_for 20 "$TESSEL_BIN" status --state-dir "$WORK/b"
ID_A=$("$TESSEL_BIN" status --json --state-dir "$WORK/a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
ID_B=$("$TESSEL_BIN" status --json --state-dir "$WORK/b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
PIDS=()

start "$NS_A" a --tile "ET=$ID_B"
start "$NS_B" b --peer 198.51.100.1:9740 --tile "WT=$ID_A"
present() { "$TESSEL_BIN" tile status --json --state-dir "$WORK/$1" | grep '"present"' >/dev/null; }
wait_for 30 present a
wait_for 30 present b
B_V6=$("$TESSEL_BIN" ip --state-dir "$WORK/b" | sed -n 1p)

TILE=$(python3 "$ROOT/bench/lib/tile_measure.py" --a "$WORK/a/run/tile.sock" --b "$WORK/b/run/tile.sock" --dir ET)
# A few pings first, so that the path is warm, then the measured ones.
ip netns exec "$NS_A" ping -6 -q -c 5 -i 0.2 "$B_V6" >/dev/null
PING=$(ip netns exec "$NS_A" ping -6 -c 200 -i 0.01 "$B_V6")

python3 - "$TILE" "$PING" <<'PY'
import json, re, statistics, sys
t = json.loads(sys.argv[1])
rtts = [float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", sys.argv[2])]
if not rtts:
    sys.exit("error: no ping reply")
rtt_us = statistics.median(rtts)
print("tile MFM, A -> B (neighbours over the overlay)")
print("  one-way latency   median %8.1f us   p90 %8.1f us" % (t["one_way_median_us"], t["one_way_p90_us"]))
print("  throughput        %8.0f packets/s (%d packets of %d bytes)" % (t["pps"], t["packets"], t["packet_bytes"]))
print("overlay ping, A -> B")
print("  round trip        median %8.1f us   (%d replies)" % (rtt_us, len(rtts)))
print("ratios")
print("  tile one-way / (ping RTT / 2)      %6.2f" % (t["one_way_median_us"] / (rtt_us / 2)))
print("  tile packets/s / (1 / ping RTT)    %6.1f" % (t["pps"] * rtt_us / 1e6))
PY
