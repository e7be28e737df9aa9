# shellcheck shell=bash disable=SC2034,SC2015
# The systems that bench/compare.sh measures. Sourced, not run; needs
# bench/lib/common.sh first.
#
# Each system NAME has three functions (with any `-` in NAME written `_`):
#   NAME_check  returns 1, with the reason in REASON, if it cannot run here
#   NAME_up     starts it in both namespaces and waits (bounded) until B
#               reaches A through it; sets TARGET[NAME] (A's address, what B
#               sends to), MTU[NAME] and INFO[NAME], and, if RTT cannot be
#               measured by pinging TARGET from B, RTT_TARGET[NAME] and
#               RTT_FROM[NAME] (a or b); and PP_TARGET[NAME], an IPv4
#               address of A's that B reaches through it, if it has one (for
#               sockperf); returns 1 with REASON
#   NAME_down   stops its processes and removes its interfaces
#
# Addresses: the veth is 198.51.100.1 (A) and .2 (B). Inner addresses:
# boringtun 198.18.1.0/24 and fd00:b7::/64, Nebula 198.18.2.0/24 (Nebula
# 1.6 is IPv4 only); Tessel and Yggdrasil derive theirs from their keys.

declare -A TARGET=() MTU=() INFO=() RTT_TARGET=() RTT_FROM=() PP_TARGET=()
REASON=

VETH_A=198.51.100.1
VETH_B=198.51.100.2
TUNNEL_TIMEOUT=${TUNNEL_TIMEOUT:-20}

INSTALL_HINT="bench/install-others.sh installs it"

# find_tool NAME: the path of NAME on PATH or in root's cargo bin dir.
find_tool() {
    local dir
    command -v "$1" 2>/dev/null && return 0
    for dir in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
        [[ -x $dir/$1 ]] && { echo "$dir/$1"; return 0; }
    done
    return 1
}

# pkg_version NAME: the version NAME reports, or else its Debian package's.
pkg_version() {
    local v
    v=$("$1" -version 2>/dev/null | awk 'tolower($0) ~ /version/ { print $NF; exit }')
    if [[ -z $v || $v == unknown ]]; then
        v=$(dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true)
    fi
    echo "${v:-unknown}"
}

# --- raw veth -----------------------------------------------------------------
veth_check() { :; }
veth_up() {
    TARGET[veth]=$VETH_A
    PP_TARGET[veth]=$VETH_A
    MTU[veth]=$(link_mtu "$NS_A" veth0)
    INFO[veth]="kernel veth pair"
}
veth_down() { :; }

# --- Tessel -------------------------------------------------------------------
# TESSEL_BIN is set by compare.sh (built, or given).
tessel_check() {
    [[ -x ${TESSEL_BIN:-} ]] || { REASON="no tessel binary at ${TESSEL_BIN:-?}"; return 1; }
}
tessel_up() {
    local dir=$WORK/tessel key addr
    mkdir -p "$dir/a" "$dir/b"
    key=$("$TESSEL_BIN" network new) || { REASON="tessel network new failed"; return 1; }
    printf '%s\n' "$key" >"$dir/network.key"
    "${IN_A[@]}" "$TESSEL_BIN" up --network "@$dir/network.key" --state-dir "$dir/a" \
        --listen "$VETH_A:9740" 2>"$dir/a.log" &
    track tessel $!
    # A's address, once it has made its node key.
    local deadline=$((SECONDS + 10))
    until addr=$("$TESSEL_BIN" ip --state-dir "$dir/a" 2>/dev/null | sed -n 1p) && [[ -n $addr ]]; do
        ((SECONDS < deadline)) && alive "${PROC_PIDS[tessel]# }" ||
            { REASON="tessel ip printed no address (log: $dir/a.log)"; return 1; }
        sleep 0.1
    done
    poll 10 listening "$NS_A" udp 9740 || { REASON="tessel in A is not listening (log: $dir/a.log)"; return 1; }
    "${IN_B[@]}" "$TESSEL_BIN" up --network "@$dir/network.key" --state-dir "$dir/b" \
        --listen "$VETH_B:9740" --peer "$VETH_A:9740" 2>"$dir/b.log" &
    track tessel $!
    TARGET[tessel]=$addr
    PP_TARGET[tessel]=$("$TESSEL_BIN" ip --state-dir "$dir/a" 2>/dev/null | sed -n 2p)
    # shellcheck disable=SC2086
    wait_tunnel "$TUNNEL_TIMEOUT" "$addr" ${PROC_PIDS[tessel]} ||
        { REASON="no ping answer over the tunnel within ${TUNNEL_TIMEOUT}s (logs: $dir/)"; return 1; }
    MTU[tessel]=$(link_mtu "$NS_A" tessel0)
    INFO[tessel]="$("$TESSEL_BIN" --version 2>/dev/null || echo tessel), UDP $VETH_A:9740"
}
tessel_down() { stop_system tessel; }

