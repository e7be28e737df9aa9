#!/usr/bin/env bash
# How long a revocation takes to show in a managed network of real
# processes: the namespace test tests/netns/tests/managed.rs hands a
# revocation list to member A and waits until member B (which hears of it
# only from A) has dropped the revoked member; it prints upper bounds (the
# statuses are polled every 100 ms, each poll runs `tessel status`).
#
# Usage: sudo bench/managed.sh   (root: network namespaces)

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo nextest run -p tessel-netns --test managed --no-capture 2>&1 |
    grep -E "FIGURE|PASS|FAIL"
