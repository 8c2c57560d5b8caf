#!/usr/bin/env bash
# Counts the syscalls per operation of libbarrier and of the eventfd+poll
# floor (the same design without the library), with strace -f -c, and says
# whether they are equal. Each count is the difference between two runs of
# the benchmark of different lengths, divided by the difference in length,
# so that start-up, fork and exit cancel out.
#   round trip   both processes together, one round
#   ping-pong    both processes together, one round
#   create       one create + destroy
#   fork         one whole fork cycle (create, fork, set_role,
#                place_and_sync on both sides, exit, reap, destroy)
# With perf available, the total per operation is checked again with the
# raw_syscalls:sys_enter tracepoint (no ptrace in the way).
#
# Ping-pong, create and fork are deterministic, and must match exactly. In
# the round trip both sides race: when one side is a whole round ahead,
# the other's single read collects two barriers and skips a ppoll+read
# pair, so the number of wake-ups per round varies from run to run, for
# the library and the floor alike. There "equal" means the same syscalls,
# the same writes, and exactly one ppoll and one read per wake-up.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v strace >/dev/null || {
    echo "syscalls.sh needs strace" >&2
    exit 2
}
BENCH_BUILD_ONLY=1 bash bench/bench.sh
bench=${CARGO_TARGET_DIR:-target}/bench/bench-static
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n1=200
n2=1200

# run CASE METHOD N: the benchmark doing N operations once, nothing else
run() {
    local case=$1 method=$2 n=$3
    "$bench" --runs=1 --warmup=0 --case="$case" --method="$method" \
        --rounds="$n" --creates="$n" --forks="$n" >/dev/null
}

# strace_counts CASE METHOD N: "syscall calls" lines
strace_counts() {
    strace -f -c -o "$tmp/strace" "$bench" --runs=1 --warmup=0 --case="$1" --method="$2" \
        --rounds="$3" --creates="$3" --forks="$3" >/dev/null
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$tmp/strace" | sort
}

# per_op CASE METHOD: "syscall calls-per-operation" lines, sorted
per_op() {
    strace_counts "$1" "$2" $n1 >"$tmp/a"
    strace_counts "$1" "$2" $n2 >"$tmp/b"
    join -a1 -a2 -e0 -o 0,1.2,2.2 "$tmp/a" "$tmp/b" |
        awk -v d=$((n2 - n1)) '{ v = ($3 - $2) / d; if (v != 0) printf "%s %.2f\n", $1, v }'
}

perf_total() {
    perf stat -x, -e raw_syscalls:sys_enter -o "$tmp/perf" -- "$bench" --runs=1 --warmup=0 \
        --case="$1" --method="$2" --rounds="$3" --creates="$3" --forks="$3" >/dev/null
    awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$tmp/perf"
}

have_perf=
if command -v perf >/dev/null && perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
    have_perf=1
fi

total() { awk '{ t += $2 } END { printf "%.2f", t }' "$1"; }

status=0
for case in rt pingpong create fork; do
    per_op "$case" ours >"$tmp/ours"
    per_op "$case" poll >"$tmp/floor"
    echo "== $case: syscalls per operation (strace -f -c)"
    join -a1 -a2 -e- -o 0,1.2,2.2 "$tmp/ours" "$tmp/floor" |
        awk 'BEGIN { printf "  %-16s %10s %10s\n", "syscall", "libbarrier", "floor" }
             { printf "  %-16s %10s %10s\n", $1, $2, $3 }'
    printf "  %-16s %10s %10s\n" total "$(total "$tmp/ours")" "$(total "$tmp/floor")"
    if [ "$case" = rt ]; then
        # the same names, the same writes, one ppoll per read in each
        if [ "$(cut -d' ' -f1 "$tmp/ours")" = "$(cut -d' ' -f1 "$tmp/floor")" ] &&
            [ "$(grep '^write ' "$tmp/ours")" = "$(grep '^write ' "$tmp/floor")" ] &&
            awk '{ n[$1] = $2 } END { exit !(n["ppoll"] == n["read"]) }' "$tmp/ours" &&
            awk '{ n[$1] = $2 } END { exit !(n["ppoll"] == n["read"]) }' "$tmp/floor"; then
            echo "  equal: yes (per wake-up: one ppoll, one read; wake-ups per round vary with the race)"
        else
            echo "  equal: NO"
            status=1
        fi
    elif cmp -s "$tmp/ours" "$tmp/floor"; then
        echo "  equal: yes"
    else
        echo "  equal: NO"
        status=1
    fi
    if [ -n "$have_perf" ]; then
        for m in ours poll; do
            a=$(perf_total "$case" $m $n1)
            b=$(perf_total "$case" $m $n2)
            echo "  perf raw_syscalls:sys_enter, $m: $(awk -v a="$a" -v b="$b" -v d=$((n2 - n1)) \
                'BEGIN { printf "%.2f", (b - a) / d }') per operation"
        done
    fi
done
exit $status
