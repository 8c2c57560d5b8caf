#!/usr/bin/env bash
# Counts the syscalls of libbarrier, by name, with strace -f -c (and again
# with perf's tracepoints where perf can read them, without ptrace in the
# way). Each count is the difference between two runs of a benchmark of
# different lengths, divided by the difference, so that start-up, fork and
# exit cancel out.
#
#   bash bench/syscalls.sh                   both parts below
#   bash bench/syscalls.sh pair              the two-party barrier
#   bash bench/syscalls.sh group [SIZES]     barrier groups (SIZES: e.g. 2,8;
#                                            default 2,4,8,16,64)
#
# pair: the syscalls per operation of libbarrier and of the eventfd+poll
# floor (the same design without the library, bench/bench.c), and whether
# they are equal:
#   round trip   both processes together, one round
#   ping-pong    both processes together, one round
#   create       one create + destroy
#   fork         one whole fork cycle (create, fork, set_role,
#                place_and_sync on both sides, exit, reap, destroy)
# With perf, the total per operation is counted again with the
# raw_syscalls:sys_enter tracepoint. Ping-pong, create and fork are
# deterministic, and must match exactly. In the round trip both sides
# race: when one side is a whole round ahead, the other's single read
# collects two barriers and skips a ppoll+read pair, so the number of
# wake-ups per round varies from run to run, for the library and the floor
# alike. There "equal" means the same syscalls, the same writes, and
# exactly one ppoll and one read per wake-up. The script fails if either
# is not equal.
#
# group: the syscalls per member and round of a barrier group, of the epoll
# floor (the group's kernel objects driven by hand, bench/bench-group.c)
# and of a process-shared pthread_barrier_t of the same size, with every
# process pinned to one CPU and not pinned (bench/bench-group.c's rounds of
# place_and_sync). With perf every name is counted again with its
# syscalls:sys_enter_NAME tracepoint, and the total with
# raw_syscalls:sys_enter.
#
# What the group's counts should be, per round of n members: each member
# that arrives before the last finds the counts short, publishes what it
# waits for and sleeps in epoll_wait; the last to arrive writes its own
# doorbell once, which every other member's epoll instance watches
# edge-triggered, and does not sleep. Nobody reads a doorbell. So when
# every member but the last sleeps, epoll_wait comes to (n - 1) / n per
# member and round and write to 1 / n: 1 in all, as for the pthread
# barrier (a futex wait per sleeper, one futex wake for all). A member
# that publishes just as the last arrives may be rung and yet find the
# round complete without sleeping; the ring is then reported at its next
# sleep, which takes one epoll_wait more. At the end of a run, the members
# released first from the last round exit, and their pipes' hang-ups wake
# the others once each. Those vary from run to run, so with many members
# the counts stray a little from the figures above. Not pinned, a member
# that found its round complete without sleeping is more common, and so
# are the extra epoll_wait calls.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v strace >/dev/null || {
    echo "syscalls.sh needs strace" >&2
    exit 2
}
part=${1:-both}
case $part in
pair | group | both) ;;
*)
    echo "usage: bash bench/syscalls.sh [pair | group [SIZES]]" >&2
    exit 2
    ;;
esac
BENCH_BUILD_ONLY=1 bash bench/bench.sh
out=${CARGO_TARGET_DIR:-target}/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have_perf=
if command -v perf >/dev/null && perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
    have_perf=1
fi

# strace_counts FILE: "syscall calls" lines, sorted, from strace -c's table
strace_counts() {
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$1" | sort
}

# ---- pair ---------------------------------------------------------------

pair() {
    local bench=$out/bench-static n1=200 n2=1200 status=0 case m a b

    # pair_args CASE METHOD N: the benchmark doing N operations once
    pair_args() {
        echo --runs=1 --warmup=0 --case="$1" --method="$2" --rounds="$3" --creates="$3" --forks="$3"
    }

    # per_op CASE METHOD: "syscall calls-per-operation" lines, sorted
    per_op() {
        # shellcheck disable=SC2046
        strace -f -c -o "$tmp/strace" "$bench" $(pair_args "$1" "$2" $n1) >/dev/null
        strace_counts "$tmp/strace" >"$tmp/a"
        # shellcheck disable=SC2046
        strace -f -c -o "$tmp/strace" "$bench" $(pair_args "$1" "$2" $n2) >/dev/null
        strace_counts "$tmp/strace" >"$tmp/b"
        join -a1 -a2 -e0 -o 0,1.2,2.2 "$tmp/a" "$tmp/b" |
            awk -v d=$((n2 - n1)) '{ v = ($3 - $2) / d; if (v != 0) printf "%s %.2f\n", $1, v }'
    }

    perf_total() {
        # shellcheck disable=SC2046
        perf stat -x, -e raw_syscalls:sys_enter -o "$tmp/perf" -- "$bench" $(pair_args "$1" "$2" "$3") >/dev/null
        awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$tmp/perf"
    }

    total() { awk '{ t += $2 } END { printf "%.2f", t }' "$1"; }

    for case in rt pingpong create fork; do
        per_op "$case" ours >"$tmp/ours"
        per_op "$case" poll >"$tmp/floor"
        echo "== pair, $case: syscalls per operation (strace -f -c)"
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
    return $status
}

