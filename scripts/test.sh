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

# The oldest Rust each crate declares (rust-version in its Cargo.toml),
# installed with rustup, builds the crate's library: barrier-core with and
# without its default features, barrier-capi (the C library). The tests
# and the feature tokio need newer (see barrier-core/Cargo.toml).
oldest_rust() {
    local crate version
    for crate in barrier-core barrier-capi; do
        version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$crate/Cargo.toml")
        [ -n "$version" ] || { echo "test.sh: no rust-version in $crate/Cargo.toml"; return 1; }
        # "1.85" is 1.85.0, not rustup's newest 1.85.x.
        [[ $version == *.*.* ]] || version=$version.0
        rustup toolchain install "$version" --profile minimal --no-self-update
        cargo "+$version" build --locked --release -p "$crate" --target-dir "target/rust-$version"
        if [ "$crate" = barrier-core ]; then
            cargo "+$version" build --locked --release -p "$crate" --no-default-features --target-dir "target/rust-$version"
        fi
        echo "test.sh: $crate built with $(rustc "+$version" --version)"
    done
}
phase "oldest Rust the crates declare (rust-version), installed with rustup" oldest_rust

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
# debug-c profile) with Debian's meson package (/usr/bin/meson, 1.0.1 on
# Debian 12: the oldest meson, which meson_version in meson.build names),
# and as shipped (release, linked by lld, which also checks the stripped
# size of libbarrier.so) with the newest meson, from PyPI, first on the
# PATH. Each links libbarrier.so with its SONAME and version script, runs
# the C programs against it, compares the exported symbols with the
# header, and installs into a temporary DESTDIR (with the same meson)
# consumed through pkg-config (shared and fully static) and as a meson
# subproject, checks and renders the man pages, and compares the ABI with
# the baseline in abi/.
meson_test() { # meson build-dir setup-options...
    local meson=$1 build=$2 used
    shift
    echo "test.sh: meson $("$meson" --version) ($(command -v "$meson"))"
    MESON=$meson bash meson/setup-build.sh "$@"
    # The meson that set up the build directory is the one asked for.
    used=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["meson_version"]["full"])' \
        "$build/meson-info/meson-info.json")
    [ "$used" = "$("$meson" --version)" ] || { echo "test.sh: $build was set up by meson $used"; return 1; }
    "$meson" compile -C "$build"
    "$meson" test -C "$build" --print-errorlogs
}
phase "meson build and tests, debug, with Debian's meson (/usr/bin/meson; target/meson)" \
    meson_test /usr/bin/meson target/meson
phase "meson build and tests, release linked by lld, with the newest meson (target/meson-release)" \
    meson_test meson target/meson-release --buildtype=release -Dlinker=lld

# The release tarball (meson dist, with the vendored crates), built, tested
# and installed with cargo offline, as a packager builds it.
phase "release tarball built, tested and installed offline (scripts/offline-build.sh)" \
    bash scripts/offline-build.sh

# The Debian package (debian/), built from the release tarball with
# Debian's tools only and no network, checked with lintian and blhc,
# installed, used (pkg-config, a C program shared and static, the man
# pages, the autopkgtest) and purged again.
phase "Debian package built offline, linted, installed, used, purged (scripts/debian-package.sh)" \
    bash scripts/debian-package.sh

# The C suite under valgrind memcheck (errors, descriptors the library
# leaves open) and built with AddressSanitizer and UBSan.
phase "valgrind, ASan and UBSan (scripts/sanitize.sh)" bash scripts/sanitize.sh

# A short fuzzing run of both imports from the environment; longer ones by
# hand.
phase "fuzzing barrier_import_env and barrier_group_import_env, 20 s each (scripts/fuzz.sh)" \
    bash scripts/fuzz.sh 20

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
