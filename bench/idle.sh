#!/usr/bin/env bash
# What an idle node costs: memory (RSS) and wakeups a second of a node that
# holds sessions with N members and carries no traffic.
#
#   ns id-<pid>-a: CPU 0                    ns id-<pid>-b: CPU 1
#  +--------------------------+           +-------------------------------+
#  | tessel H (measured), TUN |<--------->| N members, `tessel up         |
#  | 198.51.100.1:9740        |   veth    | --userspace` (no TUN), ports  |
#  |                          |           | 10000.., each --peer H        |
#  +--------------------------+           +-------------------------------+
#
# Every member is given H as its `--peer`, so each keeps a session with H
# (and H one with each). Once H reports a session with all N, the network
# settles for SETTLE seconds; then, over WINDOW seconds, H's wakeups (the
# voluntary context switches of all its threads: each is a return to sleep
# after a wakeup) and CPU time are counted, and its RSS and that of one
# member are read at the end. One pass per size in SIZES.
#
# Usage: sudo bench/idle.sh     (env: SIZES="3 100", SETTLE=40, WINDOW=60,
#        TESSEL_BIN=path to a tessel binary, skipping the release build;
#        KEEP=1 keeps the logs)
# Needs root, iproute2 and taskset.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

SIZES=${SIZES:-3 100}
SETTLE=${SETTLE:-40}
WINDOW=${WINDOW:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS_A=id-$$-a
NS_B=id-$$-b
VETH_A=198.51.100.1
VETH_B=198.51.100.2
WORK=
# shellcheck source=lib/common.sh
. "$ROOT/bench/lib/common.sh"

for n in $SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= 1000)) || die "SIZES must be whole numbers from 1 to 1000"
done
[[ $SETTLE =~ ^[0-9]+$ && $WINDOW =~ ^[1-9][0-9]*$ ]] || die "SETTLE and WINDOW must be whole numbers of seconds"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for tool in ip taskset ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [[ -z ${TESSEL_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -p tessel-overlay --bin tessel) >&2 ||
        die "cargo build of tessel failed"
    TESSEL_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tessel
fi
[[ -x $TESSEL_BIN ]] || die "no tessel binary at $TESSEL_BIN"

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    ((${#ALL_PIDS[@]} == 0)) || stop_pids "${ALL_PIDS[@]}"
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    if [[ -n $WORK ]]; then
        if [[ -n ${KEEP:-} ]]; then note "logs kept in $WORK"; else rm -rf "$WORK"; fi
    fi
}
trap cleanup EXIT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-idle.XXXXXX")
veth_pair

# wakeups PID: voluntary context switches of all the process's threads.
wakeups() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}
# rss_mib PID [FIELD]: resident memory in MiB (VmRSS, or another field of
# /proc/PID/status such as RssAnon: the part not backed by files).
rss_mib() { awk -v f="^${2:-VmRSS}:" '$0 ~ f { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"; }
# sessions DIR: how many members the node in DIR has a session with.
sessions() {
    "$TESSEL_BIN" status --json --state-dir "$1" 2>/dev/null | grep -Eo '"connected": ?true' | wc -l
}

printf '%-8s %10s %10s %12s %12s %12s %14s\n' members "H RSS MiB" "H anon MiB" "H wakeups/s" "H CPU ms/s" "member RSS" "sessions up"
for n in $SIZES; do
    dir=$WORK/$n
    mkdir -p "$dir/h"
    "$TESSEL_BIN" network new >"$dir/network.key"
    "${IN_A[@]}" "$TESSEL_BIN" up --network "@$dir/network.key" --state-dir "$dir/h" \
        --listen "$VETH_A:9740" --no-lan-discovery --no-port-mapping 2>"$dir/h.log" &
    track "h$n" $!
    hub=$!
    poll 10 listening "$NS_A" udp 9740 || die "H is not listening (log: $dir/h.log)"
    started=$SECONDS
    members=()
    for ((i = 0; i < n; i++)); do
        mkdir -p "$dir/m$i"
        "${IN_B[@]}" "$TESSEL_BIN" up --userspace --network "@$dir/network.key" --state-dir "$dir/m$i" \
            --listen "$VETH_B:$((10000 + i))" --peer "$VETH_A:9740" \
            --no-lan-discovery --no-port-mapping 2>"$dir/m$i.log" &
        track "m$n" $!
        members+=($!)
    done
    deadline=$((SECONDS + 60 + n))
    until (($(sessions "$dir/h") >= n)); do
        alive "$hub" || die "H exited (log: $dir/h.log)"
        ((SECONDS < deadline)) || die "H has $(sessions "$dir/h") of $n sessions after $((SECONDS - started)) s (logs: $dir/)"
        sleep 1
    done
    up=$((SECONDS - started))
    sleep "$SETTLE"
    w0=$(wakeups "$hub")
    c0=$(cpu_ticks "$hub")
    sleep "$WINDOW"
    w1=$(wakeups "$hub")
    c1=$(cpu_ticks "$hub")
    held=$(sessions "$dir/h")
    ((held >= n)) || note "H holds $held of $n sessions at the end of the window"
    ticks=$(getconf CLK_TCK)
    printf '%-8s %10s %10s %12s %12s %12s %14s\n' "$n" "$(rss_mib "$hub")" "$(rss_mib "$hub" RssAnon)" \
        "$(awk -v a="$w0" -v b="$w1" -v t="$WINDOW" 'BEGIN { printf "%.1f", (b - a) / t }')" \
        "$(awk -v a="$c0" -v b="$c1" -v t="$WINDOW" -v k="$ticks" 'BEGIN { printf "%.1f", (b - a) * 1000 / k / t }')" \
        "$(rss_mib "${members[0]}")" "all in ${up}s"
    stop_system "m$n"
    stop_system "h$n"
done
