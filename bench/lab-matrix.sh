#!/usr/bin/env bash
# The NAT traversal matrix on real kernel NAT as a repeated measurement:
# every cell (B and C behind a pair of NAT kinds, R public, B and C with
# `--peer R` only) runs N times in a lab of its own; half the runs start B
# and C at the same moment, half start C a random 0-5 s after B. From the
# later start B and C ping each other over the overlay every 50 ms, and the
# statuses are polled for a direct path. Per cell it prints the connect
# rate, p50/p95/p99 of the time to the first ping reply, the direct rate
# and p50/p95 of the time to a direct path; cells with a UDP-blocked member
# in a section of their own. The tests run each cell once
# (tests/netns/tests/traversal.rs); this is not part of CI.
#
# Usage: sudo bench/lab-matrix.sh [--runs N] [--cells PATTERN[,PATTERN..]]
#          [--jobs J] [--timeout SECS] [--slow SECS] [--interval-ms MS]
#          [--seed N] [--list]
#   --runs N       runs per cell (default 20)
#   --cells P,..   only the cells whose name (nat_<B>_x_<C>, see --list)
#                  contains one of the patterns
#   --jobs J       runs at once, each in its own lab (default 1; the labs
#                  share the CPU, so more jobs can slow the nodes down)
#   --timeout S    give up on a run S seconds after the later start (60)
#   --slow S       keep the node logs of runs slower than S seconds (5)
#
# Writes the report and the logs (and final statuses) of R, B and C of every
# slow or failed run under $LAB_MATRIX_OUT (default: a new /tmp/lab-matrix.*
# directory). Builds `tessel` and `lab-matrix` unless TESSEL_BIN and
# LAB_MATRIX_BIN name them. The nodes log at RUST_LOG (default: debug).
# Needs root, nft and ping.

set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, nftables, TUN)"
command -v nft >/dev/null || die "needs nft (nftables)"
command -v ping >/dev/null || die "needs ping (iputils)"

target="${CARGO_TARGET_DIR:-target}"
if [[ -z "${TESSEL_BIN:-}" ]]; then
    cargo build -q -p tessel-overlay --bin tessel
    export TESSEL_BIN="$target/debug/tessel"
fi
if [[ -z "${LAB_MATRIX_BIN:-}" ]]; then
    cargo build -q -p tessel-netns --bin lab-matrix
    LAB_MATRIX_BIN="$target/debug/lab-matrix"
fi

out="${LAB_MATRIX_OUT:-$(mktemp -d /tmp/lab-matrix.XXXXXX)}"
mkdir -p "$out"
echo "report and logs of slow runs: $out" >&2
"$LAB_MATRIX_BIN" --logs "$out/logs" "$@" 2> >(tee "$out/stderr.log" >&2) | tee "$out/report.txt"
