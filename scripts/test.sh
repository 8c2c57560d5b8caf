#!/usr/bin/env bash
# Every test: formatting, lints, the Rust tests and the C suite (static and
# shared library) through cargo, then the meson build and its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace

# The meson build: libbarrier.so with its SONAME and version script, the C
# programs against it, the exported symbols against the header, and an
# install into a temporary DESTDIR consumed through pkg-config (shared and
# fully static) and as a meson subproject.
build=target/meson
if [ -f "$build/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$build"
else
    rm -rf "$build"
    meson setup "$build"
fi
meson compile -C "$build"
meson test -C "$build" --print-errorlogs

# The C suite under valgrind memcheck (errors, descriptors the library
# leaves open) and built with AddressSanitizer and UBSan.
bash scripts/sanitize.sh

# A short fuzzing run of barrier_import_env(); longer ones by hand.
bash scripts/fuzz.sh 20

# The C suite repeated while busy loops load every CPU. Last, so that its
# "N passed, M failed" closes the run.
bash scripts/stress.sh 30
