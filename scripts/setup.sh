#!/usr/bin/env bash
# Installs what building and testing libbarrier needs on a fresh Debian
# machine with a Rust toolchain (rustup). Safe to run again; installs only
# what is missing.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v c++ >/dev/null || need_apt+=(g++)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v xz >/dev/null || need_apt+=(xz-utils)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
# systemd's own barrier, which the differential test and the C suite load
# as the reference (never built into libbarrier).
compgen -G '/usr/lib/*/systemd/libsystemd-shared-*.so' >/dev/null ||
    compgen -G '/usr/lib/systemd/libsystemd-shared-*.so' >/dev/null ||
    need_apt+=(systemd)
# The man pages' lint and rendering, and the ABI check against abi/.
command -v mandoc >/dev/null || need_apt+=(mandoc)
command -v man >/dev/null || need_apt+=(man-db)
command -v abidiff >/dev/null || need_apt+=(abigail-tools)
# Debian's meson, /usr/bin/meson (1.0.1 on Debian 12): the oldest meson,
# which test.sh builds with besides the newest from PyPI.
[ -x /usr/bin/meson ] || need_apt+=(meson)
# The event loops of the C tests and examples (sd-event, GLib, libuv).
for dev in libsystemd:libsystemd-dev glib-2.0:libglib2.0-dev libuv:libuv1-dev; do
    { command -v pkg-config >/dev/null && pkg-config --exists "${dev%%:*}"; } || need_apt+=("${dev#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install a Rust toolchain (rustup) first" >&2
    exit 1
fi
if command -v rustup >/dev/null; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    for c in clippy rustfmt; do
        grep -q "^$c" <<<"$installed" || rustup component add "$c"
    done
fi

# meson and ninja: the newest from PyPI, ahead of Debian's on the PATH, or
# Debian's packages where pip may not install.
if ! command -v meson >/dev/null || [ "$(readlink -f "$(command -v meson)")" = /usr/bin/meson ] || ! command -v ninja >/dev/null; then
    pip=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
    "${pip[@]}" "meson>=1.1" "ninja>=1.10" 2>/dev/null ||
        "${pip[@]}" --break-system-packages "meson>=1.1" "ninja>=1.10" 2>/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq meson ninja-build
    }
fi
