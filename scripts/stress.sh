#!/usr/bin/env bash
# Runs the whole C suite (every test program, static, shared and against
# systemd, as built by `cargo test` into target/c-suite/bin) N times while M busy loops keep
# every CPU loaded, so that the processes of each test are descheduled at
# arbitrary points. A test that depended on timing rather than on its
# handshakes would fail here sooner or later.
#
#   bash scripts/stress.sh [N [M]]     defaults: N=100, M=number of CPUs
#
# Prints every failing run with its output, then "X passed, Y failed",
# counting program runs. Exits 1 if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
m=${2:-$(nproc)}
target=${CARGO_TARGET_DIR:-target}
bin=$target/c-suite/bin
lib=$target/c-suite/release
progs=("$bin"/test-*)
if [ ! -x "${progs[0]}" ]; then
    echo "no C test programs in $bin: run cargo test first" >&2
    exit 2
fi

loops=()
stop_loops() {
    [ ${#loops[@]} -eq 0 ] || kill "${loops[@]}" 2>/dev/null
    wait 2>/dev/null
}
trap stop_loops EXIT
for ((l = 0; l < m; l++)); do
    (while :; do :; done) &
    loops+=($!)
done

passed=0
failed=0
clean_suites=0
start=$SECONDS
for ((i = 1; i <= n; i++)); do
    suite_ok=1
    for p in "${progs[@]}"; do
        # The harness's own watchdog ends a hung test; this ends a hung
        # program.
        out=$(LD_LIBRARY_PATH=$lib timeout 600 "$p" 2>&1)
        status=$?
        if [ $status -eq 0 ]; then
            passed=$((passed + 1))
        elif [ $status -eq 77 ] && [ -z "${CI:-}" ]; then
            # against systemd, without libsystemd-shared: skipped
            :
        else
            failed=$((failed + 1))
            suite_ok=0
            echo "run $i: $(basename "$p") failed:"
            grep -v '^ok ' <<<"$out"
        fi
    done
    clean_suites=$((clean_suites + suite_ok))
    if ((n >= 10 && i % (n / 10) == 0)); then
        echo "stress: $i of $n suite runs done, $failed program runs failed so far ($((SECONDS - start)) s)"
    fi
done
echo "stress: $clean_suites of $n suite runs clean (${#progs[@]} programs each, $m busy loops on $(nproc) CPUs, $((SECONDS - start)) s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
