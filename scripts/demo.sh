#!/usr/bin/env bash
# See it work: builds and installs tessel (scripts/install.sh --no-unit),
# installs what the demo needs if it is missing (iproute2, nftables,
# iputils-ping, on Debian), and runs `tessel demo` with the arguments given:
# an emulated internet of network namespaces with real kernel NATs on this
# machine, a node in each site, narrated; everything is removed at the end.
#   sudo scripts/demo.sh            # the whole story, then a table (~10 s)
#   sudo scripts/demo.sh --keep     # leave it running to explore
#   sudo tessel demo --down         # remove a kept demo
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "error: tessel demo needs root: it builds network namespaces, NAT routers and TUN devices (sudo $0)" >&2
    exit 1
fi

PATH=$PATH:/usr/sbin:/sbin
need_pkgs=()
for tool in ip:iproute2 nft:nftables ping:iputils-ping sysctl:procps; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool#*:}")
done
if [ ${#need_pkgs[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

scripts/install.sh --no-unit
exec /usr/local/bin/tessel demo "$@"
