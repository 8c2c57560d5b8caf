#!/usr/bin/env bash
# Counts the syscalls per member and round of a barrier group and of a
# process-shared pthread_barrier_t of the same size, by name, for groups of
# 2, 4, 8, 16 and 64 members (or the sizes given, e.g. 2,8), with every
# process pinned to one CPU and not pinned. Each count is the difference
# between two runs of bench-group of different lengths, divided by the
# difference in rounds times the members, so that set-up, fork and exit
# cancel out. strace -f -c gives the names and counts; with perf available
# every name is counted again with its syscalls:sys_enter_NAME tracepoint,
# and the total with raw_syscalls:sys_enter, without ptrace slowing the
# processes down (which changes who sleeps and who arrives last).
#
# What the counts should be, per round of n members: each member that
# arrives before the last finds the counts short, publishes what it waits
# for and sleeps: one epoll_wait, then one read of its doorbell. The last to
# arrive completes the round and writes the doorbell of each member waiting
# for it, up to n - 1 writes, and does not sleep. So when every member but
# the last sleeps, each of epoll_wait, read and write comes to (n - 1) / n
# per member and round, 3 (n - 1) / n in all: never more than 3, whatever n.
# Two races move the counts a little. A member that publishes its wait just
# as the last arrives may be rung and yet find the round complete without
# sleeping; its doorbell then wakes it once more in the next round (one
# epoll_wait and one read more). At the end of a run, the members released
# first from the last round exit, and their pipes' hang-up may wake a
# sleeper before the last arriver has rung it: it then finds the round
# complete and leaves, and is not rung (one epoll_wait without a read or a
# write). How many that happens to varies from run to run, so with many
# members the counts stray by about 0.01 from (n - 1) / n. The pthread
# barrier's sleepers each make one futex wait, and the last makes one futex
# wake for all: 1 per member and round.
#   bash bench/syscalls-group.sh           sizes 2,4,8,16,64
#   bash bench/syscalls-group.sh 2,8       only these
set -euo pipefail
cd "$(dirname "$0")/.."

command -v strace >/dev/null || {
    echo "syscalls-group.sh needs strace" >&2
    exit 2
}
sizes=${1:-2,4,8,16,64}
BENCH_BUILD_ONLY=1 bash bench/bench.sh
bench=${CARGO_TARGET_DIR:-target}/bench/bench-group-static
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Rounds at 2 members; n members do 2R/n, a whole number for every n up to
# 64 as both are multiples of 32. Per member and round, a difference is
# divided by (2 R2/n - 2 R1/n) n = 2 (R2 - R1), whatever n.
r1=640
r2=3840
per=$((2 * (r2 - r1)))

# bench_args N METHOD R PIN: one run of R rounds of METHOD with N members
bench_args() {
    echo --runs=1 --warmup=0 --blocks=1 --sizes="$1" --method="$2" --rounds="$3" $4
}

# strace_counts N METHOD R PIN: "syscall calls" lines, sorted
strace_counts() {
    # shellcheck disable=SC2046
    strace -f -c -o "$tmp/strace" "$bench" $(bench_args "$@") >/dev/null
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$tmp/strace" | sort
}

# per_round N METHOD PIN: "syscall calls-per-member-and-round" lines, sorted
per_round() {
    strace_counts "$1" "$2" $r1 "$3" >"$tmp/a"
    strace_counts "$1" "$2" $r2 "$3" >"$tmp/b"
    join -a1 -a2 -e0 -o 0,1.2,2.2 "$tmp/a" "$tmp/b" |
        awk -v d=$per '{ v = ($3 - $2) / d; if (v >= 0.005 || v <= -0.005) printf "%s %.3f\n", $1, v }'
}

have_perf=
if command -v perf >/dev/null && perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
    have_perf=1
fi

# perf_counts N METHOD R PIN EVENTS: "event count" lines
perf_counts() {
    # shellcheck disable=SC2046
    perf stat -x, -e "$5" -o "$tmp/perf" -- "$bench" $(bench_args "$1" "$2" "$3" "$4") >/dev/null
    awk -F, '$3 ~ /^(raw_)?syscalls:sys_enter/ { sub(/.*:sys_enter_?/, "", $3); print ($3 == "" ? "total" : $3), $1 }' \
        "$tmp/perf" | sort
}

# perf_per_round N METHOD PIN NAMES...: "name per-member-and-round" lines,
# "total" for every syscall; names without a tracepoint are left out.
perf_per_round() {
    local n=$1 method=$2 pin=$3 events=raw_syscalls:sys_enter name
    shift 3
    for name in "$@"; do
        perf stat -e "syscalls:sys_enter_$name" -o /dev/null true 2>/dev/null &&
            events+=",syscalls:sys_enter_$name"
    done
    perf_counts "$n" "$method" $r1 "$pin" "$events" >"$tmp/pa"
    perf_counts "$n" "$method" $r2 "$pin" "$events" >"$tmp/pb"
    join "$tmp/pa" "$tmp/pb" | awk -v d=$per '{ printf "%s %.3f\n", $1, ($3 - $2) / d }' | sort
}

total() { awk '{ t += $2 } END { printf "%.3f", t }' "$1"; }

for pin in --pin ""; do
    where="not pinned"
    [ -n "$pin" ] && where="pinned to one CPU"
    for n in ${sizes//,/ }; do
        echo "== $n members, $where: syscalls per member and round" \
            "(if all but the last sleep: epoll_wait, read, write $(awk -v n="$n" 'BEGIN { printf "%.3f", (n - 1) / n }') each)"
        for m in group pthread; do
            per_round "$n" $m "$pin" >"$tmp/$m"
            if [ -n "$have_perf" ]; then
                # shellcheck disable=SC2046
                perf_per_round "$n" $m "$pin" $(cut -d' ' -f1 "$tmp/$m") >"$tmp/$m.perf"
            else
                : >"$tmp/$m.perf"
            fi
            echo "total $(total "$tmp/$m")" >>"$tmp/$m"
            sort -o "$tmp/$m" "$tmp/$m"
            join -a1 -e- -o 0,1.2,2.2 "$tmp/$m" "$tmp/$m.perf" >"$tmp/$m.both"
        done
        printf "  %-12s %14s %14s %14s %14s\n" syscall "group strace" "group perf" "pthread strace" "pthread perf"
        join -a1 -a2 -e- -o 0,1.2,1.3,2.2,2.3 "$tmp/group.both" "$tmp/pthread.both" |
            awk '$1 != "total" { printf "  %-12s %14s %14s %14s %14s\n", $1, $2, $3, $4, $5 }
                 $1 == "total" { t = $0 }
                 END { split(t, f, " "); printf "  %-12s %14s %14s %14s %14s\n", f[1], f[2], f[3], f[4], f[5] }'
    done
done
