#!/usr/bin/env bash
# Runs every C test program, static and shared, N times in a row (default
# 200) and counts the failing runs. Build them first with `cargo test`.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bin=target/c-suite/bin
lib=target/c-suite/release
progs=("$bin"/test-*)
if [ ! -x "${progs[0]}" ]; then
    echo "no C test programs in $bin: run cargo test first" >&2
    exit 2
fi
failed=0
for ((i = 1; i <= n; i++)); do
    for p in "${progs[@]}"; do
        if ! out=$(LD_LIBRARY_PATH=$lib "$p" 2>&1); then
            failed=$((failed + 1))
            echo "run $i: $p failed:"
            echo "$out" | grep -v '^ok '
        fi
    done
done
echo "$((n * ${#progs[@]} - failed)) passed, $failed failed (${#progs[@]} programs x $n runs)"
[ "$failed" -eq 0 ]