# --- Tessel in userspace mode -----------------------------------------------------
# A is a TUN node (interface tsu0, UDP port 9760: beside the tessel system's
# node, whose LAN discovery holds 9741); B runs `tessel up --userspace`: no TUN device, a userspace TCP/IP
# stack on its overlay addresses and a forward from 127.0.0.1:5201 to A's
# iperf3 (A's iperf3 -s listens on every address, its overlay address too).
# So B's iperf3 goes to 127.0.0.1, through the forward, B's stack and the
# overlay. B has no interface to ping from: RTT is A pinging B's overlay
# address, which B's stack answers.
TSU_IF=tsu0
TSU_PORT=9760

tessel_userspace_check() { tessel_check; }
tessel_userspace_up() {
    local dir=$WORK/tessel-userspace key addr baddr
    mkdir -p "$dir/a" "$dir/b"
    key=$("$TESSEL_BIN" network new) || { REASON="tessel network new failed"; return 1; }
    printf '%s\n' "$key" >"$dir/network.key"
    "${IN_A[@]}" "$TESSEL_BIN" up --network "@$dir/network.key" --state-dir "$dir/a" \
        --listen "$VETH_A:$TSU_PORT" --interface "$TSU_IF" 2>"$dir/a.log" &
    track tessel-userspace $!
    local deadline=$((SECONDS + 10))
    until addr=$("$TESSEL_BIN" ip --state-dir "$dir/a" 2>/dev/null | sed -n 1p) && [[ -n $addr ]]; do
        ((SECONDS < deadline)) && alive "${PROC_PIDS[tessel-userspace]# }" ||
            { REASON="tessel ip printed no address (log: $dir/a.log)"; return 1; }
        sleep 0.1
    done
    poll 10 listening "$NS_A" udp "$TSU_PORT" ||
        { REASON="tessel in A is not listening (log: $dir/a.log)"; return 1; }
    "${IN_B[@]}" "$TESSEL_BIN" up --userspace --network "@$dir/network.key" --state-dir "$dir/b" \
        --listen "$VETH_B:$TSU_PORT" --peer "$VETH_A:$TSU_PORT" \
        --forward "tcp:127.0.0.1:5201=[$addr]:5201" 2>"$dir/b.log" &
    track tessel-userspace $!
    deadline=$((SECONDS + 10))
    until baddr=$("$TESSEL_BIN" ip --state-dir "$dir/b" 2>/dev/null | sed -n 1p) && [[ -n $baddr ]]; do
        ((SECONDS < deadline)) ||
            { REASON="tessel ip printed no address for B (log: $dir/b.log)"; return 1; }
        sleep 0.1
    done
    TARGET[tessel-userspace]=127.0.0.1
    RTT_TARGET[tessel-userspace]=$baddr
    RTT_FROM[tessel-userspace]=a
    # The tunnel is up once B's stack answers A's ping, and the forward
    # listens.
    local pid
    deadline=$((SECONDS + TUNNEL_TIMEOUT))
    until ip netns exec "$NS_A" ping -c 1 -W 1 "$baddr" >/dev/null 2>&1 &&
        listening "$NS_B" tcp 5201; do
        for pid in ${PROC_PIDS[tessel-userspace]}; do
            alive "$pid" || { REASON="a tessel process exited (logs: $dir/)"; return 1; }
        done
        ((SECONDS < deadline)) ||
            { REASON="B's stack did not answer A's ping within ${TUNNEL_TIMEOUT}s (logs: $dir/)"; return 1; }
        sleep 0.2
    done
    MTU[tessel-userspace]=$(link_mtu "$NS_A" "$TSU_IF")
    INFO[tessel-userspace]="$("$TESSEL_BIN" --version 2>/dev/null || echo tessel), B --userspace, RTT A->B $baddr"
}
tessel_userspace_down() { stop_system tessel-userspace; }

