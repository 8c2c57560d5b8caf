#!/usr/bin/env bash
# The main job: builds libbarrier and runs a C program that forks and syncs
# through it (examples/fork-sync.c), then three Rust programs on the crate.
# Each program's output comes under a header saying what it shows; a
# one-line verdict closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "example.sh: building libbarrier (cargo build --release -p barrier-capi) and the programs"
cargo build --release --locked -p barrier-capi
mkdir -p target/examples
cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/fork-sync.c \
    -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lbarrier -o target/examples/fork-sync
cargo build --release --locked -q -p barrier-core --examples

ran=0
failed=()
run() { # title program...
    local title=$1
    shift
    ran=$((ran + 1))
    echo
    echo "== $ran/4 $title"
    if "$@"; then
        echo "-- exit status 0"
    else
        echo "-- FAILED: exit status $?"
        failed+=("$title")
    fi
}
echo
echo "example.sh: two processes (or threads) print as they are scheduled, so"
echo "their lines interleave; each one's own lines come in order."
run "examples/fork-sync.c (C, linked with target/release/libbarrier.so): a parent and its forked worker sync through start-up, then the worker's exit reaches the parent as an abort" \
    ./target/examples/fork-sync
run "fork_sync (Rust): a parent and its forked child pass three rounds in lock-step, then the child's exit reaches the parent as an abort" \
    ./target/release/examples/fork_sync
run "event_loop (Rust): both ends of a pair driven from one poll() loop" \
    ./target/release/examples/event_loop
run "handoff (Rust): an end handed to a spawned program, which takes it from its environment" \
    ./target/release/examples/handoff

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "example.sh: all $ran programs synced through the barrier and exited 0"
else
    echo "example.sh: ${#failed[@]} of $ran programs failed: ${failed[*]%%:*}"
    exit 1
fi
