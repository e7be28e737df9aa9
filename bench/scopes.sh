#!/usr/bin/env bash
# Scope queries across three levels, in one run: the latency of a query
# answered from a warm trie (the querier's cache) against a cold one
# (redirects from the root runtime down to the scope's cluster), as the
# querier's daemon measured it (µs, from taking the request to the answer),
# and the bytes a query costs per level (the querier's scope frame
# counters: query frames out, answer frames in).
#
#                         ns sw: bridge br0
#      ___________________________|___________________________
#     |                  |                  |                  |
#  ns r .1            ns o .2            ns t .3            ns q .4
#  sector /           sector /org        sector /org/team   the querier
#  fs @ /             fs @ /org          fs @ /org/team     (--scope-bootstrap r)
#  (public addresses 198.51.100.N/24; every node --peer r; TUN mode)
#
# For each level (/, /org, /org/team) and ROUNDS rounds: `tessel scope
# forget` on q, a cold query (1, 2 or 3 runtimes asked), then the same
# query warm (from the cache). The table shows medians.
#
# Usage: sudo bench/scopes.sh      (env: ROUNDS=30, TESSEL_BIN to skip the
#        release build, KEEP=1 to keep the work dir)
# Needs root, iproute2, jq.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

ROUNDS=${ROUNDS:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=tsb-$$
NS_A=$PREFIX-r
NS_B=$PREFIX-q
NAMES=(r o t q)
WORK=

source "$ROOT/bench/lib/common.sh"

[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
command -v jq >/dev/null || die "needs jq"
if [[ -z ${TESSEL_BIN:-} ]]; then
    note "building tessel (release)"
    (cd "$ROOT" && cargo build --release -p tessel-overlay --bin tessel) >&2 || die "cargo build failed"
    TESSEL_BIN=$ROOT/target/release/tessel
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-scopes.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    ((${#ALL_PIDS[@]} == 0)) || stop_pids "${ALL_PIDS[@]}"
    local n
    for n in sw "${NAMES[@]}"; do ip netns del "$PREFIX-$n" 2>/dev/null || true; done
    [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the LAN --------------------------------------------------------------------
ip netns add "$PREFIX-sw"
ip -n "$PREFIX-sw" link add br0 type bridge
ip -n "$PREFIX-sw" link set br0 up
i=0
for n in "${NAMES[@]}"; do
    i=$((i + 1))
    ns=$PREFIX-$n
    ip netns add "$ns"
    ip -n "$ns" link add eth0 type veth peer name "p$i" netns "$PREFIX-sw"
    ip -n "$PREFIX-sw" link set "p$i" master br0 up
    ip -n "$ns" addr add "198.51.100.$i/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
done

# tsl NODE ARGS...: the CLI against NODE's daemon.
tsl() {
    local n=$1
    shift
    ip netns exec "$PREFIX-$n" "$TESSEL_BIN" "$@" --state-dir "$WORK/$n"
}
node_id() { tsl "$1" status --json 2>/dev/null | jq -er .node_id; }

# --- keys, daemons, scopes ------------------------------------------------------
T=$TESSEL_BIN
"$T" network new >"$WORK/network.key"
for k in root org team; do "$T" scope key new --out "$WORK/$k.key" >"$WORK/$k.pub"; done
start() {
    local n=$1 ip=$2
    shift 2
    mkdir -p "$WORK/$n"
    ip netns exec "$PREFIX-$n" "$T" up --network "@$WORK/network.key" --state-dir "$WORK/$n" \
        --interface "tsb$n" --listen "$ip:9740" --no-lan-discovery --no-port-mapping \
        --scope-root "$(cat "$WORK/root.pub")" "$@" 2>"$WORK/$n.log" &
    track "$n" $!
    poll 10 node_id "$n" || die "node $n did not start (log: $WORK/$n.log)"
}
start r 198.51.100.1
R_ID=$(node_id r)
start o 198.51.100.2 --peer 198.51.100.1:9740 --scope-bootstrap "$R_ID"
start t 198.51.100.3 --peer 198.51.100.1:9740 --scope-bootstrap "$R_ID"
start q 198.51.100.4 --peer 198.51.100.1:9740 --scope-bootstrap "$R_ID"

"$T" scope create / --world-readable --key "$WORK/root.key" >"$WORK/c-root"
"$T" scope create /org --world-readable --owner "$(cat "$WORK/org.pub")" --key "$WORK/root.key" >"$WORK/c-org"
"$T" scope create /org/team --world-readable --owner "$(cat "$WORK/team.pub")" --key "$WORK/org.key" >"$WORK/c-team"
for n in "${NAMES[@]}"; do
    for c in c-root c-org c-team; do tsl "$n" scope add "@$WORK/$c" >/dev/null; done
done
place() {
    local n=$1 scope=$2 key=$3
    "$T" scope grant "$scope" "$(node_id "$n")" --key "$WORK/$key.key" >"$WORK/g-$n"
    tsl "$n" scope register "$scope" sector --grant "@$WORK/g-$n" >/dev/null
    tsl "$n" scope register "$scope" fs --grant "@$WORK/g-$n" >/dev/null
}
place r / root
place o /org org
place t /org/team team

# query SCOPE: a query from q, as JSON.
query() { tsl q scope query "$1" fs --all --json; }
ready() {
    tsl q scope forget >/dev/null &&
        [[ $(query /org/team | jq -r '[(.runtimes | length), (.trail | length)] | @tsv') == $'1\t3' ]]
}
poll 60 ready || die "q never found /org/team's fs three runtimes down: $(query /org/team) (logs: $WORK/)"

# --- measure --------------------------------------------------------------------
counter() { tsl q status --json | jq -r ".engines.scopes.$1"; }
printf '%-10s %5s %10s %10s %7s %12s %12s\n' scope hops "cold µs" "warm µs" ratio "bytes/query" "+this level"
prev=0
for scope in / /org /org/team; do
    : >"$WORK/cold" && : >"$WORK/warm" && : >"$WORK/bytes"
    hops=0
    for _ in $(seq "$ROUNDS"); do
        tsl q scope forget >/dev/null
        before=$(($(counter query_bytes_out) + $(counter answer_bytes_in)))
        cold=$(query "$scope")
        after=$(($(counter query_bytes_out) + $(counter answer_bytes_in)))
        [[ $(jq -r .cached <<<"$cold") == false ]] || die "cold query of $scope came from the cache: $cold"
        hops=$(jq -r '.trail | length' <<<"$cold")
        jq -r .elapsed_us <<<"$cold" >>"$WORK/cold"
        echo $((after - before)) >>"$WORK/bytes"
        warm=$(query "$scope")
        [[ $(jq -r .cached <<<"$warm") == true ]] || die "warm query of $scope did not come from the cache: $warm"
        jq -r .elapsed_us <<<"$warm" >>"$WORK/warm"
    done
    c=$(median <"$WORK/cold")
    w=$(median <"$WORK/warm")
    b=$(median <"$WORK/bytes")
    printf '%-10s %5s %10s %10s %7s %12s %12s\n' "$scope" "$hops" "$c" "$w" \
        "$(awk -v c="$c" -v w="$w" 'BEGIN { printf "%.1f×", c / w }')" "$b" \
        "$(awk -v b="$b" -v p="$prev" 'BEGIN { printf "%.0f", b - p }')"
    prev=$b
done
echo "($ROUNDS rounds per scope; medians; µs as q's daemon measured them, request to answer;"
echo " bytes: q's scope query frames out plus answer frames in, frame headers included;"
echo " +this level: what one more level of redirect adds)"
