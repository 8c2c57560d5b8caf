#!/usr/bin/env bash
# Fuzzes the two imports from the environment with libFuzzer, each for
# SECONDS (default 60): barrier_import_env() (fuzz/import_env.c) and
# barrier_group_import_env() (fuzz/group_import_env.c), starting from the
# committed seeds in fuzz/corpus/<target>. The Rust library is built with
# coverage instrumentation so that libFuzzer sees inside it; the harnesses
# run under AddressSanitizer and UBSan.
#
#   bash scripts/fuzz.sh [SECONDS]
#
# New inputs go to target/fuzz/corpus/<target> (not committed); crashes to
# target/fuzz/<target>-crash-*. To keep an interesting input as a seed,
# copy it into fuzz/corpus/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

if ! command -v clang-14 >/dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi

out=target/fuzz
# An explicit --target keeps the instrumentation out of build scripts.
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares" \
    cargo build --release --locked -q -p barrier-capi --target "$host" --target-dir "$out/cargo"
for target in import_env group_import_env; do
    clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude \
        "fuzz/$target.c" "$out/cargo/$host/release/libbarrier.a" -o "$out/$target"
done
for target in import_env group_import_env; do
    mkdir -p "$out/corpus/$target"
    "$out/$target" -max_total_time="$seconds" -max_len=128 -timeout=10 \
        -artifact_prefix="$out/$target-" "$out/corpus/$target" "fuzz/corpus/$target" 2>&1 | tail -n 4
    echo "fuzz: $target ran for ${seconds}s with no failure"
done