# --- boringtun (userspace WireGuard) --------------------------------------------
# boringtun-cli creates the TUN device in the namespace it runs in and serves
# the WireGuard UAPI on /var/run/wireguard/IFACE.sock, which `wg` uses. That
# path is shared by all namespaces, so the two interfaces get distinct names.
BT_IF_A=bt$$a
BT_IF_B=bt$$b
BT_MTU=${BT_MTU:-1420}

boringtun_check() {
    if [[ -n ${BORINGTUN_BIN:-} ]]; then
        [[ -x $BORINGTUN_BIN ]] || { REASON="no boringtun-cli at BORINGTUN_BIN=$BORINGTUN_BIN"; return 1; }
    else
        BORINGTUN_BIN=$(find_tool boringtun-cli) || { REASON="not installed ($INSTALL_HINT)"; return 1; }
    fi
    command -v wg >/dev/null || { REASON="wg (wireguard-tools) not installed ($INSTALL_HINT)"; return 1; }
}
boringtun_up() {
    local dir=$WORK/boringtun side ns iface addr4 addr6 port=51820
    mkdir -p "$dir"
    (umask 077 && wg genkey >"$dir/a.key" && wg genkey >"$dir/b.key") ||
        { REASON="wg genkey failed"; return 1; }
    wg pubkey <"$dir/a.key" >"$dir/a.pub"
    wg pubkey <"$dir/b.key" >"$dir/b.pub"
    "${IN_A[@]}" "$BORINGTUN_BIN" --foreground --disable-drop-privileges --log "$dir/a.out" "$BT_IF_A" \
        >"$dir/a.log" 2>&1 &
    track boringtun $!
    "${IN_B[@]}" "$BORINGTUN_BIN" --foreground --disable-drop-privileges --log "$dir/b.out" "$BT_IF_B" \
        >"$dir/b.log" 2>&1 &
    track boringtun $!
    for side in a b; do
        if [[ $side == a ]]; then ns=$NS_A iface=$BT_IF_A; else ns=$NS_B iface=$BT_IF_B; fi
        poll 10 test -S "/var/run/wireguard/$iface.sock" ||
            { REASON="boringtun did not create its UAPI socket for $iface (log: $dir/$side.log)"; return 1; }
    done
    ip netns exec "$NS_A" wg set "$BT_IF_A" private-key "$dir/a.key" listen-port "$port" \
        peer "$(cat "$dir/b.pub")" endpoint "$VETH_B:$port" allowed-ips 198.18.1.2/32,fd00:b7::2/128 &&
        ip netns exec "$NS_B" wg set "$BT_IF_B" private-key "$dir/b.key" listen-port "$port" \
            peer "$(cat "$dir/a.pub")" endpoint "$VETH_A:$port" allowed-ips 198.18.1.1/32,fd00:b7::1/128 ||
        { REASON="wg set failed"; return 1; }
    for side in a b; do
        if [[ $side == a ]]; then ns=$NS_A iface=$BT_IF_A addr4=198.18.1.1 addr6=fd00:b7::1
        else ns=$NS_B iface=$BT_IF_B addr4=198.18.1.2 addr6=fd00:b7::2; fi
        ip -n "$ns" addr add "$addr4/24" dev "$iface" &&
            ip -n "$ns" addr add "$addr6/64" dev "$iface" nodad &&
            ip -n "$ns" link set "$iface" mtu "$BT_MTU" up ||
            { REASON="could not configure $iface"; return 1; }
    done
    TARGET[boringtun]=198.18.1.1
    PP_TARGET[boringtun]=198.18.1.1
    # shellcheck disable=SC2086
    wait_tunnel "$TUNNEL_TIMEOUT" 198.18.1.1 ${PROC_PIDS[boringtun]} ||
        { REASON="no ping answer over the tunnel within ${TUNNEL_TIMEOUT}s (logs: $dir/)"; return 1; }
    MTU[boringtun]=$(link_mtu "$NS_A" "$BT_IF_A")
    INFO[boringtun]="$("$BORINGTUN_BIN" --version 2>/dev/null | head -n 1), UDP $VETH_A:$port"
}
boringtun_down() {
    stop_system boringtun
    ip -n "$NS_A" link del "$BT_IF_A" 2>/dev/null || true
    ip -n "$NS_B" link del "$BT_IF_B" 2>/dev/null || true
    rm -f "/var/run/wireguard/$BT_IF_A.sock" "/var/run/wireguard/$BT_IF_B.sock"
}

