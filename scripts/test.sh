#!/usr/bin/env bash
# Every test: formatting, lints, the Rust tests and the C suite (static and
# shared library) through cargo, then the meson build and its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# The model and differential tests draw their scripts from this seed;
# MODEL_SEED=N bash scripts/test.sh runs the same scripts again.
export MODEL_SEED=${MODEL_SEED:-$(date +%s%N)}
echo "test.sh: MODEL_SEED=$MODEL_SEED"
cargo test --locked --workspace

# The meson build, twice: as set up by default (a debug build, cargo's
# debug-c profile), and as shipped (release, linked by lld, which also
# checks the stripped size of libbarrier.so). Each links libbarrier.so with
# its SONAME and version script, runs the C programs against it, compares
# the exported symbols with the header, and installs into a temporary
# DESTDIR consumed through pkg-config (shared and fully static) and as a
# meson subproject.
meson_test() { # build-dir setup-options...
    local build=$1
    bash scripts/meson-setup.sh "$@"
    meson compile -C "$build"
    meson test -C "$build" --print-errorlogs
}
meson_test target/meson
meson_test target/meson-release --buildtype=release -Dlinker=lld

# The release tarball (meson dist, with the vendored crates), built, tested
# and installed with cargo offline, as a packager builds it.
bash scripts/offline-build.sh

# The C suite under valgrind memcheck (errors, descriptors the library
# leaves open) and built with AddressSanitizer and UBSan.
bash scripts/sanitize.sh

# A short fuzzing run of barrier_import_env(); longer ones by hand.
bash scripts/fuzz.sh 20

# The C suite repeated while busy loops load every CPU. Last, so that its
# "N passed, M failed" closes the run.
bash scripts/stress.sh 30
