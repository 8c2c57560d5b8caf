#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Run by `meson test` (test "cmake"): installs the build into a temporary
# DESTDIR and builds the CMake project in tests/cmake-consumer against it,
# which finds libbarrier through pkg-config only; once linked with
# libbarrier.so, once fully static. Runs both programs.
#
#   check-cmake.sh MESON...
#
# The environment names the configuration: SOURCE_ROOT, BUILD_ROOT,
# LIBDIR (absolute, with the prefix), SOVERSION and CC. Without cmake the
# test is skipped (exit 77), except where CI is set.
set -euo pipefail

fail() {
    echo "FAIL: $*"
    exit 1
}

if ! command -v cmake >/dev/null; then
    [ -z "${CI:-}" ] || fail "cmake not found (CI is set): install cmake"
    echo "skipped: cmake not found"
    exit 77
fi
cmake --version | head -n 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
"$@" install -C "$BUILD_ROOT" --no-rebuild --destdir "$root" --quiet
lib=$root$LIBDIR

project=$tmp/project
mkdir -p "$project"
cp "$SOURCE_ROOT/tests/cmake-consumer/CMakeLists.txt" "$SOURCE_ROOT/examples/fork-sync.c" "$project/"

# pkg-config sees only the installed libbarrier.pc, its paths rebased into
# the DESTDIR (as in check-install.sh).
export PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_PATH=$lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
read -ra cc <<<"$CC"
# meson's compiler command may start with a launcher (ccache where it is
# installed): the compiler is the last word, the words before it launch it.
compiler=(-DCMAKE_C_COMPILER="${cc[-1]}")
if [ ${#cc[@]} -gt 1 ]; then
    launcher=("${cc[@]:0:${#cc[@]}-1}")
    compiler+=(-DCMAKE_C_COMPILER_LAUNCHER="$(IFS=';'; echo "${launcher[*]}")")
fi
unset LD_LIBRARY_PATH

build() { # name cmake-options...
    local name=$1
    shift
    cmake -S "$project" -B "$tmp/$name" "${compiler[@]}" -DCMAKE_BUILD_TYPE=Release "$@" \
        >"$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "cmake configure ($name) failed"; }
    cmake --build "$tmp/$name" --verbose >>"$tmp/$name.log" 2>&1 ||
        { cat "$tmp/$name.log"; fail "cmake build ($name) failed"; }
}

run() { # name exe
    local out
    out=$("$2") || fail "the $1 consumer failed: $out"
    echo "$out" | sed "s/^/  $1: /"
    [ "$(echo "$out" | tail -n 1)" = "parent: done" ] || fail "the $1 consumer did not finish"
}

# Shared: the imported target PkgConfig::LIBBARRIER; the program needs the
# installed libbarrier.so.1.
build shared -DBARRIER_STATIC=OFF
exe=$tmp/shared/fork-sync
readelf -d -W "$exe" | grep -q "(NEEDED).*\[libbarrier.so.$SOVERSION\]" ||
    fail "the shared consumer does not need libbarrier.so.$SOVERSION"
resolved=$(LD_LIBRARY_PATH=$lib ldd "$exe" | awk '$1 == "libbarrier.so.'"$SOVERSION"'" { print $3 }')
[ "$resolved" = "$lib/libbarrier.so.$SOVERSION" ] || fail "libbarrier.so.$SOVERSION resolves to '$resolved', not the installed one"
LD_LIBRARY_PATH=$lib run shared "$exe"

# Fully static: libbarrier.a and Libs.private; nothing loaded at run time.
build static -DBARRIER_STATIC=ON
exe=$tmp/static/fork-sync
if readelf -l -W "$exe" | grep -q INTERP || readelf -d -W "$exe" | grep -q NEEDED; then
    fail "the static consumer is dynamically linked"
fi
run static "$exe"

echo "cmake: the CMake project found libbarrier through pkg-config, built shared and static, and ran"
