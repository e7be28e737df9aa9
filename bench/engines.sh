#!/usr/bin/env bash
# Engines between two nodes, in one run: authenticated casts per second one
# way (A → B), and the round trip of an engine call against a plain 16-byte
# request/response over overlay TCP between the same two nodes.
#
#  +--------------------- ns A, CPU 0 ------+       +--------------------- ns B, CPU 1 ------+
#  | tessel up (TUN)                        |       | tessel up (TUN), --peer A              |
#  | engine_bench casts / calls / tcp-rtt   |       | engine_bench sink (engine bench-sink)  |
#  |            veth0  198.51.100.1         |<=====>| veth0  198.51.100.2   tcp-server :9900 |
#  +----------------------------------------+ veth  +----------------------------------------+
#
# Each node's daemon and its local client share the node's one CPU. Casts
# go client → engines.sock → daemon A → TCP over the overlay (port 9743) →
# daemon B → engines.sock → the sink, which counts them; a final call asks
# the sink for its count, so the rate counts delivered casts only. The
# clients speak the socket's binary encoding; every reader, engine client
# and plain TCP alike, waits with poll(2) before it reads.
#
# The round trips are measured in ROUNDS rounds, each CALLS engine calls
# then CALLS plain requests, and each figure is the median of its rounds
# (so a burst of other load on the machine spoils one round, not the
# comparison).
#
# Usage: sudo bench/engines.sh      (env: CASTS=200000 SIZE=16 CALLS=2000
#        ROUNDS=5, TESSEL_BIN and BENCH_BIN to skip the release build)
# Needs root, iproute2, taskset and two CPUs.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

CASTS=${CASTS:-200000}
SIZE=${SIZE:-16}
CALLS=${CALLS:-2000}
ROUNDS=${ROUNDS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS_A=te-$$-a
NS_B=te-$$-b
VETH_A=198.51.100.1
VETH_B=198.51.100.2
WORK=

source "$ROOT/bench/lib/common.sh"

[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
(($(nproc) >= 2)) || die "needs two CPUs (one per node)"
if [[ -z ${TESSEL_BIN:-} || -z ${BENCH_BIN:-} ]]; then
    note "building tessel and the engine_bench example (release)"
    (cd "$ROOT" && cargo build --release -p tessel-overlay --bin tessel --example engine_bench) >&2 ||
        die "cargo build failed"
    TESSEL_BIN=$ROOT/target/release/tessel
    BENCH_BIN=$ROOT/target/release/examples/engine_bench
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-engines.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    ((${#ALL_PIDS[@]} == 0)) || stop_pids "${ALL_PIDS[@]}"
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

veth_pair

mkdir -p "$WORK/a" "$WORK/b"
"$TESSEL_BIN" network new >"$WORK/network.key"
"${IN_A[@]}" "$TESSEL_BIN" up --network "@$WORK/network.key" --state-dir "$WORK/a" \
    --listen "$VETH_A:9740" --no-lan-discovery --no-port-mapping 2>"$WORK/a.log" &
track a $!
poll 10 listening "$NS_A" udp 9740 || die "tessel in A is not listening (log: $WORK/a.log)"
"${IN_B[@]}" "$TESSEL_BIN" up --network "@$WORK/network.key" --state-dir "$WORK/b" \
    --listen "$VETH_B:9740" --peer "$VETH_A:9740" --no-lan-discovery --no-port-mapping 2>"$WORK/b.log" &
track b $!
b_addr() { "$TESSEL_BIN" ip --state-dir "$WORK/b" 2>/dev/null | sed -n 1p; }
poll 10 b_addr || die "tessel ip printed no address for B (log: $WORK/b.log)"
addr_b=$(b_addr)
poll 30 ip netns exec "$NS_A" ping -c 1 -W 1 "$addr_b" || die "no tunnel (logs: $WORK/)"

"${IN_B[@]}" "$BENCH_BIN" sink "$WORK/b/run/engines.sock" >"$WORK/sink.log" 2>&1 &
track b $!
"${IN_B[@]}" "$BENCH_BIN" tcp-server "[$addr_b]:9900" >"$WORK/tcp.log" 2>&1 &
track b $!
knows_sink() { "$TESSEL_BIN" engine list --json --state-dir "$WORK/a" | grep -q '"bench-sink"'; }
poll 30 knows_sink || die "A never learned bench-sink (logs: $WORK/)"
poll 10 listening "$NS_B" tcp 9900 || die "the TCP echo server is not listening"

sock_a=$WORK/a/run/engines.sock
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$1"; }
casts_line=$("${IN_A[@]}" "$BENCH_BIN" casts "$sock_a" "$CASTS" "$SIZE")
call_rounds=()
tcp_rounds=()
for _ in $(seq "$ROUNDS"); do
    line=$("${IN_A[@]}" "$BENCH_BIN" calls "$sock_a" "$CALLS")
    call_rounds+=("$(field "$line" mean_rtt_us)")
    line=$("${IN_A[@]}" "$BENCH_BIN" tcp-rtt "[$addr_b]:9900" "$CALLS")
    tcp_rounds+=("$(field "$line" mean_rtt_us)")
done

rate=$(field "$casts_line" per_second)
delivered=$(field "$casts_line" delivered)
call_us=$(printf '%s\n' "${call_rounds[@]}" | median)
tcp_us=$(printf '%s\n' "${tcp_rounds[@]}" | median)
echo "Two namespaces joined by a veth pair; node A (daemon + client) on CPU 0, node B on CPU 1."
echo "casts A → B: $delivered of $CASTS delivered ($SIZE-byte payloads), $rate per second" \
    "($(awk -v r="$rate" 'BEGIN { printf "%.2f", r / 100000 }')× the goal of 100,000/s)"
echo "round trip (median of $ROUNDS rounds of $CALLS): engine call $call_us µs, plain TCP over the overlay $tcp_us µs," \
    "ratio $(awk -v a="$call_us" -v b="$tcp_us" 'BEGIN { printf "%.2f", a / b }') (goal ≤ 1.3)"
echo "rounds (engine/plain µs): $(paste -d/ <(printf '%s\n' "${call_rounds[@]}") <(printf '%s\n' "${tcp_rounds[@]}") | tr '\n' ' ')"
