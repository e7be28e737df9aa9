#!/usr/bin/env bash
# Runs every fuzz target for SECONDS_PER_TARGET seconds (default 10).
# Starts from the committed seed corpus (seeds/TARGET) and the local one
# (corpus/TARGET, not committed). Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
secs=${SECONDS_PER_TARGET:-10}
cargo +nightly fuzz build
failed=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    log="${TMPDIR:-/tmp}/tessel-fuzz-$target.log"
    if cargo +nightly fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -print_final_stats=0 >"$log" 2>&1; then
        echo "fuzz $target: ok ($(grep -oE 'Done [0-9]+ runs' "$log" | tail -1))"
    else
        echo "fuzz $target: FAILED; log follows"
        tail -40 "$log"
        failed=1
    fi
done
exit $failed
