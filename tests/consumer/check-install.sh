#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Run by `meson test` (test "install"): installs the build into a
# temporary DESTDIR, checks what landed there, then builds
# examples/fork-sync.c with nothing but pkg-config's answers and runs it,
# once linked with libbarrier.so and once fully static; checks and renders
# the installed man pages.
#
#   check-install.sh MESON...
#
# The environment names the configuration: SOURCE_ROOT, BUILD_ROOT,
# LIBDIR, INCLUDEDIR and MANDIR (absolute, with the prefix),
# LIBRARY_VERSION, SOVERSION, NATIVE_LIBS (what rustc reports for the
# staticlib), CC, and MANDOC and MAN (empty where not installed).
set -euo pipefail

fail() {
    echo "FAIL: $*"
    exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

"$@" install -C "$BUILD_ROOT" --no-rebuild --destdir "$root" --quiet

lib=$root$LIBDIR
inc=$root$INCLUDEDIR
echo "installed:"
(cd "$root" && find . -not -type d | sort | sed 's/^\./  /')

# libbarrier.so -> libbarrier.so.1 -> libbarrier.so.1.x.y, and the rest
real=libbarrier.so.$LIBRARY_VERSION
[ -f "$lib/$real" ] && [ ! -L "$lib/$real" ] || fail "$lib/$real is not a file"
[ "$(readlink "$lib/libbarrier.so.$SOVERSION")" = "$real" ] || fail "libbarrier.so.$SOVERSION does not point to $real"
[ "$(readlink "$lib/libbarrier.so")" = "libbarrier.so.$SOVERSION" ] || fail "libbarrier.so does not point to libbarrier.so.$SOVERSION"
[ -f "$lib/libbarrier.a" ] || fail "no $lib/libbarrier.a"
cmp -s "$inc/libbarrier/barrier.h" "$SOURCE_ROOT/include/barrier.h" || fail "$inc/libbarrier/barrier.h differs from include/barrier.h"
[ -f "$lib/pkgconfig/libbarrier.pc" ] || fail "no $lib/pkgconfig/libbarrier.pc"
readelf -d -W "$lib/$real" | grep -q "(SONAME).*\[libbarrier.so.$SOVERSION\]" || fail "installed library has no SONAME libbarrier.so.$SOVERSION"
if readelf -d -W "$lib/$real" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    fail "installed library has an RPATH or RUNPATH"
fi

# The man pages: a page or a symlink for every function, each rendered by
# man(1) from the installed tree (where man is installed), mandoc's lint
# clean.
[ -f "$root$MANDIR/man3/libbarrier.3" ] || fail "no $MANDIR/man3/libbarrier.3"
python3 "$SOURCE_ROOT/man/man.py" check "$SOURCE_ROOT/include/barrier.h" "$MANDOC" "$MAN" "$root$MANDIR/man3" ||
    fail "the installed man pages"

# Only the installed libbarrier.pc is visible, and its paths are rebased
# into the DESTDIR; system directories are not left out of the flags.
export PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_PATH=$lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
echo "libbarrier.pc:"
sed 's/^/  /' "$lib/pkgconfig/libbarrier.pc"

# pkg-config's answer, with whitespace normalized
query() {
    local words
    read -ra words <<<"$(pkg-config "$@" libbarrier)"
    echo "${words[*]}"
}
cflags=$(query --cflags)
libs=$(query --libs)
static_libs=$(query --static --libs)
echo "pkg-config --cflags: $cflags"
echo "pkg-config --libs: $libs"
echo "pkg-config --static --libs: $static_libs"
[ "$cflags" = "-I$inc/libbarrier" ] || fail "--cflags should be -I$inc/libbarrier"
[ "$libs" = "-L$lib -lbarrier" ] || fail "--libs should be -L$lib -lbarrier"
[ "$static_libs" = "-L$lib -lbarrier $NATIVE_LIBS" ] || fail "--static --libs should be -L$lib -lbarrier $NATIVE_LIBS"

read -ra cc <<<"$CC"
read -ra cflags_a <<<"$cflags"
read -ra libs_a <<<"$libs"
read -ra static_a <<<"$(query --static --cflags --libs)"
warnings=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
example=$SOURCE_ROOT/examples/fork-sync.c

# Shared: the program loads the installed libbarrier.so.1.
"${cc[@]}" "${warnings[@]}" "${cflags_a[@]}" "$example" "${libs_a[@]}" -o "$tmp/fork-sync-shared"
readelf -d -W "$tmp/fork-sync-shared" | grep -q "(NEEDED).*\[libbarrier.so.$SOVERSION\]" ||
    fail "the shared consumer does not need libbarrier.so.$SOVERSION"
resolved=$(LD_LIBRARY_PATH=$lib ldd "$tmp/fork-sync-shared" | awk '$1 == "libbarrier.so.'"$SOVERSION"'" { print $3 }')
[ "$resolved" = "$lib/libbarrier.so.$SOVERSION" ] || fail "libbarrier.so.$SOVERSION resolves to '$resolved', not the installed one"
out=$(LD_LIBRARY_PATH=$lib "$tmp/fork-sync-shared") || fail "the shared consumer failed: $out"
echo "$out" | sed 's/^/  shared: /'
[ "$(echo "$out" | tail -n 1)" = "parent: done" ] || fail "the shared consumer did not finish"

# Fully static: libbarrier.a, the native libraries from Libs.private and
# glibc's libc.a; nothing is loaded at run time.
libc_a=$("${cc[@]}" -print-file-name=libc.a)
[ "$libc_a" != libc.a ] || fail "no static C library (libc.a) for $CC: install libc6-dev"
"${cc[@]}" "${warnings[@]}" -static "$example" "${static_a[@]}" -o "$tmp/fork-sync-static"
if readelf -l -W "$tmp/fork-sync-static" | grep -q INTERP || readelf -d -W "$tmp/fork-sync-static" | grep -q NEEDED; then
    fail "the static consumer is dynamically linked"
fi
out=$("$tmp/fork-sync-static") || fail "the static consumer failed: $out"
echo "$out" | sed 's/^/  static: /'
[ "$(echo "$out" | tail -n 1)" = "parent: done" ] || fail "the static consumer did not finish"

echo "install: layout, pkg-config, shared and static consumers passed"
