#!/usr/bin/env bash
# Builds the Debian package from the binary that the test run built
# (packaging/build-deb.sh --dev: no second build), checks what it holds,
# then installs it into a clean Debian root and uses it there:
#   - contents (dpkg-deb -c): the binary, the unit (ExecStart=/usr/bin/tessel),
#     sysusers.d, the default config, man pages, bash/zsh/fish completions,
#     README and docs;
#   - control (dpkg-deb -I/-f): package name, dependencies, conffiles, and
#     the maintainer scripts;
#   - in the root: dpkg -i runs the maintainer scripts (the user and group
#     `tessel` are created with the distribution's tools, as on a machine
#     without systemd), `tessel --version` runs; a reinstall (an upgrade)
#     keeps the unit's enablement; dpkg -r keeps the config, dpkg --purge
#     removes it and the node's state.
#
# The clean root: mmdebstrap's `essential` variant of this machine's
# Debian release, from the apt mirror the machine uses, plus `passwd`
# (useradd). A real root rather than one assembled from the host's files:
# dpkg and the maintainer scripts run as they would on a user's machine,
# with nothing of the host's to lean on. It takes about a minute to make,
# is kept as a tarball in target/check-deb (nothing is cached outside
# target/), and is unpacked afresh for each run.
# Environment: CHECK_DEB_MIRROR (default: the machine's first Debian
# mirror), CHECK_DEB_SUITE (default: this machine's release).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ "$(id -u)" != 0 ]; then
    echo "error: installing into a chroot needs root (sudo $0)" >&2
    exit 1
fi

deb=$(packaging/build-deb.sh --dev | tail -1)
echo "== checking $deb"

fail() {
    echo "error: $deb: $*" >&2
    exit 1
}

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in \
    ./usr/bin/tessel \
    ./usr/lib/systemd/system/tessel.service \
    ./usr/lib/sysusers.d/tessel.conf \
    ./etc/tessel/tessel.toml \
    ./usr/share/man/man1/tessel.1.gz \
    ./usr/share/man/man1/tessel-up.1.gz \
    ./usr/share/bash-completion/completions/tessel \
    ./usr/share/zsh/vendor-completions/_tessel \
    ./usr/share/fish/vendor_completions.d/tessel.fish \
    ./usr/share/doc/tessel/README.md \
    ./usr/share/doc/tessel/copyright \
    ./usr/share/doc/tessel/docs/metrics.md; do
    grep -qxF "$path" <<<"$contents" || fail "no $path"
done
# Outputs are read whole before they are searched: with pipefail, a
# `grep -q` that stops at its first match would fail the writer with
# SIGPIPE, and the check with it.
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/tessel.service)
grep -q '^ExecStart=/usr/bin/tessel up ' <<<"$unit" || fail "the unit does not run /usr/bin/tessel"

[ "$(dpkg-deb -f "$deb" Package)" = tessel ] || fail "the package is not named tessel"
grep -q 'libc6' <<<"$(dpkg-deb -f "$deb" Depends)" || fail "no dependency on libc6"
control=$(mktemp -d)
trap 'rm -rf "$control"' EXIT
dpkg-deb -e "$deb" "$control"
grep -qxF /etc/tessel/tessel.toml "$control/conffiles" || fail "/etc/tessel/tessel.toml is not a conffile"
for script in postinst prerm postrm; do
    [ -x "$control/$script" ] || fail "no executable $script"
    cmp -s "$control/$script" "packaging/debian/$script" || fail "$script is not packaging/debian/$script"
done
echo "contents and control: ok"

# The clean root.
suite=${CHECK_DEB_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:?}")}
mirror=${CHECK_DEB_MIRROR:-$(sed -n 's#^URIs: *\(http[^ ]*/debian\)/\?$#\1#p;T;q' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
work=target/check-deb
cache=$work/$suite-essential.tar
root=$work/root
mkdir -p "$work"
if [ ! -s "$cache" ]; then
    command -v mmdebstrap >/dev/null 2>&1 || {
        echo "== installing mmdebstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    }
    echo "== making a clean $suite root from $mirror"
    # A second try if the mirror fails a download.
    for try in 1 2; do
        if mmdebstrap --quiet --format=tar --variant=essential --include=passwd \
            "$suite" "$cache.new" "$mirror"; then
            break
        fi
        [ "$try" = 2 ] && fail "mmdebstrap could not make a $suite root from $mirror"
        echo "mmdebstrap failed; trying once more" >&2
    done
    mv "$cache.new" "$cache"
fi
rm -rf "$root"
mkdir "$root"
trap 'rm -rf "$control" "$root"' EXIT
tar -C "$root" -xf "$cache"
cp "$deb" "$root/tmp/tessel.deb"
in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

echo "== installing into the clean root"
in_root dpkg -i /tmp/tessel.deb
version=$(in_root tessel --version)
[ "$version" = "tessel $(dpkg-deb -f "$deb" Version | cut -d- -f1)" ] || fail "tessel --version printed: $version"
grep -q ':/var/lib/tessel:' <<<"$(in_root getent passwd tessel)" || fail "no user tessel with home /var/lib/tessel"
in_root getent group tessel >/dev/null || fail "no group tessel"
grep -q 'complete -F' <<<"$(in_root tessel completions bash)" || fail "tessel completions bash"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/tessel.service" ] ||
    fail "a first installation enabled tessel.service"

# An upgrade (the same version again: postinst configure with the old
# version) keeps the administrator's choice: not enabled stays so, and
# enabled (the symlink that `systemctl enable tessel` makes) stays so.
wants=$root/etc/systemd/system/multi-user.target.wants
in_root dpkg -i /tmp/tessel.deb
[ ! -e "$wants/tessel.service" ] || fail "an upgrade enabled tessel.service"
mkdir -p "$wants"
ln -s /usr/lib/systemd/system/tessel.service "$wants/tessel.service"
in_root dpkg -i /tmp/tessel.deb
[ -L "$wants/tessel.service" ] || fail "an upgrade lost the enablement of tessel.service"

# Remove keeps the configuration; purge removes it and the node's state.
mkdir -p "$root/var/lib/tessel"
echo state >"$root/var/lib/tessel/node.key"
in_root dpkg -r tessel
[ ! -e "$root/usr/bin/tessel" ] || fail "dpkg -r left the binary"
[ -f "$root/etc/tessel/tessel.toml" ] || fail "dpkg -r removed the config"
in_root dpkg --purge tessel
[ ! -e "$root/etc/tessel" ] || fail "purge left /etc/tessel"
[ ! -e "$root/var/lib/tessel" ] || fail "purge left /var/lib/tessel"

echo "installed, upgraded, removed and purged in a clean $suite root: ok ($((SECONDS - started)) s)"
