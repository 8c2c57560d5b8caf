#!/usr/bin/env bash
# Every test: formatting, lints, the documentation, the crate's package,
# the Rust tests and the C suite (static and shared library) through
# cargo, the meson build and its tests, sanitizers, fuzzing, systemd
# built on libbarrier and the stress run. Each phase starts with a header;
# a summary of every phase closes the run, its last line "test.sh: N
# passed, M failed" counting phases. The first failing phase ends the run
# (after the summary) with status 1.
#
# Needs a Debian machine with a Rust toolchain, and root (or sudo) when
# setup.sh must install Debian packages; the systemd phase needs root and
# deb.debian.org. About 15 minutes on 2 CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."

names=()
results=()
summary() {
    local passed=0 failed=0 i
    echo
    echo "test.sh: summary of the phases:"
    for i in "${!names[@]}"; do
        printf '  %-5s %s\n' "${results[$i]%% *}" "${names[$i]} ${results[$i]#* }"
        case ${results[$i]} in pass*) passed=$((passed + 1)) ;; FAIL*) failed=$((failed + 1)) ;; esac
    done
    echo "test.sh: $passed passed, $failed failed"
}
# phase NAME COMMAND...: runs COMMAND (a function or a program) with -e in
# a subshell, under a header, and records how it ended and how long it took.
phase() {
    local name=$1 start=$SECONDS status
    shift
    echo
    echo "==== test.sh: $name ===="
    set +e
    (set -e; "$@")
    status=$?
    set -e
    names+=("$name")
    if [ "$status" -eq 0 ]; then
        results+=("pass ($((SECONDS - start)) s)")
    else
        results+=("FAIL (exit $status after $((SECONDS - start)) s)")
        summary
        exit 1
    fi
}

setup() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: not root: setup.sh can install missing Debian packages only with root's rights"
    fi
    bash scripts/setup.sh
}
phase "setup (installs what is missing: Debian packages with apt-get, meson and ninja)" setup

phase "format (cargo fmt --check)" cargo fmt --all --check
phase "lints (cargo clippy -D warnings)" cargo clippy --locked --workspace --all-targets -- -D warnings
phase "lints of AsyncBarrier (cargo clippy --features tokio -D warnings)" \
    cargo clippy --locked -p barrier-core --features tokio --all-targets -- -D warnings

rustdoc() {
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p barrier-core
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p barrier-core --features tokio
}
phase "rustdoc of barrier-core, warnings as errors" rustdoc
# Packages the crate as crates.io would receive it and builds the package
# (needs the crates.io index). --allow-dirty: uncommitted changes being
# tested are packaged as they are.
phase "crate package (cargo publish --dry-run -p barrier-core)" \
    cargo publish --dry-run --locked --allow-dirty -p barrier-core

# The model and differential tests draw their scripts from this seed;
# MODEL_SEED=N bash scripts/test.sh runs the same scripts again (and
# GROUP_MODEL_SEED=N those of the group model test).
export MODEL_SEED=${MODEL_SEED:-$(date +%s%N)} GROUP_MODEL_SEED=${GROUP_MODEL_SEED:-$(date +%s%N)}
echo "test.sh: MODEL_SEED=$MODEL_SEED GROUP_MODEL_SEED=$GROUP_MODEL_SEED"
phase "cargo test: Rust tests and doc tests, model and differential tests, the C suite" \
    cargo test --locked --workspace
async_tests() {
    cargo test --locked -p barrier-core --features tokio --test async_tokio
    cargo test --locked -p barrier-core --features tokio --doc
}
phase "cargo test --features tokio: AsyncBarrier's tests and doc tests" async_tests

# The meson build, twice: as set up by default (a debug build, cargo's
# debug-c profile), and as shipped (release, linked by lld, which also
# checks the stripped size of libbarrier.so). Each links libbarrier.so with
# its SONAME and version script, runs the C programs against it, compares
# the exported symbols with the header, and installs into a temporary
# DESTDIR consumed through pkg-config (shared and fully static) and as a
# meson subproject, checks and renders the man pages, and compares the ABI
# with the baseline in abi/.
meson_test() { # build-dir setup-options...
    local build=$1
    bash meson/setup-build.sh "$@"
    meson compile -C "$build"
    meson test -C "$build" --print-errorlogs
}
phase "meson build and tests, debug (target/meson)" meson_test target/meson
phase "meson build and tests, release linked by lld (target/meson-release)" \
    meson_test target/meson-release --buildtype=release -Dlinker=lld

# The release tarball (meson dist, with the vendored crates), built, tested
# and installed with cargo offline, as a packager builds it.
phase "release tarball built, tested and installed offline (scripts/offline-build.sh)" \
    bash scripts/offline-build.sh

# The C suite under valgrind memcheck (errors, descriptors the library
# leaves open) and built with AddressSanitizer and UBSan.
phase "valgrind, ASan and UBSan (scripts/sanitize.sh)" bash scripts/sanitize.sh

# A short fuzzing run of barrier_import_env(); longer ones by hand.
phase "fuzzing barrier_import_env for 20 s (scripts/fuzz.sh)" bash scripts/fuzz.sh 20

# systemd itself on libbarrier: Debian's systemd 252 and 257 built from
# source with and without their barrier.c and run side by side, nspawn's
# containers and PID 1's PAM sessions (3 to 5 minutes, downloads
# included; needs root and deb.debian.org).
phase "systemd 252 and 257 on libbarrier (scripts/systemd-on-libbarrier.sh --pam)" \
    bash scripts/systemd-on-libbarrier.sh --pam

# The C suite repeated while busy loops load every CPU; the longest phase,
# which reports every tenth of its runs.
phase "stress: the C suite 30 times under CPU load (scripts/stress.sh, several minutes)" \
    bash scripts/stress.sh 30

summary
