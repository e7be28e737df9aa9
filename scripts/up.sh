#!/usr/bin/env bash
# Sets everything up and runs a node: builds and installs tessel
# (scripts/install.sh --no-unit: the binary in /usr/local/bin and the group
# `tessel`, whose members use the node without root), and runs `tessel up`
# with the arguments given. Without arguments it starts a new private
# network and prints the command that another machine runs to join it.
#   sudo scripts/up.sh                                   # start a network
#   sudo scripts/up.sh --network KEY --peer HOST:9740    # join one
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --no-unit
exec /usr/local/bin/tessel up "$@"
