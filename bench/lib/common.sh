# shellcheck shell=bash
# Helpers shared by the benchmark scripts: errors, the two namespaces,
# process bookkeeping, bounded waits, measurements and statistics.
# Sourced, not run. Expects NS_A, NS_B and WORK to be set by the caller.

die() { echo "error: $*" >&2; exit 1; }
note() { echo "$*" >&2; }

# Prefixes that run a command in namespace A pinned to CPU 0, or in B pinned
# to CPU 1. `ip netns exec` and `taskset` both exec, so after
# `"${IN_A[@]}" CMD &` (a simple command, not a function call) $! is the PID
# of CMD itself, which is what gets killed.
# shellcheck disable=SC2034  # used by the scripts that source this
IN_A=(ip netns exec "$NS_A" taskset -c 0)
IN_B=(ip netns exec "$NS_B" taskset -c 1)

# sysfn SYSTEM STEP: the name of a system's function, e.g. `sysfn
# tessel-userspace up` is tessel_userspace_up.
sysfn() { echo "${1//-/_}_$2"; }

# --- processes ------------------------------------------------------------------
# Every background process is recorded under the name of the system it
# belongs to, so that one system can be stopped on its own, and whatever is
# left is stopped on exit.
declare -A PROC_PIDS=()
ALL_PIDS=()

# track SYSTEM PID
track() {
    PROC_PIDS[$1]="${PROC_PIDS[$1]:-} $2"
    ALL_PIDS+=("$2")
}

# Sends SIGTERM to each PID, waits up to 5 s for each to exit, then SIGKILL.
stop_pids() {
    local pid
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# stop_system SYSTEM: stops the processes recorded for it.
stop_system() {
    local pids
    read -r -a pids <<<"${PROC_PIDS[$1]:-}"
    ((${#pids[@]} == 0)) || stop_pids "${pids[@]}"
    PROC_PIDS[$1]=""
}

# Polls `$@` every 0.1 s until it succeeds, for at most $1 seconds; returns 1
# when the deadline passes.
poll() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# alive PID: whether the process still runs (and is not a zombie).
alive() {
    kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# ping_once ADDR: one echo request from B to ADDR, answered within 1 s.
ping_once() { ip netns exec "$NS_B" ping -c 1 -W 1 "$1"; }

# wait_tunnel SECONDS ADDR PID...: pings ADDR from B until it answers, for at
# most SECONDS, giving up early if one of the PIDs has exited.
wait_tunnel() {
    local secs=$1 addr=$2
    shift 2
    local deadline=$((SECONDS + secs)) pid
    until ping_once "$addr" >/dev/null 2>&1; do
        for pid in "$@"; do
            alive "$pid" || return 1
        done
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# listening NS tcp|udp PORT: whether a socket in NS listens on (is bound to)
# PORT.
listening() {
    local opt=-Htln
    [[ $2 == udp ]] && opt=-Huln
    ip netns exec "$1" ss "$opt" | awk -v p=":$3" '{ if (substr($4, length($4) - length(p) + 1) == p) f = 1 } END { exit !f }'
}

# link_mtu NS IFACE: the interface's MTU.
link_mtu() { ip -n "$1" -o link show dev "$2" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p'; }

# --- measurements ---------------------------------------------------------------
# throughput ADDR: TCP from B to the iperf3 server in A for DURATION seconds,
# in STREAMS parallel streams (default 1); prints what the receiver got, in
# Gbit/s, or nothing on failure.
throughput() {
    timeout $((DURATION + 30)) "${IN_B[@]}" iperf3 -c "$1" -t "$DURATION" -P "${STREAMS:-1}" \
        -J --connect-timeout 5000 2>/dev/null |
        awk -F: '/"sum_received"/ { r = 1 }
            r && /"bits_per_second"/ { gsub(/[^0-9.eE+-]/, "", $2); printf "%.3f\n", $2 / 1e9; exit }'
}

# pingpong ADDR: sockperf UDP ping-pong from B to the sockperf server in A
# for PP_SECONDS (default 3); prints the average round trip in µs (twice
# sockperf's one-way figure), or nothing on failure. IPv4 only (sockperf 3.7).
pingpong() {
    timeout $((${PP_SECONDS:-3} + 20)) "${IN_B[@]}" sockperf ping-pong -i "$1" -p 11111 \
        -t "${PP_SECONDS:-3}" 2>/dev/null |
        sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' | awk '{ printf "%.1f\n", 2 * $1; exit }'
}

# cpu_ticks PID: the user and system clock ticks PID has used so far (0 if
# it is gone).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# rtt ADDR [a|b]: 50 pings from B (or from A), 10 ms apart; prints the
# average RTT in ms of those answered, or nothing if none was.
rtt() {
    local from=("${IN_B[@]}")
    [[ ${2:-b} == a ]] && from=("${IN_A[@]}")
    timeout 30 "${from[@]}" ping -q -c 50 -i 0.01 -W 1 "$1" 2>/dev/null |
        awk -F'/' '/^rtt|^round-trip/ { print $5 }'
}

# --- statistics -----------------------------------------------------------------
# Each reads numbers, one a line, on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -g | head -n 1; }
maximum() { sort -g | tail -n 1; }

# veth_pair: namespaces $NS_A and $NS_B joined by a veth pair (veth0 on
# each side) with $VETH_A and $VETH_B on it, up and answering pings.
veth_pair() {
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B"
    ip -n "$NS_A" addr add "$VETH_A/24" dev veth0
    ip -n "$NS_B" addr add "$VETH_B/24" dev veth0
    local ns
    for ns in "$NS_A" "$NS_B"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set veth0 up
    done
    poll 10 ping_once "$VETH_A" || die "the veth link does not answer pings"
}

