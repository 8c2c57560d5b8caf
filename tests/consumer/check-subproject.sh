#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Run by `meson test` (test "subproject"): builds the project in
# tests/consumer with this source tree as its subproject
# subprojects/libbarrier, forcing the fallback even where a libbarrier is
# installed, and runs the program it builds.
#
#   check-subproject.sh MESON...
#
# SOURCE_ROOT in the environment is this source tree; BUILDTYPE is passed
# on, so the subproject builds with the same cargo profile.
set -euo pipefail

fail() {
    echo "FAIL: $*"
    exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
project=$tmp/consumer
mkdir -p "$project/subprojects"
cp "$SOURCE_ROOT/tests/consumer/meson.build" "$SOURCE_ROOT/examples/fork-sync.c" "$project/"
ln -s "$SOURCE_ROOT" "$project/subprojects/libbarrier"

"$@" setup "$tmp/build" "$project" --buildtype "$BUILDTYPE" --force-fallback-for=libbarrier >"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log"; fail "meson setup of the consumer failed"; }
grep -q "Subproject libbarrier finished" "$tmp/setup.log" || { cat "$tmp/setup.log"; fail "libbarrier was not used as a subproject"; }
"$@" compile -C "$tmp/build" >"$tmp/compile.log" 2>&1 ||
    { cat "$tmp/compile.log"; fail "building the consumer failed"; }

# The program finds the subproject's libbarrier.so.1 through its rpath.
unset LD_LIBRARY_PATH
exe=$tmp/build/fork-sync
readelf -d -W "$exe" | grep -q '(NEEDED).*\[libbarrier.so.1\]' || fail "the consumer does not need libbarrier.so.1"
resolved=$(ldd "$exe" | awk '$1 == "libbarrier.so.1" { print $3 }')
[ "$resolved" = "$tmp/build/subprojects/libbarrier/libbarrier.so.1" ] ||
    fail "libbarrier.so.1 resolves to '$resolved', not the subproject's"
out=$("$exe") || fail "the consumer failed: $out"
echo "$out" | sed 's/^/  /'
[ "$(echo "$out" | tail -n 1)" = "parent: done" ] || fail "the consumer did not finish"
# The subproject's own tests are not part of the consumer's build.
tests=$("$@" introspect --tests "$tmp/build")
[ "$tests" = "[]" ] || fail "the subproject registered tests in the consumer: $tests"
echo "subproject: the consumer built libbarrier as its subproject and ran"
