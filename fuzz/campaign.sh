#!/usr/bin/env bash
# A longer fuzzing campaign, outside CI: runs each target for a given time
# (every target by default) and prints a table of executions, executions
# per second, corpus size and outcome. Crashes are kept in artifacts/.
#
#   fuzz/campaign.sh 600                      # every target, 10 minutes each
#   fuzz/campaign.sh 120 node_datagram wire_relay
#
# Environment: JOBS (parallel libFuzzer workers per target, default 1).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
secs=$1
shift
jobs=${JOBS:-1}
cargo +nightly fuzz build
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi
logdir=$(mktemp -d "${TMPDIR:-/tmp}/tessel-campaign.XXXXXX")
printf '%-28s %14s %10s %8s  %s\n' target executions exec/s corpus outcome
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    log="$logdir/$target.log"
    outcome=ok
    extra=()
    [ "$jobs" -gt 1 ] && extra=(-fork="$jobs")
    if ! cargo +nightly fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1; then
        outcome="FAILED (log: $log)"
        failed=1
    fi
    # libFuzzer's final statistics; with -fork the last status line counts.
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tr -d '#' | sort -n | tail -1 || true)
    execs=${execs:-0}
    corpus=$(find "corpus/$target" -type f | wc -l)
    printf '%-28s %14s %10s %8s  %s\n' "$target" "$execs" "$((execs / (secs > 0 ? secs : 1)))" "$corpus" "$outcome"
done
echo "logs: $logdir"
exit $failed
