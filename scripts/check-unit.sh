#!/usr/bin/env bash
# Checks the hardening of the systemd unit with systemd-analyze's offline
# scoring: packaging/tessel.service as the Debian package installs it
# (/usr/bin/tessel) and as scripts/install.sh renders it
# (/usr/local/bin/tessel, packaging/render-unit.sh). Fails if systemd does
# not understand a line of it, or if its exposure is above 3.0 (0 is locked
# down, 10 is unprotected). Prints the figure.
set -euo pipefail
cd "$(dirname "$0")/.."

max=3.0
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "error: systemd-analyze not found: apt-get install systemd" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Scores one unit file; prints its exposure.
check() {
    local unit=$1 label=$2 status=0 report level
    # --threshold counts in tenths.
    report=$(systemd-analyze security --offline=true --threshold=30 "$unit" 2>"$work/errors") || status=$?
    if [ -s "$work/errors" ]; then
        echo "error: systemd-analyze does not accept every line of $label:" >&2
        cat "$work/errors" >&2
        exit 1
    fi
    level=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$level" ]; then
        echo "error: no exposure level in systemd-analyze's report on $label:" >&2
        printf '%s\n' "$report" >&2
        exit 1
    fi
    if [ "$status" != 0 ]; then
        printf '%s\n' "$report" | grep '^✗' >&2 || true
        echo "error: $label: exposure $level is above $max" >&2
        exit 1
    fi
    echo "$label: exposure $level (at most $max)"
}

check packaging/tessel.service "packaging/tessel.service"
# The unit file's name is the unit's name: keep it tessel.service.
mkdir "$work/local"
packaging/render-unit.sh /usr/local >"$work/local/tessel.service"
check "$work/local/tessel.service" "tessel.service for /usr/local (scripts/install.sh)"
