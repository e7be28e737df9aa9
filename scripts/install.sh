#!/usr/bin/env bash
# Installs tessel on this machine without a package manager (on Debian,
# the package of packaging/build-deb.sh does the same through apt): builds
# it (release; as the user who ran sudo, with their Rust toolchain, so that
# target/ stays theirs), installs the binary to /usr/local/bin with its man
# pages and its bash, zsh and fish completions under /usr/local/share,
# creates the system user and group `tessel` (the unit runs the node as
# that user; members of the group may use the running node's local sockets
# in /run/tessel without root) and, where systemd runs, the unit
# tessel.service for /usr/local/bin/tessel (not started: run
# `systemctl enable --now tessel`).
#   sudo scripts/install.sh             # binary, docs, user and unit
#   sudo scripts/install.sh --no-unit   # all but the unit (scripts/up.sh)
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

# Build as the user who ran sudo, with their toolchain, so that target/
# stays theirs; as root only when run by root or when that user cannot
# write this checkout.
PATH=$PATH:/usr/sbin:/sbin
builder=root
builder_home=$HOME
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if runuser -u "$SUDO_USER" -- bash -c 'test -w . && test -w Cargo.lock && { [ ! -e target ] || [ -w target ]; }'; then
        builder=$SUDO_USER
        builder_home=$user_home
    else
        echo "note: $SUDO_USER cannot write $(pwd): building as root" >&2
    fi
fi
as_builder() {
    if [ "$builder" = root ]; then
        "$@"
    else
        runuser -u "$builder" -- env HOME="$builder_home" PATH="$builder_home/.cargo/bin:$PATH" "$@"
    fi
}
# sudo's PATH leaves out ~/.cargo/bin: look there too.
cargo=$(as_builder bash -c 'command -v cargo' || true)
for c in "$builder_home/.cargo/bin/cargo"; do
    if [ -z "$cargo" ] && [ -x "$c" ]; then
        cargo=$c
    fi
done
if [ -z "$cargo" ]; then
    echo "error: cargo not found for user $builder: install Rust as that user (https://rustup.rs: curl --proto '=https' -sSf https://sh.rustup.rs | sh), then run again" >&2
    exit 1
fi
need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
have=$(as_builder "$(dirname "$cargo")/rustc" --version | cut -d' ' -f2)
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "error: Rust $have is older than the $need this needs: run \`rustup update\` as $builder, then run again" >&2
    exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
    echo "error: no C compiler (cc), which some dependencies build with: sudo apt-get install build-essential (or gcc), then run again" >&2
    exit 1
fi

echo "== building tessel (release) as $builder with $cargo"
as_builder "$cargo" build --release --locked -p tessel-overlay --bin tessel
install -m 0755 target/release/tessel /usr/local/bin/tessel

# Man pages and completions, written by the binary itself.
share=/usr/local/share
install -d "$share/man/man1" "$share/bash-completion/completions" \
    "$share/zsh/site-functions" "$share/fish/vendor_completions.d"
/usr/local/bin/tessel man --out "$share/man/man1"
/usr/local/bin/tessel completions bash >"$share/bash-completion/completions/tessel"
/usr/local/bin/tessel completions zsh >"$share/zsh/site-functions/_tessel"
/usr/local/bin/tessel completions fish >"$share/fish/vendor_completions.d/tessel.fish"
install -D -m 0644 README.md "$share/doc/tessel/README.md"
install -d "$share/doc/tessel/docs"
install -m 0644 docs/*.md "$share/doc/tessel/docs/"

# The user and group: sysusers.d where systemd has it (it also creates
# them at boot if they go missing), else the distribution's tools. An
# existing group `tessel` (from an older install) becomes the user's.
install -D -m 0644 packaging/tessel.sysusers /usr/lib/sysusers.d/tessel.conf
had_group=$(getent group tessel >/dev/null && echo 1 || echo 0)
if ! getent passwd tessel >/dev/null; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers /usr/lib/sysusers.d/tessel.conf
    elif command -v adduser >/dev/null 2>&1; then
        getent group tessel >/dev/null || addgroup --system --quiet tessel
        adduser --system --quiet --ingroup tessel --home /var/lib/tessel \
            --no-create-home --gecos "Tessel overlay network node" tessel
    else
        getent group tessel >/dev/null || groupadd --system tessel
        useradd --system --gid tessel --home-dir /var/lib/tessel --no-create-home \
            --shell /usr/sbin/nologin --comment "Tessel overlay network node" tessel
    fi
fi
if [ "$had_group" = 0 ]; then
    echo "created group tessel: members use the running node without root (sudo usermod -aG tessel \$USER, then log in again)"
fi

if [ "$unit" = 1 ]; then
    # The unit as written is for /usr/bin/tessel (the Debian package).
    packaging/render-unit.sh /usr/local >/etc/systemd/system/tessel.service.new
    chmod 0644 /etc/systemd/system/tessel.service.new
    mv /etc/systemd/system/tessel.service.new /etc/systemd/system/tessel.service
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "installed tessel.service: start it with systemctl enable --now tessel (arguments in /etc/default/tessel)"
    fi
fi