# --- Nebula ---------------------------------------------------------------------
# A CA and one certificate per host, made for this run; no lighthouse: each
# host finds the other through static_host_map. Firewall open to any.
NB_IF=nebula1

nebula_check() {
    command -v nebula >/dev/null && command -v nebula-cert >/dev/null ||
        { REASON="not installed ($INSTALL_HINT)"; return 1; }
}
nebula_config() { # DIR SIDE LISTEN PEER_OVERLAY PEER_UNDERLAY
    cat <<EOF
pki:
  ca: $1/ca.crt
  cert: $1/$2.crt
  key: $1/$2.key
static_host_map:
  "$4": ["$5:4242"]
lighthouse:
  am_lighthouse: false
  hosts: []
listen:
  host: $3
  port: 4242
punchy:
  punch: false
tun:
  disabled: false
  dev: $NB_IF
logging:
  level: info
  format: text
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
EOF
}
nebula_up() {
    local dir=$WORK/nebula
    mkdir -p "$dir"
    (cd "$dir" && umask 077 &&
        nebula-cert ca -name tessel-bench -duration 24h -out-crt ca.crt -out-key ca.key &&
        nebula-cert sign -ca-crt ca.crt -ca-key ca.key -name a -ip 198.18.2.1/24 -out-crt a.crt -out-key a.key &&
        nebula-cert sign -ca-crt ca.crt -ca-key ca.key -name b -ip 198.18.2.2/24 -out-crt b.crt -out-key b.key) \
        >"$dir/cert.log" 2>&1 || { REASON="nebula-cert failed (log: $dir/cert.log)"; return 1; }
    nebula_config "$dir" a "$VETH_A" 198.18.2.2 "$VETH_B" >"$dir/a.yml"
    nebula_config "$dir" b "$VETH_B" 198.18.2.1 "$VETH_A" >"$dir/b.yml"
    "${IN_A[@]}" nebula -config "$dir/a.yml" >"$dir/a.log" 2>&1 &
    track nebula $!
    "${IN_B[@]}" nebula -config "$dir/b.yml" >"$dir/b.log" 2>&1 &
    track nebula $!
    TARGET[nebula]=198.18.2.1
    PP_TARGET[nebula]=198.18.2.1
    # shellcheck disable=SC2086
    wait_tunnel "$TUNNEL_TIMEOUT" 198.18.2.1 ${PROC_PIDS[nebula]} ||
        { REASON="no ping answer over the tunnel within ${TUNNEL_TIMEOUT}s (logs: $dir/)"; return 1; }
    MTU[nebula]=$(link_mtu "$NS_A" "$NB_IF")
    INFO[nebula]="nebula $(pkg_version nebula), UDP $VETH_A:4242"
}
nebula_down() {
    stop_system nebula
    ip -n "$NS_A" link del "$NB_IF" 2>/dev/null || true
    ip -n "$NS_B" link del "$NB_IF" 2>/dev/null || true
}

