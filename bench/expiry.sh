#!/usr/bin/env bash
# The longest stall of the sans-IO node while a flood of 4,000 made-up
# members expires: the node takes them in (3,072 by gossip, the rest as if
# met first-hand, all with news of the same age, so that every one expires
# in the same handle_timeout: the worst case), then virtual time runs on in
# 5 s steps until all are forgotten. Printed: the time to take the flood in
# and its longest single call, the time to expire it and the longest single
# handle_timeout (wall clock, release build, one core).
#
# The benchmark is an ignored test of the overlay crate
# (overlay/src/node/tests_expiry.rs, bench_expiry_stall); the steps each
# removal costs are bounded by the test beside it, which runs by default.
#
# Usage: bench/expiry.sh   (no root, no network)

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo test -p tessel-overlay --release --lib -- --ignored --exact \
    node::tests_expiry::bench_expiry_stall --nocapture 2>&1 |
    grep -E "made-up members|test result"
