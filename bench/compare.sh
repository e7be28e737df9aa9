#!/usr/bin/env bash
# TCP throughput and ping RTT of Tessel (with a TUN device, and in userspace
# mode), boringtun, Nebula and Yggdrasil, against the raw veth link they all
# run over, in one run.
#
#          ns tb-<pid>-a: all on CPU 0                 ns tb-<pid>-b: all on CPU 1
#  +-----------------------------------+       +-----------------------------------+
#  | iperf3 -s                         |       | iperf3 -c, then ping, to A's      |
#  |                                   |       | address on each path in turn      |
#  |                                   |       |                                   |
#  | tessel     tessel0   fd../100.x   |<----->| tessel0   fd../100.x  tessel      |
#  | tessel     tsu0      fd..         |<----->| userspace stack (no TUN) and a    |
#  |                                   |       | forward 127.0.0.1:5201 -> A:5201  |
#  | boringtun  bt<pid>a  198.18.1.1   |<----->| bt<pid>b  198.18.1.2  boringtun   |
#  | nebula     nebula1   198.18.2.1   |<----->| nebula1   198.18.2.2  nebula      |
#  | yggdrasil  ygg<pid>  200::/7      |<----->| ygg<pid>  200::/7     yggdrasil   |
#  |                                   |       |                                   |
#  |            veth0  198.51.100.1    |<=====>| veth0  198.51.100.2               |
#  +-----------------------------------+ veth  +-----------------------------------+
#                                         pair
#  Every tunnel's packets (UDP; TCP for Yggdrasil) cross the one veth pair.
#  tessel-userspace: B runs `tessel up --userspace` (no TUN device), so
#  iperf3 in B connects to B's local forward, 127.0.0.1:5201, which carries
#  it through B's userspace TCP/IP stack and the overlay to A's iperf3; its
#  RTT is measured the other way, A pinging B's overlay address, which B's
#  stack answers (B has no interface to ping from).
#
# All the systems run side by side. Each round measures every one in turn
# (the order rotates from round to round, so none always goes first): iperf3
# TCP for DURATION seconds from B to A, then 50 pings 10 ms apart. After
# ROUNDS rounds it prints, per system, the median and the spread (min-max)
# across rounds of throughput and average RTT, the throughput as a multiple
# of the veth's (median over median, same run) and the RTT added to the
# veth's (µs).
#
# Usage: sudo bench/compare.sh [SYSTEM...]
#   SYSTEMs: veth tessel tessel-userspace boringtun nebula yggdrasil
#   (default: all; the veth baseline is always measured). A system whose
#   programs are missing is skipped with a note; bench/install-others.sh
#   installs them.
# For each system with processes of its own (all but veth), it also prints
# the CPU time those processes spent per tunnelled data packet while iperf3
# ran, in each namespace (A receives, B sends): their user and system time
# over the packets the throughput stands for (bytes / (MTU - 72), the TCP
# payload of a full IPv6 segment with timestamps); kernel work done for
# them in softirq context is not in it.
# With sockperf installed it also measures, per system with an IPv4 address
# across it, the round trip of a UDP ping-pong (sockperf ping-pong,
# PP_SECONDS, default 3; twice sockperf's average one-way latency).
# Env: ROUNDS=3 DURATION=10 (seconds of iperf3 per measurement),
#   STREAMS=1 (parallel iperf3 streams),
#   TUNNEL_TIMEOUT=20 (seconds to wait for each tunnel to answer a ping),
#   TESSEL_BIN=path (skips the release build), BORINGTUN_BIN=path,
#   BT_MTU=1420 (boringtun interface MTU, as wg-quick sets),
#   YGG_MTU=65535 (Yggdrasil's default), KEEP=1 keeps the logs.
# Needs root, iproute2, iperf3, iputils ping, taskset and two CPUs; sockperf
# (Debian package sockperf) for the ping-pong column.
# Exits non-zero if a system that is installed failed to come up or measure.

set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$ROOT/bench/lib
ALL_SYSTEMS=(veth tessel tessel-userspace boringtun nebula yggdrasil)

NS_A=tb-$$-a
NS_B=tb-$$-b
WORK=

# shellcheck source=bench/lib/common.sh
source "$LIB/common.sh"
# shellcheck source=bench/lib/systems.sh
source "$LIB/systems.sh"

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for tool in ip iperf3 ping taskset timeout; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
(($(nproc) >= 2)) || die "needs two CPUs (one per namespace)"

