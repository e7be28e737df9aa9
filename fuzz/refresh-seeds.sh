#!/usr/bin/env bash
# Refreshes the committed seed corpora (fuzz/seeds/TARGET): fuzzes each
# target for SECONDS (default 20) starting from its seeds, then keeps the
# smallest set of inputs that covers what the run reached (libFuzzer's
# -merge=1), so the seeds stay small. Run it after adding a target or
# changing a format, and commit fuzz/seeds.
#
#   fuzz/refresh-seeds.sh 60                  # every target
#   fuzz/refresh-seeds.sh 60 wire_relay       # some
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-20}
shift || true
cargo +nightly fuzz build
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi
bin=target/x86_64-unknown-linux-gnu/release
for target in "${targets[@]}"; do
    work=$(mktemp -d)
    mkdir -p "seeds/$target" "corpus/$target"
    # The binaries built above, run directly: no rebuild between targets.
    "$bin/$target" "corpus/$target" "seeds/$target" \
        -max_total_time="$secs" -print_final_stats=1 >"$work.log" 2>&1 || {
        echo "$target: the run failed (log: $work.log); seeds left as they were" >&2
        rm -rf "$work"
        continue
    }
    # Inputs of at most 4 KiB, fewest that keep the coverage.
    "$bin/$target" -merge=1 -max_len=4096 "$work" "seeds/$target" "corpus/$target" >/dev/null 2>&1
    rm -rf "seeds/$target"
    mv "$work" "seeds/$target"
    execs=$(grep -oE 'number_of_executed_units: *[0-9]+' "$work.log" | grep -oE '[0-9]+$' || echo 0)
    rm -f "$work.log"
    echo "$target: $execs executions in ${secs}s, $(find "seeds/$target" -type f | wc -l) seeds, $(du -sk "seeds/$target" | cut -f1) KiB"
done
