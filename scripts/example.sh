#!/usr/bin/env bash
# The main job: builds libbarrier and runs a C program that forks and syncs
# through it (examples/fork-sync.c), then the same in Rust.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo build --release --locked -p barrier-capi
mkdir -p target/examples
cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/fork-sync.c \
    -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lbarrier -o target/examples/fork-sync
./target/examples/fork-sync
for example in fork_sync event_loop handoff; do
    cargo run --release --locked -q -p barrier-core --example "$example"
done
