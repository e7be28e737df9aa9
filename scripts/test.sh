#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine, as root:
#   unit and property tests, end-to-end tests across network namespaces,
#   lints, the systemd unit's hardening, the Debian package (built from the
#   tests' binary and installed into a clean root), and a short run of
#   every fuzz target.
# Installs what it needs: Debian packages, cargo-nextest, cargo-deb,
# cargo-fuzz.
# Environment: FUZZ_SECONDS (per target, default 6; 0 skips fuzzing).
#
# scripts/test.sh --quick: the fast tier for use while developing, as any
# user: formatting, and every test but the end-to-end ones in network
# namespaces (nextest profile `quick`); no lints, package or fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --quick ]; then
    command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
    cargo fmt --all -- --check
    exec cargo nextest run --workspace --locked --profile quick
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--quick]" >&2
    exit 2
fi

if [ "$(id -u)" != 0 ]; then
    echo "error: the end-to-end tests create network namespaces and TUN devices: run as root (sudo $0)" >&2
    exit 1
fi

need_pkgs=()
for tool in ip:iproute2 nft:nftables iperf3:iperf3 ping:iputils-ping taskset:util-linux sysctl:procps curl:curl python3:python3 turnserver:coturn miniupnpd:miniupnpd-nftables dnsmasq:dnsmasq-base dig:bind9-dnsutils systemd-analyze:systemd mmdebstrap:mmdebstrap strip:binutils chromium:chromium chromedriver:chromium-driver; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool#*:}")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb

# One build from scratch: incremental state would only take disk space.
export CARGO_INCREMENTAL=0

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/check-no-fuzzing-cfg.sh
scripts/check-unit.sh
# The protocol core must build without tokio, sockets or the TUN device.
cargo build -p tessel-overlay --no-default-features --locked

echo "== tests (unit, property, end-to-end across network namespaces)"
cargo nextest run --workspace --locked

echo "== the Debian package"
scripts/check-deb.sh

fuzz_seconds=${FUZZ_SECONDS:-6}
if [ "$fuzz_seconds" != 0 ]; then
    echo "== fuzzing every target for ${fuzz_seconds}s"
    cargo +nightly --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
    SECONDS_PER_TARGET=$fuzz_seconds fuzz/run-all.sh
fi