# ---- group --------------------------------------------------------------

group() {
    local bench=$out/bench-group-static sizes=${1:-2,4,8,16,64} pin where n m
    # Rounds at 2 members; n members do 2R/n, a whole number for every n up
    # to 64 as both are multiples of 32. Per member and round, a difference
    # is divided by (2 R2/n - 2 R1/n) n = 2 (R2 - R1), whatever n.
    local r1=640 r2=3840
    local per=$((2 * (r2 - r1)))

    # group_args N METHOD R PIN: one run of R rounds of METHOD with N members
    group_args() {
        echo --runs=1 --warmup=0 --blocks=1 --sizes="$1" --method="$2" --rounds="$3" $4
    }

    # per_round N METHOD PIN: "syscall calls-per-member-and-round" lines, sorted
    per_round() {
        # shellcheck disable=SC2046
        strace -f -c -o "$tmp/strace" "$bench" $(group_args "$1" "$2" $r1 "$3") >/dev/null
        strace_counts "$tmp/strace" >"$tmp/a"
        # shellcheck disable=SC2046
        strace -f -c -o "$tmp/strace" "$bench" $(group_args "$1" "$2" $r2 "$3") >/dev/null
        strace_counts "$tmp/strace" >"$tmp/b"
        join -a1 -a2 -e0 -o 0,1.2,2.2 "$tmp/a" "$tmp/b" |
            awk -v d=$per '{ v = ($3 - $2) / d; if (v >= 0.005 || v <= -0.005) printf "%s %.3f\n", $1, v }'
    }

    # perf_counts N METHOD R PIN EVENTS: "event count" lines
    perf_counts() {
        # shellcheck disable=SC2046
        perf stat -x, -e "$5" -o "$tmp/perf" -- "$bench" $(group_args "$1" "$2" "$3" "$4") >/dev/null
        awk -F, '$3 ~ /^(raw_)?syscalls:sys_enter/ { sub(/.*:sys_enter_?/, "", $3); print ($3 == "" ? "total" : $3), $1 }' \
            "$tmp/perf" | sort
    }

    # perf_per_round N METHOD PIN NAMES...: "name per-member-and-round"
    # lines, "total" for every syscall; names without a tracepoint are left
    # out.
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
            echo "== group, $n members, $where: syscalls per member and round" \
                "(if all but the last sleep: epoll_wait $(awk -v n="$n" 'BEGIN { printf "%.3f", (n - 1) / n }')," \
                "write $(awk -v n="$n" 'BEGIN { printf "%.3f", 1 / n }'))"
            for m in group floor pthread; do
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
            printf "  %-12s %13s %13s %13s %13s %15s %15s\n" syscall "group strace" "group perf" \
                "floor strace" "floor perf" "pthread strace" "pthread perf"
            join -a1 -a2 -e- -o 0,1.2,1.3,2.2,2.3 "$tmp/group.both" "$tmp/floor.both" >"$tmp/gf"
            join -a1 -a2 -e- -o 0,1.2,1.3,1.4,1.5,2.2,2.3 "$tmp/gf" "$tmp/pthread.both" |
                awk '$1 != "total" { printf "  %-12s %13s %13s %13s %13s %15s %15s\n", $1, $2, $3, $4, $5, $6, $7 }
                     $1 == "total" { t = $0 }
                     END { split(t, f, " ");
                           printf "  %-12s %13s %13s %13s %13s %15s %15s\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7] }'
        done
    done
}

status=0
case $part in
pair) pair || status=1 ;;
group) group "${2:-}" ;;
both)
    pair || status=1
    group ""
    ;;
esac
exit $status
