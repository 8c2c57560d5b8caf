#!/usr/bin/env bash
# Counts the user-space instructions per operation of libbarrier, of
# systemd's shipped barrier and of the eventfd+poll floor, with valgrind
# (cachegrind, no cache simulation). libbarrier is counted as the benchmark
# links it (libbarrier.a) and as libbarrier.so loaded with dlopen() and
# called through pointers, exactly as systemd's libsystemd-shared is (the
# benchmark's methods "so" and "systemd"); so.-sd. is what libbarrier.so
# costs more than systemd per operation. Without systemd's library its
# columns say "-", and the script fails where CI is set. The
# count is the same however busy the machine is, so it shows what the
# library's own code costs, which the timings of bench/bench.sh only show
# through the noise of scheduling. Each figure is the difference between
# two runs of the benchmark of different lengths, divided by the difference
# in length, so that start-up, fork and exit cancel out; the instructions
# inside the C library's syscall wrappers count for both alike. Both
# processes run on one CPU (--pin), so that the order in which they take
# turns, and with it how many waits a round needs, is the same from run to
# run (not pinned, a round trip's count varies by about 20). The kernel's
# work is not counted: the syscalls are the same (bench/syscalls.sh).
#   round trip   per round, the parent and the child
#   ping-pong    per round, the parent (place_and_sync) and the child
#                (wait_next + place)
#   create       one create + destroy
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || {
    echo "instructions.sh needs valgrind" >&2
    exit 2
}
BENCH_BUILD_ONLY=1 bash bench/bench.sh
target=${CARGO_TARGET_DIR:-target}
bench=$target/bench/bench-static
so_path=$target/release/libbarrier.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n1=2000
n2=12000

# count CASE METHOD N: prints the instructions of the parent, then of the
# child if there is one, for N operations.
count() {
    local case=$1 method=$2 n=$3
    rm -f "$tmp"/log.*
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        --log-file="$tmp/log.%p" "$bench" --so="$so_path" --pin --runs=1 --warmup=0 --blocks=1 \
        --case="$case" --method="$method" --rounds="$n" --creates="$n" >/dev/null
    # The parent has the lowest process ID (no wrap-around in a few ms).
    for log in $(ls "$tmp"/log.* | sort -t. -k2 -n); do
        awk '/I *refs:/ { gsub(",", "", $NF); print $NF }' "$log"
    done
}

per_op() { # CASE METHOD: per-operation counts, parent [child]
    local a b
    mapfile -t a < <(count "$1" "$2" $n1)
    mapfile -t b < <(count "$1" "$2" $n2)
    for i in "${!a[@]}"; do
        echo $(((b[i] - a[i]) / (n2 - n1)))
    done
}

# Whether systemd's method runs here: the benchmark says so, or fails in CI.
"$bench" --check --case=create --method=systemd >"$tmp/check" 2>&1 || {
    cat "$tmp/check" >&2
    exit 2
}
systemd=true
if grep -q 'skipped' "$tmp/check"; then
    grep 'skipped' "$tmp/check"
    systemd=false
fi

printf '%-9s %-7s %9s %9s %9s %9s   %9s %9s %9s\n' case side libbarrier .so systemd floor \
    ours-fl. sd-fl. so.-sd.
for case in rt pingpong create; do
    mapfile -t ours < <(per_op "$case" ours)
    mapfile -t so < <(per_op "$case" so)
    mapfile -t floor < <(per_op "$case" poll)
    sd=()
    $systemd && mapfile -t sd < <(per_op "$case" systemd)
    sides=(parent child)
    [ "$case" = create ] && sides=(caller)
    for i in "${!sides[@]}"; do
        if $systemd; then
            printf '%-9s %-7s %9d %9d %9d %9d   %+9d %+9d %+9d\n' "$case" "${sides[i]}" "${ours[i]}" \
                "${so[i]}" "${sd[i]}" "${floor[i]}" $((ours[i] - floor[i])) $((sd[i] - floor[i])) \
                $((so[i] - sd[i]))
        else
            printf '%-9s %-7s %9d %9d %9s %9d   %+9d %9s %9s\n' "$case" "${sides[i]}" "${ours[i]}" \
                "${so[i]}" - "${floor[i]}" $((ours[i] - floor[i])) - -
        fi
    done
done
