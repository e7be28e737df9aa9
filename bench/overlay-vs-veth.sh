#!/usr/bin/env bash
# Throughput and latency of the Tessel overlay against the raw veth link it
# runs over.
#
#   ns tb-<pid>-a  (CPU 0)                      ns tb-<pid>-b  (CPU 1)
#  +--------------------------+               +--------------------------+
#  | iperf3 -s                |               | iperf3 -c / ping         |
#  | tessel up      tessel0 <-+-- overlay ----+-> tessel0   tessel up    |
#  |   (fd.. / 100.x)         |               |   --peer 198.51.100.1    |
#  |                  veth0 <-+-- veth pair --+-> veth0                  |
#  |             198.51.100.1 |               | 198.51.100.2             |
#  +--------------------------+               +--------------------------+
#
# Each round: iperf3 TCP for DURATION seconds B -> A over the veth address
# and over A's overlay IPv6 address, then `ping -c 50 -i 0.01` over both.
# Prints every round and the medians, with the overlay/veth throughput ratio
# and the RTT the overlay adds.
#
# Usage: sudo bench/overlay-vs-veth.sh        (env: ROUNDS=3 DURATION=10,
#        TESSEL_BIN=path to skip the release build)
# Needs root, iproute2, iperf3, iputils ping, taskset and two CPUs.

set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "error: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for tool in ip iperf3 ping taskset ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [[ -n ${TESSEL_BIN:-} ]]; then
    BIN=$TESSEL_BIN
else
    (cd "$ROOT" && cargo build --release -p tessel-overlay --bin tessel) >&2
    BIN=$ROOT/target/release/tessel
fi
[[ -x $BIN ]] || die "no tessel binary at $BIN"

NS_A=tb-$$-a
NS_B=tb-$$-b
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-bench.XXXXXX")
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then
        echo "logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_a() { ip netns exec "$NS_A" taskset -c 0 "$@"; }
in_b() { ip netns exec "$NS_B" taskset -c 1 "$@"; }

# Polls `$@` every 0.1 s until it succeeds, for at most $1 seconds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "timed out after ${secs}s waiting for $what"
        sleep 0.1
    done
}

# --- topology ---------------------------------------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B"
ip -n "$NS_A" addr add 198.51.100.1/24 dev veth0
ip -n "$NS_B" addr add 198.51.100.2/24 dev veth0
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
done
wait_for 10 "the veth link" ip netns exec "$NS_B" ping -c 1 -W 1 198.51.100.1

# --- overlay ----------------------------------------------------------------
KEY=$("$BIN" network new)
mkdir -p "$WORK/a" "$WORK/b"
# Started directly (not through a function) so that $! is the PID of tessel
# itself: `ip netns exec` and `taskset` both exec their command.
ip netns exec "$NS_A" taskset -c 0 "$BIN" up --network "$KEY" --state-dir "$WORK/a" --listen 198.51.100.1:9740 \
    2>"$WORK/a.log" &
PIDS+=($!)
ip netns exec "$NS_B" taskset -c 1 "$BIN" up --network "$KEY" --state-dir "$WORK/b" --listen 198.51.100.2:9740 \
    --peer 198.51.100.1:9740 2>"$WORK/b.log" &
PIDS+=($!)

session_up() {
    ip netns exec "$NS_B" "$BIN" status --json --state-dir "$WORK/b" |
        grep -Eq '"connected"[[:space:]]*:[[:space:]]*true'
}
wait_for 30 "the overlay session" session_up
OVERLAY_A=$(ip netns exec "$NS_A" "$BIN" ip --state-dir "$WORK/a" | sed -n 1p)
wait_for 10 "ping over the overlay" ip netns exec "$NS_B" ping -6 -c 1 -W 1 "$OVERLAY_A"

ip netns exec "$NS_A" taskset -c 0 iperf3 -s >"$WORK/iperf-server.log" 2>&1 &
PIDS+=($!)
wait_for 10 "iperf3 to listen" sh -c "ip netns exec $NS_A ss -Htln | grep -q ':5201 '"

# --- measurements -----------------------------------------------------------
# Prints the receiver throughput in Gbit/s.
throughput() {
    in_b iperf3 -c "$1" -t "$DURATION" -f g |
        awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1) }'
}

# Prints the average RTT in ms.
rtt() {
    in_b ping -q -c 50 -i 0.01 "$1" | awk -F'/' '/^rtt|^round-trip/ { print $5 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

row() { printf '%-8s %12s %12s %8s %12s %12s %10s\n' "$@"; }
ratio() { awk -v o="$1" -v v="$2" 'BEGIN { printf "%.3f", (v > 0 ? o / v : 0) }'; }
added_us() { awk -v o="$1" -v v="$2" 'BEGIN { printf "%.1f", (o - v) * 1000 }'; }

echo "overlay: $OVERLAY_A over veth 198.51.100.1; ${ROUNDS} rounds of ${DURATION}s TCP and 50 pings"
row round "veth Gb/s" "tessel Gb/s" ratio "veth ms" "tessel ms" "+RTT us"
declare -a TV TO RV RO
for ((r = 1; r <= ROUNDS; r++)); do
    tv=$(throughput 198.51.100.1)
    to=$(throughput "$OVERLAY_A")
    rv=$(rtt 198.51.100.1)
    ro=$(rtt "$OVERLAY_A")
    [[ -n $tv && -n $to && -n $rv && -n $ro ]] || die "a measurement failed in round $r"
    TV+=("$tv") TO+=("$to") RV+=("$rv") RO+=("$ro")
    row "$r" "$tv" "$to" "$(ratio "$to" "$tv")" "$rv" "$ro" "$(added_us "$ro" "$rv")"
done
mtv=$(printf '%s\n' "${TV[@]}" | median)
mto=$(printf '%s\n' "${TO[@]}" | median)
mrv=$(printf '%s\n' "${RV[@]}" | median)
mro=$(printf '%s\n' "${RO[@]}" | median)
row median "$mtv" "$mto" "$(ratio "$mto" "$mtv")" "$mrv" "$mro" "$(added_us "$mro" "$mrv")"