# --- which systems --------------------------------------------------------------
if (($#)); then args=("$@"); else args=("${ALL_SYSTEMS[@]}"); fi
requested=(veth)
for sys in "${args[@]}"; do
    [[ " ${ALL_SYSTEMS[*]} " == *" $sys "* ]] || die "unknown system '$sys' (known: ${ALL_SYSTEMS[*]})"
    [[ " ${requested[*]} " == *" $sys "* ]] || requested+=("$sys")
done

needs_tessel=
for sys in "${requested[@]}"; do [[ $sys == tessel* ]] && needs_tessel=1; done
if [[ -n $needs_tessel && -z ${TESSEL_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -p tessel-overlay --bin tessel) >&2 ||
        die "cargo build of tessel failed (TESSEL_BIN=path uses a tessel built elsewhere)"
    TESSEL_BIN=$ROOT/target/release/tessel
fi

declare -A STATUS=()   # per system: empty when it runs, else why not
FAILED=0
systems=()
for sys in "${requested[@]}"; do
    REASON=
    if "$(sysfn "$sys" check)"; then
        systems+=("$sys")
    else
        STATUS[$sys]=$REASON
        note "$sys: $REASON"
    fi
done

# --- cleanup --------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessel-compare.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local sys
    for sys in "${systems[@]}"; do
        "$(sysfn "$sys" down)" 2>/dev/null || true
    done
    ((${#ALL_PIDS[@]} == 0)) || stop_pids "${ALL_PIDS[@]}"
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then
        note "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- topology -------------------------------------------------------------------
veth_pair

"${IN_A[@]}" iperf3 -s --rcv-timeout 10000 >"$WORK/iperf3-server.log" 2>&1 &
track iperf3 $!
poll 10 sh -c "ip netns exec $NS_A ss -Htln | grep -q ':5201 '" || die "iperf3 -s did not start listening"

# sockperf's server, for the ping-pong round trips (IPv4 addresses only).
HAVE_SOCKPERF=
if command -v sockperf >/dev/null; then
    "${IN_A[@]}" sockperf server -i 0.0.0.0 -p 11111 >"$WORK/sockperf-server.log" 2>&1 &
    track sockperf $!
    HAVE_SOCKPERF=1
else
    note "sockperf is not installed: no ping-pong round trips (apt-get install sockperf)"
fi

# --- bring each system up -------------------------------------------------------
running=()
for sys in "${systems[@]}"; do
    REASON=
    [[ $sys == veth ]] || note "starting $sys"
    if "$(sysfn "$sys" up)"; then
        running+=("$sys")
    else
        STATUS[$sys]="failed to start: $REASON"
        note "$sys: ${STATUS[$sys]}"
        FAILED=1
        "$(sysfn "$sys" down)" || true
    fi
done

echo "Between two network namespaces joined by a veth pair, A on CPU 0, B on CPU 1;"
echo "$ROUNDS round(s) of: iperf3 TCP ${DURATION}s B->A (${STREAMS:-1} stream(s)), then 50 pings 10 ms apart,"
echo "then ${PP_SECONDS:-3}s of sockperf UDP ping-pong (to an IPv4 address), per system."
for sys in "${running[@]}"; do
    printf '  %-16s to %-40s MTU %-6s %s\n' "$sys" "${TARGET[$sys]}" "${MTU[$sys]}" "${INFO[$sys]}"
done
echo

# --- measure --------------------------------------------------------------------
declare -A TPUT=() RTT=() CPU_A=() CPU_B=() PP=()
CLK_TCK=$(getconf CLK_TCK)
n=${#running[@]}
# per_packet TICKS GBITS MTU: µs of CPU per data packet.
per_packet() {
    awk -v t="$1" -v g="$2" -v m="$3" -v d="$DURATION" -v hz="$CLK_TCK" \
        'BEGIN { p = g * 1e9 / 8 * d / (m - 72); if (p > 0) printf "%.2f", t / hz * 1e6 / p }'
}
printf '%-6s %-16s %10s %10s %14s %10s\n' round system Gbit/s "RTT ms" "CPU us/pkt A B" "pp RTT us"
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < n; i++)); do
        sys=${running[$(((i + r) % n))]}
        read -r -a pids <<<"${PROC_PIDS[$sys]:-}"
        a0=0 b0=0
        if ((${#pids[@]} >= 2)); then a0=$(cpu_ticks "${pids[0]}") b0=$(cpu_ticks "${pids[1]}"); fi
        t=$(throughput "${TARGET[$sys]}" || true)
        ca= cb=
        if ((${#pids[@]} >= 2)) && [[ -n $t ]]; then
            ca=$(per_packet $(($(cpu_ticks "${pids[0]}") - a0)) "$t" "${MTU[$sys]}")
            cb=$(per_packet $(($(cpu_ticks "${pids[1]}") - b0)) "$t" "${MTU[$sys]}")
            CPU_A[$sys]="${CPU_A[$sys]:-} $ca"
            CPU_B[$sys]="${CPU_B[$sys]:-} $cb"
        fi
        l=$(rtt "${RTT_TARGET[$sys]:-${TARGET[$sys]}}" "${RTT_FROM[$sys]:-b}" || true)
        p=
        if [[ -n $HAVE_SOCKPERF && -n ${PP_TARGET[$sys]:-} ]]; then
            p=$(pingpong "${PP_TARGET[$sys]}" || true)
            [[ -n $p ]] && PP[$sys]="${PP[$sys]:-} $p"
        fi
        [[ -n $t ]] && TPUT[$sys]="${TPUT[$sys]:-} $t"
        [[ -n $l ]] && RTT[$sys]="${RTT[$sys]:-} $l"
        printf '%-6s %-16s %10s %10s %14s %10s\n' "$((r + 1))" "$sys" "${t:-failed}" "${l:-failed}" \
            "${ca:--} ${cb:--}" "${p:--}"
    done
done
echo

for sys in "${running[@]}"; do
    "$(sysfn "$sys" down)" || true
done

# --- summary --------------------------------------------------------------------
# stats LIST: "median min max count" of the space-separated numbers.
stats() {
    local v
    read -r -a v <<<"$1"
    ((${#v[@]})) || { echo "- - - 0"; return; }
    printf '%s %s %s %s\n' \
        "$(printf '%s\n' "${v[@]}" | median)" \
        "$(printf '%s\n' "${v[@]}" | minimum)" \
        "$(printf '%s\n' "${v[@]}" | maximum)" "${#v[@]}"
}

read -r vt _ _ _ <<<"$(stats "${TPUT[veth]:-}")"
read -r vr _ _ _ <<<"$(stats "${RTT[veth]:-}")"

row() { printf '%-17s %-6s %-22s %-8s %-26s %-8s %-16s %s\n' "$@"; }
row system MTU "Gbit/s (min-max)" "x veth" "RTT ms (min-max)" "+RTT us" "CPU us/pkt A B" "pp RTT us (min-max)"
for sys in "${requested[@]}"; do
    if [[ -n ${STATUS[$sys]:-} ]]; then
        printf '%-17s %s\n' "$sys" "${STATUS[$sys]}"
        continue
    fi
    read -r tm tlo thi tn <<<"$(stats "${TPUT[$sys]:-}")"
    read -r rm rlo rhi rn <<<"$(stats "${RTT[$sys]:-}")"
    if [[ $tm == - ]]; then tput=failed; else
        tput=$(awk -v m="$tm" -v a="$tlo" -v b="$thi" 'BEGIN { printf "%.2f (%.2f-%.2f)", m, a, b }'); fi
    if [[ $rm == - ]]; then lat=failed; else
        lat=$(awk -v m="$rm" -v a="$rlo" -v b="$rhi" 'BEGIN { printf "%.3f (%.3f-%.3f)", m, a, b }'); fi
    ratio=$(awk -v s="$tm" -v v="$vt" 'BEGIN { if (s == "-" || v == "-" || v <= 0) print "-"; else printf "%.3f", s / v }')
    added=$(awk -v s="$rm" -v v="$vr" 'BEGIN { if (s == "-" || v == "-") print "-"; else printf "%.0f", (s - v) * 1000 }')
    extra=
    if ((tn < ROUNDS || rn < ROUNDS)); then
        extra="  (measured in $tn/$ROUNDS rounds for throughput, $rn/$ROUNDS for RTT)"
        FAILED=1
    fi
    read -r ca _ _ _ <<<"$(stats "${CPU_A[$sys]:-}")"
    read -r cb _ _ _ <<<"$(stats "${CPU_B[$sys]:-}")"
    read -r pm plo phi _ <<<"$(stats "${PP[$sys]:-}")"
    pp=-
    [[ $pm != - ]] && pp="$pm ($plo-$phi)"
    row "$sys" "${MTU[$sys]:-?}" "$tput" "$ratio" "$lat" "$added" "$ca $cb" "$pp$extra"
done

exit "$FAILED"
