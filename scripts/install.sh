#!/usr/bin/env bash
# Installs tessel on this machine: builds it (release), installs the binary
# to /usr/local/bin, creates the system group `tessel` (whose members may
# use the running node's local sockets in /run/tessel without root) and,
# where systemd runs, the unit tessel.service (not started: run
# `systemctl enable --now tessel`).
#   sudo scripts/install.sh             # binary, group and unit
#   sudo scripts/install.sh --no-unit   # binary and group only (scripts/up.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

unit=1
for arg in "$@"; do
    case $arg in
    --no-unit) unit=0 ;;
    *)
        echo "usage: $0 [--no-unit]" >&2
        exit 2
        ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "error: installing needs root (sudo $0)" >&2
    exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install the Rust toolchain (rustup) and run again" >&2
    exit 1
fi

cargo build --release --locked -p tessel-overlay --bin tessel
install -m 0755 target/release/tessel /usr/local/bin/tessel

# The socket group: sysusers.d where systemd has it (it also creates the
# group at boot if it goes missing), else the distribution's tools.
install -D -m 0644 packaging/tessel.sysusers /usr/lib/sysusers.d/tessel.conf
if ! getent group tessel >/dev/null; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers /usr/lib/sysusers.d/tessel.conf
    elif command -v addgroup >/dev/null 2>&1; then
        addgroup --system tessel
    else
        groupadd --system tessel
    fi
    echo "created group tessel: members use the running node without root (sudo usermod -aG tessel \$USER, then log in again)"
fi

if [ "$unit" = 1 ]; then
    install -D -m 0644 README.md /usr/local/share/doc/tessel/README.md
    install -D -m 0644 packaging/tessel.service /etc/systemd/system/tessel.service
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "installed tessel.service: start it with systemctl enable --now tessel (arguments in /etc/default/tessel)"
    fi
fi
