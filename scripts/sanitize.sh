#!/usr/bin/env bash
# Runs the C suite under the dynamic checkers, and the state machine under
# Miri:
#
#   valgrind  every C test program against libbarrier.so under valgrind
#             memcheck, following every forked and exec'd process; fails on
#             any memcheck error and on any descriptor the library opened
#             and left open (see fd_leaks below).
#   asan      every C test program built with AddressSanitizer and UBSan
#             (-fno-sanitize-recover: any finding aborts) against
#             libbarrier.a; then, where a nightly toolchain is installed,
#             again against a libbarrier.a whose Rust code is instrumented
#             with AddressSanitizer too.
#   miri      barrier-core's unit tests (the pure state machine and the
#             BARRIER_FDS parser) under Miri, where a nightly toolchain
#             with the miri component is installed; skipped otherwise, as
#             neither can be installed without the toolchain server.
#
#   bash scripts/sanitize.sh [valgrind|asan|miri|all]     (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in
valgrind | asan | miri | all) ;;
*)
    echo "usage: $0 [valgrind|asan|miri|all]" >&2
    exit 2
    ;;
esac

target=${CARGO_TARGET_DIR:-target}
# The same build as the C suite's (barrier-capi/tests/c_suite.rs), so that
# after `cargo test` this is up to date already.
cargo build --release --locked -q -p barrier-capi --target-dir "$target/c-suite"
lib=$(cd "$target/c-suite/release" && pwd)
out=$target/sanitize
rm -rf "$out"
mkdir -p "$out"
cflags=(-std=c11 -pthread -g -Wall -Wextra -Wpedantic -Werror -Iinclude -Ic-tests/lib)
# Every C test program, as c_suite.rs and c-tests/meson.build find them;
# source_of[NAME] is its file.
programs=()
declare -A source_of=()
for src in c-tests/test-*.c c-tests/*/test-*.c; do
    programs+=("$(basename "$src" .c)")
    source_of[$(basename "$src" .c)]=$src
done

# The sources a program needs besides its own and c-tests/lib/harness.c:
# c-tests/lib/group-harness.c for the programs of barrier groups.
group_sources() {
    case ${source_of[$1]} in
    c-tests/group/*) echo c-tests/lib/group-harness.c ;;
    esac
}

# The libraries a program needs besides libbarrier: the event loop of a
# test-loop-* program (pkg-config's flags), nothing for the others.
loop_libs() {
    case $1 in
    test-loop-sdevent) pkg-config --cflags --libs libsystemd ;;
    test-loop-glib) pkg-config --cflags --libs glib-2.0 ;;
    test-loop-uv) pkg-config --cflags --libs libuv ;;
    esac
}

# The tests of a program (from its TEST_ENTRY and TEST_ENTRY_NOT_SYSTEMD
# lists), less those named in $2 (space-separated).
tests_of() {
    local t
    for t in $(sed -n 's/^[[:space:]]*TEST_ENTRY\(_NOT_SYSTEMD\)\{0,1\}(\([a-z0-9_]*\)[,)].*$/\2/p' "${source_of[$1]}"); do
        [[ " $2 " == *" $t "* ]] || echo "$t"
    done
}

# The tests of a program that valgrind cannot run (space-separated):
# test-exec and test-group-exec re-execute /proc/self/exe, which under
# valgrind is the tool's own binary, not the program; test-group-kill (all
# of it) and one test of test-group-exit kill members with SIGKILL from
# outside, and valgrind writes no summary for a process killed so (only
# for one that kills itself); and valgrind keeps
# descriptors of its own under RLIMIT_NOFILE, which the test of
# test-group-fds that lowers it to every count depends on.
valgrind_skips() {
    case $1 in
    test-exec) echo exec_child_syncs ;;
    test-group-exec) echo exec_member_keeps_syncing_and_its_exit_is_seen exec_member_keeps_what_it_saw ;;
    test-group-kill) tests_of "$1" "" | tr "\n" " " ;;
    test-group-exit) echo pending_beats_sigkill ;;
    test-group-fds) echo new_out_of_descriptors_at_every_point ;;
    esac
}

# Descriptors that libbarrier opened and that are still open when the
# process exits, from one valgrind log (valgrind lists each descriptor open
# at exit with the stack that opened it). Prints each with that stack.
#
# Only the program itself and the process it forks for each test are
# checked: they destroy every barrier they make, so a descriptor the
# library opened and did not close there is a leak. The two sides of a
# scenario (forked by those) are not: a side that is killed, as some
# tests do on purpose, dies still holding its end, which the kernel closes.
# Descriptors inherited across exec and those the tests open themselves
# are not the library's and are left out.
fd_leaks() {
    awk '
        /Open file descriptor [0-9]+:/ { flush(); open = 1; block = $0 "\n"; next }
        open && /^==[0-9]+== *$/ { flush(); next }
        open { block = block $0 "\n"; next }
        function flush() {
            if (open && block !~ /<inherited from parent>/ && block ~ /libbarrier\.so|barrier_core::/)
                printf "%s", block
            open = 0; block = ""
        }
        END { flush() }
    ' "$1"
}

# The logs (pid-named) of the program and of its direct children.
top_two_levels() {
    local dir=$1 log pid parent main=""
    declare -A parent_of=()
    for log in "$dir"/*; do
        pid=${log##*/}
        parent_of[$pid]=$(sed -n 's/^==[0-9]*== Parent PID: \([0-9]*\)$/\1/p' "$log" | head -n 1)
    done
    for pid in "${!parent_of[@]}"; do
        [ -n "${parent_of[${parent_of[$pid]}]+x}" ] || main=$pid
    done
    for pid in "${!parent_of[@]}"; do
        if [ "$pid" = "$main" ] || [ "${parent_of[$pid]}" = "$main" ]; then
            echo "$dir/$pid"
        fi
    done
}

