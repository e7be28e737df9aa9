#!/usr/bin/env bash
# Installs the other VPNs that bench/compare.sh measures Tessel against, and
# sockperf for its ping-pong column:
#
#   boringtun   userspace WireGuard  cargo install --locked boringtun-cli,
#                                    configured with `wg` (Debian wireguard-tools)
#   Nebula      Debian package nebula     (nebula, nebula-cert)
#   Yggdrasil   Debian package yggdrasil  (yggdrasil, yggdrasilctl)
#   sockperf    Debian package sockperf   (the ping-pong round trips)
#
# The benchmark runs its own instances inside network namespaces. If a package
# starts a system-wide service of its own on install (yggdrasil does on a
# systemd machine), this script stops and disables it again, unless it was
# already running before.
#
# Usage: sudo bench/install-others.sh
# Idempotent: installed packages are left alone. Needs apt-get and cargo.

set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (apt-get install)"
command -v apt-get >/dev/null || die "apt-get not found: install wireguard-tools, nebula and yggdrasil by hand"

PACKAGES=(wireguard-tools nebula yggdrasil sockperf)
SERVICES=(yggdrasil.service nebula.service)

have_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }

declare -A WAS_ACTIVE
if have_systemd; then
    for svc in "${SERVICES[@]}"; do
        WAS_ACTIVE[$svc]=$(systemctl is-active "$svc" 2>/dev/null || true)
    done
fi

echo "== apt-get update" >&2
apt-get update -qq

missing=()
for pkg in "${PACKAGES[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [[ -z $candidate || $candidate == "(none)" ]]; then
        echo "note: $pkg is not available from this system's apt sources; skipping it" >&2
        missing+=("$pkg")
    fi
done
wanted=()
for pkg in "${PACKAGES[@]}"; do
    [[ " ${missing[*]} " == *" $pkg "* ]] || wanted+=("$pkg")
done
if ((${#wanted[@]})); then
    echo "== apt-get install ${wanted[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}"
fi

if have_systemd; then
    for svc in "${SERVICES[@]}"; do
        if [[ ${WAS_ACTIVE[$svc]:-} != active ]] && systemctl is-active --quiet "$svc" 2>/dev/null; then
            echo "note: stopping and disabling $svc, which the package started (the benchmark runs its own)" >&2
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        fi
    done
fi

# boringtun-cli from crates.io, as root's cargo installs it (~/.cargo/bin).
CARGO=${CARGO:-$(command -v cargo || true)}
[[ -n $CARGO ]] || CARGO=${CARGO_HOME:-$HOME/.cargo}/bin/cargo
if [[ -x $CARGO ]]; then
    echo "== cargo install --locked boringtun-cli" >&2
    "$CARGO" install --locked boringtun-cli
else
    echo "note: cargo not found; boringtun-cli not installed (install a Rust toolchain, then rerun)" >&2
fi

echo "== installed:" >&2
for tool in wg boringtun-cli nebula nebula-cert yggdrasil yggdrasilctl sockperf; do
    path=$(command -v "$tool" 2>/dev/null || true)
    [[ -z $path && $tool == boringtun-cli && -x ${CARGO_HOME:-$HOME/.cargo}/bin/$tool ]] &&
        path=${CARGO_HOME:-$HOME/.cargo}/bin/$tool
    printf '  %-14s %s\n' "$tool" "${path:-MISSING}" >&2
done