# --- Yggdrasil ------------------------------------------------------------------
# Two nodes with fresh keys, B peered to A over TCP on the veth, multicast
# discovery off, admin sockets in the work dir. The interface MTU is
# Yggdrasil's default (65535) unless YGG_MTU says otherwise.
YG_IF=ygg$$
YGG_MTU=${YGG_MTU:-65535}

yggdrasil_check() {
    command -v yggdrasil >/dev/null && command -v yggdrasilctl >/dev/null ||
        { REASON="not installed ($INSTALL_HINT)"; return 1; }
}
yggdrasil_config() { # DIR SIDE
    local gen pub priv listen=[] peers=[]
    gen=$(yggdrasil -genconf -json) || return 1
    pub=$(sed -n 's/.*"PublicKey": *"\([0-9a-f]*\)".*/\1/p' <<<"$gen")
    priv=$(sed -n 's/.*"PrivateKey": *"\([0-9a-f]*\)".*/\1/p' <<<"$gen")
    [[ -n $pub && -n $priv ]] || return 1
    if [[ $2 == a ]]; then listen="[\"tcp://$VETH_A:9750\"]"; else peers="[\"tcp://$VETH_A:9750\"]"; fi
    cat <<EOF
{
  "Peers": $peers,
  "InterfacePeers": {},
  "Listen": $listen,
  "AdminListen": "unix://$1/$2.sock",
  "MulticastInterfaces": [],
  "AllowedPublicKeys": [],
  "PublicKey": "$pub",
  "PrivateKey": "$priv",
  "IfName": "$YG_IF",
  "IfMTU": $YGG_MTU,
  "NodeInfoPrivacy": true,
  "NodeInfo": null
}
EOF
}
# yggdrasil_address DIR SIDE: the node's address, asked of the running node.
yggdrasil_address() {
    yggdrasilctl -endpoint="unix://$1/$2.sock" -json getSelf 2>/dev/null |
        sed -n 's/.*"address": *"\([0-9a-f:]*\)".*/\1/p' | head -n 1
}
yggdrasil_up() {
    local dir=$WORK/yggdrasil addr=
    mkdir -p "$dir"
    (umask 077 && yggdrasil_config "$dir" a >"$dir/a.conf" && yggdrasil_config "$dir" b >"$dir/b.conf") ||
        { REASON="yggdrasil -genconf failed"; return 1; }
    "${IN_A[@]}" yggdrasil -useconffile "$dir/a.conf" -logto "$dir/a.log" >"$dir/a.out" 2>&1 &
    track yggdrasil $!
    poll 10 listening "$NS_A" tcp 9750 || { REASON="yggdrasil in A is not listening (log: $dir/a.log)"; return 1; }
    "${IN_B[@]}" yggdrasil -useconffile "$dir/b.conf" -logto "$dir/b.log" >"$dir/b.out" 2>&1 &
    track yggdrasil $!
    local deadline=$((SECONDS + 10))
    until addr=$(yggdrasil_address "$dir" a) && [[ -n $addr ]]; do
        ((SECONDS < deadline)) || { REASON="yggdrasilctl getSelf gave no address (logs: $dir/)"; return 1; }
        sleep 0.2
    done
    TARGET[yggdrasil]=$addr
    # shellcheck disable=SC2086
    wait_tunnel "$TUNNEL_TIMEOUT" "$addr" ${PROC_PIDS[yggdrasil]} ||
        { REASON="no ping answer over the tunnel within ${TUNNEL_TIMEOUT}s (logs: $dir/)"; return 1; }
    MTU[yggdrasil]=$(link_mtu "$NS_A" "$YG_IF")
    INFO[yggdrasil]="yggdrasil $(pkg_version yggdrasil), TCP $VETH_A:9750"
}
yggdrasil_down() {
    stop_system yggdrasil
    ip -n "$NS_A" link del "$YG_IF" 2>/dev/null || true
    ip -n "$NS_B" link del "$YG_IF" 2>/dev/null || true
}