failed=0

run_valgrind() {
    local name exe logs rc only skips
    echo "== valgrind memcheck, libbarrier.so"
    for name in "${programs[@]}"; do
        exe=$out/valgrind/$name
        logs=$out/valgrind/$name.logs
        mkdir -p "$logs"
        # shellcheck disable=SC2046 # pkg-config's flags are words
        cc "${cflags[@]}" -O1 "${source_of[$name]}" c-tests/lib/harness.c $(group_sources "$name") \
            -L"$lib" -Wl,-rpath,"$lib" -lbarrier $(loop_libs "$name") -o "$exe"
        only=()
        skips=$(valgrind_skips "$name")
        if [ -n "$skips" ]; then
            mapfile -t only < <(tests_of "$name" "$skips")
            if [ "${#only[@]}" -eq 0 ]; then
                echo "skip $name: none of its tests can run under valgrind (see valgrind_skips)"
                continue
            fi
        fi
        rc=0
        LD_LIBRARY_PATH=$lib valgrind --tool=memcheck --track-fds=yes --error-exitcode=1 \
            --trace-children=yes --log-file="$logs/%p" "$exe" "${only[@]}" >"$logs.out" 2>&1 || rc=$?
        local errors=0 leaks=0 processes=0 checked=0 log
        for log in "$logs"/*; do
            processes=$((processes + 1))
            if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
                errors=$((errors + 1))
                echo "--- memcheck errors in $log:"
                cat "$log"
            fi
        done
        for log in $(top_two_levels "$logs"); do
            checked=$((checked + 1))
            if [ -n "$(fd_leaks "$log")" ]; then
                leaks=$((leaks + 1))
                echo "--- descriptors of libbarrier still open at exit, $log:"
                fd_leaks "$log"
            fi
        done
        if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$leaks" -ne 0 ]; then
            failed=$((failed + 1))
            echo "FAIL $name under valgrind: exit $rc, $errors processes with errors, $leaks with leaked descriptors"
            grep -v '^ok ' "$logs.out" || true
        else
            echo "ok $name: $(tail -n 1 "$logs.out"), $processes processes without memcheck errors," \
                "$checked without leaked descriptors${skips:+ ($skips not run)}"
        fi
    done
}

nightly() {
    command -v rustup >/dev/null && rustup run nightly rustc --version >/dev/null 2>&1
}

# run_asan DIR LIBRARY.a: the C suite built with ASan and UBSan against it.
run_asan() {
    local dir=$1 archive=$2 name exe rc
    mkdir -p "$dir"
    for name in "${programs[@]}"; do
        exe=$dir/$name
        # shellcheck disable=SC2046 # pkg-config's flags are words
        cc "${cflags[@]}" -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer "${source_of[$name]}" c-tests/lib/harness.c $(group_sources "$name") "$archive" \
            $(loop_libs "$name") -o "$exe"
        rc=0
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "$exe" >"$exe.out" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ] || grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$exe.out"; then
            failed=$((failed + 1))
            echo "FAIL $name under ASan/UBSan: exit $rc"
            grep -v '^ok ' "$exe.out" || true
        else
            echo "ok $name: $(tail -n 1 "$exe.out")"
        fi
    done
}

if [ "$what" = valgrind ] || [ "$what" = all ]; then
    command -v valgrind >/dev/null || {
        echo "valgrind is not installed (bash scripts/setup.sh installs it)" >&2
        exit 2
    }
    run_valgrind
fi
if [ "$what" = asan ] || [ "$what" = all ]; then
    echo "== AddressSanitizer + UBSan in the C programs, libbarrier.a"
    run_asan "$out/asan" "$lib/libbarrier.a"
    if nightly; then
        echo "== the same, with the library's Rust code instrumented by AddressSanitizer"
        # An explicit --target keeps the instrumentation out of build
        # scripts; core is not rebuilt, hence the allowed mismatch.
        host=$(rustc -vV | sed -n 's/^host: //p')
        RUSTFLAGS="-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer" \
            cargo +nightly build --release --locked -q -p barrier-capi --target "$host" \
            --target-dir "$out/rust-asan"
        run_asan "$out/asan-rust" "$out/rust-asan/$host/release/libbarrier.a"
    else
        echo "== no nightly toolchain: the library's Rust code is not instrumented"
    fi
fi
if [ "$what" = miri ] || [ "$what" = all ]; then
    # Miri also needs the rust-src component, for the sysroot it builds.
    if nightly && cargo +nightly miri --version >/dev/null 2>&1 &&
        cargo +nightly miri setup >/dev/null 2>&1 </dev/null; then
        echo "== Miri: barrier-core unit tests"
        if cargo +nightly miri test --locked -q -p barrier-core --lib --target-dir "$out/miri"; then
            echo "ok miri"
        else
            failed=$((failed + 1))
            echo "FAIL barrier-core unit tests under Miri"
        fi
    else
        echo "== Miri skipped: no nightly toolchain with the miri and rust-src components"
    fi
fi
if [ "$failed" -ne 0 ]; then
    echo "sanitize: $failed program runs failed"
    exit 1
fi
echo "sanitize: clean"
