#!/usr/bin/env bash
# Sets everything up and runs a node: builds tessel (release), installs it to
# /usr/local/bin, and runs `tessel up` with the arguments given. Without
# arguments it starts a new private network and prints the command that
# another machine runs to join it.
#   sudo scripts/up.sh                                   # start a network
#   sudo scripts/up.sh --network KEY --peer HOST:9740    # join one
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install the Rust toolchain (rustup) and run again" >&2
    exit 1
fi
cargo build --release --locked -p tessel-overlay --bin tessel
install -m 0755 target/release/tessel /usr/local/bin/tessel
exec /usr/local/bin/tessel up "$@"
