#!/usr/bin/env bash
# Prints packaging/tessel.service for a binary installed under PREFIX
# (PREFIX/bin/tessel, documentation in PREFIX/share/doc/tessel): the unit
# as written is for /usr (the Debian package); scripts/install.sh installs
# it for /usr/local.
#   packaging/render-unit.sh /usr/local > /etc/systemd/system/tessel.service
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${1:?usage: $0 PREFIX}
prefix=${prefix%/}
case $prefix in
/*) ;;
*)
    echo "error: PREFIX must be an absolute path, not $prefix" >&2
    exit 2
    ;;
esac
unit=$(sed -e "s#^ExecStart=/usr/bin/tessel #ExecStart=$prefix/bin/tessel #" \
    -e "s#file:/usr/share/doc/tessel/#file:$prefix/share/doc/tessel/#" packaging/tessel.service)
if ! grep -q "^ExecStart=$prefix/bin/tessel up " <<<"$unit"; then
    echo "error: packaging/tessel.service has no ExecStart=/usr/bin/tessel up … line to rewrite" >&2
    exit 1
fi
printf '%s\n' "$unit"
