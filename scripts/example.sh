#!/usr/bin/env bash
# The main job: builds libbarrier and runs the C examples against it
# (examples/userns-run.c first, then examples/fork-sync.c and
# examples/group.c, the latter twice: everyone ready, then one worker
# crashing), then the Rust programs on the crate, the group example also
# twice.
# Each program's output comes under a header saying what it shows; a
# one-line verdict closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "example.sh: building libbarrier (cargo build --release -p barrier-capi) and the programs"
cargo build --release --locked -p barrier-capi
mkdir -p target/examples
for example in userns-run fork-sync group; do
    cc -std=c11 -Wall -Wextra -Werror -Iinclude "examples/$example.c" \
        -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lbarrier -o "target/examples/$example"
done
cargo build --release --locked -q -p barrier-core --examples --features tokio

total=10

ran=0
failed=()
run() { # title program...
    local title=$1
    shift
    ran=$((ran + 1))
    echo
    echo "== $ran/$total $title"
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
echo
echo "First, what the barrier is for: userns-run runs a command as root in a new"
echo "user namespace. The child unshares and places a barrier; the parent, woken"
echo "by it, writes the child's uid and gid maps and places its own; only then"
echo "does the child, synced, exec the command, which sees itself as uid 0 and the"
echo "mapping of root to your uid in /proc/self/uid_map."
if unshare --user --map-root-user true 2>/dev/null; then
    run "examples/userns-run.c (C): userns-run sh -c 'id -u; cat /proc/self/uid_map'" \
        ./target/examples/userns-run sh -c 'id -u; cat /proc/self/uid_map'
else
    total=$((total - 1))
    echo "example.sh: user namespaces are unavailable here; skipping userns-run"
fi
run "examples/fork-sync.c (C, linked with target/release/libbarrier.so): a parent and its forked worker sync through start-up, then the worker's exit reaches the parent as an abort" \
    ./target/examples/fork-sync
run "examples/group.c (C): a supervisor and four forked workers; nobody serves until all five are ready" \
    ./target/examples/group
run "examples/group.c --crash 3 (C): worker 3 dies during start-up; every other member is released at once and told its rank" \
    ./target/examples/group --crash 3
run "fork_sync (Rust): a parent and its forked child pass three rounds in lock-step, then the child's exit reaches the parent as an abort" \
    ./target/release/examples/fork_sync
run "event_loop (Rust): both ends of a pair driven from one poll() loop" \
    ./target/release/examples/event_loop
run "handoff (Rust): an end handed to a spawned program, which takes it from its environment" \
    ./target/release/examples/handoff
run "group (Rust): a supervisor and seven forked workers; nobody serves until all eight are ready" \
    cargo run --release --locked -q -p barrier-core --features tokio --example group
run "group --crash 3 (Rust): worker 3 dies during start-up; every other member is released at once and told its rank" \
    cargo run --release --locked -q -p barrier-core --features tokio --example group -- --crash 3
run "async_tokio (Rust, feature tokio): two tasks on a tokio runtime take turns, and a wait cut short by a timeout loses nothing" \
    ./target/release/examples/async_tokio

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "example.sh: all $ran programs synced through the barrier and exited 0"
else
    echo "example.sh: ${#failed[@]} of $ran programs failed: ${failed[*]%%:*}"
    exit 1
fi
