#!/usr/bin/env bash
# Throughput and latency of the Tessel overlay against the raw veth link it
# runs over: bench/compare.sh with only those two (see its header for the
# topology, the method and the output).
#
# Usage: sudo bench/overlay-vs-veth.sh        (env: ROUNDS=3 DURATION=10,
#        TESSEL_BIN=path to skip the release build, KEEP=1 to keep the logs)
# Needs root, iproute2, iperf3, iputils ping, taskset and two CPUs.

set -euo pipefail
exec "$(dirname "$0")/compare.sh" tessel
