#!/usr/bin/env bash
# What a grace period after `tessel network rotate` costs a node under a
# flood of garbage: the time the sans-IO node spends on a datagram that
# fails the MAC (an initiation and a hello of another network), with one
# network key and with a retiring key beside it (one more keyed hash).
# Wall clock, release build, one core.
#
# The benchmark is an ignored test of the overlay crate
# (overlay/src/node/tests_rotation.rs, bench_bad_mac_cost_during_grace).
#
# Usage: bench/rotation.sh   (no root, no network)

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo test -p tessel-overlay --release --lib -- --ignored --exact \
    node::tests::rotation::bench_bad_mac_cost_during_grace --nocapture 2>&1 |
    grep -E "bad-MAC|test result"
