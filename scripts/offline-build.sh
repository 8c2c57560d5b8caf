#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# offline-build.sh [MESON-DIST-OPTIONS...]: the packager's path. Makes the
# release tarball with `meson dist` (in target/meson-dist; the source tree
# must be committed, or pass --allow-dirty), unpacks it, and builds, tests
# and installs it with cargo offline: CARGO_NET_OFFLINE=true, an empty
# CARGO_HOME, and, where the kernel lets us (unshare -rn), no network at
# all. Then checks what was installed. Run by test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "offline-build: FAIL: $*" >&2
    exit 1
}

# The build of the unpacked tarball: offline-build.sh --inside SRC WORK
if [ "${1:-}" = --inside ]; then
    src=$2 work=$3
    export CARGO_HOME=$work/cargo-home CARGO_NET_OFFLINE=true
    mkdir -p "$CARGO_HOME"
    meson setup "$work/build" "$src" --prefix=/usr --buildtype=release
    meson compile -C "$work/build"
    meson test -C "$work/build" --print-errorlogs
    meson install -C "$work/build" --destdir "$work/stage" --quiet
    exit 0
fi

build=target/meson-dist
bash meson/setup-build.sh "$build" >/dev/null
rm -rf "$build/meson-dist"
meson dist -C "$build" --no-tests --formats xztar "$@"
tarball=$(find "$build/meson-dist" -name 'libbarrier-*.tar.xz')
[ -f "$tarball" ] || fail "meson dist made no tarball"
echo "offline-build: $tarball, $(stat -c %s "$tarball") bytes"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'libbarrier-*')
[ -f "$src/.cargo/config.toml" ] || fail "the tarball has no .cargo/config.toml"
libc_src=$(find "$src/vendor" -mindepth 2 -maxdepth 3 -path '*/libc-*/src/lib.rs')
[ -s "$libc_src" ] || fail "the tarball has no vendored libc"
echo "offline-build: vendored: $(find "$src/vendor" -mindepth 1 -maxdepth 1 | wc -l) crates," \
    "$(du -s --block-size=1K "$src/vendor" | cut -f1) KiB; with sources:" \
    "$(cd "$src/vendor" && find . -mindepth 2 -maxdepth 2 -name src -exec sh -c '[ -s "$1/lib.rs" ] && dirname "$1"' _ {} \; | sed 's|^\./||' | tr '\n' ' ')"

netns=()
if unshare -rn true 2>/dev/null; then
    netns=(unshare -rn)
    echo "offline-build: building in a network namespace of its own (no network)"
else
    echo "offline-build: cannot unshare the network; cargo is offline by CARGO_NET_OFFLINE and an empty CARGO_HOME"
fi
"${netns[@]}" bash "$PWD/scripts/offline-build.sh" --inside "$src" "$work"

# Nothing was fetched, and libc was compiled from vendor/.
[ ! -e "$work/cargo-home/registry" ] && [ ! -e "$work/cargo-home/git" ] || fail "cargo fetched crates into CARGO_HOME"
grep -qs "$src/vendor/libc-" "$work"/build/cargo/release/deps/libc-*.d || fail "libc was not compiled from vendor/"

stage=$work/stage
echo "offline-build: installed:"
(cd "$stage" && find . -not -type d | sort | sed 's/^\./  /')
lib=$(dirname "$(find "$stage/usr/lib" -name libbarrier.a)")
[ -f "$lib/libbarrier.a" ] || fail "no libbarrier.a installed"
[ -L "$lib/libbarrier.so" ] && [ -L "$lib/libbarrier.so.1" ] || fail "no libbarrier.so and libbarrier.so.1 links"
[ -f "$(readlink -f "$lib/libbarrier.so.1")" ] || fail "libbarrier.so.1 does not lead to a file"
[ -f "$lib/pkgconfig/libbarrier.pc" ] || fail "no libbarrier.pc installed"
cmp -s "$stage/usr/include/libbarrier/barrier.h" include/barrier.h || fail "the installed barrier.h differs from include/barrier.h"
readelf -d -W "$lib/libbarrier.so.1" | grep -q '(SONAME).*\[libbarrier.so.1\]' || fail "the installed library has no SONAME libbarrier.so.1"
echo "offline-build: built, tested and installed from the tarball with cargo offline"
