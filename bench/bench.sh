#!/usr/bin/env bash
# Builds the release library and the benchmark (bench/bench.c), static and
# shared, and runs it. Either build also loads target/release/libbarrier.so
# and systemd's shipped libsystemd-shared with dlopen(), for the comparison
# of the two shared libraries (methods "so" and "systemd"); without
# systemd's library that method is left out, or fails where CI is set.
# Arguments go to the benchmark, e.g.:
#   bash bench/bench.sh --pin          both processes on one CPU
#   bash bench/bench.sh --runs=15 --case=rt,create
# BENCH_LINK=shared runs the build linked with libbarrier.so instead of
# libbarrier.a; BENCH_BUILD_ONLY=1 only builds them (into $CARGO_TARGET_DIR/bench
# or target/bench). The benchmark only measures; it never fails on a figure.
# BENCH_PROGRAM=group runs the group benchmark (bench/bench-group.c, built
# the same two ways) instead, e.g.:
#   BENCH_PROGRAM=group bash bench/bench.sh --pin --runs=15
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -q -p barrier-capi
lib=$target/release
out=$target/bench
mkdir -p "$out"
cflags=(-std=c11 -O2 -pthread -Wall -Wextra -Wpedantic -Werror -Iinclude -Ic-tests/reference)
src=(bench/bench.c bench/bench-common.c c-tests/reference/reference.c)
group_src=(bench/bench-group.c bench/bench-common.c)
cc "${cflags[@]}" "${src[@]}" "$lib/libbarrier.a" -ldl -o "$out/bench-static"
cc "${cflags[@]}" "${src[@]}" -L"$lib" -Wl,-rpath,"$(cd "$lib" && pwd)" -lbarrier -ldl -o "$out/bench-shared"
cc "${cflags[@]}" "${group_src[@]}" "$lib/libbarrier.a" -o "$out/bench-group-static"
cc "${cflags[@]}" "${group_src[@]}" -L"$lib" -Wl,-rpath,"$(cd "$lib" && pwd)" -lbarrier \
    -o "$out/bench-group-shared"

[ -n "${BENCH_BUILD_ONLY:-}" ] && exit 0
link=${BENCH_LINK:-static}
case $link in
static | shared) ;;
*)
    echo "BENCH_LINK must be static or shared" >&2
    exit 2
    ;;
esac
echo "machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), libbarrier linked $link"
case ${BENCH_PROGRAM:-pair} in
pair) exec "$out/bench-$link" --so="$lib/libbarrier.so" "$@" ;;
group) exec "$out/bench-group-$link" "$@" ;;
*)
    echo "BENCH_PROGRAM must be pair or group" >&2
    exit 2
    ;;
esac
